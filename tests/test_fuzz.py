"""Fuzzing extraction: random and mutated article pages never crash or leak garbage."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import warnings
from dataclasses import dataclass

import pytest

hypothesis = pytest.importorskip("hypothesis")

# Hypothesis writes a patch for a failing example with libcst, whose import warns;
# under ``filterwarnings=error`` that would turn the failure into an INTERNALERROR.
with warnings.catch_warnings(), contextlib.suppress(ImportError):
    warnings.simplefilter("ignore", DeprecationWarning)
    import libcst  # noqa: F401

from hypothesis import HealthCheck, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from scrapy.http import HtmlResponse  # noqa: E402

from newscrawl.classify import Verdict, page_verdict  # noqa: E402
from newscrawl.extract import LAYERED_FIELDS, extract  # noqa: E402
from newscrawl.items import ArticleItem  # noqa: E402
from newscrawl.processors import word_count  # noqa: E402
from newscrawl.structured import StructuredData  # noqa: E402

#: Extraction runs trafilatura: tens of milliseconds a page, more for big ones.
FUZZ = settings(
    derandomize=True,
    deadline=None,
    max_examples=150,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
#: Fetch dates on either side of the Euronews redesign (the profile version differs).
FETCHED_AT = ("2024-05-02T08:00:00+00:00", "2026-01-10T08:00:00+00:00")

# -- seed pages (written for these tests, modelled on news markup) -----------------

_WORDS = (
    "The council met on Tuesday evening to debate the new budget for the harbour"
    " district, where residents have long asked for better ferry links, safer"
    " cycle lanes and a library that opens on Sundays. After three hours of"
    " debate the members voted by a narrow margin to fund the first phase."
)
_PARAGRAPHS = "".join(f"<p>{_WORDS} Paragraph {n}.</p>\n" for n in range(1, 5))


@dataclass(frozen=True)
class Seed:
    url: str
    body: bytes
    encoding: str | None


_LD_ARTICLE = {
    "@context": "https://schema.org",
    "@type": "NewsArticle",
    "headline": "Council approves harbour budget",
    "description": "A narrow vote funds ferries, cycle lanes and a library.",
    "datePublished": "2024-05-01T09:30:00+02:00",
    "dateModified": "2024-05-01T11:05:00+02:00",
    "author": [
        {"@type": "Person", "name": "Jane Doe"},
        {"@type": "Organization", "name": "Daily Planet"},
    ],
    "image": [
        {"@type": "ImageObject", "url": "/img/harbour.jpg", "caption": "The harbour"}
    ],
    "keywords": "budget, harbour, ferries",
    "articleSection": "Local",
    "inLanguage": "en-GB",
    "mainEntityOfPage": {"@id": "https://www.dailyplanet.example/local/harbour-budget"},
    "publisher": {"@type": "NewsMediaOrganization", "name": "Daily Planet"},
}

ENGLISH = Seed(
    "https://www.dailyplanet.example/2024/05/01/council-approves-harbour-budget?utm_source=x",
    f"""<!DOCTYPE html>
<html lang="en-GB"><head><meta charset="utf-8">
<title>Council approves harbour budget | Daily Planet</title>
<link rel="canonical" href="https://www.dailyplanet.example/local/harbour-budget">
<link rel="alternate" hreflang="fr" href="/fr/2024/05/01/budget-du-port">
<meta property="og:type" content="article">
<meta property="og:title" content="Council approves harbour budget">
<meta property="og:description" content="A narrow vote funds ferries.">
<meta property="og:image" content="https://cdn.dailyplanet.example/harbour.jpg">
<meta property="article:published_time" content="2024-05-01T07:30:00Z">
<meta property="article:tag" content="Budget">
<meta name="author" content="Jane Doe">
<meta name="keywords" content="budget,harbour">
<script type="application/ld+json">{json.dumps(_LD_ARTICLE)}</script>
</head><body>
<nav><a href="/">Home</a> <a href="/tag/budget">Budget</a></nav>
<main><article>
<h1>Council approves harbour budget</h1>
<p class="standfirst">A narrow vote funds ferries, cycle lanes and a library.</p>
<div class="byline">By <a rel="author" href="/author/jane">Jane Doe</a> and John Roe
 with AP</div>
