"""Peak RSS and event-loop stalls of ``scrapy crawl news`` on big and hostile crawls."""

# Three measurements, each run --repeats times (medians, min, max), every crawl a
# real ``scrapy crawl news`` process with a fresh state directory:
#
# 1. --pages articles (tests/sitegen.py, the site of benchmarks/state.py) served on
#    127.0.0.1 by a server this script starts (benchmarks/_hostile_site.py, which
#    also runs the fault server), followed and extracted; peak RSS, pages/min and the
#    longest loop stall from the run report, against the bare Scrapy spider of
#    benchmarks/_crawl_once.py (no extraction) on the same pages, same settings.
# 2. The fault server's compression bombs and huge bodies (tests/faultserver.py)
#    against as many ``ok`` pages: both peaks and the rise.
# 3. Hostile pages (50,000 links, 5,000 nested divs, lying charsets, tag soup) and
#    20 ``ok`` pages: the longest loop stall.
#
# Peak RSS is each child's own ru_maxrss. On Linux a child's ru_maxrss starts at
# its parent's peak (the memory image it was spawned from), so this process stays
# small (no Scrapy import, no items loaded, the servers in their own process) and
# prints that floor.
#
#     python benchmarks/hostile.py [--pages 2000] [--repeats 3]

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._runs import (  # noqa: E402
    CrawlFailedError,
    check,
    child_env,
    log,
    print_table,
    run_child,
)
from tests.faultserver import article_path  # noqa: E402
from tests.test_hostile import FAST, crawl_args  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Iterator

CRAWL_ONCE = ROOT / "benchmarks" / "_crawl_once.py"
SITES = ROOT / "benchmarks" / "_hostile_site.py"
MIB = 1024 * 1024

#: The big crawl runs with _crawl_once.py's settings (the bare spider's): the
#: project's politeness (AutoThrottle, 2 per domain, timeouts), no delays. The
#: small crawls use tests/test_hostile.py's FAST (short timeouts, no AutoThrottle).
SITE_SETTINGS = {
    "DOWNLOAD_DELAY": "0",
    "AUTOTHROTTLE_START_DELAY": "0",
    "LOG_LEVEL": "ERROR",
}
BOMBS = (
    "bomb-gzip",
    "bomb-gzip-nocl",
    "bomb-deflate",
    "bomb-br",
    "bomb-zstd",
    "huge",
    "huge-nocl",
)
HOSTILE = ("many-links", "deep", "win1256", "shift-jis", "cp1252-lying", "tagsoup")
HOSTILE_OK = 20

#: Runs _crawl_once.py as its own __main__, then prints this process's peak RSS.
#: Its bare spider is meant to run "none of our components"; it drops our
#: extensions but not our downloader middlewares and handler, which now need those
#: extensions (every request fails), so they are dropped here too.
BARE_CHILD = (
    "import json, resource, runpy, sys\n"
    "import newscrawl.settings as project\n"
    "for name in ('DOWNLOADER_MIDDLEWARES', 'DOWNLOAD_HANDLERS'):\n"
    "    vars(project).pop(name, None)\n"
    "sys.argv = sys.argv[1:]\n"
    "runpy.run_path(sys.argv[0], run_name='__main__')\n"
    "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024\n"
    "print(json.dumps({'peak_rss_bytes': peak}))\n"
)

#: key -> (table label, format); the order of the table.
METRICS = {
    "news_peak_rss_mib": ("{pages} pages, news: peak RSS (MiB)", ".1f"),
    "bare_peak_rss_mib": ("{pages} pages, bare spider: peak RSS (MiB)", ".1f"),
    "rss_ratio": ("peak RSS ratio news/bare", ".2f"),
    "news_pages_per_min": ("{pages} pages, news: pages/min", ".0f"),
    "bare_pages_per_min": ("{pages} pages, bare spider: pages/min", ".0f"),
    "news_max_stall_ms": ("{pages} pages, news: longest loop stall (ms)", ".1f"),
    "news_stalls_over_100ms": ("{pages} pages, news: stalls > 100 ms", "g"),
    "ok_peak_rss_mib": ("{bombs} ok pages: peak RSS (MiB)", ".1f"),
    "bomb_peak_rss_mib": ("{bombs} bombs and huge bodies: peak RSS (MiB)", ".1f"),
    "bomb_rise_mib": ("bombs: RSS rise over ok pages (MiB)", ".1f"),
    "hostile_max_stall_ms": (
        "{hostile} hostile + {ok} ok pages: longest loop stall (ms)",
        ".1f",
    ),
    "hostile_stalls_over_100ms": ("hostile pages: stalls > 100 ms", "g"),
}


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def news_crawl(
    what: str,
    out: Path,
    urls: list[str],
    settings: dict[str, str],
    *,
    depth: int = 0,
    ok_codes: tuple[int, ...] = (0,),
    timeout: float = 240,
) -> dict[str, Any]:
    """``scrapy crawl news`` as tests/test_hostile.py's ``crawl()``; its run report.

    Only the report is read: the items stay on disk, so this process stays small.
    """
    args = crawl_args(out, urls, settings, depth=depth)
    code, _, stderr = run_child(what, args, timeout)
    reports = sorted((out / "feeds").glob("*.report.json"))
    if not reports:
        raise CrawlFailedError(what, f"exit code {code}, no run report", stderr)
    report: dict[str, Any] = json.loads(reports[-1].read_text("utf-8"))
    if code not in ok_codes or report.get("finish_reason") != "finished":
        why = f"exit code {code}, finish_reason {report.get('finish_reason')!r}"
        raise CrawlFailedError(what, why, stderr)
    if not report.get("peak_rss_bytes") or "max_stall_ms" not in report.get(
        "event_loop", {}
    ):
        raise CrawlFailedError(
            what, "the run report has no peak_rss_bytes or event_loop", stderr
        )
    return report


