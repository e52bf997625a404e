"""Generic language: the document's own ``lang`` attribute."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from newscrawl.heuristics import PageContext


def candidates_language(page: PageContext) -> list[str]:
    return page.selector.xpath("/html/@lang").getall()
