"""Extraction time per Euronews corpus page: newscrawl against trafilatura, same run.

Reads the 7 Euronews pages of ``../shared/corpus`` (never copied into the repo),
extracts each page ``--repeats`` times with ``newscrawl.extract.extract`` (HTML
parsing included, as in a crawl) and with ``trafilatura.bare_extraction`` (text
and metadata), and prints the median milliseconds per page and the ratio.

    python benchmarks/euronews_extraction.py [--corpus ../shared/corpus] [--repeats 30]
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
import time
from pathlib import Path

from scrapy.http import HtmlResponse

from newscrawl.extract import extract

DEFAULT_CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"


def timed(fn, repeats: int) -> float:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    pages_file = args.corpus / "pages.jsonl"
    if not pages_file.exists():
        print(f"corpus not found at {args.corpus}", file=sys.stderr)
        return 2
    import trafilatura

    pages = [
        p
        for p in map(json.loads, pages_file.read_text("utf-8").splitlines())
        if (p.get("publisher") or "").startswith("Euronews")
    ]
    rows = []
    for page in pages:
        body = gzip.decompress((args.corpus / page["html_path"]).read_bytes())
        html = body.decode("utf-8")

        def ours(body: bytes = body, page: dict = page) -> None:
            response = HtmlResponse(url=page["url"], body=body, encoding="utf-8")
            extract(response, fetched_at=page["crawl_date"])

        def theirs(html: str = html, page: dict = page) -> None:
            trafilatura.bare_extraction(html, url=page["url"], with_metadata=True)

        ours()
        theirs()  # warm caches and lazy imports for both
        rows.append(
            (page["id"], timed(ours, args.repeats), timed(theirs, args.repeats))
        )

    print(f"{'page':<42} {'newscrawl ms':>12} {'trafilatura ms':>14}")
    for name, ours_ms, theirs_ms in rows:
        print(f"{name:<42} {ours_ms:>12.2f} {theirs_ms:>14.2f}")
    ours_median = statistics.median(r[1] for r in rows)
    theirs_median = statistics.median(r[2] for r in rows)
    print(
        f"median per page: newscrawl {ours_median:.2f} ms, trafilatura "
        f"{theirs_median:.2f} ms, ratio {ours_median / theirs_median:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
