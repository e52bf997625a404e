"""The ``newscrawl`` console script: demo, extract, parse, sites.

- ``newscrawl demo``: serve the bundled sample site on 127.0.0.1 and run the real
  ``euronews`` spider over it, offline, with a temporary crawl state, writing
  ``output/demo/<time>.jsonl``.
- ``newscrawl extract --warc FILE --out items.jsonl``: every HTML response record of a
  WARC file to one JSONL item, offline; ``newscrawl extract PAGE.html --url URL``
  does one saved page.
- ``newscrawl parse PAGE.html --url URL``: extract one saved page, print the item.
- ``newscrawl sites``: list the site profiles and their versions.
- ``newscrawl seed REDIS_URL --spider news --url U --feed F --sitemap S``: push
  seeds into a cluster's shared frontier (:mod:`newscrawl.cluster`).
- ``newscrawl cluster REDIS_URL --spider news``: the cluster's workers, queue,
  exported count and dead letters, as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


def _project_settings(overrides: dict[str, Any]) -> Any:
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "newscrawl.settings")
    from scrapy.utils.project import get_project_settings  # noqa: PLC0415

    settings = get_project_settings()
    settings.setdict(overrides, priority="cmdline")
    return settings


def _loopback_only(request: Any, spider: Any) -> None:
    """``request_scheduled`` handler: the demo never sends a request off-machine."""
    from scrapy.exceptions import IgnoreRequest  # noqa: PLC0415

    host = urlsplit(request.url).hostname or ""
    if host != "localhost" and not host.startswith("127."):
        spider.crawler.stats.inc_value("newscrawl/demo/refused_off_machine")
        raise IgnoreRequest(f"the demo stays on 127.0.0.1: {request.url}")


def run_demo(output_dir: Path, related_depth: int = 2) -> dict[str, Any]:
    """Crawl the sample site with the ``euronews`` spider; return the crawl report.

    The demo is self-contained: its crawl state lives in a temporary directory
    (never ``output/.state``, so every run gives the same items and none counts
    in a real crawl's history), its feed goes to ``<output_dir>/demo/``, and a
    request for any host but the loopback one is refused before it is queued.
    """
    import tempfile  # noqa: PLC0415

    from scrapy import signals  # noqa: PLC0415
    from scrapy.crawler import AsyncCrawlerProcess  # noqa: PLC0415

    from newscrawl.logformatter import install_log_filters  # noqa: PLC0415
    from newscrawl.sampleserver import base_url, serve_in_thread  # noqa: PLC0415
    from newscrawl.spiders.euronews import EuronewsSpider  # noqa: PLC0415

    install_log_filters()
    server = serve_in_thread()
    base = base_url(server)
    feed = output_dir / "demo" / "%(time)s.jsonl"
    with tempfile.TemporaryDirectory(prefix="newscrawl-demo-") as state_dir:
        settings = _project_settings(
            {
                # Our own server on loopback: no need to wait between requests.
                "DOWNLOAD_DELAY": 0,
                "AUTOTHROTTLE_START_DELAY": 0,
                # Whatever the environment sets: a private SQLite state, no
                # cluster, no archive.
                "NEWSCRAWL_STATE": "sqlite",
                "NEWSCRAWL_STATE_DIR": state_dir,
                "NEWSCRAWL_CLUSTER": "",
                "NEWSCRAWL_WARC": "",
                "NEWSCRAWL_REPLAY": [],
                "FEEDS": {
                    str(feed): {
                        "format": "jsonlines",
                        "encoding": "utf-8",
                        "item_classes": ["newscrawl.items.ArticleItem"],
                    },
                },
            }
        )
        process = AsyncCrawlerProcess(settings)
        crawler = process.create_crawler(EuronewsSpider)
        crawler.signals.connect(_loopback_only, signal=signals.request_scheduled)
        process.crawl(
            crawler, url=f"{base}/,{base}/fr/", related_depth=str(related_depth)
        )
        try:
            process.start()
        finally:
            server.shutdown()
            server.server_close()
    report: dict[str, Any] = getattr(crawler, "newscrawl_report", None) or {}
    summary: list[str] = getattr(crawler, "newscrawl_summary", None) or []
    report["summary"] = summary
    return report


def _cmd_demo(args: argparse.Namespace) -> int:
    report = run_demo(args.output, args.related_depth)
    for line in report.get("summary", []):
        print(line, file=sys.stderr)
    if not report.get("feeds"):
        print("demo: the crawl wrote no feed; see the log above", file=sys.stderr)
        return 1
    return 0 if report.get("finish_reason") == "finished" else 1


def _cmd_parse(args: argparse.Namespace) -> int:
    from newscrawl.offline import PageTooLargeError, read_saved_page  # noqa: PLC0415
    from newscrawl.page import process_page  # noqa: PLC0415

    try:
        body = read_saved_page(args.page)
    except OSError as exc:
        print(f"parse: cannot read {args.page}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except (PageTooLargeError, EOFError) as exc:
        print(f"parse: {exc}", file=sys.stderr)
        return 1
    # The crawl's page work: charset chosen (unless --encoding), markup repaired.
    page = process_page(
        body,
        url=args.url,
        fetched_at=args.fetched_at,
        site=args.site,
        encoding=args.encoding,
    )
    if page.item is None:
        print(f"parse: no item ({page.repaired or 'no_body'})", file=sys.stderr)
        return 1
    json.dump(page.item.to_dict(), sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
    if page.invalid:
        print(f"parse: a crawl would drop this item: {page.invalid}", file=sys.stderr)
    return 0


def _cmd_extract(args: argparse.Namespace) -> int:
    import logging  # noqa: PLC0415

    from tqdm import tqdm  # noqa: PLC0415

    from newscrawl import offline  # noqa: PLC0415

    logging.basicConfig(
        level=logging.ERROR if args.quiet else logging.WARNING,
        format="%(levelname)s %(message)s",
    )
    if bool(args.warc) == bool(args.page):
        print("extract: give --warc FILE or one PAGE.html with --url", file=sys.stderr)
        return 2
    if args.page and not args.url:
        print("extract: a saved page needs --url", file=sys.stderr)
        return 2
    for path in [args.page] if args.page else args.warc:
        try:
            with path.open("rb"):
                pass
        except OSError as exc:
            print(
                f"extract: cannot read {path}: {exc.strerror or exc}", file=sys.stderr
            )
            return 2

    page = None
    if args.page:
        try:
            page = offline.saved_page(args.page, args.url, args.fetched_at)
        except (offline.PageTooLargeError, OSError, EOFError) as exc:
            print(f"extract: {exc}", file=sys.stderr)
            return 1

    def records() -> Any:
        if page is not None:
            yield page
        if args.warc:
            # Indexed together: a revisit in one file may refer to another.
            yield from offline.iter_warc(*args.warc)

    out = args.out if args.out else sys.stdout.buffer
    with tqdm(
        desc="records", unit=" rec", file=sys.stderr, disable=args.quiet or None
    ) as bar:
        summary = offline.run(records(), out, progress=bar.update, site=args.site)
    if args.timings:
        with args.timings.open("w", encoding="utf-8") as fh:
            for url, seconds in summary.seconds:
                fh.write(json.dumps({"url": url, "extract_seconds": seconds}) + "\n")
    print(
        f"extract: {summary.items} items; skipped {dict(summary.skipped) or 'none'};"
        f" failed {dict(summary.failed) or 'none'}",
        file=sys.stderr,
    )
    return 0 if summary.items or not (summary.failed or summary.skipped) else 1


def _cmd_sites(_: argparse.Namespace) -> int:
    from newscrawl.sites import REGISTRY  # noqa: PLC0415

    for key, versions in REGISTRY.items():
        latest = versions[-1]
        names = ", ".join(
            f"{v.version} (until {v.valid_until})" if v.valid_until else f"{v.version}"
            for v in versions
        )
        print(f"{key}\t{', '.join(latest.domains)}\t{names}")
    return 0


def _cmd_seed(args: argparse.Namespace) -> int:
    from newscrawl.cluster.admin import connect, push_seeds  # noqa: PLC0415
    from newscrawl.params import ArgumentError, _urls, _urls_file  # noqa: PLC0415

    try:
        seeds = [("url", u) for u in _urls("url", args.url or [])]
        if args.urls_file:
            listed, skipped = _urls_file("urls-file", str(args.urls_file))
            for line in skipped:
                print(f"newscrawl seed: skipped {line}", file=sys.stderr)
            seeds += [("url", u) for u in listed]
        seeds += [("feed", u) for u in _urls("feed", args.feed or [])]
        seeds += [("sitemap", u) for u in _urls("sitemap", args.sitemap or [])]
    except ArgumentError as exc:
        print(f"newscrawl seed: {exc}", file=sys.stderr)
        return 2
    if not seeds:
        print(
            "newscrawl seed: give --url, --urls-file, --feed or --sitemap",
            file=sys.stderr,
        )
        return 2
    count = push_seeds(connect(args.redis), args.spider, seeds)
    print(f"{count} seeds queued for {args.spider!r}", file=sys.stderr)
    return 0


def _cmd_cluster(args: argparse.Namespace) -> int:
    from newscrawl.cluster.admin import connect, status  # noqa: PLC0415

    print(json.dumps(status(connect(args.redis), args.spider), indent=2))
    return 0


DESCRIPTION = """\
newscrawl's tools beside the crawl itself (crawls run with `scrapy crawl`):
the offline demo, extraction from WARC archives and saved pages, the site
profiles, and the Redis cluster's seeds and status.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newscrawl",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="crawl the bundled sample site offline")
    demo.add_argument("--output", type=Path, default=Path("output"))
    demo.add_argument("--related-depth", type=int, default=2)
    demo.set_defaults(func=_cmd_demo)

    ext = sub.add_parser("extract", help="WARC records or a saved page to JSONL")
    ext.add_argument("page", type=Path, nargs="?", help="a saved page (.html[.gz])")
    ext.add_argument("--warc", type=Path, action="append", help="a WARC file (repeat)")
    ext.add_argument("--url", help="the URL a saved page was fetched from")
    ext.add_argument("--site", help="site profile key (default: from each URL)")
    ext.add_argument("--fetched-at", help="ISO 8601 fetch time of a saved page")
    ext.add_argument("--out", type=Path, help="JSONL output (default: stdout)")
    ext.add_argument("--timings", type=Path, help="write per-record seconds here")
    ext.add_argument(
        "--quiet", action="store_true", help="no progress bar, errors only"
    )
    ext.set_defaults(func=_cmd_extract)

    parse = sub.add_parser("parse", help="extract one saved page and print the item")
    parse.add_argument("page", type=Path)
    parse.add_argument("--url", required=True, help="the URL the page was fetched from")
    parse.add_argument("--site", help="site profile key (default: from the URL)")
    parse.add_argument("--fetched-at", help="ISO 8601 fetch time (picks the version)")
    parse.add_argument(
        "--encoding", help="the page's encoding (default: chosen as a crawl does)"
    )
    parse.set_defaults(func=_cmd_parse)

    sites = sub.add_parser("sites", help="list site profiles")
    sites.set_defaults(func=_cmd_sites)

    seed = sub.add_parser("seed", help="push seeds into a cluster's shared frontier")
    seed.add_argument("redis", help="the cluster's Redis URL (NEWSCRAWL_CLUSTER)")
    seed.add_argument("--spider", default="news", help="the workers' spider")
    seed.add_argument("--url", action="append", help="a start page (repeat)")
    seed.add_argument("--urls-file", type=Path, help="start pages, one per line")
    seed.add_argument("--feed", action="append", help="an RSS/Atom feed (repeat)")
    seed.add_argument("--sitemap", action="append", help="a sitemap (repeat)")
    seed.set_defaults(func=_cmd_seed)

    cluster = sub.add_parser("cluster", help="a cluster's state, as JSON")
    cluster.add_argument("redis", help="the cluster's Redis URL")
    cluster.add_argument("--spider", default="news")
    cluster.set_defaults(func=_cmd_cluster)
    return parser


#: The exit status of a process killed by SIGPIPE, as shells report it.
EXIT_BROKEN_PIPE = 128 + 13


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader left (`newscrawl parse page.html | head`): not an error of
        # ours. Python would print a traceback when flushing stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    return code


if __name__ == "__main__":
    sys.exit(main())
