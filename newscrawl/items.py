"""The article item: the JSONL output contract, one field per documented key."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Bumped on any change of field names, types or meaning (see the JSON Schema).
SCHEMA_VERSION = "1.1"


#: The longest value a text field may have (characters), and for list fields the
#: most entries. A longer value is cut at the cap (at a word boundary where one is
#: near) and counted as ``newscrawl/capped/<field>``: a 4 MB headline is markup
#: gone wrong, not a headline. Listed in docs/extraction.md (tested).
TEXT_CAPS: dict[str, int] = {
    "title": 1_000,
    "summary": 5_000,
    "byline": 1_000,
    "section": 200,
    "story_id": 200,
    "body": 1_000_000,
    "authors": 200,
    "tags": 100,
    "images.caption": 2_000,
    "images.credit": 500,
    "related.title": 1_000,
}
LIST_CAPS: dict[str, int] = {
    "authors": 50,
    "tags": 100,
    "images": 100,
    "related": 200,
}


def cap_text(value: str, limit: int) -> str:
    """``value`` cut to ``limit`` characters, at a word boundary if one is near.

    >>> capped = cap_text("word " * 30, 100)
    >>> len(capped), capped[-6:]
    (99, 'd word')
    >>> cap_text("abcdefghij", 4)
    'abcd'
    """
    if len(value) <= limit:
        return value
    cut = value[:limit]
    space = cut.rfind(" ")
    return cut[:space].rstrip() if space > limit * 0.9 - 1 else cut


@dataclass
class ArticleItem:
    """One news article, as written to a JSONL line.

    Every field is documented in ``README.md`` and pinned by
    ``newscrawl/schema/article.schema.json``.
    """

    #: URL the page was fetched from (after redirects).
    url: str | None = None
    #: The page's canonical URL (``link[rel=canonical]``), tracking parameters removed.
    canonical_url: str | None = None
    #: Site key: the profile's key (``euronews``) or the host without ``www.``.
    site: str | None = None
    #: BCP 47 primary language subtag (``en``, ``fr``, ``el``, ``fa``, ``ar``).
    language: str | None = None
    #: The headline, without prefix labels ("Euroviews.") or the site name.
    title: str | None = None
    #: Lead or standfirst shown above the body.
    summary: str | None = None
    #: Raw byline text as shown ("By Euronews with AP").
    byline: str | None = None
    #: Author names as the byline gives them (people, or the outlet).
    authors: list[str] = field(default_factory=list)
    #: First publication time, ISO 8601 with the page's UTC offset.
    published: str | None = None
    #: Last modification time, ISO 8601 with the page's UTC offset.
    modified: str | None = None
    #: Section (Euronews "vertical": news, my-europe, culture, green, ...).
    section: str | None = None
    #: Topic keywords.
    tags: list[str] = field(default_factory=list)
    #: ``{url, caption, credit}`` dicts, the main image first.
    images: list[dict[str, str | None]] = field(default_factory=list)
    #: Lead, then paragraphs and subheadings, joined by blank lines.
    body: str | None = None
    #: Number of ``\w+`` words in ``body``.
    word_count: int | None = None
    #: ``{url, title}`` dicts from the "You might also like" box.
    related: list[dict[str, str | None]] = field(default_factory=list)
    #: Language -> URL of the same article in another edition.
    translations: dict[str, str] = field(default_factory=dict)
    #: Key shared by all language versions of one story (Euronews ``eventId``).
    story_id: str | None = None
    #: When the page was fetched, ISO 8601 UTC.
    fetched_at: str | None = None
    #: SHA-256 of the normalised title and body: equal text, equal hash.
    content_hash: str | None = None
    #: 1 for the first version of an article written; +1 for each changed version.
    revision: int = 1
    #: First 16 hex digits of the previous revision's ``content_hash`` (or null).
    previous_hash: str | None = None
    #: Field -> the extraction layer that filled it (or why it is empty).
    provenance: dict[str, str] = field(default_factory=dict)
    #: Version of this contract.
    schema_version: str = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        """Return the item as a plain dict in field order."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


#: Field names in output order.
FIELDS: tuple[str, ...] = tuple(ArticleItem.__dataclass_fields__)
