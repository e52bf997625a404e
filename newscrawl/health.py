"""The run's health: exit codes, the judgement of a run, failed components.

A component (the crawl state, a feed, the WARC archive, the cluster, the report)
that fails calls :func:`component_failed` instead of logging and carrying on:
the failure is counted in the stats, named in the report's ``health.problems``
and decides the exit code (73 for what cannot be written, 69 for a component the
run depends on). One function, :func:`health`, then decides the exit code of a
crawl from its report: a failed component, a crawl that did not finish, a run
that exported nothing and knew nothing, or a field whose coverage for a site
fell (a layout change).
"""

from __future__ import annotations

import enum
import logging
import statistics
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

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
    #: A component the run depends on failed (crawl state, cluster Redis).
    COMPONENT = 69
    #: The output cannot be written (unwritable directory, disk full).
    OUTPUT = 73
    #: Another run of the same crawl holds the lock.
    LOCKED = 75


#: What each exit code tells an operator, in the end-of-run summary.
EXIT_MEANING = {
    ExitCode.OK: "ok: articles written, or nothing new",
    ExitCode.BOOTSTRAP: "Scrapy could not start the crawl",
    ExitCode.USAGE: "bad command line",
    ExitCode.CRAWL_FAILED: "the crawl did not finish normally",
    ExitCode.NO_ARTICLES: "no articles exported and none known",
    ExitCode.COVERAGE_DROP: "a field's coverage fell: a layout change?",
    ExitCode.COMPONENT: "a component the run depends on failed",
    ExitCode.OUTPUT: "the output cannot be written",
    ExitCode.LOCKED: "another run holds the lock",
}


#: Components whose failure means the output cannot be written (exit 73); any
#: other failed component gives exit 69.
OUTPUT_COMPONENTS = frozenset({"feed", "archive", "report"})
FAILED = "newscrawl/component_failed/"
ERROR = "newscrawl/component_error/"


def component_failed(crawler: Crawler, component: str, error: object) -> None:
    """Record that ``component`` failed: counted, kept for the report, logged once.

    The one way a component's error reaches the run's health: a component never
    logs an error and carries on as if nothing happened.
    """
    stats = crawler.stats
    assert stats is not None
    first = not stats.get_value(FAILED + component)
    stats.inc_value(FAILED + component)
    if first:
        stats.set_value(ERROR + component, str(error)[:500])
        logger.error("The %s failed: %s", component, error)


def failed_components(stats: dict[str, Any]) -> dict[str, str]:
    """``{component: first error}`` of the components that failed in a run."""
    return {
        key.removeprefix(ERROR): str(value)
        for key, value in sorted(stats.items())
        if key.startswith(ERROR)
    }


def counts(counter: dict[str, int], most: int = 4) -> str:
    """``"http_404 3, dns_error 1"``: the largest counts first, at most ``most``."""
    ranked = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    text = ", ".join(f"{k} {v}" for k, v in ranked[:most])
    if len(ranked) > most:
        text += f", {len(ranked) - most} more"
    return text


def health(
    report: dict[str, Any], baselines: dict[str, list[dict[str, Any]]], drop: float
) -> tuple[ExitCode, list[str]]:
    """Judge a run from its report and each site's earlier runs."""
    problems: list[str] = []
    if report.get("output_error"):
        return ExitCode.OUTPUT, [f"output error: {report['output_error']}"]
    failed = report.get("component_failures") or {}
    if failed:
        problems = [f"{name} failed: {error}" for name, error in failed.items()]
        if set(failed) & OUTPUT_COMPONENTS:
            return ExitCode.OUTPUT, problems
        return ExitCode.COMPONENT, problems
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
        failed = report.get("request_failed") or {}
        problems.append(
            "no articles exported and none known"
            + (
                f"; {sum(failed.values())} requests failed ({counts(failed)})"
                if failed
                else ""
            )
        )
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
