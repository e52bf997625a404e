"""Bad start points cost only themselves: each bad line of a ``urls_file`` is
named and skipped, an over-long URL is refused (never pending forever), a URL
with credentials is never requested, an undecodable file stops the run naming
the line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.utils.test import get_crawler

from newscrawl.follow import MAX_URL_LENGTH, FollowPolicy, FollowRules, Links
from newscrawl.params import ArgumentError, NewsParams

from .conftest import serve
from .test_first_hour import crawl_news

ROOT = Path(__file__).resolve().parent.parent
GENERIC = Path(__file__).with_name("sites") / "generic"
LONG = "https://news.example/2026/01/01/" + "a" * 10_000
STORY = "/2026/03/02/harbour-bridge-reopens-after-eight-months-of-repairs"
OTHER = "/2026/02/28/ferry-fares-to-rise-for-the-first-time-in-a-decade"


def test_each_bad_line_is_named_and_skipped_and_every_good_line_crawled(tmp_path):
    with serve(GENERIC) as site:
        seeds = tmp_path / "seeds.txt"
        seeds.write_text(
            "\n".join(
                [
                    site + STORY,
                    "http://127.0.0.1:99999/2026/01/01/port-out-of-range",
                    "http://[::1/2026/01/01/malformed-ipv6",
                    "http://user:secret@127.0.0.1/2026/01/01/credentials",
                    LONG,
                    site + OTHER,
                ]
            )
            + "\n"
        )
        result = crawl_news(tmp_path, "-a", f"urls_file={seeds}", "-a", "depth=0")
    assert result.returncode == 0, result.stderr[-3000:]
    skipped = [ln for ln in result.stderr.splitlines() if "WARNING: Skipped" in ln]
    assert [ln.split("WARNING: Skipped ")[1].split(": ")[0] for ln in skipped] == [
        f"{seeds} line {n}" for n in (2, 3, 4, 5)
    ]
    reasons = " ".join(skipped)
    for reason in (
        "port out of range",
        "malformed: Invalid IPv6 URL",
        "credentials in the URL",
        f"longer than {MAX_URL_LENGTH} characters",
    ):
        assert reason in reasons
    assert "secret@" not in "".join(
        Path(p).read_text() for p in (tmp_path / "output" / "news").glob("*.jsonl")
    )
    feeds = list((tmp_path / "output" / "news").glob("*.jsonl"))
    urls = {json.loads(ln)["url"] for f in feeds for ln in f.read_text().splitlines()}
    assert urls == {site + STORY, site + OTHER}
    report = json.loads(
        next((tmp_path / "output" / "news").glob("*.report.json")).read_text()
    )
    assert report["seeds_skipped"] == 4
    assert report["pending"] == 0


def test_an_undecodable_file_stops_the_run_naming_file_and_line(tmp_path):
    seeds = tmp_path / "seeds.txt"
    seeds.write_bytes(b"https://news.example/a\nhttps://news.example/b\n\xff\xfe bad\n")
    result = crawl_news(tmp_path, "-a", f"urls_file={seeds}")
    assert result.returncode == 2
    assert f"argument 'urls_file': '{seeds}' line 3: not UTF-8" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (LONG, f"longer than {MAX_URL_LENGTH} characters"),
        ("http://user:pw@news.example/", "credentials in the URL"),
        ("http://news.example:99999/", "port out of range"),
    ],
)
def test_a_bad_url_argument_is_a_usage_error(url, reason):
    with pytest.raises(ArgumentError, match=f"argument 'url': {reason}"):
        NewsParams.parse({"url": url})


def test_an_over_long_link_is_refused_and_counted_not_left_pending():
    crawler = get_crawler()
    policy = FollowPolicy(
        FollowRules(max_hops=2, sites=frozenset({"news.example"})), crawler
    )
    links = Links("page", "https://news.example/", Request, urls=(LONG,))
    assert list(policy.requests(links, 0)) == []
    assert crawler.stats.get_value("newscrawl/links/page/too_long") == 1


def test_an_ipv6_literal_seed_is_crawled(tmp_path):
    import socket
    import threading
    from functools import partial
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class Server6(ThreadingHTTPServer):
        address_family = socket.AF_INET6

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    try:
        server = Server6(("::1", 0), partial(Quiet, directory=str(GENERIC)))
    except OSError as exc:  # a kernel built without IPv6: nothing to test
        pytest.skip(f"no IPv6 loopback here: {exc}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://[::1]:{server.server_address[1]}{STORY}.html"
        result = crawl_news(tmp_path, "-a", f"url={url}", "-a", "depth=0")
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 0, result.stderr[-3000:]
    feeds = list((tmp_path / "output" / "news").glob("*.jsonl"))
    urls = {json.loads(ln)["url"] for f in feeds for ln in f.read_text().splitlines()}
    assert urls == {url}