def bare_crawl(what: str, url: str, out: Path, timeout: float) -> dict[str, Any]:
    """The bare spider of _crawl_once.py on ``url``: its rate and its peak RSS."""
    out.mkdir(parents=True, exist_ok=True)
    args = [sys.executable, "-c", BARE_CHILD, str(CRAWL_ONCE), "bare-all", url, "1"]
    code, stdout, stderr = run_child(what, [*args, str(out)], timeout)
    lines = stdout.strip().splitlines()
    if code != 0 or len(lines) < 2:
        raise CrawlFailedError(what, f"exit code {code}", stderr + stdout[-1000:])
    try:
        rate = json.loads(lines[-2])
        rate.update(json.loads(lines[-1]))
    except json.JSONDecodeError:
        raise CrawlFailedError(what, "unreadable output", stderr + stdout) from None
    if not rate.get("seconds") or not rate.get("responses"):
        raise CrawlFailedError(what, f"no responses or no elapsed time: {rate}", stderr)
    return dict(rate)


def responses(report: dict[str, Any]) -> int:
    return sum(report["responses_by_status"].values())


def site_round(
    base: str, out: Path, pages: int, results: dict[str, list[float]]
) -> None:
    """One news crawl and one bare crawl of the generated site."""
    timeout = max(600.0, pages * 0.5)
    start = time.perf_counter()
    report = news_crawl(
        "news crawl of the site",
        out / "news",
        [base + "/"],
        SITE_SETTINGS,
        depth=1,
        timeout=timeout,
    )
    log(f"  news, {pages} pages: {time.perf_counter() - start:.0f} s")
    check(report["items"] == pages, f"news crawl: {report['items']} of {pages} items")
    start = time.perf_counter()
    bare = bare_crawl("bare crawl of the site", base + "/", out / "bare", timeout)
    log(f"  bare, {pages} pages: {time.perf_counter() - start:.0f} s")
    check(bare["items"] == pages, f"bare crawl: {bare['items']} of {pages} items")
    news_rss, bare_rss = report["peak_rss_bytes"], bare["peak_rss_bytes"]
    results["news_peak_rss_mib"].append(news_rss / MIB)
    results["bare_peak_rss_mib"].append(bare_rss / MIB)
    results["rss_ratio"].append(news_rss / bare_rss)
    results["news_pages_per_min"].append(
        responses(report) / report["elapsed_seconds"] * 60
    )
    results["bare_pages_per_min"].append(bare["responses"] / bare["seconds"] * 60)
    loop = report["event_loop"]
    results["news_max_stall_ms"].append(loop["max_stall_ms"])
    results["news_stalls_over_100ms"].append(loop.get("stalls_over_100ms", 0))


