"""Generic tags: which keyword list to trust, and what is no keyword at all."""

from __future__ import annotations

import json

from scrapy.http import HtmlResponse

from newscrawl.extract import extract

URL = "https://www.dailyexample.org/world/2026/03/02/river-towns-learn-to-live-with-floods"


def _tags(head: str = "", body: str = "", title: str = "River towns") -> list[str]:
    html = f"<html><head><title>{title}</title>{head}</head><body>{body}</body></html>"
    response = HtmlResponse(url=URL, body=html.encode(), encoding="utf-8")
    return extract(response, fetched_at="2026-03-02T10:00:00+00:00").tags


def _meta(name: str, content: str) -> str:
    return f'<meta name="{name}" content="{content}">'


def _ld_keywords(keywords: object) -> str:
    data = {"@type": "NewsArticle", "headline": "h", "keywords": keywords}
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


def test_news_keywords_win_over_a_different_article_tag():
    head = _meta("news_keywords", "Floods, Insurance, Tamsin River") + (
        '<meta property="article:tag" content="Environment &amp; Science">'
    )
    assert _tags(head) == ["Floods", "Insurance", "Tamsin River"]


def test_two_agreeing_sources_beat_slug_words():
    head = (
        _meta("news_keywords", "river, towns, learn, live, floods")
        + _ld_keywords(["Flooding", "Tamsin River"])
        + '<meta property="article:tag" content="Flooding">'
        + '<meta property="article:tag" content="Tamsin River">'
    )
    assert _tags(head) == ["Flooding", "Tamsin River"]


def test_ids_domains_site_name_and_internal_flags_are_dropped():
    head = '<meta property="og:site_name" content="Daily Example">' + _ld_keywords(
        "Floods, 1234567, dailyexample.org, Daily Example, _paywall, "
        "3f2b1c4d-0000-4a5b-8c9d-0123456789ab"
    )
    assert _tags(head) == ["Floods"]


def test_faceted_keywords_keep_only_topic_facets():
    head = _ld_keywords(
        ["Subject: Floods", "Page Type: Article", "Day: Monday", "Tamsin River"]
    )
    assert _tags(head) == ["Floods", "Tamsin River"]


def test_wire_codes_are_no_keywords():
    codes = "AAA,BBB,CCC,DDD,EEE,FFF,GGG,HHH,III"
    assert _tags(_meta("keywords", codes)) == []


def test_escaped_ampersand_and_cjk_space_separated_keywords():
    assert _tags(_meta("keywords", "Rivers &amp;amp; Lakes")) == ["Rivers & Lakes"]
    assert _tags(_ld_keywords("洪水 河川 保険")) == ["洪水", "河川", "保険"]


def test_visible_topic_box_but_not_a_lone_link_or_the_menu():
    body = (
        '<nav><a href="/topics/sport">Sport</a><a href="/topics/arts">Arts</a></nav>'
        '<article><p>See <a href="/topic/weather">weather</a>.</p>'
        '<ul class="topics"><li><a href="/topic/floods">Floods</a></li>'
        '<li><a href="/topic/tamsin-river">Tamsin River</a></li></ul></article>'
    )
    assert _tags(body=body) == ["Floods", "Tamsin River"]
    lone = '<div class="kicker"><a href="/topic/floods">Floods</a></div>'
    assert _tags(body=lone) == []
