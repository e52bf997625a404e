"""Crawl rate of the ``euronews`` spider against a bare Scrapy spider, same site, same run.

Two local sites, both served on 127.0.0.1 by ``newscrawl.sampleserver``:

- ``sample``: the bundled demo site (8 pages; the offline demo's own crawl);
- ``scaled``: the sample pages plus N generated copies of an article whose
  "You might also like" boxes link to each other, so per-run start-up matters less.

Each crawl runs in a fresh process, ``--repeats`` times, alternating the two
spiders; the script prints medians and the ratio newscrawl/bare (1.0 = as fast).
Politeness delays are off for both (our own loopback server).

    python benchmarks/crawl_rate.py [--pages 600] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from newscrawl.sampleserver import SAMPLE_SITE, base_url, serve_in_thread

HERE = Path(__file__).resolve().parent
TEMPLATE = (
    "2026/01/06/eu-ministers-agree-emergency-fund-for-flood-damaged-heritage-sites"
)


def build_scaled_site(pages: int) -> Path:
    """Copy the sample site and add ``pages`` linked copies of one article."""
    root = Path(tempfile.mkdtemp(prefix="newscrawl-bench-")) / "site"
    shutil.copytree(SAMPLE_SITE, root)
    html = (root / f"{TEMPLATE}.html").read_text("utf-8")
    ymal_links = re.findall(
        r'class="c-article-you-might-also-like__link" href="([^"]+)"', html
    )
    (root / "bench").mkdir()
    listing = []
    for i in range(pages):
        page = html
        for k, link in enumerate(ymal_links):
            page = page.replace(
                f'href="{link}"',
                f'href="/bench/2026/01/06/copy-{(i * 7 + k + 1) % pages}"',
            )
        # Each copy is a distinct article: own canonical URL and own text.
        page = page.replace(f"/{TEMPLATE}", f"/bench/2026/01/06/copy-{i}")
        page = page.replace("Culture ministers", f"Culture ministers ({i})")
        (root / "bench" / "2026" / "01" / "06").mkdir(parents=True, exist_ok=True)
        (root / "bench" / "2026" / "01" / "06" / f"copy-{i}.html").write_text(
            page, "utf-8"
        )
        listing.append(f'<a href="/bench/2026/01/06/copy-{i}">copy {i}</a>')
    (root / "bench" / "index.html").write_text(
        "<html><body>" + "\n".join(listing) + "</body></html>", "utf-8"
    )
    return root


def crawl(which: str, url: str, depth: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, str(HERE / "_crawl_once.py"), which, url, str(depth)],
        capture_output=True,
        text=True,
        check=True,
        timeout=900,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def measure(name: str, url: str, depth: int, repeats: int) -> None:
    runs: dict[str, list[dict[str, float]]] = {"newscrawl": [], "bare": []}
    for _ in range(repeats):
        for which, results in runs.items():
            results.append(crawl(which, url, depth))
    rates = {}
    print(f"\n== site {name}: {url}")
    print(
        f"{'spider':<10} {'responses':>9} {'items':>6} {'median s':>9} {'pages/min':>10}"
    )
    for which, results in runs.items():
        seconds = statistics.median(r["seconds"] for r in results)
        responses = statistics.median(r["responses"] for r in results)
        rates[which] = responses / seconds * 60
        items = statistics.median(r["items"] for r in results)
        print(
            f"{which:<10} {responses:>9.0f} {items:>6.0f} {seconds:>9.3f}"
            f" {rates[which]:>10.0f}"
        )
    print(
        f"ratio newscrawl/bare pages per minute: {rates['newscrawl'] / rates['bare']:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=600)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    sample = serve_in_thread()
    scaled_root = build_scaled_site(args.pages)
    scaled = serve_in_thread(scaled_root)
    try:
        demo = f"{base_url(sample)}/,{base_url(sample)}/fr/"
        # Unbounded related depth, so both spiders reach the same pages.
        measure("sample (the demo)", demo, 20, args.repeats)
        scaled_url = base_url(scaled) + "/bench/"
        measure(f"scaled ({args.pages} articles)", scaled_url, 1, args.repeats)
    finally:
        for server in (sample, scaled):
            server.shutdown()
            server.server_close()
        shutil.rmtree(scaled_root.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
