"""Extraction quality and speed on the shared corpus: newscrawl against the anchors.

Runs ``newscrawl extract --warc ../shared/corpus/pages.warc.gz`` (the console
script, as a user would), scores its items with ``../shared/scripts/score.py``, and
in the same run extracts and scores the same pages with trafilatura
(``bare_extraction`` with metadata) and, where installed, newspaper4k. Prints the
per-field table and the median milliseconds per page of each tool (median over
pages of the per-page median over ``--repeats`` passes), with newscrawl's time as a
ratio to trafilatura's.

    python benchmarks/extraction.py [--corpus ../shared/corpus] [--repeats 3]
        [--source fundus|aeb] [--json results.json]
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus"
FIELDS = [
    ("body", "f1", "body F1"),
    ("title", "exact", "title"),
    ("published", "date", "published (date)"),
    ("published", "minute", "published (minute)"),
    ("authors", "f1", "authors F1"),
    ("tags", "f1", "tags F1"),
    ("language", "exact", "language"),
]


def score(
    corpus: Path, items: list[dict[str, Any]], source: str | None
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        items_file = Path(tmp) / "items.jsonl"
        items_file.write_text(
            "".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items), "utf-8"
        )
        result_file = Path(tmp) / "result.json"
        cmd = [
            sys.executable,
            str(corpus.parent / "scripts" / "score.py"),
            str(corpus / "pages.jsonl"),
            str(items_file),
            "--json",
            str(result_file),
        ]
        if source:
            cmd += ["--source", source]
        subprocess.run(cmd, check=True, capture_output=True, text=True)
        result: dict[str, Any] = json.loads(result_file.read_text("utf-8"))
    return result["all"] if "all" in result else next(iter(result.values()))


def run_newscrawl(
    corpus: Path, repeats: int
) -> tuple[list[dict[str, Any]], dict[str, float]]:
    times: dict[str, list[float]] = defaultdict(list)
    items: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeats):
            out, timings = Path(tmp) / "items.jsonl", Path(tmp) / "timings.jsonl"
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "newscrawl",
                    "extract",
                    "--quiet",
                    "--warc",
                    str(corpus / "pages.warc.gz"),
                    "--out",
                    str(out),
                    "--timings",
                    str(timings),
                ],
                check=True,
                cwd=ROOT,
            )
            for line in timings.read_text("utf-8").splitlines():
                row = json.loads(line)
                times[row["url"]].append(row["extract_seconds"])
            items = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    return items, {url: statistics.median(t) for url, t in times.items()}


def load_pages(corpus: Path) -> list[tuple[dict[str, Any], str]]:
    pages = []
    for line in (corpus / "pages.jsonl").read_text("utf-8").splitlines():
        page = json.loads(line)
        html = gzip.decompress((corpus / page["html_path"]).read_bytes()).decode(
            "utf-8"
        )
        pages.append((page, html))
    return pages


def run_library(
    pages: list[tuple[dict[str, Any], str]],
    fn: Callable[[str, str], dict[str, Any]],
    repeats: int,
) -> tuple[list[dict[str, Any]], dict[str, float]]:
    # Whole passes over the corpus, as newscrawl's runs are: timing one page several
    # times in a row would hand the library warm caches newscrawl does not get.
    samples: dict[str, list[float]] = defaultdict(list)
    results: dict[str, dict[str, Any]] = {}
    for _ in range(repeats):
        for page, html in pages:
            start = time.perf_counter()
            try:
                item = fn(html, page["url"])
            except Exception:  # noqa: BLE001 - a library crash is a page it missed
                item = {}
            samples[page["url"]].append(time.perf_counter() - start)
            results[page["url"]] = item
    items = [{"url": url, **item} for url, item in results.items() if item]
    return items, {url: statistics.median(s) for url, s in samples.items()}


def trafilatura_item(html: str, url: str) -> dict[str, Any]:
    import trafilatura

    doc = trafilatura.bare_extraction(html, url=url, with_metadata=True)
    if doc is None:
        return {}
    data = doc.as_dict() if hasattr(doc, "as_dict") else dict(doc)
    authors = [a.strip() for a in (data.get("author") or "").split(";") if a.strip()]
    return {
        "title": data.get("title"),
        "authors": authors,
        "published": data.get("date"),
        # trafilatura gives each as a list holding one comma-separated string.
        "tags": [
            t.strip()
            for value in (*(data.get("tags") or []), *(data.get("categories") or []))
            for t in str(value).split(",")
            if t.strip()
        ],
        "body": data.get("text"),
        "language": data.get("language"),
    }


def newspaper_item(html: str, url: str) -> dict[str, Any]:
    import newspaper

    config = newspaper.Config()
    # Offline: no image downloads to size the top image, no network at all.
    config.fetch_images = False
    config.memorize_articles = False
    article = newspaper.Article(url, config=config)
    article.download(input_html=html)
    article.parse()
    return {
        "title": article.title,
        "authors": list(article.authors),
        "published": article.publish_date.isoformat() if article.publish_date else None,
        "tags": sorted(article.tags or []),
        "body": article.text,
        "language": article.meta_lang or None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--source", choices=["fundus", "aeb"])
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--only-newscrawl", action="store_true")
    args = parser.parse_args()
    if not (args.corpus / "pages.warc.gz").exists():
        print(f"corpus not found at {args.corpus}", file=sys.stderr)
        return 2

    results: dict[str, dict[str, Any]] = {}
    items, times = run_newscrawl(args.corpus, args.repeats)
    results["newscrawl"] = {
        "score": score(args.corpus, items, args.source),
        "times": times,
    }
    if not args.only_newscrawl:
        pages = load_pages(args.corpus)
        tools: dict[str, Callable[[str, str], dict[str, Any]]] = {
            "trafilatura": trafilatura_item
        }
        if importlib.util.find_spec("newspaper") is not None:
            tools["newspaper4k"] = newspaper_item
        for name, fn in tools.items():
            lib_items, lib_times = run_library(pages, fn, args.repeats)
            results[name] = {
                "score": score(args.corpus, lib_items, args.source),
                "times": lib_times,
            }

    header = "| tool | " + " | ".join(label for _, _, label in FIELDS) + " | ms/page |"
    print(header)
    print("|" + "---|" * (len(FIELDS) + 2))
    medians = {}
    for name, result in results.items():
        cells = []
        for field, metric, _ in FIELDS:
            value = result["score"].get(field, {}).get(metric)
            cells.append("—" if value is None else f"{value:.3f}".lstrip("0"))
        medians[name] = statistics.median(result["times"].values()) * 1000
        print(f"| {name} | " + " | ".join(cells) + f" | {medians[name]:.1f} |")
    if "trafilatura" in medians:
        print(
            f"\nnewscrawl median ms/page as a ratio to trafilatura's: "
            f"{medians['newscrawl'] / medians['trafilatura']:.2f}"
        )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    n: {"score": r["score"], "median_ms": medians[n]}
                    for n, r in results.items()
                },
                indent=2,
            ),
            "utf-8",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
