"""End to end: the generic ``news`` spider on a synthetic news site on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scrapy.utils.defer import deferred_f_from_coro_f
from scrapy.utils.test import get_crawler

from newscrawl.schema import validation_errors
from newscrawl.spiders.news import NewsSpider

from .conftest import serve
from .test_e2e import project_settings

SITE = Path(__file__).with_name("sites") / "generic"
TRUTH = json.loads((SITE.parent / "generic_truth.json").read_text("utf-8"))
ARTICLES = TRUTH["articles"]


@pytest.fixture(scope="module")
def site():
    with serve(SITE) as url:
        yield url


async def crawl(tmp_path: Path, **args):
    feed = tmp_path / "out" / "items.jsonl"
    crawler = get_crawler(NewsSpider, project_settings(feed))
    await crawler.crawl_async(**args)
    items = [json.loads(line) for line in feed.read_text("utf-8").splitlines()]
    return crawler.stats.get_stats(), items


def paths(items, base):
    return sorted(item["url"].removeprefix(base) for item in items)


A1, A2, A3, A4, A5 = list(ARTICLES)


@deferred_f_from_coro_f
async def test_front_page_discovers_articles_and_skips_the_rest(site, tmp_path):
    stats, items = await crawl(tmp_path, url=f"{site}/")
    assert paths(items, site) == sorted([A1, A2, A3, A4])
    # The gallery (S1): it says it is an article but has no text for a body: a
    # recorded failure (or, with a few words, a page too short to be one).
    assert (
        stats.get("newscrawl/request_failed/no_body", 0)
        + stats.get("newscrawl/skipped/not_article/too_short", 0)
    ) == 1
    # The front page itself and the newsletter page (W1).
    assert stats["newscrawl/skipped/not_article/og_type:website"] == 2
    assert stats["newscrawl/links/page/offsite"] >= 1
    assert stats["newscrawl/links/page/segment"] >= 3
    requested = {k for k in stats if k.startswith("downloader/response_status_count/")}
    assert requested <= {"downloader/response_status_count/200"}, requested


@deferred_f_from_coro_f
async def test_fields_on_every_article(site, tmp_path):
    _, items = await crawl(tmp_path, sitemap=f"{site}/sitemap_index.xml")
    by_path = {item["url"].removeprefix(site): item for item in items}
    assert sorted(by_path) == sorted(ARTICLES)
    for path, truth in ARTICLES.items():
        item = by_path[path]
        assert validation_errors(item) == [], path
        assert item["title"] == truth["title"], path
        assert item["authors"] == truth["authors"], path
        assert item["published"] == truth["published"], path
        assert item["language"] == truth["language"], path
        assert truth["first_paragraph"] in item["body"], path
        assert truth["last_paragraph"] in item["body"], path


@deferred_f_from_coro_f
async def test_sitemap_index_loop_and_missing_pages_are_survived(site, tmp_path):
    stats, items = await crawl(tmp_path, sitemap=f"{site}/sitemap_index.xml")
    assert len(items) == len(ARTICLES)
    # /tag/transport and /about are listed but are not article pages.
    assert stats["newscrawl/links/sitemap/segment"] == 2
    assert "newscrawl/request_failed/http_404" not in stats
    # The index lists itself.
    assert stats["dupefilter/filtered"] >= 1
    assert stats["finish_reason"] == "finished"


@deferred_f_from_coro_f
async def test_rss_feed(site, tmp_path):
    stats, items = await crawl(tmp_path, feed=f"{site}/feed.xml")
    assert paths(items, site) == sorted([A1, A2, A3])
    assert stats["newscrawl/links/feed/offsite"] == 1


@deferred_f_from_coro_f
async def test_atom_feed(site, tmp_path):
    _, items = await crawl(tmp_path, feed=f"{site}/atom.xml")
    assert paths(items, site) == sorted([A4, A5])


@deferred_f_from_coro_f
async def test_depth_zero_takes_only_the_given_pages(site, tmp_path):
    _, items = await crawl(tmp_path, url=f"{site}{A4}", depth="0")
    assert paths(items, site) == [A4]


@deferred_f_from_coro_f
async def test_tracking_duplicate_fetched_once(site, tmp_path):
    _, items = await crawl(tmp_path, url=f"{site}{A2}", depth="1")
    urls = [item["url"] for item in items]
    assert len(urls) == len(set(urls))
    assert f"{site}{A1}" in urls
