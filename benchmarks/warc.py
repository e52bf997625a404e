"""WARC recording cost and replay rate of ``scrapy crawl news``, live and offline."""

# Every crawl is the project's real command, ``python -m scrapy crawl news`` run
# from the repo root in a process of its own, with a fresh state directory
# (``-s NEWSCRAWL_STATE_DIR``, state on) and a fresh JSONL feed; each figure comes
# from the run report ``<feed>.report.json`` (newscrawl/report.py). Per repeat:
#
# 1. live, recording: the generated site of --pages articles (tests/sitegen.py,
#    the site of benchmarks/state.py and benchmarks/hostile.py) served on
#    127.0.0.1 (port 0) by newscrawl.sampleserver, followed from its front page
#    (depth 1) with ``-s NEWSCRAWL_WARC=<dir>``; pages/min, and the bytes of the
#    ``*.warc.gz`` files per exported page and per WARC response record;
# 2. live, not recording: the same site and settings without NEWSCRAWL_WARC
#    (1 and 2 alternate their order between repeats);
# 3. replay: the server is stopped (its port checked closed), then the same
#    command with ``-a replay=<dir>``, which sets its own settings (no delays, no
#    AutoThrottle, 16 per domain); it must export as many items as crawl 1.
#
# Live crawls run with the local-site settings of the other benchmarks: no
# download delay, AutoThrottle off, CONCURRENT_REQUESTS_PER_DOMAIN=2 (the
# project's value, which benchmarks/crawl_rate.py and benchmarks/state.py run
# with). pages/min = exported article pages / the report's elapsed_seconds (the
# crawl itself, not the process start); ratios are taken within a repeat, then
# summarised. Last, ``../shared/corpus/pages.warc.gz`` (314 real pages) is
# replayed --corpus-repeats times with its pages as seeds (``-a depth=0
# -a seeds_are_articles=1``), when it is there.
#
# The default site is 500 articles and the corpus is replayed once, so that the
# default run stays under about 6 minutes on a busy 2-core machine (one repeat at
# 2,000 articles took about 4 minutes there); ``--pages 2000`` is the size of
# benchmarks/state.py's site.
#
#     python benchmarks/warc.py [--pages 500] [--repeats 3] [--corpus-repeats 1]

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import socket
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._runs import (  # noqa: E402
    CrawlFailedError,
    check,
    log,
    print_table,
    run_child,
)
from newscrawl.sampleserver import base_url, serve_in_thread  # noqa: E402
from tests.sitegen import build_site  # noqa: E402

CORPUS = Path(os.environ.get("NEWSCRAWL_CORPUS", ROOT.parent / "shared" / "corpus"))
#: The live crawls' settings; the replay sets its own delays and concurrency.
LIVE_SETTINGS = {
    "DOWNLOAD_DELAY": "0",
    "AUTOTHROTTLE_ENABLED": "0",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "2",
}
COMMON_SETTINGS = {"NEWSCRAWL_STATE": "sqlite", "LOG_LEVEL": "INFO"}
INDEX_LINE = re.compile(
    r"Replay: (\d+) URLs indexed from (\d+) WARC files in ([\d.]+) s"
)

#: key -> (table label, format); the order of the table.
METRICS = {
    "live_warc_pages_per_min": ("live crawl, recording WARC: pages/min", ".0f"),
    "live_pages_per_min": ("live crawl, not recording: pages/min", ".0f"),
    "replay_pages_per_min": ("replay of the recorded WARC: pages/min", ".0f"),
    "ratio_warc_over_live": ("ratio live-with-WARC / live-without", ".2f"),
    "ratio_replay_over_live_warc": ("ratio replay / live-with-WARC", ".2f"),
    "ratio_replay_over_live": ("ratio replay / live-without", ".2f"),
    "warc_bytes_per_page": ("WARC bytes per exported page", ",.0f"),
    "warc_bytes_per_response": ("WARC bytes per response record", ",.0f"),
    "warc_mib": ("WARC written (MiB, *.warc.gz)", ".2f"),
    "warc_response_records": ("WARC response records", ".0f"),
    "live_warc_items": ("live crawl, recording WARC: items", ".0f"),
    "live_items": ("live crawl, not recording: items", ".0f"),
    "replay_items": ("replay: items", ".0f"),
    "live_warc_requests": ("live crawl, recording WARC: requests", ".0f"),
    "replay_requests": ("replay: requests", ".0f"),
    "replay_index_seconds": ("replay: archive index build (s)", ".2f"),
    "live_warc_wall_seconds": (
        "live crawl, recording WARC: process wall time (s)",
        ".1f",
    ),
    "replay_wall_seconds": ("replay: process wall time (s)", ".1f"),
    "corpus_pages_per_min": ("corpus WARC replay ({corpus} pages): pages/min", ".0f"),
    "corpus_items": ("corpus WARC replay: items", ".0f"),
    "corpus_index_seconds": ("corpus WARC replay: archive index build (s)", ".2f"),
    "corpus_wall_seconds": ("corpus WARC replay: process wall time (s)", ".1f"),
}


