"""Log shape: one short line per dropped item and per expected network failure.

Scrapy logs a failed robots.txt download at ERROR with a full traceback; a crawl
of a site that is offline printed two dozen tracebacks for "DNS lookup failed".
A network failure is an outcome we count (``newscrawl/request_failed/<reason>``),
not a bug, so it gets one WARNING line with its reason; any other exception keeps
its traceback. Scrapy's start-up listings (versions, settings, every enabled
component: 70 lines a run) are shown only with ``-L DEBUG``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Self

from scrapy.logformatter import LogFormatter, LogFormatterResult

from newscrawl.failures import NETWORK, reason_of

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from twisted.python.failure import Failure

#: Loggers of Scrapy components that log network failures with a traceback.
NETWORK_ERROR_LOGGERS = (
    "scrapy.downloadermiddlewares.robotstxt",
    "scrapy.core.scraper",
    "scrapy.core.engine",
)


class NetworkFailureFilter(logging.Filter):
    """Turns a record of an expected network failure into one WARNING line."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is None:
            return True
        reason = reason_of(exc)
        if reason in NETWORK:
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.msg = f"{record.msg} [{reason}]"
        return True


#: Scrapy's start-up listings, by logger: shown at DEBUG only.
STARTUP_LISTINGS = {
    "scrapy.utils.log": ("Versions:",),
    "scrapy.addons": ("Enabled addons:",),
    "scrapy.middleware": ("Enabled %(componentname)ss:",),
    "scrapy.crawler": ("Overridden settings:",),
}


class StartupListingFilter(logging.Filter):
    """Drops Scrapy's start-up listings unless the log level is DEBUG."""

    def __init__(self, prefixes: tuple[str, ...]) -> None:
        super().__init__()
        self.prefixes = prefixes
        self.verbose = False

    def filter(self, record: logging.LogRecord) -> bool:
        return self.verbose or not str(record.msg).startswith(self.prefixes)


def install_log_filters(log_level: str | int = "INFO") -> None:
    """Add the filters to Scrapy's loggers (once per process; idempotent)."""
    for name in NETWORK_ERROR_LOGGERS:
        log = logging.getLogger(name)
        if not any(isinstance(f, NetworkFailureFilter) for f in log.filters):
            log.addFilter(NetworkFailureFilter())
    level = logging.getLevelName(log_level) if isinstance(log_level, str) else log_level
    for name, prefixes in STARTUP_LISTINGS.items():
        log = logging.getLogger(name)
        found = [f for f in log.filters if isinstance(f, StartupListingFilter)]
        if not found:
            found = [StartupListingFilter(prefixes)]
            log.addFilter(found[0])
        found[0].verbose = isinstance(level, int) and level <= logging.DEBUG


class NewscrawlLogFormatter(LogFormatter):
    """Scrapy's formatter, but drops are logged without dumping the whole item."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        # The formatter is built with the crawler, before any request: the one
        # place every crawl (scrapy crawl, the demo, the tests) passes through.
        install_log_filters(crawler.settings.get("LOG_LEVEL", "INFO"))
        return cls()

    def dropped(
        self,
        item: Any,
        exception: BaseException,
        response: Response | Failure | None,
        spider: Spider,
    ) -> LogFormatterResult:
        return {
            "level": logging.WARNING,
            "msg": "Dropped article %(reason)s",
            "args": {"reason": str(exception)},
        }
