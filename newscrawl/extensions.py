"""The crawl report: a JSON summary written beside each finished JSONL feed.

It says what a cron job or a consumer needs without parsing logs: items written,
drops and failed requests by reason, which extraction layer filled each field and
which site selectors matched (a dead selector means a layout change), and the
finish reason. It is written atomically, after the feed itself is complete.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from scrapy import signals

from newscrawl.feeds import AtomicFileFeedStorage

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.extensions.feedexport import FeedSlot

REPORT_SUFFIX = ".report.json"


def _group(stats: dict[str, Any], prefix: str) -> dict[str, Any]:
    return {
        k[len(prefix) :]: v for k, v in sorted(stats.items()) if k.startswith(prefix)
    }


def build_report(stats: dict[str, Any], feeds: list[dict[str, Any]]) -> dict[str, Any]:
    """The report's content from a crawl's stats and its stored feeds."""

    def iso(value: Any) -> Any:
        return value.isoformat() if hasattr(value, "isoformat") else value

    return {
        "finish_reason": stats.get("finish_reason"),
        "start_time": iso(stats.get("start_time")),
        "finish_time": iso(stats.get("finish_time")),
        "elapsed_seconds": stats.get("elapsed_time_seconds"),
        "feeds": feeds,
        "items": stats.get("item_scraped_count", 0),
        "requests": stats.get("downloader/request_count", 0),
        "responses_by_status": _group(stats, "downloader/response_status_count/"),
        "dropped": _group(stats, "newscrawl/dropped/"),
        "request_failed": _group(stats, "newscrawl/request_failed/"),
        "errors": {
            "spider_exceptions": _group(stats, "spider_exceptions/"),
            "download_exceptions": _group(stats, "downloader/exception_type_count/"),
            "log_errors": stats.get("log_count/ERROR", 0),
        },
        "links_skipped": _group(stats, "newscrawl/links/"),
        "field_sources": _group(stats, "newscrawl/extract/"),
        "parser_versions": _group(stats, "newscrawl/parser/"),
        "rule_usage": _group(stats, "parser/"),
    }


def write_json_atomic(path: Path, data: Any) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False, indent=2, sort_keys=False)
        fh.write("\n")
    Path(tmp).replace(path)


class CrawlReport:
    """Writes ``<feed>.report.json`` for every finished file feed of the crawl."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.feeds: list[dict[str, Any]] = []

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        ext = cls(crawler)
        crawler.signals.connect(ext.feed_slot_closed, signal=signals.feed_slot_closed)
        crawler.signals.connect(
            ext.feed_exporter_closed, signal=signals.feed_exporter_closed
        )
        return ext

    def feed_slot_closed(self, slot: FeedSlot) -> None:
        if isinstance(slot.storage, AtomicFileFeedStorage):
            self.feeds.append(
                {"path": str(slot.storage.final_path), "items": slot.itemcount}
            )

    def feed_exporter_closed(self) -> None:
        assert self.crawler.stats is not None
        stats = dict(self.crawler.stats.get_stats())
        report = build_report(stats, self.feeds)
        for feed in self.feeds:
            path = Path(feed["path"])
            write_json_atomic(path.with_name(path.stem + REPORT_SUFFIX), report)
