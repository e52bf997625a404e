"""Discovery sources: sitemaps (indexes, Google News) and RSS/Atom feeds.

Sitemaps are read as a stream with entity resolution off (an entity bomb or an
external entity in a hostile sitemap is not expanded); feeds go through
feedparser, which knows every RSS and Atom dialect. Both return entries with the
dates and titles the source gives, so callers can order or skip articles before
downloading them.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from io import BytesIO
from typing import Any

import lxml.etree

from newscrawl.processors import parse_datetime

#: Decompressed sitemaps larger than this are refused (the protocol caps at 50 MB).
MAX_SITEMAP_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class Entry:
    """One URL a sitemap or feed lists, with what the source says about it."""

    url: str
    published: str | None = None
    title: str | None = None
    language: str | None = None
    #: ``True`` for a sitemap-index entry (a sitemap, not a page).
    is_sitemap: bool = False

    def sort_key(self) -> str:
        """Newest first when sorted descending; undated entries last."""
        return self.published or ""


def _local(tag: Any) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def parse_sitemap(body: bytes) -> tuple[str, list[Entry]]:
    """``(root tag, entries)`` of a sitemap or sitemap index.

    >>> kind, entries = parse_sitemap(b'''<urlset
    ...   xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
    ...   xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
    ... <url><loc>https://a.org/x</loc><news:news>
    ...   <news:publication_date>2026-01-06T09:15:00+01:00</news:publication_date>
    ...   <news:title>X</news:title></news:news></url></urlset>''')
    >>> kind, entries[0].url, entries[0].published, entries[0].title
    ('urlset', 'https://a.org/x', '2026-01-06T09:15:00+01:00', 'X')
    """
    events = lxml.etree.iterparse(
        BytesIO(body),
        events=("start", "end"),
        recover=True,
        resolve_entities=False,
        no_network=True,
        remove_comments=True,
        remove_pis=True,
        huge_tree=False,
    )
    root_tag = ""
    entries: list[Entry] = []
    try:
        for event, elem in events:
            name = _local(elem.tag)
            if event == "start":
                root_tag = root_tag or name
                continue
            if name not in ("url", "sitemap"):
                continue
            fields: dict[str, str] = {}
            for child in elem.iter():
                child_name = _local(child.tag)
                if child is not elem and child.text and child.text.strip():
                    fields.setdefault(child_name, child.text.strip())
            elem.clear()
            if fields.get("loc"):
                entries.append(
                    Entry(
                        url=fields["loc"],
                        published=parse_datetime(
                            fields.get("publication_date") or fields.get("lastmod")
                        ),
                        title=fields.get("title"),
                        language=fields.get("language"),
                        is_sitemap=name == "sitemap",
                    )
                )
    except lxml.etree.XMLSyntaxError:
        pass  # recover=True keeps what came before the damage
    return root_tag, entries


def parse_feed(body: bytes, url: str) -> list[Entry]:
    """Entries of an RSS or Atom feed, in the feed's order."""
    import feedparser  # noqa: PLC0415

    feed = feedparser.parse(
        body, response_headers={"content-location": url}, sanitize_html=False
    )
    entries = []
    for item in feed.entries:
        link = item.get("link")
        if not link:
            continue
        when = item.get("published_parsed") or item.get("updated_parsed")
        # feedparser gives UTC struct_time: the instant is exact, the offset UTC.
        published = (
            dt.datetime.fromtimestamp(calendar.timegm(when), dt.UTC).isoformat()
            if when
            else None
        )
        entries.append(
            Entry(
                url=link,
                published=published,
                title=item.get("title"),
                language=feed.feed.get("language"),
            )
        )
    return entries


def looks_like_feed(body: bytes) -> bool:
    head = body[:2048].lower()
    return b"<rss" in head or b"<feed" in head or b"<rdf:rdf" in head


def looks_like_sitemap(body: bytes) -> bool:
    head = body[:2048].lower()
    return b"<urlset" in head or b"<sitemapindex" in head