@dataclass
class Run:
    """One finished crawl: its run report, its wall time and its command line."""

    report: dict[str, Any]
    wall_seconds: float
    stderr: str
    command: list[str]

    @property
    def items(self) -> int:
        return int(self.report["items"])

    @property
    def requests(self) -> int:
        return int(self.report["requests"])

    @property
    def pages_per_min(self) -> float:
        return self.items / self.report["elapsed_seconds"] * 60

    @property
    def index_seconds(self) -> float | None:
        """The replay's archive index build time, from its log."""
        match = INDEX_LINE.search(self.stderr)
        return float(match.group(3)) if match else None

    def summary(self) -> dict[str, Any]:
        return {
            "items": self.items,
            "requests": self.requests,
            "elapsed_seconds": self.report["elapsed_seconds"],
            "wall_seconds": round(self.wall_seconds, 2),
            "pages_per_min": round(self.pages_per_min, 1),
            "requests_per_min": round(
                self.requests / self.report["elapsed_seconds"] * 60, 1
            ),
            "request_failed": self.report.get("request_failed", {}),
        }


def scrapy_crawl(
    what: str,
    out: Path,
    spider_args: dict[str, str],
    settings: dict[str, str],
    timeout: float,
) -> Run:
    """``scrapy crawl news`` from the repo root into ``out``; its run report."""
    out.mkdir(parents=True)
    feeds = out / "feed"
    options = {
        **COMMON_SETTINGS,
        **settings,
        "NEWSCRAWL_STATE_DIR": str(out / "state"),
        "FEEDS": json.dumps(
            {
                str(feeds / "%(time)s.jsonl"): {
                    "format": "jsonlines",
                    "encoding": "utf-8",
                    "store_empty": True,
                }
            }
        ),
    }
    args = [sys.executable, "-m", "scrapy", "crawl", "news"]
    for name, value in spider_args.items():
        args += ["-a", f"{name}={value}"]
    for name, value in options.items():
        args += ["-s", f"{name}={value}"]
    start = time.perf_counter()
    returncode, _, stderr = run_child(what, args, timeout)
    wall = time.perf_counter() - start
    reports = sorted(feeds.glob("*.report.json"))
    if not reports:
        raise CrawlFailedError(what, f"exit code {returncode}, no run report", stderr)
    report: dict[str, Any] = json.loads(reports[-1].read_text("utf-8"))
    if returncode != 0 or report.get("finish_reason") != "finished":
        why = f"exit code {returncode}, finish_reason {report.get('finish_reason')!r}"
        raise CrawlFailedError(what, why, stderr)
    if not report.get("elapsed_seconds") or not report.get("items"):
        raise CrawlFailedError(
            what, "no items or no elapsed time in the run report", stderr
        )
    return Run(report, wall, stderr, args)


def warc_stats(directory: Path) -> dict[str, Any]:
    """Size of the finished ``*.warc.gz`` files in ``directory``, records by type."""
    from warcio.archiveiterator import ArchiveIterator

    leftovers = sorted(p.name for p in directory.glob("*.open"))
    files = sorted(directory.glob("*.warc.gz"))
    if leftovers or not files:
        why = f"open files left {leftovers}" if leftovers else "no *.warc.gz written"
        raise CrawlFailedError(f"WARC recording in {directory}", why, "")
    records: Counter[str] = Counter()
    for path in files:
        with path.open("rb") as stream:
            records.update(record.rec_type for record in ArchiveIterator(stream))
    return {
        "files": len(files),
        "bytes": sum(path.stat().st_size for path in files),
        "records": dict(records),
    }


def stop_server(server: Any) -> None:
    """Stop the site's server and make sure nothing answers on its port any more."""
    host, port = server.server_address[:2]
    server.shutdown()
    server.server_close()
    try:
        with socket.create_connection((host, port), timeout=2):
            pass
    except OSError:
        return
    raise CrawlFailedError("stopping the site's server", f"{host}:{port} answers", "")


