"""Generic URLs: canonical URL, images and translations from the visible page."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from newscrawl.heuristics import PageContext


def candidates_canonical_url(page: PageContext) -> list[str]:
    return [page.url]


def candidates_images(page: PageContext) -> list[dict[str, str | None]]:
    return []


def candidates_translations(page: PageContext) -> list[tuple[str, str]]:
    return []