<time datetime="2024-05-01T09:30:00+02:00" pubdate>1 May 2024, 09:30</time>
<figure><img src="/img/harbour.jpg" srcset="/img/h-320.jpg 320w, /img/h-1280.jpg 1280w"
 alt="The harbour"><figcaption>The harbour at dawn. Photo: A. Lens</figcaption></figure>
{_PARAGRAPHS}
<h2>What happens next</h2>
<p>Work starts in <b>June</b> &amp; ends in 2026.</p>
<aside class="related"><a href="/2024/04/30/ferry-fares-rise">Ferry fares rise</a></aside>
</article></main>
<footer>© 2024 Daily Planet · <a href="/privacy">Privacy</a></footer>
</body></html>""".encode(),
    "utf-8",
)

_GRAPH = {
    "@context": "https://schema.org",
    "@graph": [
        {"@type": "WebPage", "@id": "https://www.tagblatt.example/#page"},
        {
            "@type": ["NewsArticle", "ReportageNewsArticle"],
            "headline": "Neue Fähre für den Hafen",
            "datePublished": "2024-04-25",
            "author": {"@type": "Person", "name": ["Anna Muster", "Ben Beispiel"]},
            "keywords": ["Hafen", "Fähre"],
        },
    ],
}

GERMAN = Seed(
    "https://www.tagblatt.example/lokales/neue-faehre-fuer-den-hafen-100234567.html",
    f"""<html lang="de"><head>
<meta http-equiv="Content-Type" content="text/html; charset=utf-8">
<meta name="date" content="2024-04-25T14:07:00+02:00">
<meta name="news_keywords" content="Hafen, Fähre, Verkehr">
<script type="application/ld+json">{json.dumps(_GRAPH, ensure_ascii=False)}</script>
</head><body><div id="content">
<article class="story"><h1 class="headline">Neue Fähre für den Hafen</h1>
<p class="dateline">Aktualisiert: 25.04.2024 14:07 Uhr</p>
<p class="author">Von Anna Muster und Ben Beispiel mit dpa</p>
<p>Die neue Fähre soll ab Juni zwischen Altstadt und Werft pendeln.
 Der Stadtrat hat die Mittel am Dienstag freigegeben; Anwohner hatten sich seit
 Jahren bessere Verbindungen über den Hafen gewünscht.</p>
{_PARAGRAPHS}
<div class="teaser related"><a href="/lokales/alte-faehre-100234000.html">
Alte Fähre ausgemustert – 12.03.2024</a></div>
</article></div></body></html>""".encode(),
    None,
)

EURONEWS = Seed(
    "https://www.euronews.com/my-europe/2024/04/30/council-approves-harbour-budget",
    f"""<html lang="en"><head>
<meta name="date.available" content="2024-04-30 16:17:29 +02:00">
<meta name="date.modified" content="2024-04-30 18:00:00 +02:00">
<meta name="article:vertical" content="my-europe">
<meta name="eventId" content="8421337">
<link rel="canonical" href="https://www.euronews.com/my-europe/2024/04/30/council-approves-harbour-budget">
<link rel="alternate" hreflang="fr" href="https://fr.euronews.com/my-europe/2024/04/30/le-conseil">
<link rel="alternate" hreflang="x-default" href="https://www.euronews.com/">
</head><body><div class="jsArticleFirst"><article class="o-article-newsy">
<h1 class="c-article-redesign-title"><span class="c-article-title__prefix">Euroviews.
</span>Council approves harbour budget</h1>
<p class="c-article-summary">A narrow vote funds ferries, cycle lanes and a library.</p>
<div class="c-article-contributors">By <b>Jane Doe</b> with <b>AP</b></div>
<time class="c-article-publication-date" datetime="2024-04-30">30/04/2024 - 16:17 GMT+2
</time>
<div class="c-article-image-video"><img class="c-article-media__img"
 srcset="a.jpg 640w, b.jpg 1920w" alt="Harbour">