def fault_round(
    faults: str, out: Path, tag: str, results: dict[str, list[float]]
) -> None:
    """Bombs against as many ok pages, then the hostile pages."""
    start = time.perf_counter()
    ok = news_crawl(
        f"crawl of {len(BOMBS)} ok pages",
        out / "ok",
        [faults + article_path("ok", f"{tag}-{i}") for i in range(len(BOMBS))],
        FAST,
    )
    check(ok["items"] == len(BOMBS), f"ok pages: {ok['items']} items")
    # No article in a run of bombs only: exit code 4 (NO_ARTICLES) is expected.
    bombs = news_crawl(
        "crawl of the bombs",
        out / "bombs",
        [faults + article_path(fault, tag) for fault in BOMBS],
        FAST,
        ok_codes=(0, 4),
    )
    check(
        bombs["request_failed"] == {"too_large": len(BOMBS)},
        f"bombs not all rejected as too large: {bombs['request_failed']}",
    )
    results["ok_peak_rss_mib"].append(ok["peak_rss_bytes"] / MIB)
    results["bomb_peak_rss_mib"].append(bombs["peak_rss_bytes"] / MIB)
    results["bomb_rise_mib"].append(
        (bombs["peak_rss_bytes"] - ok["peak_rss_bytes"]) / MIB
    )
    urls = [faults + article_path(fault, tag) for fault in HOSTILE]
    urls += [faults + article_path("ok", f"{tag}-h{i}") for i in range(HOSTILE_OK)]
    hostile = news_crawl("crawl of the hostile pages", out / "hostile", urls, FAST)
    check(
        hostile["items"] == len(urls),
        f"hostile pages: {hostile['items']} of {len(urls)} items",
    )
    results["hostile_max_stall_ms"].append(hostile["event_loop"]["max_stall_ms"])
    results["hostile_stalls_over_100ms"].append(
        hostile["event_loop"].get("stalls_over_100ms", 0)
    )
    log(f"  ok, bombs and hostile pages: {time.perf_counter() - start:.0f} s")


def report_results(
    results: dict[str, list[float]],
    args: argparse.Namespace,
    seconds: float,
    load: tuple[float, float],
) -> None:
    floor = peak_rss_mib()
    names = {
        "pages": f"{args.pages:,}",
        "bombs": len(BOMBS),
        "hostile": len(HOSTILE),
        "ok": HOSTILE_OK,
    }
    print(
        f"\n### scrapy crawl news, peak RSS and loop stalls: {args.repeats} repeats,"
        f" {args.pages:,} pages (Python {platform.python_version()},"
        f" Scrapy {version('scrapy')}, {os.cpu_count()} CPUs)\n"
    )
    summary = print_table(results, METRICS, names)
    print(
        f"\nChildren's ru_maxrss floor (this process's peak RSS): {floor:.1f} MiB;"
        f" total time {seconds:.0f} s; 1-min load average {load[0]:.1f} at start,"
        f" {load[1]:.1f} at end (other work on the machine skews rates and stalls)."
    )
    for key in ("news_peak_rss_mib", "bare_peak_rss_mib", "ok_peak_rss_mib"):
        check(
            min(results[key]) > floor * 1.05,
            f"{key} is within 5% of the inherited floor {floor:.1f} MiB",
        )
    print(
        json.dumps(
            {
                "benchmark": "hostile",
                "pages": args.pages,
                "repeats": args.repeats,
                "rss_floor_mib": round(floor, 1),
                "seconds": round(seconds, 1),
                "load_average": load,
                "results": summary,
            }
        )
    )


@contextmanager
def local_sites(pages: int) -> Iterator[dict[str, str]]:
    """The generated site and the fault server, served by _hostile_site.py."""
    server = subprocess.Popen(
        [sys.executable, str(SITES), "--pages", str(pages)],
        cwd=ROOT,
        env=child_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdin is not None
    assert server.stdout is not None
    try:
        line = server.stdout.readline()
        if not line:
            why = f"exit code {server.wait()} (its stderr is above)"
            raise CrawlFailedError("the local sites", why, "")
        yield json.loads(line)
    finally:
        server.stdin.close()  # it serves until its stdin closes
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.pages < 1 or args.repeats < 1:
        parser.error("--pages and --repeats must be at least 1")

    started = time.perf_counter()
    load_start = os.getloadavg()[0]
    log("building the site and the compression bombs...")
    results: dict[str, list[float]] = {key: [] for key in METRICS}
    try:
        with (
            tempfile.TemporaryDirectory(prefix="newscrawl-hostile-") as tmp,
            local_sites(args.pages) as urls,
        ):
            for r in range(args.repeats):
                log(f"repeat {r + 1}/{args.repeats}")
                out = Path(tmp) / f"run-{r}"
                site_round(urls["site"], out, args.pages, results)
                fault_round(urls["faults"], out, f"r{r}", results)
    except CrawlFailedError as exc:
        log(f"\nFAILED: {exc}\n--- stderr (tail) ---\n{exc.stderr[-4000:]}")
        return 1
    load = (load_start, os.getloadavg()[0])
    report_results(results, args, time.perf_counter() - started, load)
    return 0


if __name__ == "__main__":
    sys.exit(main())
