"""Sitemaps, feeds and the URL/page article tests, on inputs written here."""

from __future__ import annotations

import pytest
from scrapy.http import HtmlResponse

from newscrawl.classify import page_verdict, url_verdict
from newscrawl.discovery import looks_like_feed, parse_feed, parse_sitemap
from newscrawl.extract import extract
from newscrawl.follow import FollowMiddleware
from newscrawl.structured import StructuredData

from .conftest import collect


def followed(spider, response, outputs):
    """The spider's outputs as the follow policy passes them on in a crawl."""
    spider.crawler.spider = spider
    middleware = FollowMiddleware(spider.crawler)
    return list(middleware.process_spider_output(response, outputs))


INDEX = b"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <sitemap><loc>https://news.example/sitemap-1.xml</loc><lastmod>2026-03-01</lastmod></sitemap>
  <sitemap><loc>https://news.example/sitemap-2.xml.gz</loc></sitemap>
</sitemapindex>"""

NEWS = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
  <url><loc>https://news.example/a</loc>
    <news:news><news:publication><news:name>Ex</news:name><news:language>de</news:language>
    </news:publication>
    <news:publication_date>2026-03-02T08:30:00-05:00</news:publication_date>
    <news:title>Bridge reopens</news:title></news:news></url>
  <url><loc>https://news.example/b</loc><lastmod>2026-03-01</lastmod></url>
</urlset>"""


def test_sitemap_index_entries_are_sitemaps():
    kind, entries = parse_sitemap(INDEX)
    assert kind == "sitemapindex"
    assert [e.url for e in entries] == [
        "https://news.example/sitemap-1.xml",
        "https://news.example/sitemap-2.xml.gz",
    ]
    assert all(e.is_sitemap for e in entries)
    assert entries[0].published == "2026-03-01"


def test_google_news_sitemap_gives_date_title_language():
    kind, entries = parse_sitemap(NEWS)
    assert kind == "urlset"
    first, second = entries
    assert (first.published, first.title, first.language) == (
        "2026-03-02T08:30:00-05:00",
        "Bridge reopens",
        "de",
    )
    assert second.published == "2026-03-01"
    assert max(entries, key=lambda e: e.sort_key()) is first


def test_entity_expansion_is_refused():
    bomb = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">]>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<url><loc>https://news.example/&lol2;</loc></url></urlset>"""
    _, entries = parse_sitemap(bomb)
    assert all("lollollol" not in e.url for e in entries)


def test_external_entity_is_not_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    xxe = f"""<?xml version="1.0"?>
<!DOCTYPE u [<!ENTITY x SYSTEM "file://{secret}">]>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<url><loc>https://news.example/&x;</loc></url></urlset>""".encode()
    _, entries = parse_sitemap(xxe)
    assert all("TOPSECRET" not in e.url for e in entries)


def test_truncated_sitemap_keeps_entries_before_the_damage():
    _, entries = parse_sitemap(
        NEWS[: NEWS.index(b"<url><loc>https://news.example/b")] + b"<url><lo"
    )
    assert [e.url for e in entries] == ["https://news.example/a"]


def test_rss_and_atom_feeds():
    rss = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
<language>en-us</language>
<item><title>One</title><link>https://news.example/one</link>
<pubDate>Mon, 02 Mar 2026 08:30:00 -0500</pubDate></item>
<item><title>No link</title></item></channel></rss>"""
    atom = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title>
<entry><title>Two</title><link rel="alternate" href="https://news.example/two"/>
<published>2026-02-25T09:00:00-05:00</published></entry></feed>"""
    assert looks_like_feed(rss)
    assert looks_like_feed(atom)
    (one,) = parse_feed(rss, "https://news.example/feed.xml")
    assert (one.url, one.title, one.published, one.language) == (
        "https://news.example/one",
        "One",
        "2026-03-02T13:30:00+00:00",
        "en-us",
    )
    (two,) = parse_feed(atom, "https://news.example/atom.xml")
    assert two.url == "https://news.example/two"
    assert two.published == "2026-02-25T14:00:00+00:00"


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://n.example/2026/03/02/harbour-bridge-reopens", True),
        ("https://n.example/news/city-council-votes-to-expand-bike-lanes", True),
        ("https://n.example/world/long-read-20260225", True),
        ("https://n.example/story/12345678", True),
        ("https://n.example/", False),
        ("https://n.example/world/", False),
        ("https://n.example/tag/transport", False),
        ("https://n.example/author/jane-morrow", False),
        ("https://n.example/video/2026/03/02/harbour-drone-footage", False),
        ("https://n.example/search?q=bridge", False),
        ("https://n.example/static/logo.png", False),
        ("https://n.example/news/some-long-article-slug-here?page=2", False),
    ],
)
def test_url_verdict(url, ok):
    assert url_verdict(url).ok is ok