<span class="c-article-caption__text">The harbour<span
 class="c-article-caption__credit">AP Photo</span></span></div>
<div class="c-article-content">{_PARAGRAPHS}<h2>Next</h2><p>More to come.</p>
<div class="widget--type-image"><img src="/inline.jpg" alt="Ferry">
<span class="widget__captionText">A ferry</span></div></div>
<div id="adb-article-tags"><a class="c-article-tags__item" href="/tag/budget">budget</a></div>
<div id="adb-article-you-might-also-like"><div class="c-article-you-might-also-like__item">
<a href="/my-europe/2024/04/29/ferry"><h3>Ferry fares rise</h3></a></div></div>
</article></div></body></html>""".encode(),
    "utf-8",
)

ARABIC = Seed(
    "https://www.akhbar.example/news/2024/05/01/123456",
    (
        """<html lang="ar" dir="rtl"><head>
<meta http-equiv="Content-Type" content="text/html; charset=windows-1256">
<meta property="og:type" content="article">
<meta property="og:title" content="أخبار اليوم: ميزانية الميناء">
<meta name="pubdate" content="01/05/2024 - 10:00 GMT+3">
</head><body><article><h1>أخبار اليوم: ميزانية الميناء</h1>
<span class="byline">بقلم أحمد علي</span>
"""
        + "".join(
            f"<p>{n}. وافق المجلس على ميزانية الميناء الجديدة بعد نقاش طويل حول العبارات"
            " والدراجات والمكتبة التي يطالب بها السكان منذ سنوات عديدة في المدينة.</p>\n"
            for n in range(1, 8)
        )
        + "</article></body></html>"
    ).encode("cp1256"),
    None,
)

SEEDS = (ENGLISH, GERMAN, EURONEWS, ARABIC)

# -- mutations ----------------------------------------------------------------------

#: Byte strings that break parsers: NUL, invalid or over-long UTF-8, CESU surrogates,
#: BOMs, bad entities, stray markup, conflicting charsets, broken JSON escapes.
NASTY = (
    b"\x00",
    b"\xff\xfe",
    b"\xef\xbb\xbf",
    b"\xc3\x28",
    b"\xc0\xaf",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"\x1b[31m",
    b"\x85\x9f",
    b"&#0;",
    b"&#xD800;",
    b"&#x110000;",
    b"&#99999999999;",
    b"&amp",
    b"<",
    b"</",
    b">",
    b'"',
    b"<!--",
    b"<![CDATA[",
    b"<?xml version='1.0' encoding='utf-16'?>",
    b'<meta charset="utf-16">',
    b'<meta charset="no-such-charset">',
    b"<base href='http://['>",
    b"<base href='javascript:alert(1)'>",
    b'<link rel="canonical" href="http://[::1">',
    b'<link rel="alternate" hreflang="\x00" href="//x">',
    b'<meta property="og:type" content="video.other">',
    b"<time datetime='2024-13-45T99:99:99+99:99'>x</time>",
    b"<time datetime='\\ud800'>x</time>",
    b'<meta name="date" content="0000-00-00 00:00:00">',
    b"<h1></h1>",
    b"<h1>\xe2\x80\x8b</h1>",
    b"<script>",
    b"</article>",
    b"<article>",
    b"<html><body>",
    b"<svg><title>x</title>",
    b"<table><tr><td>",
    b"<img srcset='a \xc2\xb2w, b \xd9\xa3w'>",
    b"\\ud800",
    b'"\\udfff"',
    b"\r",
    b"\x0c",
    b"\t" * 50,
)
#: Values that JSON-LD holds where a string should be.
json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False),
        st.text(max_size=20),
        st.sampled_from(
            ["2024-05-01T09:30:00Z", "NewsArticle", "\ud800", "\x00", "", "Person"]
        ),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(
            st.sampled_from(["@type", "name", "url", "@id", "@graph", "headline"]),
            children,
            max_size=3,
        ),
    ),
    max_leaves=8,
)
_LD_KEYS = (*_LD_ARTICLE, "@graph", "mainEntity", "articleBody", "contentUrl")
broken_ld_nodes = st.builds(
    lambda base, changes: {**base, **changes},
    st.sampled_from(
        [
            {"@type": "NewsArticle"},
            {"@type": ["BlogPosting"]},
            {"@type": "https://schema.org/Article"},
            {"@type": {"x": 1}},
            {},
        ]
    ),
    st.dictionaries(st.sampled_from(_LD_KEYS), json_values, max_size=6),
)


def _pos(draw: st.DrawFn, data: bytes) -> int:
    return draw(st.integers(0, len(data)))


def _span(draw: st.DrawFn, data: bytes) -> tuple[int, int]:
    start = _pos(draw, data)
    return start, min(len(data), start + draw(st.integers(0, 400)))


def _truncate(draw: st.DrawFn, data: bytes) -> bytes:
    return data[: _pos(draw, data)]


def _insert_random(draw: st.DrawFn, data: bytes) -> bytes:
    at = _pos(draw, data)
    return data[:at] + draw(st.binary(min_size=1, max_size=40)) + data[at:]


def _insert_nasty(draw: st.DrawFn, data: bytes) -> bytes:
    at = _pos(draw, data)
    return data[:at] + draw(st.sampled_from(NASTY)) + data[at:]


def _delete(draw: st.DrawFn, data: bytes) -> bytes:
    start, end = _span(draw, data)
    return data[:start] + data[end:]


def _duplicate(draw: st.DrawFn, data: bytes) -> bytes:
    start, end = _span(draw, data)
    times = draw(st.integers(1, 20))
    return data[:end] + data[start:end] * times + data[end:]


def _unclose(draw: st.DrawFn, data: bytes) -> bytes:
    """Drop closing tags: one, or all of them."""
    if draw(st.booleans()):
        return re.sub(rb"</[^>]*>", b"", data)
    closers = [m.span() for m in re.finditer(rb"</[^>]*>", data)]
    if not closers:
        return data
    start, end = draw(st.sampled_from(closers))
    return data[:start] + data[end:]


def _nest(draw: st.DrawFn, data: bytes) -> bytes:
    at = _pos(draw, data)
    opener = draw(st.sampled_from([b"<div>", b"<b><i>", b"<article><p>", b"<ul><li>"]))
    # Deeper pages are in the explicit examples: trafilatura is quadratic in depth.
    depth = draw(st.sampled_from([50, 300, 1000]))
    return data[:at] + opener * depth + b"deep text 12.05.2024" + data[at:]


def _huge_attribute(draw: st.DrawFn, data: bytes) -> bytes:
    """A huge value in an attribute a layer reads, or a huge unclosed one."""
    size = draw(st.sampled_from([1000, 20_000]))
    filler = draw(st.sampled_from([b"a", b"\xc3\xa9 ", b"2024-05-01 ", b"x, "])) * size
    attribute = draw(
        st.sampled_from([b'content="', b'href="', b'srcset="', b"class='"])
    )
    at = data.find(attribute)
    if at < 0 or draw(st.booleans()):
        tag = b'<meta property="og:title" content="' + filler
        return data + tag + draw(st.sampled_from([b'">', b""]))
    at += len(attribute)
    return data[:at] + filler + data[at:]


def _break_json_ld(draw: st.DrawFn, data: bytes) -> bytes:
    """Replace, truncate or deeply nest the first JSON-LD script."""
    m = re.search(
        rb"(<script type=\"application/ld\+json\">)(.*?)(</script>)", data, re.DOTALL
    )
    if m is None:
        return (
            data + b'<script type="application/ld+json">' + b"[" * 5000 + b"</script>"
        )
    start, end = m.span(2)
    script = m.group(2)
    choice = draw(st.integers(0, 3))
    if choice == 0:
        node = draw(broken_ld_nodes)
        new = json.dumps(node, ensure_ascii=draw(st.booleans())).encode(
            "utf-8", "surrogatepass"
        )
    elif choice == 1:
        new = script[: draw(st.integers(0, len(script)))]
    elif choice == 2:
        depth = draw(st.sampled_from([100, 5000, 200_000]))
        new = b'{"@type": "NewsArticle", "headline": ' + b"[" * depth
    else:
        at = draw(st.integers(0, len(script)))
        new = (
            script[:at]
            + draw(st.sampled_from([b",", b"}", b"\\", b'"', b",]"]))
            + script[at:]
        )
    return data[:start] + new + data[end:]


MUTATIONS = (
    _truncate,
    _insert_random,
    _insert_nasty,
    _delete,
    _duplicate,
    _unclose,
    _nest,
    _huge_attribute,
    _break_json_ld,
)


@st.composite
def mutated_pages(draw: st.DrawFn) -> tuple[str, bytes, str | None]:
    seed = draw(st.sampled_from(SEEDS))
    data = seed.body
    for mutate in draw(st.lists(st.sampled_from(MUTATIONS), min_size=1, max_size=4)):
        data = mutate(draw, data)
    encoding = draw(st.sampled_from([seed.encoding, None, "utf-8", "latin-1"]))
    return seed.url, data, encoding


#: Pages built from markup tokens at random: tag soup with news vocabulary.
_TOKENS = st.one_of(
    st.sampled_from(
        [
            "<html>",
            '<html lang="fr-FR">',
            "<head>",
            "<body>",
            "<article>",
            "</article>",
            "<h1>",
            "</h1>",
            "<p>",
            "</p>",
            '<div class="byline">',
            "</div>",
            "<time datetime='2024-05-01T10:00:00+02:00'>",
            "</time>",
            '<meta property="og:title" content="Headline">',
            '<meta property="og:type" content="article">',
            '<meta name="author" content="By Jane Doe, John Roe">',
            '<script type="application/ld+json">{"@type":"NewsArticle","headline":"H"}',
            "</script>",
            '<a href="/2024/05/01/other-story">',
            "</a>",
            '<link rel="canonical" href="/x">',
            '<img src="a.jpg" srcset="b.jpg 800w">',
            "By Jane Doe",
            "Von Anna Muster mit dpa",
            "12.05.2024 10:30",
            "Updated: 3 May 2024",
            "&nbsp;",
            "\u200b",
            "\x00",
        ]
    ),
    st.text(max_size=30),
)
token_pages = st.lists(_TOKENS, max_size=60).map("".join)
URLS = st.sampled_from(
    [
        "https://www.dailyplanet.example/2024/05/01/council-approves-harbour-budget",
        "https://www.euronews.com/my-europe/2024/04/30/a-story",
        "https://fr.euronews.com/tag/x",
        "http://127.0.0.1:8000/",
        "https://xn--bcher-kva.example/a-b-c-d",
    ]
)

# -- the properties -----------------------------------------------------------------


class Counter:
    """A stats collector that keeps what it is told."""

    def __init__(self) -> None:
        self.values: dict[str, int] = {}

    def inc_value(self, key: str, count: int = 1, start: int = 0) -> None:
        self.values[key] = self.values.get(key, start) + count


_BAD_CHARS = re.compile(r"[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\ud800-\udfff]")


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return []


def _check_date(value: str | None) -> None:
    if value is None:
        return
    if "T" in value:
        dt.datetime.fromisoformat(value)
    else:
        dt.date.fromisoformat(value)


def check_page(response: HtmlResponse, fetched_at: str = FETCHED_AT[0]) -> ArticleItem:
    """Extract, classify and read the structured data of one page; check the item."""
    stats = Counter()
    item = extract(response, stats=stats, fetched_at=fetched_at)
    assert isinstance(item, ArticleItem)
    # A layer's error is caught (the other fields still count) but is still a bug.
    errors = {k: v for k, v in stats.values.items() if "/error/" in k}
    assert not errors, errors
    for text in _strings(item.to_dict()):
        assert not _BAD_CHARS.search(text), text[:200]
    # The JSON Lines contract: every item is writable as UTF-8.
    json.dumps(item.to_dict(), ensure_ascii=False).encode("utf-8")
    _check_date(item.published)
    _check_date(item.modified)
    assert item.word_count == (word_count(item.body) if item.body else None)
    assert all(item.authors)
    assert all(a == a.strip() for a in item.authors)

    structured = StructuredData(response.selector)
    for field in (*LAYERED_FIELDS, "nothing"):
        structured.ld(field)
        structured.og(field)
        structured.plain_meta(field)
    verdict = page_verdict(response.selector, structured, item, response.url)
    assert isinstance(verdict, Verdict)
    assert verdict.reason
    return item


def test_seed_pages_extract_cleanly() -> None:
    """The unmutated seeds are real articles: the fuzz starts from working pages."""
    for seed in SEEDS:
        item = check_page(
            HtmlResponse(seed.url, body=seed.body, encoding=seed.encoding)
        )
        assert item.title, seed.url
        assert item.body, seed.url
        assert item.published, seed.url


@FUZZ
@given(mutated_pages(), st.sampled_from(FETCHED_AT))
# <base href> that urllib cannot parse: Scrapy's selector raised.
@example(
    (
        ENGLISH.url,
        ENGLISH.body.replace(b"<head>", b"<head><base href='http://['>"),
        None,
    ),
    FETCHED_AT[0],
)
# JSON-LD nested deeper than the stack: json.loads raised RecursionError.
@example(
    (GERMAN.url, b'<script type="application/ld+json">' + b"[" * 100_000, None),
    FETCHED_AT[0],
)
# Lists nested 3000 deep: trafilatura raised RecursionError in the body heuristic.
@example(
    (GERMAN.url, GERMAN.body.replace(b"<p>", b"<ul><li>" * 3000, 1), None),
    FETCHED_AT[0],
)
# A headline nested 1000 deep: the title heuristic's recursion overflowed.
@example(
    (ENGLISH.url, ENGLISH.body.replace(b"<h1>", b"<h1>" + b"<b><i>" * 1000, 1), None),
    FETCHED_AT[0],
)
# A control character in an href went into the item's URLs raw.
@example(
    (ENGLISH.url, ENGLISH.body.replace(b'href="/fr/', b'href="/\x01fr/'), None),
    FETCHED_AT[0],
)
# A control character or "[" in a tag or class name broke the body's XPath query.
@example(
    (ARABIC.url, ARABIC.body.replace(b"<span", b"<s\x01pan"), None),
    FETCHED_AT[0],
)
@example(
    (
        GERMAN.url,
        GERMAN.body.replace(
            b'<article class="story">', b'<art[icle class="st\x02ory">'
        ),
        None,
    ),
    FETCHED_AT[0],
)
def test_mutated_article_pages_never_break_extraction(
    page: tuple[str, bytes, str | None], fetched_at: str
) -> None:
    url, body, encoding = page
    check_page(HtmlResponse(url, body=body, encoding=encoding), fetched_at)


@FUZZ
@given(URLS, token_pages, st.sampled_from(["utf-8", "utf-16", "cp1252", None]))
def test_random_tag_soup_never_breaks_extraction(
    url: str, html: str, encoding: str | None
) -> None:
    errors = "surrogatepass" if (encoding or "utf").startswith("utf") else "replace"
    body = html.encode(encoding or "utf-8", errors)
    check_page(HtmlResponse(url, body=body, encoding=encoding))


@FUZZ
@given(
    URLS,
    st.binary(max_size=2000),
    st.sampled_from(
        [
            {},
            {"Content-Type": "text/html; charset=utf-8"},
            {"Content-Type": "text/html; charset=x-no-such-charset"},
            {"Content-Type": "application/octet-stream", "Content-Language": "de-AT"},
            {"Content-Language": "\xff\x00"},
        ]
    ),
)
@example(ENGLISH.url, b"\xff\xfe\x00\x00<\x00h\x001\x00>", {})
def test_random_bytes_without_encoding_never_break_extraction(
    url: str, body: bytes, headers: dict[str, str]
) -> None:
    check_page(HtmlResponse(url, body=body, headers=headers))


def test_euronews_translation_href_with_a_broken_ipv6_host() -> None:
    """A hreflang link to "http://[": is_article_url raised, the site layer failed."""
    body = EURONEWS.body.replace(
        b'href="https://fr.euronews.com/', b'href="http://[fr.euronews.com/'
    )
    check_page(HtmlResponse(EURONEWS.url, body=body, encoding="utf-8"))
