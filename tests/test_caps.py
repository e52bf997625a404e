"""Every text field has a documented cap: over-long values are cut and counted."""

from __future__ import annotations

import re
from pathlib import Path

from newscrawl.items import LIST_CAPS, TEXT_CAPS
from newscrawl.page import process_page

ROOT = Path(__file__).resolve().parent.parent
URL = "https://news.example/2026/01/06/a-story-about-a-long-headline"


def _page(title: str, tags: int = 3) -> bytes:
    keywords = ",".join(f"topic{i}" for i in range(tags))
    paragraphs = "".join(
        f"<p>Paragraph {i} of a story that is long enough to be one, with words.</p>"
        for i in range(12)
    )
    return (
        f'<html lang="en"><head><meta name="keywords" content="{keywords}">'
        '<meta property="og:type" content="article"></head><body><article>'
        f"<h1>{title}</h1>{paragraphs}</article></body></html>"
    ).encode()


def test_a_four_megabyte_headline_is_cut_and_counted():
    page = process_page(
        _page("Floods " * 600_000), url=URL, fetched_at="2026-01-06T12:00:00+00:00"
    )
    item = page.item
    assert item is not None
    assert 0 < len(item.title) <= TEXT_CAPS["title"]
    assert item.title.startswith("Floods Floods")
    assert not item.title.endswith(" ")
    assert page.stats.values["newscrawl/capped/title"] == 1
    assert "Paragraph 11" in (item.body or "")


def test_too_many_tags_are_cut_to_the_most_entries():
    page = process_page(
        _page("A normal headline", tags=500),
        url=URL,
        fetched_at="2026-01-06T12:00:00+00:00",
    )
    assert page.item is not None
    assert len(page.item.tags) == LIST_CAPS["tags"]
    assert page.stats.values["newscrawl/capped/tags"] == 1


def test_the_docs_list_every_cap():
    text = (ROOT / "docs" / "extraction.md").read_text("utf-8")
    table = text.split("## Caps on field values", 1)[1]
    rows = re.findall(
        r"^\| `([\w.]+)` \| ([\d,]*) \| ([\d,]*) \|$", table, re.MULTILINE
    )
    listed = {name: (chars, most) for name, chars, most in rows}

    def shown(value):
        return f"{value:,}" if value else ""

    assert listed == {
        name: (shown(TEXT_CAPS.get(name)), shown(LIST_CAPS.get(name)))
        for name in {*TEXT_CAPS, *LIST_CAPS}
    }
