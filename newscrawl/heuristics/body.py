"""Generic main text: trafilatura does this better than selectors we would own."""

from __future__ import annotations

from typing import TYPE_CHECKING

from newscrawl.processors import word_count

if TYPE_CHECKING:
    from newscrawl.heuristics import PageContext

#: Below this, what trafilatura finds is page furniture ("By Euronews"), not a body.
MIN_BODY_WORDS = 20


def main_text(page: PageContext) -> str | None:
    import trafilatura  # noqa: PLC0415

    text: str | None = trafilatura.extract(
        page.html,
        url=page.url,
        include_comments=False,
        include_tables=False,
        favor_precision=True,
        # trafilatura's deduplication remembers text across calls in the process:
        # a page seen twice (a revisit, a re-extraction) would lose its body.
        deduplicate=False,
    )
    return text


def candidates_body(page: PageContext) -> list[str]:
    text = page.main_text
    if not text or word_count(text) < MIN_BODY_WORDS:
        return []
    return [p for p in text.split("\n") if p.strip()]


def candidates_summary(page: PageContext) -> list[str]:
    return []
