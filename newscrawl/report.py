"""The crawl report: a JSON summary written beside each finished JSONL feed.

It says what a cron job or a consumer needs without parsing logs: items written,
drops and failed requests by reason, which extraction layer filled each field and
which site selectors matched (a dead selector means a layout change), and the
finish reason. It is written atomically, after the feed itself is complete. The
end-of-run summary (a few lines on stderr) is drawn from it; the health judgement
(:mod:`newscrawl.health`) decides the exit code.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from itemadapter import ItemAdapter
from scrapy import signals

from newscrawl import defaults
from newscrawl.feeds import AtomicFileFeedStorage, unique_path
from newscrawl.health import (
    BASELINE_RUNS,
    COVERAGE_FIELDS,
    EXIT_MEANING,
    ExitCode,
    component_failed,
    counts,
    failed_components,
    health,
)

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
        # Links to articles this run had already written: not known from before.
        "repeats_skipped": stats.get("newscrawl/state/skipped_this_run", 0),
        "resumed_requests": stats.get("newscrawl/state/resumed", 0),
        "recovered_feeds": stats.get("newscrawl/state/recovered_feeds", 0),
        # Lines of urls_file skipped (bad URL), each named in the log.
        "seeds_skipped": stats.get("newscrawl/seeds/skipped", 0),
        "failed_final": _group(stats, "newscrawl/state/failed_final/"),
        "redirects_refused": _group(stats, "newscrawl/redirect/"),
        "item_errors": _group(stats, "newscrawl/item_error/"),
        "repaired": _group(stats, "newscrawl/repaired/"),
        # Fields cut to the contract's caps (newscrawl.items.TEXT_CAPS, LIST_CAPS).
        "capped": _group(stats, "newscrawl/capped/"),
        "charset_fixed": _group(stats, "newscrawl/charset/"),
        "hosts": _group(stats, "newscrawl/hosts/"),
        "event_loop": _group(stats, "newscrawl/loop/"),
        "peak_rss_bytes": stats.get("newscrawl/peak_rss_bytes"),
        "output_error": stats.get("newscrawl/output_error"),
        # Components that failed (newscrawl.health.component_failed): name -> error.
        "component_failures": failed_components(stats),
        "field_sources": _group(stats, "newscrawl/extract/"),
        "parser_versions": _group(stats, "newscrawl/parser/"),
        "rule_usage": _group(stats, "parser/"),
        # A cluster worker's share of the run: the cluster's totals and its own.
        "cluster": _group(stats, "newscrawl/cluster/"),
    }


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json_atomic(path: Path, data: Any) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    # mkstemp makes 0600 files; a report is read by the same people as the feed
    # beside it, so it gets the mode a new file gets (0644 under umask 022).
    os.fchmod(fd, 0o666 & ~_umask())
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False, indent=2, sort_keys=False)
        fh.write("\n")
    Path(tmp).replace(path)


def summary_lines(report: dict[str, Any], spider: str) -> list[str]:
    r"""The end-of-run summary: what happened, where it went, what the exit means.

    >>> lines = summary_lines({"finish_reason": "finished", "elapsed_seconds": 2.0,
    ...     "items": 0, "revisions": 0, "known_skipped": 5,
    ...     "dropped": {"unchanged": 2}, "request_failed": {"http_404": 1},
    ...     "pending": 0, "feeds": [], "health": {"exit_code": 0, "problems": []}},
    ...     "news")
    >>> print("\n".join(lines))
    newscrawl: news finished in 2.0 s: 0 new, 0 changed, 7 known skipped, 1 failed (http_404 1), 0 pending
    newscrawl: nothing new: 7 known articles skipped (the crawl state remembers them); -s NEWSCRAWL_STATE=off exports them again
    newscrawl: exit 0 (ok: articles written, or nothing new)
    """  # noqa: E501
    dropped = dict(report.get("dropped") or {})
    unchanged = dropped.pop("unchanged", 0)
    known = int(report.get("known_skipped") or 0) + unchanged
    changed = int(report.get("revisions") or 0)
    items = int(report.get("items") or 0)
    failed = report.get("request_failed") or {}
    parts = [
        f"{items - changed} new",
        f"{changed} changed",
        f"{known} known skipped",
    ]
    if dropped:
        parts.append(f"{sum(dropped.values())} dropped ({counts(dropped)})")
    parts.append(
        f"{sum(failed.values())} failed ({counts(failed)})" if failed else "0 failed"
    )
    if report.get("pending") is not None:
        parts.append(f"{report['pending']} pending")
    elapsed = report.get("elapsed_seconds")
    took = f" in {elapsed:.1f} s" if isinstance(elapsed, int | float) else ""
    lines = [
        f"newscrawl: {spider} {report.get('finish_reason')}{took}: " + ", ".join(parts)
    ]
    written = [f for f in report.get("feeds") or [] if f.get("items")]
    for feed in written:
        state = "" if feed.get("complete", True) else " (NOT finalised, left as .part)"
        lines.append(
            f"newscrawl: wrote {feed['items']} articles to {feed['path']}{state}"
        )
    if not written:
        if known:
            lines.append(
                f"newscrawl: nothing new: {known} known articles skipped (the crawl"
                " state remembers them); -s NEWSCRAWL_STATE=off exports them again"
            )
        elif failed and not items:
            lines.append(
                f"newscrawl: nothing exported: {sum(failed.values())} requests"
                f" failed ({counts(failed)})"
            )
        else:
            lines.append("newscrawl: nothing exported")
    health = report.get("health") or {}
    code = int(health.get("exit_code", 0))
    meaning = next((text for c, text in EXIT_MEANING.items() if c == code), "")
    problems = "; ".join(health.get("problems") or [])
    if code and problems.startswith(meaning):
        line = f"newscrawl: exit {code} ({problems})"
    elif code and problems:
        line = f"newscrawl: exit {code} ({meaning}: {problems})"
    else:
        line = f"newscrawl: exit {code} ({meaning})"
    lines.append(line)
    return lines


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

    def _report_paths(self) -> list[Path]:
        """Beside each written feed; for an empty run, where its feed would be.

        An empty run writes no feed (no 0-byte files from a 15-minute cron), but
        its report still says what happened.
        """
        paths = [
            Path(feed["path"]).with_name(Path(feed["path"]).stem + REPORT_SUFFIX)
            for feed in self.feeds
        ]
        if paths:
            return paths
        from scrapy.extensions.feedexport import FeedExporter  # noqa: PLC0415

        exporter = self.crawler.get_extension(FeedExporter)
        for slot in getattr(exporter, "slots", []):
            if isinstance(slot.storage, AtomicFileFeedStorage):
                final = slot.storage.final_path
                path = unique_path(final.with_name(final.stem + REPORT_SUFFIX))
                path.parent.mkdir(parents=True, exist_ok=True)
                paths.append(path)
        return paths

    def feed_exporter_closed(self) -> None:
        from newscrawl.state.extension import CrawlStateExtension  # noqa: PLC0415

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
        drop = defaults.getfloat(self.crawler.settings, "NEWSCRAWL_COVERAGE_DROP")
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
        for path in self._report_paths():
            try:
                write_json_atomic(path, report)
            except OSError as exc:
                component_failed(self.crawler, "report", f"{path}: {exc}")
                code = ExitCode.OUTPUT
                problems = [*problems, f"report failed: {path}: {exc}"]
                report["health"] = {
                    "exit_code": int(code),
                    "status": code.name.lower(),
                    "problems": problems,
                }
        self.crawler.newscrawl_exit_code = int(code)  # type: ignore[attr-defined]
        self.crawler.newscrawl_report = report  # type: ignore[attr-defined]
        self.crawler.newscrawl_summary = summary_lines(  # type: ignore[attr-defined]
            report, self.crawler.spider.name if self.crawler.spider else "crawl"
        )
        if problems:
            logger.error("Unhealthy run (exit code %d): %s", code, "; ".join(problems))