def site_round(
    site: Path,
    out: Path,
    repeat: int,
    pages: int,
    results: dict[str, list[float]],
    runs: list[dict[str, Any]],
) -> list[list[str]]:
    """Live crawls with and without recording, then the replay, server stopped."""
    timeout = max(600.0, pages * 0.5)
    server = serve_in_thread(site)
    url = base_url(server) + "/"
    site_args = {"url": url, "depth": "1"}
    warc_dir = out / "warc"
    crawls = {
        "live_warc": {**LIVE_SETTINGS, "NEWSCRAWL_WARC": str(warc_dir)},
        "live": LIVE_SETTINGS,
    }
    order = list(crawls) if repeat % 2 == 0 else list(reversed(crawls))
    live: dict[str, Run] = {}
    try:
        for name in order:
            live[name] = scrapy_crawl(
                f"{name} crawl of {url}", out / name, site_args, crawls[name], timeout
            )
            log(f"  {name}: {live[name].wall_seconds:.0f} s")
    finally:
        stop_server(server)
    replay = scrapy_crawl(
        f"replay of {warc_dir}",
        out / "replay",
        {**site_args, "replay": str(warc_dir)},
        {},
        timeout,
    )
    log(f"  replay: {replay.wall_seconds:.0f} s")
    recorded = live["live_warc"]
    if replay.items != recorded.items:
        raise CrawlFailedError(
            f"replay of {warc_dir}",
            f"{replay.items} items exported, the recorded live crawl exported"
            f" {recorded.items}",
            replay.stderr,
        )
    for name, run in live.items():
        check(run.items == pages, f"{name} crawl: {run.items} of {pages} items")
    check(
        replay.requests == recorded.requests,
        f"replay: {replay.requests} requests, live {recorded.requests}",
    )
    check(
        not replay.report.get("request_failed"),
        f"replay: failed requests {replay.report.get('request_failed')}",
    )
    warc = warc_stats(warc_dir)
    responses = warc["records"].get("response", 0)
    check(
        responses == recorded.requests,
        f"{responses} WARC response records for {recorded.requests} requests",
    )
    rates = {
        "live_warc": recorded.pages_per_min,
        "live": live["live"].pages_per_min,
        "replay": replay.pages_per_min,
    }
    values = {
        "live_warc_pages_per_min": rates["live_warc"],
        "live_pages_per_min": rates["live"],
        "replay_pages_per_min": rates["replay"],
        "ratio_warc_over_live": rates["live_warc"] / rates["live"],
        "ratio_replay_over_live_warc": rates["replay"] / rates["live_warc"],
        "ratio_replay_over_live": rates["replay"] / rates["live"],
        "warc_bytes_per_page": warc["bytes"] / recorded.items,
        "warc_bytes_per_response": warc["bytes"] / max(responses, 1),
        "warc_mib": warc["bytes"] / 2**20,
        "warc_response_records": responses,
        "live_warc_items": recorded.items,
        "live_items": live["live"].items,
        "replay_items": replay.items,
        "live_warc_requests": recorded.requests,
        "replay_requests": replay.requests,
        "live_warc_wall_seconds": recorded.wall_seconds,
        "replay_wall_seconds": replay.wall_seconds,
    }
    if replay.index_seconds is not None:
        values["replay_index_seconds"] = replay.index_seconds
    for key, value in values.items():
        results.setdefault(key, []).append(value)
    runs.append(
        {
            "repeat": repeat + 1,
            "order": order,
            "warc": warc,
            **{name: run.summary() for name, run in live.items()},
            "replay": replay.summary(),
        }
    )
    return [run.command for run in (*live.values(), replay)]


def corpus_round(
    out: Path,
    urls: list[str],
    results: dict[str, list[float]],
    runs: list[dict[str, Any]],
) -> list[str]:
    """Replay of the shared corpus's WARC, its pages as seeds."""
    out.mkdir(parents=True)
    seeds = out / "urls.txt"
    seeds.write_text("\n".join(urls) + "\n", "utf-8")
    run = scrapy_crawl(
        "replay of the shared corpus",
        out / "crawl",
        {
            "urls_file": str(seeds),
            "depth": "0",
            "seeds_are_articles": "1",
            "replay": str(CORPUS / "pages.warc.gz"),
        },
        {},
        timeout=900,
    )
    log(f"  corpus replay: {run.wall_seconds:.0f} s")
    check(run.items == len(urls), f"corpus replay: {run.items} of {len(urls)} items")
    results.setdefault("corpus_pages_per_min", []).append(run.pages_per_min)
    results.setdefault("corpus_items", []).append(run.items)
    results.setdefault("corpus_wall_seconds", []).append(run.wall_seconds)
    if run.index_seconds is not None:
        results.setdefault("corpus_index_seconds", []).append(run.index_seconds)
    runs.append(run.summary())
    return run.command


