"""Generic body and standfirst heuristics on pages without site rules."""

from __future__ import annotations

import functools

from newscrawl.extract import extract
from newscrawl.heuristics import PageContext
from newscrawl.heuristics.body import _continuation
from newscrawl.structured import StructuredData

from .htmlpages import html_page, ld, meta

URL = "https://www.harbourgazette.example/city/2024/06/02/new-ferry-line"
TITLE = "New ferry line links the two harbours"
LEAD = (
    "The city council approved a ferry between the old and the new harbour, "
    "with boats every twenty minutes from next spring."
)
PARAGRAPHS = [
    (
        "The council voted on Tuesday evening after a debate that lasted almost four "
        "hours, with the opposition asking for a cheaper bus line instead of boats."
    ),
    (
        "Two electric ferries will carry up to eighty passengers each, and bicycles "
        "travel free of charge during the first year of the service, officials said."
    ),
    (
        "Residents of the new district have waited for a direct connection since the "
        "bridge closed for repairs, which forced them onto a long detour by road."
    ),
    (
        "The operator expects about three thousand trips a day once the timetable is "
        "complete, and more in summer when visitors fill the old town and its quays."
    ),
    (
        "Construction of the two landing stages starts in the autumn; the harbour "
        "office says the work will not disturb the fishing boats moored nearby."
    ),
    (
        "Tickets will cost the same as a bus fare, and the usual monthly passes of the "
        "city transport company will be valid on board without any surcharge."
    ),
]


page = functools.partial(html_page, url=URL)


def article(*blocks: str, standfirst: bool = True) -> str:
    lead = f'<p class="standfirst">{LEAD}</p>' if standfirst else ""
    text = "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    return (
        '<nav><a href="/">Home</a> <a href="/city">City</a></nav>'
        f"<article><header><h1>{TITLE}</h1>{lead}</header>"
        f'<div class="story-text">{text}{"".join(blocks)}</div></article>'
    )


def paragraphs(body: str | None) -> list[str]:
    return (body or "").split("\n\n")


def test_visible_text_beats_truncated_json_ld_article_body():
    item = extract(
        page(
            ld(headline=TITLE, articleBody=PARAGRAPHS[0] + " Read more"),
            article(),
        )
    )
    assert item.provenance["body"] == "generic"
    for text in PARAGRAPHS:
        assert text in paragraphs(item.body)


def test_json_ld_article_body_when_the_page_shows_only_part_of_it():
    # The page cut the text short; the publisher's articleBody has all of it.
    extra = [f"{p} Later, the same thing happened again." for p in PARAGRAPHS]
    full = " ".join(PARAGRAPHS + extra)
    item = extract(
        page(ld(headline=TITLE, articleBody=full), article(standfirst=False))
    )
    assert item.body is not None
    assert extra[-1] in item.body
    assert PARAGRAPHS[0] in item.body


def test_standfirst_matching_the_description_opens_the_body():
    item = extract(page(meta("og:description", LEAD), article()))
    assert paragraphs(item.body)[0] == LEAD
    assert paragraphs(item.body).count(LEAD) == 1
    assert item.summary == LEAD
    assert item.provenance["summary"] == "generic"


def test_description_not_shown_on_the_page_is_not_prepended():
    item = extract(page(meta("og:description", LEAD), article(standfirst=False)))
    assert item.summary == LEAD
    assert LEAD not in (item.body or "")
    assert paragraphs(item.body)[0] == PARAGRAPHS[0]


def test_site_blurb_in_the_footer_is_not_a_standfirst():
    blurb = (
        "The Harbour Gazette brings you local news, sport and weather from the "
        "coast every single day of the year."
    )
    footer = f"<footer><div><p>{blurb}</p></div></footer>"
    item = extract(page(meta("og:description", blurb), article() + footer))
    assert blurb not in (item.body or "")


def test_headline_and_read_also_teasers_are_not_body():
    teaser = (
        '<p>Read also: <a href="/city/2024/05/30/bridge">Bridge repairs will last '
        "until the end of next year</a></p>"
    )
    item = extract(page(meta("og:title", TITLE), article(teaser)))
    body = item.body or ""
    assert TITLE not in body
    assert "Bridge repairs" not in body
    assert PARAGRAPHS[-1] in body


def test_related_links_list_is_not_body():
    related = (
        "<aside><h2>More from the city</h2><ul>"
        + "".join(
            f'<li><a href="/city/{i}">Another local story number {i} about '
            "the harbour and its boats</a></li>"
            for i in range(6)
        )
        + "</ul></aside>"
    )
    item = extract(page("", article() + related))
    assert "Another local story" not in (item.body or "")


def test_body_split_into_sibling_chunks_is_read_whole():
    later = [
        f"Chunk sentence number {i} explains one more detail of the ferry plan, "
        "its costs, its timetable and the boats that will serve the line."
        for i in range(6)
    ]
    teasers = [
        f"Teaser {i} about another story that has nothing to do with it."
        for i in range(9)
    ]

    def chunk(texts: list[str]) -> str:
        inner = "".join(f"<p>{t}</p>" for t in texts)
        return f'<div class="w"><div class="grid"><div class="chunk">{inner}</div></div></div>'

    html = (
        f"<article><h1>{TITLE}</h1><div class='chunks'>"
        f"{chunk(PARAGRAPHS)}<div class='ad'></div>{chunk(later)}</div></article>"
        # Same class, but elsewhere in the layout: not a continuation.
        f'<section><div class="chunk">{"".join(f"<p>{t}</p>" for t in teasers)}</div></section>'
    )
    response = page("", html)
    ctx = PageContext(response, StructuredData(response.selector))
    extra = _continuation(ctx, "\n".join(PARAGRAPHS))
    assert extra == later


def test_page_without_article_text_gives_no_body():
    body = (
        '<nav><a href="/">Home</a></nav><h1>Page not found</h1>'
        "<p>Sorry, we could not find that page.</p>"
    )
    item = extract(page(ld(headline="Page not found"), body))
    assert item.body is None


def test_page_furniture_only_gives_no_body():
    # No article text: what the extractors find around the headline is not a body.
    furniture = (
        '<div class="meta"><a href="/news">News</a> <a href="/europe">Europe</a></div>'
        f"<h1>{TITLE}</h1><figure><img src='/f.jpg'><figcaption>A ferry leaves the "
        "old harbour at dusk after a long day. - Copyright Harbour Gazette"
        "</figcaption></figure><div class='byline'><span>By Harbour Gazette</span>"
        "<time>Published on 02/06/2024 - 18:05</time></div><div class='share'>"
        "<button>Share this article</button><a href='#c'>Comments</a></div>"
        "<div class='tags'><a href='/t/ferries'>Ferries</a>"
        "<a href='/t/harbours'>Harbours</a></div>"
    )
    item = extract(page(meta("og:title", TITLE), furniture))
    assert item.body is None
