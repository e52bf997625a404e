"""Bad input: legacy charsets, broken JSON-LD, non-HTML bodies, pages without fields."""

from __future__ import annotations

from scrapy.http import HtmlResponse, Request, Response
from scrapy.utils.test import get_crawler

from newscrawl.extract import extract
from newscrawl.spiders.euronews import EuronewsSpider

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
