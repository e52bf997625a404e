"""Generic publication and modification dates from the visible page."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from newscrawl.heuristics import PageContext


def candidates_published(page: PageContext) -> list[str]:
    return page.selector.css(
        "article time[datetime]::attr(datetime), time[pubdate]::attr(datetime),"
        " time[datetime]::attr(datetime)"
    ).getall()[:1]


def candidates_modified(page: PageContext) -> list[str]:
    return []
