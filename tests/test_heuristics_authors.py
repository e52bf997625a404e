"""Generic authors: JSON-LD credits, author metas, visible bylines, the site's name."""

from __future__ import annotations

import json

from scrapy.http import HtmlResponse

from newscrawl.extract import extract

URL = "https://www.dailyexample.org/world/2026/03/02/river-towns"


def _authors(head: str = "", body: str = "", url: str = URL) -> list[str]:
    html = f"<html><head><title>T</title>{head}</head><body>{body}</body></html>"
    response = HtmlResponse(url=url, body=html.encode(), encoding="utf-8")
    return extract(response, fetched_at="2026-03-02T10:00:00+00:00").authors


def _ld(data: object) -> str:
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


def test_article_nested_as_main_entity_and_author_by_reference():
    page = {
        "@context": "https://schema.org",
        "@graph": [
            {
                "@type": "WebPage",
                "mainEntity": {
                    "@type": "NewsArticle",
                    "headline": "h",
                    "author": [{"@id": "#p1"}, {"@type": "Person", "name": "Ola Berg"}],
                },
            },
            {"@type": "Person", "@id": "#p1", "name": "Tove Lind"},
        ],
    }
    assert _authors(_ld(page)) == ["Tove Lind", "Ola Berg"]


def test_site_name_gives_way_to_a_person_in_the_byline():
    head = (
        _ld(
            {
                "@type": "NewsArticle",
                "author": {"@type": "Organization", "name": "Daily Example"},
            }
        )
        + '<meta property="og:site_name" content="Daily Example">'
    )
    body = '<p>By <a href="/author/mira-kolb">Mira Kolb</a></p>'
    assert _authors(head, body) == ["Mira Kolb"]
    # With nobody else named, the publisher's own credit stands.
    assert _authors(head) == ["Daily Example"]


def test_person_and_agency_both_credited_in_json_ld():
    head = _ld(
        {
            "@type": "NewsArticle",
            "author": [
                {"@type": "Person", "name": "Jon Vik"},
                {"@type": "Organization", "name": "Example Press Agency"},
            ],
        }
    )
    assert _authors(head) == ["Jon Vik", "Example Press Agency"]


def test_email_author_meta_falls_through_to_written_by_pair():
    head = (
        '<meta name="author" content="m.kolb@dailyexample.org">'
        '<meta name="twitter:label1" content="Written by">'
        '<meta name="twitter:data1" content="Mira Kolb">'
    )
    assert _authors(head) == ["Mira Kolb"]


def test_dublin_core_inverted_name():
    assert _authors('<meta name="dc.creator" content="Kolb, Mira">') == ["Mira Kolb"]


def test_address_in_author_meta_is_not_a_list_of_people():
    head = (
        _ld(
            {
                "@type": "NewsArticle",
                "author": {"@type": "Organization", "name": "Desk"},
            }
        )
        + '<meta name="author" content="dailyexample.org, Springfield, Freedonia">'
    )
    assert _authors(head) == ["Desk"]


def test_teaser_bylines_are_not_the_articles():
    body = (
        '<article><div class="meta"><a rel="author" href="/a/1">Ana Ruiz</a></div>'
        "<p>Text.</p></article>"
        '<aside><ul><li><div><div><a rel="author" href="/a/2">Other Writer</a>'
        "</div></div></li></ul></aside>"
    )
    assert _authors(body=body) == ["Ana Ruiz"]


def test_plain_byline_needs_a_byline_word():
    assert _authors(body='<p class="story__byline">By Sam Berg</p>') == ["Sam Berg"]
    assert _authors(body='<p class="story__byline">Updated today</p>') == []


def test_job_title_after_a_name_is_dropped():
    head = _ld(
        {
            "@type": "NewsArticle",
            "author": {
                "@type": "Person",
                "name": "Rui Costa, professor of law at the university of the north",
            },
        }
    )
    assert _authors(head) == ["Rui Costa"]