def _verdict(html: str, url: str = "https://n.example/2026/03/02/a-story-slug-here"):
    response = HtmlResponse(url, body=html.encode())
    structured = StructuredData(response.selector)
    item = extract(
        response, structured=structured, fetched_at="2026-03-03T00:00:00+00:00"
    )
    return page_verdict(response.selector, structured, item, url)


WORDS = "</p><p>".join(
    f"The council met on day {i} to discuss the harbour budget, and members said the"
    " plan would be put to a public vote before the summer recess."
    for i in range(12)
)


def test_page_with_article_json_ld_and_text_is_an_article():
    html = f"""<html><head><script type="application/ld+json">
{{"@type": "NewsArticle", "headline": "H"}}</script></head>
<body><h1>H</h1><article><p>{WORDS}</p></article></body></html>"""
    assert _verdict(html).reason == "structured"


def test_short_page_is_not_an_article():
    html = (
        '<html><head><meta property="og:type" content="article"></head>'
        "<body><h1>Gallery</h1><p>Four photos.</p></body></html>"
    )
    assert not _verdict(html).ok


def test_website_typed_page_is_not_an_article():
    html = f"""<html><head><meta property="og:type" content="website"></head>
<body><h1>Subscribe</h1><article><p>{WORDS}</p></article></body></html>"""
    assert _verdict(html).reason == "og_type:website"


def test_untyped_page_needs_visible_evidence():
    html = f"""<html><body><article><h1>Long read</h1>
<time datetime="2026-02-25T09:00:00-05:00">25 Feb</time><p>{WORDS}</p></article></body></html>"""
    assert _verdict(html).reason == "page_evidence"


def test_euronews_scheduled_discovery_requests_each_editions_sitemaps_and_feeds():
    from scrapy.http import XmlResponse
    from scrapy.utils.test import get_crawler

    from newscrawl.spiders.euronews import EuronewsSpider

    crawler = get_crawler(EuronewsSpider)
    spider = crawler._create_spider(editions="en,gr", discover="latest")
    assert spider.plan.starts == (
        ("feed", "https://www.euronews.com/rss"),
        ("sitemap", "https://www.euronews.com/sitemaps/en/latest-news.xml"),
        ("feed", "https://gr.euronews.com/rss"),
        ("sitemap", "https://gr.euronews.com/sitemaps/el/latest-news.xml"),
    )
    feed, sitemap = (
        spider.seed_requests(*start)[0] for start in spider.plan.starts[:2]
    )
    assert feed.callback == spider.parse_feed
    assert sitemap.callback == spider.parse_sitemap
    sitemap = b"""<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
      <url><loc>https://www.euronews.com/2026/01/05/older-story</loc><news:news>
        <news:publication_date>2026-01-05T10:00:00+01:00</news:publication_date></news:news></url>
      <url><loc>https://www.euronews.com/video/2026/01/06/a-video</loc></url>
      <url><loc>https://www.example.com/2026/01/06/elsewhere</loc></url>
      <url><loc>https://www.euronews.com/my-europe/2026/01/06/newer-story</loc><news:news>
        <news:publication_date>2026-01-06T10:00:00+01:00</news:publication_date></news:news></url>
    </urlset>"""
    response = XmlResponse(
        "https://www.euronews.com/sitemaps/en/latest-news.xml", body=sitemap
    )
    requests = followed(spider, response, collect(spider.parse_sitemap(response)))
    assert [r.url for r in requests] == [
        "https://www.euronews.com/my-europe/2026/01/06/newer-story",
        "https://www.euronews.com/2026/01/05/older-story",
    ]
    assert crawler.stats.get_value("newscrawl/links/sitemap/not_article") == 1
    assert crawler.stats.get_value("newscrawl/links/sitemap/offsite") == 1


def test_since_skips_old_sitemap_entries_before_download():
    from scrapy.http import XmlResponse
    from scrapy.utils.test import get_crawler

    from newscrawl.spiders.news import NewsSpider

    crawler = get_crawler(NewsSpider)
    spider = crawler._create_spider(
        sitemap="https://news.example/s.xml", since="2026-03-02"
    )
    response = XmlResponse("https://news.example/s.xml", body=NEWS)
    requests = followed(spider, response, collect(spider.parse_sitemap(response)))
    assert [r.url for r in requests] == ["https://news.example/a"]
    assert crawler.stats.get_value("newscrawl/links/sitemap/too_old") == 1
