"""Generic headline: the ``<h1>``, else the ``<title>`` minus the site name."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from newscrawl.sites.base import node_text

if TYPE_CHECKING:
    from newscrawl.heuristics import PageContext

_TITLE_SEPARATORS = re.compile(r"\s+[|\-–—:·»]\s+")


def candidates_title(page: PageContext) -> list[str]:
    sel = page.selector
    h1 = [node_text(h) for h in sel.css("article h1, main h1, h1")[:1]]
    if h1 and h1[0]:
        return h1
    titles = sel.css("title")
    if titles:
        # "Headline | Site" -> the longest part is the headline.
        parts = _TITLE_SEPARATORS.split(node_text(titles[0]))
        return [max(parts, key=len)]
    return []
