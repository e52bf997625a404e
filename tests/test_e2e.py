"""End to end: the real ``euronews`` spider crawls the sample site on 127.0.0.1."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from scrapy.utils.defer import deferred_f_from_coro_f
from scrapy.utils.test import get_crawler

from newscrawl.feeds import PART_SUFFIX
from newscrawl.sampleserver import SAMPLE_SITE
from newscrawl.schema import validation_errors
from newscrawl.spiders.euronews import EuronewsSpider

from .conftest import serve

EN_A = "/2026/01/06/eu-ministers-agree-emergency-fund-for-flood-damaged-heritage-sites"
EN_C = "/green/2024/04/30/danube-farmers-flood-their-own-fields-to-bring-back-lost-wetlands"


def project_settings(feed: Path, **overrides) -> dict:
    from newscrawl import settings as project

    settings = {k: getattr(project, k) for k in dir(project) if k.isupper()}
    settings.update(
        {
            "FEEDS": {str(feed): {"format": "jsonlines", "encoding": "utf-8"}},
            # Our own loopback server: no politeness delay needed.
            "DOWNLOAD_DELAY": 0,
            "AUTOTHROTTLE_START_DELAY": 0,
            "LOG_LEVEL": "WARNING",
            # Each test crawls with a state of its own, beside its feed.
            "NEWSCRAWL_STATE_DIR": str(feed.parent.parent / ".state"),
        }
    )
    settings.update(overrides)
    return settings


async def crawl(base: str, tmp_path: Path, **spider_args):
    feed = tmp_path / "out" / "%(time)s.jsonl"
    crawler = get_crawler(EuronewsSpider, project_settings(feed))
    await crawler.crawl_async(**spider_args)
    outputs = sorted((tmp_path / "out").glob("*.jsonl"))
    assert len(outputs) == 1, outputs
    lines = outputs[0].read_text("utf-8").splitlines()
    return crawler, outputs[0], lines


@pytest.fixture
def truth(sample_truth):
    return sample_truth["_site"]


@deferred_f_from_coro_f
async def test_crawl_sample_site(sample_server, tmp_path, truth):
    crawler, output, lines = await crawl(
        sample_server, tmp_path, url=f"{sample_server}/,{sample_server}/fr/"
    )
    items = [json.loads(line) for line in lines]
    urls = [item["url"] for item in items]

    # Exactly the article pages; each once (cycles and the utm_* self-link).
    assert sorted(urls) == sorted(sample_server + p for p in truth["article_paths"])
    assert len(urls) == len(set(urls))
    for path in truth["non_article_paths"] + truth["dropped_article_paths"]:
        assert sample_server + path not in urls
    for item in items:
        assert validation_errors(item) == [], item["url"]

    stats = crawler.stats.get_stats()
    assert stats["newscrawl/request_failed/http_404"] == 1
    assert stats["newscrawl/dropped/missing_body"] == 1
    assert stats["newscrawl/links/related/not_article"] >= 1
    assert stats["dupefilter/filtered"] >= 1
    assert stats["finish_reason"] == "finished"
    # Rule usage: every selector used is counted, so a dead one shows as 0.
    assert stats["parser/title/css/h1.c-article-redesign-title"] == 6

    # The feed appears under its final name only when complete, with a report.
    assert not list(output.parent.glob(f"*{PART_SUFFIX}"))
    report = json.loads(output.with_name(output.stem + ".report.json").read_text())
    assert report["items"] == len(items) == 5
    assert report["dropped"] == {"missing_body": 1}
    assert report["request_failed"] == {"http_404": 1}


@deferred_f_from_coro_f
async def test_related_depth_zero_crawls_only_the_start_article(
    sample_server, tmp_path
):
    start = sample_server + EN_A
    _, _, lines = await crawl(sample_server, tmp_path, url=start, related_depth="0")
    assert [json.loads(line)["url"] for line in lines] == [start]


@deferred_f_from_coro_f
async def test_related_depth_one_follows_one_hop(sample_server, tmp_path):
    start = sample_server + EN_C
    _, _, lines = await crawl(sample_server, tmp_path, url=start, related_depth="1")
    paths = sorted(
        json.loads(line)["url"].removeprefix(sample_server) for line in lines
    )
    # EN-C links to EN-B and to the body-less EN-D (dropped); EN-B's own links are
    # two hops away.
    assert paths == [
        EN_C,
        "/my-europe/2026/01/05/rail-unions-call-48-hour-cross-border-strike-over-timetable-reform",
    ]


@pytest.fixture
def robots_server(tmp_path):
    """A copy of the sample site whose robots.txt forbids the my-europe section."""
    root = tmp_path / "site"
    shutil.copytree(SAMPLE_SITE, root)
    (root / "robots.txt").write_text("User-agent: *\nDisallow: /my-europe/\n")
    with serve(root) as url:
        yield url


@deferred_f_from_coro_f
async def test_robots_txt_is_obeyed(robots_server, tmp_path):
    crawler, _, lines = await crawl(robots_server, tmp_path, url=f"{robots_server}/")
    urls = [json.loads(line)["url"] for line in lines]
    assert urls
    assert not [u for u in urls if "/my-europe/" in u]
    assert crawler.stats.get_value("robotstxt/forbidden") >= 1


def scrapy_crawl(
    feed: Path, *args: str, spider: str = "euronews", timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``scrapy crawl SPIDER ARGS`` from the project directory.

    The crawl state lives beside the feed, so each test has its own.
    """
    repo = Path(__file__).resolve().parent.parent
    feeds = json.dumps({str(feed): {"format": "jsonlines"}})
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "scrapy",
            "crawl",
            spider,
            "-s",
            f"NEWSCRAWL_STATE_DIR={feed.parent / '.state'}",
            "-s",
            f"FEEDS={feeds}",
            "-s",
            "DOWNLOAD_DELAY=0",
            "-s",
            "AUTOTHROTTLE_START_DELAY=0",
            *args,
        ],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_scrapy_crawl_command_runs_the_spider(sample_server, tmp_path):
    """``scrapy crawl euronews`` as users run it."""
    feed = tmp_path / "cli" / "run.jsonl"
    result = scrapy_crawl(
        feed, "-a", f"url={sample_server}/fr/", "-a", "related_depth=1"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    langs = {json.loads(line)["language"] for line in feed.read_text().splitlines()}
    assert langs == {"fr"}


@pytest.mark.parametrize(
    ("argument", "value"),
    [
        ("related_depth", "-1"),
        ("related_depth", "two"),
        ("url", "ftp://x/y"),
        ("editions", "en,xx"),
        ("urls_file", "/nonexistent/urls.txt"),
        ("colour", "red"),
    ],
)
def test_bad_argument_stops_the_run_naming_it(tmp_path, argument, value):
    result = scrapy_crawl(tmp_path / "x.jsonl", "-a", f"{argument}={value}")
    assert result.returncode == 2
    assert f"argument {argument!r}" in result.stderr
    assert "Crawled" not in result.stderr
    assert not (tmp_path / "x.jsonl").exists()
