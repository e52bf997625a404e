"""Generic tags and section from the visible page."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from newscrawl.heuristics import PageContext


def candidates_tags(page: PageContext) -> list[str]:
    return []


def candidates_section(page: PageContext) -> list[str]:
    return []