def corpus_urls() -> list[str] | None:
    """The corpus pages' URLs, or ``None`` when the corpus is not there."""
    warc, pages = CORPUS / "pages.warc.gz", CORPUS / "pages.jsonl"
    if not (warc.is_file() and pages.is_file()):
        return None
    lines = pages.read_text("utf-8").splitlines()
    return [json.loads(line)["url"] for line in lines if line.strip()]


def print_results(
    results: dict[str, list[float]],
    args: argparse.Namespace,
    corpus: list[str] | None,
    extra: dict[str, Any],
) -> None:
    names = {"corpus": f"{len(corpus or ()):,}"}
    print(
        f"\n### scrapy crawl news: WARC recording and replay, {args.repeats} repeats,"
        f" {args.pages:,}-article local site, corpus replayed"
        f" {args.corpus_repeats}x (Python {platform.python_version()},"
        f" Scrapy {version('scrapy')}, warcio {version('warcio')},"
        f" {os.cpu_count()} CPUs)\n"
    )
    summary = print_table(results, METRICS, names)
    print(
        "\npages/min: exported article pages per minute of the run report's"
        " elapsed_seconds (the crawl, not the process start-up). Live crawls:"
        f" {', '.join(f'{k}={v}' for k, v in LIVE_SETTINGS.items())}; the replay"
        " runs with its own settings (no delays, 16 per domain). Process wall"
        " time adds Python and Scrapy start-up and the spider's set-up."
    )
    if corpus is None:
        print(
            f"Corpus replay skipped: {CORPUS / 'pages.warc.gz'} or pages.jsonl"
            " not found."
        )
    elif not args.corpus_repeats:
        print("Corpus replay not run (--corpus-repeats 0).")
    print(
        f"Total time {extra['seconds']:.0f} s; 1-min load average"
        f" {extra['load_average'][0]:.1f} at start, {extra['load_average'][1]:.1f}"
        " at end (other work on the machine skews the rates).\n"
    )
    print(
        json.dumps(
            {
                "benchmark": "warc",
                "pages": args.pages,
                "repeats": args.repeats,
                "corpus_repeats": args.corpus_repeats,
                **extra,
                "results": summary,
            }
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--corpus-repeats", type=int, default=1)
    args = parser.parse_args()
    if args.pages < 1 or args.repeats < 1 or args.corpus_repeats < 0:
        parser.error(
            "--pages and --repeats must be at least 1, --corpus-repeats at least 0"
        )

    started = time.perf_counter()
    load_start = os.getloadavg()[0]
    corpus = corpus_urls()
    results: dict[str, list[float]] = {}
    site_runs: list[dict[str, Any]] = []
    corpus_runs: list[dict[str, Any]] = []
    commands: list[list[str]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="newscrawl-warc-bench-") as tmp:
            site = Path(tmp) / "site"
            log(f"building a site of {args.pages} articles...")
            build_site(site, args.pages)
            for r in range(args.repeats):
                log(f"repeat {r + 1}/{args.repeats}")
                out = Path(tmp) / f"run-{r}"
                done = site_round(site, out, r, args.pages, results, site_runs)
                commands = commands or done
            if corpus is None:
                log(f"corpus replay skipped: no {CORPUS / 'pages.warc.gz'}")
            else:
                for r in range(args.corpus_repeats):
                    log(f"corpus replay {r + 1}/{args.corpus_repeats}")
                    out = Path(tmp) / f"corpus-{r}"
                    done_corpus = corpus_round(out, corpus, results, corpus_runs)
                    if r == 0:
                        commands.append(done_corpus)
    except CrawlFailedError as exc:
        log(f"\nFAILED: {exc}\n--- stderr (tail) ---\n{exc.stderr[-4000:]}")
        return 1
    extra = {
        "seconds": round(time.perf_counter() - started, 1),
        "load_average": [load_start, os.getloadavg()[0]],
        "live_settings": LIVE_SETTINGS,
        "commands": [shlex.join(c) for c in commands],
        "site_runs": site_runs,
        "corpus_runs": corpus_runs,
    }
    print_results(results, args, corpus, extra)
    return 0


if __name__ == "__main__":
    sys.exit(main())
