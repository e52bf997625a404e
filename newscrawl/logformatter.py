"""Log formatting: one short line per dropped item (URL and reason, not the item)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from scrapy.logformatter import LogFormatter, LogFormatterResult

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.http import Response
    from twisted.python.failure import Failure


class NewscrawlLogFormatter(LogFormatter):
    """Scrapy's formatter, but drops are logged without dumping the whole item."""

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
