"""Bad input: legacy charsets, broken JSON-LD, non-HTML, empty pages, spider arguments."""

from __future__ import annotations

import argparse

import pytest
from scrapy.crawler import Crawler
from scrapy.http import HtmlResponse, Request, Response
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler

from newscrawl.commands.crawl import Command
from newscrawl.extract import extract
from newscrawl.params import VALIDATED, ArgumentError, NewsParams
from newscrawl.spiders.euronews import EuronewsSpider
from newscrawl.spiders.news import NewsSpider

from .conftest import collect

URL = "https://fr.euronews.com/2026/01/06/un-article"


def page(head: str = "", body: str = "") -> str:
    return f"<html><head>{head}</head><body>{body}</body></html>"


def test_charset_from_meta_when_http_header_has_none():
    html = page(
        '<meta charset="windows-1252"><title>x</title>',
        "<h1>Déjà vu à l’Élysée</h1>",
    ).encode("cp1252")
    response = HtmlResponse(URL, body=html, headers={"Content-Type": "text/html"})
    assert extract(response).title == "Déjà vu à l’Élysée"


def test_charset_from_http_header_wins():
    html = page("<title>x</title>", "<h1>東京の天気</h1>").encode("shift_jis")
    response = HtmlResponse(
        URL, body=html, headers={"Content-Type": "text/html; charset=shift_jis"}
    )
    assert extract(response).title == "東京の天気"


def test_windows_1256_arabic_page():
    html = page(
        '<meta http-equiv="Content-Type" content="text/html; charset=windows-1256">',
        "<h1>أخبار اليوم</h1>",
    ).encode("cp1256")
    response = HtmlResponse("https://arabic.euronews.com/2026/01/06/x", body=html)
    assert extract(response).title == "أخبار اليوم"


def test_broken_json_ld_is_counted_not_fatal():
    crawler = get_crawler()
    html = page(
        '<script type="application/ld+json">{"@type": "NewsArticle", "headline": </script>'
        '<script type="application/ld+json">{"@type":"NewsArticle","headline":"Kept",'
        '"datePublished":"2024-05-01T10:00:00+02:00",}</script>'
    )
    item = extract(
        HtmlResponse("https://example.org/a", body=html.encode()), stats=crawler.stats
    )
    assert item.title == "Kept"
    assert item.published == "2024-05-01T10:00:00+02:00"
    assert item.provenance["title"] == "json-ld"
    assert crawler.stats.get_value("newscrawl/extract/broken_json_ld") == 1


def test_empty_page_gives_empty_fields_not_wrong_ones():
    item = extract(HtmlResponse(URL, body=b"<html></html>"), site="euronews")
    assert item.title is None
    assert item.body is None
    assert item.published is None
    assert item.authors == []
    assert item.provenance["body"] == "missing"


def test_pdf_at_an_article_url_is_skipped_and_counted():
    # A PDF the ContentGuard did not stop (no Content-Type, sniffed as binary).
    crawler = get_crawler(EuronewsSpider)
    spider = crawler._create_spider(url=URL)
    response = Response(URL, body=b"%PDF-1.7 ...", request=Request(URL))
    assert collect(spider.parse_article(response)) == []
    assert crawler.stats.get_value("newscrawl/request_failed/not_html") == 1


def test_deeply_nested_page_gives_no_fields_rather_than_wrong_ones():
    # libxml2 stops building the tree at depth 256; what it cannot see must come
    # out empty (and the item is then dropped as missing_title), never half-filled.
    html = (
        "<html><body>"
        + "<div>" * 3000
        + "<h1>Deep</h1><p>"
        + "word " * 50
        + "</p>"
        + "</div>" * 3000
        + "</body></html>"
    )
    item = extract(HtmlResponse(URL, body=html.encode()), site="euronews")
    assert item.title is None
    assert item.body is None


