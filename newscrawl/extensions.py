"""The crawl report: a JSON summary written beside each finished JSONL feed.

It says what a cron job or a consumer needs without parsing logs: items written,
drops and failed requests by reason, which extraction layer filled each field and
which site selectors matched (a dead selector means a layout change), and the
finish reason. It is written atomically, after the feed itself is complete.
"""

from __future__ import annotations

import enum
import json
import logging
import os
import statistics
import tempfile
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from itemadapter import ItemAdapter
from scrapy import signals

from newscrawl.feeds import AtomicFileFeedStorage

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.extensions.feedexport import FeedSlot

logger = logging.getLogger(__name__)

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
        "revisions": stats.get("newscrawl/revisions", 0),
        "known_skipped": stats.get("newscrawl/state/skipped_known", 0),
        "resumed_requests": stats.get("newscrawl/state/resumed", 0),
        "recovered_feeds": stats.get("newscrawl/state/recovered_feeds", 0),
        "failed_final": _group(stats, "newscrawl/state/failed_final/"),
        "redirects_refused": _group(stats, "newscrawl/redirect/"),
        "item_errors": _group(stats, "newscrawl/item_error/"),
        "repaired": _group(stats, "newscrawl/repaired/"),
        "charset_fixed": _group(stats, "newscrawl/charset/"),
        "hosts": _group(stats, "newscrawl/hosts/"),
        "event_loop": _group(stats, "newscrawl/loop/"),
        "peak_rss_bytes": stats.get("newscrawl/peak_rss_bytes"),
        "output_error": stats.get("newscrawl/output_error"),
        "field_sources": _group(stats, "newscrawl/extract/"),
        "parser_versions": _group(stats, "newscrawl/parser/"),
        "rule_usage": _group(stats, "parser/"),
        # A cluster worker's share of the run: the cluster's totals and its own.
        "cluster": _group(stats, "newscrawl/cluster/"),
    }


def write_json_atomic(path: Path, data: Any) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False, indent=2, sort_keys=False)
        fh.write("\n")
    Path(tmp).replace(path)


#: Fields whose share of non-empty values is tracked per site (the health signal).
COVERAGE_FIELDS = (
    "title",
    "summary",
    "authors",
    "published",
    "modified",
    "section",
    "tags",
    "images",
    "body",
    "language",
)
#: Runs with fewer articles of a site than this say little about its coverage.
MIN_ITEMS_FOR_HEALTH = 5
#: How many earlier runs the coverage baseline is the median of.
BASELINE_RUNS = 5


class ExitCode(enum.IntEnum):
    """The process exit codes of a crawl (``scrapy crawl`` and cron)."""

    OK = 0
    #: Scrapy could not start the crawl (an unknown spider, broken settings).
    BOOTSTRAP = 1
    #: A bad command line or spider argument.
    USAGE = 2
    #: The crawl did not finish normally (killed, closed on errors or a timeout).
    CRAWL_FAILED = 3
    #: Nothing was exported and nothing was known: articles were expected.
    NO_ARTICLES = 4
    #: A field's coverage for a site fell well below its recent level.
    COVERAGE_DROP = 5
    #: The output cannot be written (unwritable directory, disk full).
    OUTPUT = 73
    #: Another run of the same crawl holds the lock.
    LOCKED = 75


