"""The generic fallback layer: visible-page heuristics for sites without rules.

It runs last, only for fields that the site rules and the structured data left
empty. Main text comes from trafilatura, which does that job better than selectors
we would write; the rest are small, conservative heuristics.
"""

from __future__ import annotations

import re
from functools import cached_property
from typing import TYPE_CHECKING, Any

from newscrawl.processors import word_count
from newscrawl.sites.base import node_text

if TYPE_CHECKING:
    from parsel import Selector

_TITLE_SEPARATORS = re.compile(r"\s+[|\-–—:·»]\s+")
#: Below this, what trafilatura finds is page furniture ("By Euronews"), not a body.
MIN_BODY_WORDS = 20


class GenericLayer:
    """Heuristic values read off the visible page."""

    name = "generic"

    def __init__(self, selector: Selector, html: str, url: str) -> None:
        self.selector = selector
        self.html = html
        self.url = url

    def values(self, field: str) -> list[Any]:
        method = getattr(self, f"_{field}", None)
        if method is None:
            return []
        result: list[Any] = method()
        return result

    def _title(self) -> list[str]:
        h1 = [node_text(h) for h in self.selector.css("article h1, main h1, h1")[:1]]
        titles = self.selector.css("title")
        if h1 and h1[0]:
            return h1
        if titles:
            # "Headline | Site" -> the longest part is the headline.
            parts = _TITLE_SEPARATORS.split(node_text(titles[0]))
            return [max(parts, key=len)]
        return []

    def _published(self) -> list[str]:
        return self.selector.css(
            "article time[datetime]::attr(datetime), time[pubdate]::attr(datetime),"
            " time[datetime]::attr(datetime)"
        ).getall()[:1]

    def _authors(self) -> list[str]:
        return [
            node_text(n)
            for n in self.selector.css(
                "[rel=author], [itemprop=author] [itemprop=name], .byline__name,"
                " .author-name"
            )
        ]

    def _byline(self) -> list[str]:
        return [node_text(n) for n in self.selector.css(".byline, [class*=byline]")[:1]]

    def _language(self) -> list[str]:
        return self.selector.xpath("/html/@lang").getall()

    def _canonical_url(self) -> list[str]:
        return [self.url]

    @cached_property
    def _main_text(self) -> str | None:
        import trafilatura  # noqa: PLC0415

        text: str | None = trafilatura.extract(
            self.html,
            url=self.url,
            include_comments=False,
            include_tables=False,
            favor_precision=True,
            deduplicate=True,
        )
        return text

    def _body(self) -> list[str]:
        text = self._main_text
        if not text or word_count(text) < MIN_BODY_WORDS:
            return []
        return [p for p in text.split("\n") if p.strip()]
