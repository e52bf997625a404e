"""The crawl state in a crawl: opened, recorded into, closed (crash-safe order).

The invariant: a URL counts as done only once its item is written (flushed to the
feed file) or its failure recorded. The order of operations keeps it through a
``kill -9`` at any moment:

1. a callback's new requests are committed to the frontier *before* anything the
   callback produced is exported (:class:`FrontierMiddleware`);
2. an item's line is flushed to the ``.part`` feed before the seen-set marks it
   written (:class:`CrawlStateExtension`, on ``item_scraped``);
3. at the next start, leftover ``.part`` feeds are recovered: their complete lines
   are kept and marked written, a torn last line is cut, and the file is renamed
   to its final name. Lines flushed but not yet committed are therefore not lost
   and not crawled again; requests not yet done are still in the frontier.

Settings: ``NEWSCRAWL_STATE`` (``sqlite``, the default, ``off``, or a
``redis://host:port/db`` URL for :class:`newscrawl.state.redis.RedisState`),
``NEWSCRAWL_STATE_DIR`` (default ``output/.state``), ``NEWSCRAWL_REVISIT_AFTER``
(minutes before a known article may be fetched again, default 60) and
``NEWSCRAWL_REVISIT_WINDOW`` (hours after first sight during which it is, default
48): news changes in its first days, then rarely.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from itemadapter import ItemAdapter
from scrapy import Request, signals
from scrapy.extensions.feedexport import FeedExporter

from newscrawl import defaults
from newscrawl.failures import NOT_ATTEMPTS, is_final
from newscrawl.health import component_failed
from newscrawl.state import StateUnavailable, key_of
from newscrawl.state.recovery import feed_dirs, minutes_of, recover_parts
from newscrawl.state.sqlite import SQLiteState

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.settings import BaseSettings
    from twisted.python.failure import Failure

    from newscrawl.state import CrawlState

logger = logging.getLogger(__name__)

#: Request meta key: the request failed (its reason), so it is not done.
FAILED = "newscrawl_failed"
#: Commit the state at least this often (seconds) and every this many items.
COMMIT_SECONDS = 2.0
COMMIT_ITEMS = 100


def state_kind(settings: BaseSettings) -> str:
    """``"off"``, ``"sqlite"`` or a Redis URL: the one reading of ``NEWSCRAWL_STATE``.

    A bad value raises :class:`newscrawl.defaults.SettingError`, when the crawler
    is built (and, for ``scrapy crawl``, before it: exit 2), never at spider
    open, where Scrapy would log it and crawl on with no state.

    >>> from scrapy.settings import Settings
    >>> state_kind(Settings({"NEWSCRAWL_STATE": "none"}))
    'off'
    >>> state_kind(Settings({"NEWSCRAWL_STATE": "sqlit"}))
    Traceback (most recent call last):
    ...
    newscrawl.defaults.SettingError: setting NEWSCRAWL_STATE: 'sqlit' is not sqlite, off or a redis:// URL
    """  # noqa: E501
    kind = str(defaults.get(settings, "NEWSCRAWL_STATE") or "off").strip()
    if kind.lower() in ("off", "none", ""):
        return "off"
    if kind.startswith(("redis://", "rediss://", "unix://")) or kind == "sqlite":
        return kind
    raise defaults.SettingError(
        "NEWSCRAWL_STATE", f"{kind!r} is not sqlite, off or a redis:// URL"
    )


def open_state(settings: BaseSettings, spider_name: str) -> CrawlState | None:
    """The crawl state ``NEWSCRAWL_STATE`` names (``StateUnavailable`` if unusable)."""
    kind = state_kind(settings)
    if kind == "off":
        return None
    if kind != "sqlite":
        from newscrawl.state.redis import RedisState  # noqa: PLC0415

        return RedisState(kind, spider_name)
    directory = Path(defaults.get(settings, "NEWSCRAWL_STATE_DIR"))
    return SQLiteState(directory / f"{spider_name}.sqlite")


class CrawlStateExtension:
    """Opens the state for the spider, recovers old feeds, records written items."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.state: CrawlState | None = None
        self.last_commit = time.monotonic()
        self.uncommitted = 0
        self.recovered: list[dict[str, Any]] = []
        self.max_attempts = defaults.getint(crawler.settings, "NEWSCRAWL_MAX_ATTEMPTS")
        self.output_error: BaseException | None = None
        #: Why the state could not be opened (then nothing may be exported).
        self.unavailable: str | None = None
        # URL keys this run has written or found unchanged: a link to one of them
        # is a repeat within the run, not an article known from an earlier run.
        self.done_this_run: set[int] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        state_kind(crawler.settings)  # a bad value stops the run here
        ext = cls(crawler)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(ext.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(ext.item_dropped, signal=signals.item_dropped)
        crawler.signals.connect(ext.item_error, signal=signals.item_error)
        # Normally the report closes the state after recording the run's coverage.
        crawler.signals.connect(ext.close_state, signal=signals.engine_stopped)
        return ext

    def spider_opened(self, spider: Spider) -> None:
        try:
            self.state = open_state(self.crawler.settings, spider.name)
        except StateUnavailable as exc:
            # Never a run without its state: it would export every known article
            # again. `scrapy crawl` refuses before starting (probe_state); a crawl
            # started from Python stops here, exporting nothing.
            self.unavailable = str(exc)
            component_failed(self.crawler, "state", exc)
            from scrapy.utils.defer import deferred_from_coro  # noqa: PLC0415

            assert self.crawler.engine is not None
            deferred_from_coro(
                self.crawler.engine.close_spider_async(reason="state_unavailable")
            )
            return
        for directory, pattern in feed_dirs(self.crawler, spider.name):
            if directory.is_dir():
                self.recovered += recover_parts(directory, self.state, pattern)
        if self.recovered:
            self._stats("recovered_feeds", len(self.recovered))

    def _stats(self, key: str, value: int = 1) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(f"newscrawl/state/{key}", value)

    def flush_feeds(self) -> bool:
        """Flush the feed files; on a write error stop the crawl, return False."""
        exporter = self.crawler.get_extension(FeedExporter)
        for slot in getattr(exporter, "slots", ()):
            if slot.file is None:
                continue
            error = getattr(slot.file, "error", None)
            if error is None:
                try:
                    slot.file.flush()
                except OSError as exc:
                    error = exc
            if error is not None:
                self.output_failed(error)
                return False
        return True

    def output_failed(self, error: BaseException) -> None:
        """The feed cannot be written (disk full...): stop now, keep what is done."""
        if self.output_error is not None:
            return
        self.output_error = error
        component_failed(
            self.crawler,
            "feed",
            f"{error}: stopping the crawl; items written so far are kept, the"
            " unfinished feed is recovered by the next run",
        )
        assert self.crawler.stats is not None
        self.crawler.stats.set_value("newscrawl/output_error", str(error))
        from scrapy.utils.defer import deferred_from_coro  # noqa: PLC0415

        assert self.crawler.engine is not None
        deferred_from_coro(
            self.crawler.engine.close_spider_async(reason="output_error")
        )

    def _maybe_commit(self, force: bool = False) -> None:
        assert self.state is not None
        self.uncommitted += 1
        if (
            force
            or self.uncommitted >= COMMIT_ITEMS
            or time.monotonic() - self.last_commit >= COMMIT_SECONDS
        ):
            self.state.commit()
            self.uncommitted = 0
            self.last_commit = time.monotonic()

    def item_scraped(self, item: Any, response: Response, spider: Spider) -> None:
        # The line must reach the file before the state says the URL is done, and
        # before a cluster worker acknowledges the request (kill -9 loses no line).
        if not self.flush_feeds() or self.state is None:
            return
        adapter = ItemAdapter(item)
        self.state.mark_written(
            adapter["url"],
            adapter.get("content_hash") or "0" * 16,
            int(adapter.get("revision") or 1),
            minutes_of(adapter.get("modified")),
        )
        for url in origin_urls(response):
            self.state.done(url)
        self.done_this_run.update(map(key_of, {adapter["url"], *origin_urls(response)}))
        self._maybe_commit()

    def item_dropped(
        self, item: Any, response: Response, exception: BaseException, spider: Spider
    ) -> None:
        if self.state is None:
            return
        url = ItemAdapter(item).get("url") or (response.url if response else None)
        if url is None:
            return
        reason = getattr(exception, "reason", type(exception).__name__)
        urls = {url, *origin_urls(response)}
        if reason in ("unchanged", "duplicate_url", "duplicate_content", "too_old"):
            if reason == "unchanged":
                self.state.touch(url)
            for each in urls:
                self.state.done(each)
            self.done_this_run.update(map(key_of, urls))
        else:
            # Invalid (no body, schema): a failure, retried by later runs.
            for each in urls:
                self.failed(each, reason)
        self._maybe_commit()

    def item_error(
        self, item: Any, response: Response, spider: Spider, failure: Failure
    ) -> None:
        """A pipeline step raised for one item: record it; the crawl goes on."""
        name = type(failure.value).__name__
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(f"newscrawl/item_error/{name}")
        if self.state is None:
            return
        urls = {ItemAdapter(item).get("url"), *origin_urls(response)}
        for url in urls:
            if url:
                self.failed(url, "pipeline_error", name)
        self._maybe_commit()

    def failed(self, url: str, reason: str, detail: str = "") -> None:
        """Record a failure of ``url`` in the state, final or to retry later."""
        assert self.state is not None
        record = self.state.fail(
            url,
            reason,
            final=is_final(reason),
            detail=detail[:500],
            attempt=reason not in NOT_ATTEMPTS,
            max_attempts=self.max_attempts,
        )
        if record.final:
            self._stats(f"failed_final/{reason}")

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self.state is not None:
            self.state.commit()

    def close_state(self) -> None:
        if self.state is not None:
            self.state.close()
            self.state = None


def state_unavailable(crawler: Crawler) -> bool:
    """Whether the run's crawl state failed to open (then nothing is exported)."""
    ext = crawler.get_extension(CrawlStateExtension)
    return ext is not None and ext.unavailable is not None


def probe_state(settings: BaseSettings, spider_name: str) -> str | None:
    """Why the crawl state cannot be used, or ``None``: checked before a crawl."""
    try:
        state = open_state(settings, spider_name)
    except StateUnavailable as exc:
        return str(exc)
    if state is not None:
        state.close()
    return None


def state_of(spider: Spider) -> CrawlState | None:
    """The state of the spider's crawl (``None`` when state is off)."""
    ext = spider.crawler.get_extension(CrawlStateExtension)
    return ext.state if ext is not None else None


def origin_urls(response: Response | None) -> list[str]:
    """The URLs a response answers for: the request's, and those redirected from."""
    if response is None or response.request is None:
        return []
    request = response.request
    return [*request.meta.get("redirect_urls", ()), request.url]


def record_failure(
    crawler: Crawler, request: Request, reason: str, detail: str
) -> None:
    """Record a failed request (and the URLs it was redirected from)."""
    # Seen by FrontierMiddleware: a failed callback's URL is not "done".
    request.meta[FAILED] = reason
    ext = crawler.get_extension(CrawlStateExtension)
    if ext is None or ext.state is None:
        return
    for url in [*request.meta.get("redirect_urls", ()), request.url]:
        ext.failed(url, reason, detail)
    ext._maybe_commit()
