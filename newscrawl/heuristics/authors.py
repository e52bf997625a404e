"""Generic authors and byline: author markup on the visible page."""

from __future__ import annotations

from typing import TYPE_CHECKING

from newscrawl.sites.base import node_text

if TYPE_CHECKING:
    from newscrawl.heuristics import PageContext


def candidates_authors(page: PageContext) -> list[str]:
    return [
        node_text(n)
        for n in page.selector.css(
            "[rel=author], [itemprop=author] [itemprop=name], .byline__name,"
            " .author-name"
        )
    ]


def candidates_byline(page: PageContext) -> list[str]:
    return [node_text(n) for n in page.selector.css(".byline, [class*=byline]")[:1]]
