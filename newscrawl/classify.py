"""Is it an article? Evidence from the URL (before fetching) and the page (after).

The URL test decides which links are worth a request; the page test decides which
fetched pages become items. Both return a reason, so every skip is counted by why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from parsel import Selector

    from newscrawl.items import ArticleItem
    from newscrawl.structured import StructuredData

#: Path segments of pages that list, describe or play rather than report.
NON_ARTICLE_SEGMENTS = frozenset(
    {
        "tag",
        "tags",
        "topic",
        "topics",
        "category",
        "categories",
        "section",
        "author",
        "authors",
        "profile",
        "profiles",
        "people",
        "person",
        "contributor",
        "contributors",
        "search",
        "video",
        "videos",
        "watch",
        "live-tv",
        "podcast",
        "podcasts",
        "gallery",
        "galleries",
        "login",
        "signin",
        "sign-in",
        "register",
        "account",
        "subscribe",
        "subscription",
        "newsletter",
        "newsletters",
        "about",
        "about-us",
        "contact",
        "privacy",
        "privacy-policy",
        "terms",
        "cookies",
        "feed",
        "feeds",
        "rss",
        "sitemap",
        "sitemaps",
        "archive",
        "archives",
        "page",
        "embed",
        "amp-stories",
        "weather",
        "horoscope",
        "games",
        "puzzles",
        "crossword",
        "shop",
        "jobs",
        "events",
    }
)
NON_PAGE_EXTENSIONS = frozenset(
    {
        ".jpg",
        ".jpeg",
        ".png",
        ".gif",
        ".webp",
        ".svg",
        ".pdf",
        ".mp3",
        ".mp4",
        ".m3u8",
        ".zip",
        ".css",
        ".js",
        ".json",
        ".xml",
        ".rss",
        ".ico",
        ".woff",
        ".woff2",
        ".txt",
    }
)
_DATE_IN_PATH = re.compile(
    r"/(?:19|20)\d{2}[/-]?(?:0?[1-9]|1[0-2])(?:[/-]?\d{1,2})?(?:/|$|-)"
)
_LONG_ID = re.compile(r"(?:^|[/_.-])\d{5,}(?:$|[/_.-]|\.html?$)")
_SLUG = re.compile(r"[\w%]+(?:-[\w%]+){3,}")
_PAGINATION = re.compile(r"(?:^|[?&])(?:page|p|pg|offset|start)=\d+", re.IGNORECASE)


@dataclass(frozen=True)
class Verdict:
    """The outcome of a test: is it an article, and why (or why not)."""

    ok: bool
    reason: str


def url_rejected(url: str) -> str | None:
    """Why ``url`` is certainly not an article page, or ``None``.

    Applied to URLs a sitemap or feed lists: those need no article shape, since
    the publisher listed them, but a tag page or an image is still skipped.

    >>> url_rejected("https://example.org/tag/politics")
    'segment:tag'
    >>> url_rejected("https://example.org/politics/budget") is None
    True
    """
    parts = urlsplit(url)
    lowered = parts.path.lower()
    for ext in NON_PAGE_EXTENSIONS:
        if lowered.endswith(ext):
            return f"extension:{ext}"
    segments = [s for s in lowered.split("/") if s]
    if not segments:
        return "front_page"
    for segment in segments[:-1] if len(segments) > 1 else segments:
        if segment in NON_ARTICLE_SEGMENTS:
            return f"segment:{segment}"
    if _PAGINATION.search(parts.query):
        return "pagination"
    return None


@cache
def url_verdict(url: str) -> Verdict:
    """Does ``url`` look like an article page? Decided before any request.

    >>> url_verdict("https://example.org/2024/05/01/council-approves-new-budget").ok
    True
    >>> url_verdict("https://example.org/world/council-approves-new-city-budget").ok
    True
    >>> url_verdict("https://example.org/tag/politics").reason
    'segment:tag'
    >>> url_verdict("https://example.org/world").reason
    'no_article_shape'
    """
    rejected = url_rejected(url)
    if rejected:
        return Verdict(ok=False, reason=rejected)
    path = urlsplit(url).path
    last = [s for s in path.lower().split("/") if s][-1].rsplit(".", 1)[0]
    if _DATE_IN_PATH.search(path) and (len(last) > 8 or _LONG_ID.search(path)):
        return Verdict(ok=True, reason="dated_path")
    if _SLUG.fullmatch(last) or _SLUG.search(last):
        return Verdict(ok=True, reason="slug")
    if _LONG_ID.search(path):
        return Verdict(ok=True, reason="numeric_id")
    return Verdict(ok=False, reason="no_article_shape")


#: Bodies shorter than this are teasers, galleries or players, not articles.
MIN_ARTICLE_WORDS = 80
#: A page with no structured claim of being an article needs this much text.
MIN_UNTYPED_WORDS = 250
_LISTING_OG_TYPES = ("website", "profile", "video", "music", "book", "product")
_ARTICLE_OG_TYPES = ("article", "news", "blog")


def page_verdict(
    selector: Selector, structured: StructuredData, item: ArticleItem, url: str
) -> Verdict:
    """Is the fetched page an article? Weighs structured claims and the text found."""
    og_type = (structured.meta("og:type") or [""])[0].strip().lower()
    claims_article = bool(structured.article) or og_type.startswith(_ARTICLE_OG_TYPES)
    if og_type.startswith(_LISTING_OG_TYPES) and not structured.article:
        return Verdict(ok=False, reason=f"og_type:{og_type.split('.')[0]}")
    words = item.word_count or 0
    if not item.body:
        return Verdict(ok=False, reason="no_body")
    if not item.title:
        return Verdict(ok=False, reason="no_title")
    if words < MIN_ARTICLE_WORDS:
        return Verdict(ok=False, reason="too_short")
    if claims_article:
        return Verdict(ok=True, reason="structured")
    evidence = sum(
        (
            item.published is not None,
            words >= MIN_UNTYPED_WORDS,
            url_verdict(url).ok,
            bool(selector.css("article")),
        )
    )
    if evidence >= 3:
        return Verdict(ok=True, reason="page_evidence")
    return Verdict(ok=False, reason="weak_evidence")
