"""Crawl state costs: disk and memory per seen URL, and crawl rate with state on.

1. Disk: ``--urls`` (default 1,000,000) articles marked written in a fresh SQLite
   state; prints the file size per URL after a WAL checkpoint. Memory: the process
   RSS after 100,000 lookups in that state, against the RSS before opening it.
2. Rate: the ``news`` spider follows and extracts a generated local site of
   ``--pages`` articles (default 2,000) with the state on and off, and a bare
   Scrapy spider (no extraction, no state) crawls the same site; ``--repeats``
   runs each, medians, ratios to the bare spider.

    python benchmarks/state.py [--urls 1000000] [--pages 2000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from newscrawl.sampleserver import base_url, serve_in_thread  # noqa: E402
from newscrawl.state.sqlite import SQLiteState  # noqa: E402
from tests.sitegen import build_site  # noqa: E402


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def disk_and_memory(count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.sqlite"
        state = SQLiteState(path)
        start = time.perf_counter()
        for n in range(count):
            state.mark_written(
                f"https://news.example/2026/03/02/story-{n}",
                f"{random.getrandbits(256):064x}",
                1,
                29_000_000 + n,
            )
            if n % 10_000 == 9_999:
                state.commit()
        state.commit()
        state.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        seconds = time.perf_counter() - start
        size = path.stat().st_size
        state.close()
        print(
            f"{count:,} URLs written in {seconds:.1f} s; state file {size / 1e6:.1f} MB,"
            f" {size / count:.1f} bytes per URL"
        )

        before = rss_mb()
        state = SQLiteState(path)
        start = time.perf_counter()
        hits = sum(
            state.seen(
                f"https://news.example/2026/03/02/story-{random.randrange(count)}"
            )
            is not None
            for _ in range(100_000)
        )
        lookups = time.perf_counter() - start
        print(
            f"100,000 lookups ({hits:,} hits) in {lookups:.2f} s;"
            f" peak RSS {before:.0f} MB before opening, {rss_mb():.0f} MB after"
        )
        state.close()


def crawl(which: str, base: str, out: Path) -> dict[str, float]:
    cmd = [
        sys.executable,
        str(ROOT / "benchmarks" / "_crawl_once.py"),
        which,
        base + "/",
        "1",
    ]
    if which.startswith("news"):
        cmd.append(str(out))
    result = subprocess.run(
        cmd, capture_output=True, text=True, check=True, timeout=1800
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def crawl_rate(pages: int, repeats: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "site"
        build_site(root, pages)
        server = serve_in_thread(root)
        base = base_url(server)
        runs: dict[str, list[dict[str, float]]] = {
            "bare-all": [],
            "news-state": [],
            "news-nostate": [],
        }
        try:
            for r in range(repeats):
                for which, results in runs.items():
                    results.append(crawl(which, base, Path(tmp) / f"out-{which}-{r}"))
        finally:
            server.shutdown()
            server.server_close()
    rates = {}
    print(
        f"\n{'crawl':<14} {'responses':>9} {'items':>6} {'median s':>9} {'pages/min':>10}"
    )
    for which, results in runs.items():
        seconds = statistics.median(r["seconds"] for r in results)
        responses = statistics.median(r["responses"] for r in results)
        rates[which] = responses / seconds * 60
        print(
            f"{which:<14} {responses:>9.0f} {statistics.median(r['items'] for r in results):>6.0f}"
            f" {seconds:>9.2f} {rates[which]:>10.0f}"
        )
    for which in ("news-state", "news-nostate"):
        print(f"ratio {which}/bare-all: {rates[which] / rates['bare-all']:.2f}")
    print(
        f"ratio news-state/news-nostate: {rates['news-state'] / rates['news-nostate']:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--urls", type=int, default=1_000_000)
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    disk_and_memory(args.urls)
    crawl_rate(args.pages, args.repeats)


if __name__ == "__main__":
    main()