def health(
    report: dict[str, Any], baselines: dict[str, list[dict[str, Any]]], drop: float
) -> tuple[ExitCode, list[str]]:
    """Judge a run from its report and each site's earlier runs."""
    problems: list[str] = []
    if report.get("output_error"):
        return ExitCode.OUTPUT, [f"output error: {report['output_error']}"]
    if report["finish_reason"] != "finished":
        problems.append(f"finish_reason {report['finish_reason']}")
        return ExitCode.CRAWL_FAILED, problems
    unchanged = report["dropped"].get("unchanged", 0) + report["dropped"].get(
        "too_old", 0
    )
    # A cluster worker may export nothing while the others export everything.
    cluster = report.get("cluster", {})
    cluster_known = cluster.get("items_total", 0) + cluster.get("known_total", 0)
    if (
        report["items"] == 0
        and unchanged == 0
        and not report["known_skipped"]
        and not cluster_known
    ):
        problems.append("no articles exported and none known")
        return ExitCode.NO_ARTICLES, problems
    for site, coverage in report["coverage"].items():
        if report["items_by_site"].get(site, 0) < MIN_ITEMS_FOR_HEALTH:
            continue
        earlier = [
            run["coverage"]
            for run in baselines.get(site, [])
            if run["items"] >= MIN_ITEMS_FOR_HEALTH
        ]
        if not earlier:
            continue
        for field, now in coverage.items():
            before = statistics.median(run.get(field, 0.0) for run in earlier)
            if before >= 0.5 and now < before * drop:
                problems.append(
                    f"coverage drop: {site} {field} {before:.2f} -> {now:.2f}"
                )
    if problems:
        return ExitCode.COVERAGE_DROP, problems
    return ExitCode.OK, problems


class CrawlReport:
    """Writes the run manifest ``<feed>.report.json`` and judges the run's health.

    The exit code it decides is left on the crawler as ``newscrawl_exit_code``;
    ``scrapy crawl`` (the project's command) and ``newscrawl`` exit with it.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.feeds: list[dict[str, Any]] = []
        self.items_by_site: Counter[str] = Counter()
        self.filled: dict[str, Counter[str]] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        ext = cls(crawler)
        crawler.signals.connect(ext.feed_slot_closed, signal=signals.feed_slot_closed)
        crawler.signals.connect(
            ext.feed_exporter_closed, signal=signals.feed_exporter_closed
        )
        crawler.signals.connect(ext.item_scraped, signal=signals.item_scraped)
        return ext

    def item_scraped(self, item: Any) -> None:
        adapter = ItemAdapter(item)
        site = str(adapter.get("site") or "?")
        self.items_by_site[site] += 1
        filled = self.filled.setdefault(site, Counter())
        for field in COVERAGE_FIELDS:
            if adapter.get(field):
                filled[field] += 1

    def feed_slot_closed(self, slot: FeedSlot) -> None:
        if isinstance(slot.storage, AtomicFileFeedStorage):
            final = slot.storage.final_path
            self.feeds.append(
                {
                    "path": str(final),
                    "items": slot.itemcount,
                    # False: the feed could not be finalised and is still .part.
                    "complete": final.exists(),
                }
            )

    def feed_exporter_closed(self) -> None:
        from newscrawl.persistence import CrawlStateExtension  # noqa: PLC0415

        assert self.crawler.stats is not None
        stats = dict(self.crawler.stats.get_stats())
        report = build_report(stats, self.feeds)
        report["items_by_site"] = dict(self.items_by_site)
        report["coverage"] = {
            site: {
                field: round(self.filled[site][field] / count, 4)
                for field in COVERAGE_FIELDS
            }
            for site, count in self.items_by_site.items()
        }
        state_ext = self.crawler.get_extension(CrawlStateExtension)
        state = state_ext.state if state_ext is not None else None
        baselines = {
            site: state.previous_runs(site, BASELINE_RUNS) if state else []
            for site in report["coverage"]
        }
        drop = self.crawler.settings.getfloat("NEWSCRAWL_COVERAGE_DROP", 0.5)
        code, problems = health(report, baselines, drop)
        report["health"] = {
            "exit_code": int(code),
            "status": code.name.lower(),
            "problems": problems,
        }
        if state is not None:
            report["pending"] = state.pending_count()
            for site, coverage in report["coverage"].items():
                state.record_run(site, self.items_by_site[site], coverage)
            state_ext.close_state()  # type: ignore[union-attr]
        self.crawler.newscrawl_exit_code = int(code)  # type: ignore[attr-defined]
        self.crawler.newscrawl_report = report  # type: ignore[attr-defined]
        for feed in self.feeds:
            path = Path(feed["path"])
            try:
                write_json_atomic(path.with_name(path.stem + REPORT_SUFFIX), report)
            except OSError as exc:
                logger.error("Cannot write the run report beside %s: %s", path, exc)
        if problems:
            logger.error("Unhealthy run (exit code %d): %s", code, "; ".join(problems))