def test_same_page_twice_in_one_process_gives_the_same_item():
    # A revisit or a re-extraction must not lose text to cross-page dedup.
    paragraphs = "".join(
        f"<p>Paragraph {i} tells the story of the harbour and the ferry in detail.</p>"
        for i in range(12)
    )
    html = f"<html><body><article><h1>Twice</h1>{paragraphs}</article></body></html>"
    first = extract(
        HtmlResponse("https://example.org/a/story-told-twice", body=html.encode())
    )
    second = extract(
        HtmlResponse("https://example.org/a/story-told-twice", body=html.encode())
    )
    assert first.body
    assert second.body == first.body


# -- spider arguments -----------------------------------------------------------


class Process:
    """The part of a ``CrawlerProcess`` the crawl command uses; creates the spider."""

    def __init__(self, settings: Settings, before_crawl=lambda: None) -> None:
        self.settings = settings
        self.spider_loader = argparse.Namespace(load=lambda name: NewsSpider)
        self.bootstrap_failed = False
        self.before_crawl = before_crawl
        self.spider: NewsSpider | None = None

    def create_crawler(self, name: str):
        return get_crawler(NewsSpider, self.settings.copy_to_dict())

    def crawl(self, crawler, **spargs) -> None:
        self.before_crawl()
        self.spider = crawler._create_spider(**spargs)

    def start(self) -> None:
        pass


def test_arguments_are_validated_once_by_the_command_and_reused(tmp_path):
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("# start\nhttps://news.example.org/world/\n")
    settings = Settings({"NEWSCRAWL_STATE_DIR": str(tmp_path / "state"), "FEEDS": {}})
    # The file is gone by the time the spider is made: it must not read it again.
    process = Process(settings, before_crawl=seeds.unlink)
    command = Command()
    command.crawler_process = process  # type: ignore[assignment]
    command.run(["news"], argparse.Namespace(spargs={"urls_file": str(seeds)}))
    spider = process.spider
    assert spider is not None
    assert spider.params == NewsParams(urls=("https://news.example.org/world/",))
    assert getattr(spider.crawler, VALIDATED) is spider.params
    assert spider.plan.starts == (("url", "https://news.example.org/world/"),)


def test_a_spider_made_from_python_validates_its_own_arguments():
    crawler = get_crawler(NewsSpider)
    with pytest.raises(ArgumentError, match="'depth': not a whole number"):
        crawler._create_spider(url="https://news.example.org/", depth="one")
    # Arguments of tools (scrapyd's _job) are the spider's attributes, unchecked.
    spider = crawler._create_spider(url="https://news.example.org/", _job="j1")
    assert spider._job == "j1"
    assert spider.params.depth == 1


def test_only_a_cluster_worker_may_start_without_seeds():
    with pytest.raises(ArgumentError, match="'url': give at least one"):
        get_crawler(NewsSpider)._create_spider()
    crawler = get_crawler(NewsSpider, {"NEWSCRAWL_CLUSTER": "redis://unused"})
    assert crawler._create_spider().plan.starts == ()


def test_replay_relaxes_politeness_through_the_spider_settings(tmp_path):
    # As in a crawl: the spider is made before the settings are frozen.
    crawler = Crawler(NewsSpider, {"DOWNLOAD_DELAY": 1.0})
    crawler._create_spider(url="https://news.example.org/", replay=str(tmp_path))
    assert crawler.settings.getfloat("DOWNLOAD_DELAY") == 0
    assert crawler.settings.getlist("NEWSCRAWL_REPLAY") == [str(tmp_path)]


def test_replay_by_setting_is_the_same_door_as_the_argument(tmp_path):
    # -s NEWSCRAWL_REPLAY=... implies what -a replay= does: no delays offline.
    crawler = Crawler(
        NewsSpider,
        {
            "DOWNLOAD_DELAY": 1.0,
            "NEWSCRAWL_REPLAY": [str(tmp_path)],
            "NEWSCRAWL_WARC": "x",
        },
    )
    crawler._create_spider(url="https://news.example.org/")
    assert crawler.settings.getfloat("DOWNLOAD_DELAY") == 0
    assert not crawler.settings.getbool("AUTOTHROTTLE_ENABLED")
