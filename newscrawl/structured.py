"""Structured metadata of a page: JSON-LD article objects, OpenGraph and ``<meta>``.

These are the middle layers of extraction: publishers fill them for search engines
and social networks, so they hold clean values even where the visible markup is
unknown to us. Broken JSON-LD is skipped (and counted by the caller), never fatal.
"""

from __future__ import annotations

import json
import re
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

    from parsel import Selector

#: schema.org types that describe the article itself.
ARTICLE_TYPES = frozenset(
    {
        "Article",
        "NewsArticle",
        "ReportageNewsArticle",
        "AnalysisNewsArticle",
        "OpinionNewsArticle",
        "BackgroundNewsArticle",
        "ReviewNewsArticle",
        "AskPublicNewsArticle",
        "BlogPosting",
        "LiveBlogPosting",
        "SocialMediaPosting",
        "Report",
        "ScholarlyArticle",
        "TechArticle",
    }
)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def node_types(node: dict[str, Any]) -> set[str]:
    value = node.get("@type", ())
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return set()
    return {str(t).rsplit("/", 1)[-1] for t in value}


#: Keys under which a page node nests the article it is about.
_NESTING_KEYS = ("@graph", "mainEntity", "mainEntityOfPage")


def _walk(node: Any, depth: int = 0) -> Iterator[dict[str, Any]]:
    """Nodes of a JSON-LD document: top level, ``@graph``, and ``mainEntity``.

    Other nested objects (related articles, ``hasPart``) are not the page's article,
    so they are not walked.
    """
    if depth > 8:
        return
    if isinstance(node, list):
        for child in node:
            yield from _walk(child, depth + 1)
    elif isinstance(node, dict):
        yield node
        for key in _NESTING_KEYS:
            child = node.get(key)
            if isinstance(child, dict | list):
                yield from _walk(child, depth + 1)


def load_json_ld(text: str) -> Any:
    """Parse one JSON-LD script; tolerate trailing commas and control characters.

    >>> load_json_ld('{"a": [1, 2,],}')
    {'a': [1, 2]}
    >>> load_json_ld("{broken") is None
    True
    >>> load_json_ld("[" * 100_000) is None
    True
    """
    for candidate in (text, _TRAILING_COMMA.sub(r"\1", _CONTROL.sub(" ", text))):
        try:
            return json.loads(candidate)
        # Nesting deeper than the interpreter's stack is broken JSON-LD too.
        except (ValueError, RecursionError):
            continue
    return None


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _names(value: Any) -> list[str]:
    """Names out of a schema.org Person/Organization value (or list, or string)."""
    names: list[str] = []
    for entry in _as_list(value):
        if isinstance(entry, str):
            names.append(entry)
        elif isinstance(entry, dict):
            name = entry.get("name")
            if isinstance(name, list):
                names.extend(str(n) for n in name)
            elif name:
                names.append(str(name))
    return names


class StructuredData:
    """Lazy view of a page's JSON-LD, OpenGraph and ``<meta>`` values."""

    def __init__(self, selector: Selector) -> None:
        self.selector = selector
        self.broken_json_ld = 0

    @cached_property
    def json_ld_nodes(self) -> list[dict[str, Any]]:
        nodes: list[dict[str, Any]] = []
        for script in self.selector.xpath(
            '//script[contains(translate(@type, "LDJSON", "ldjson"), "ld+json")]/text()'
        ).getall():
            data = load_json_ld(script.strip())
            if data is None:
                self.broken_json_ld += 1
                continue
            nodes.extend(_walk(data))
        return nodes

    @cached_property
    def article(self) -> dict[str, Any]:
        """The first JSON-LD node typed as an article, or ``{}``."""
        for node in self.json_ld_nodes:
            if node_types(node) & ARTICLE_TYPES:
                return node
        return {}

    def ld(self, field: str) -> list[Any]:
        """Raw JSON-LD values for one of our field names."""
        art = self.article
        if not art:
            return []
        match field:
            case "title":
                return _as_list(art.get("headline") or art.get("name"))
            case "summary":
                return _as_list(art.get("description"))
            case "authors":
                return _names(art.get("author"))
            case "published":
                return _as_list(art.get("datePublished") or art.get("dateCreated"))
            case "modified":
                return _as_list(art.get("dateModified"))
            case "section":
                return _as_list(art.get("articleSection"))[:1]
            case "tags":
                keywords = art.get("keywords")
                if isinstance(keywords, str):
                    return keywords.split(",")
                return _as_list(keywords)
            case "body":
                return _as_list(art.get("articleBody"))
            case "canonical_url":
                page = art.get("mainEntityOfPage")
                if isinstance(page, dict):
                    page = page.get("@id") or page.get("url")
                return _as_list(page if isinstance(page, str) else art.get("url"))
            case "language":
                return _as_list(art.get("inLanguage"))
            case "images":
                return self._ld_images(art.get("image"))
        return []

    @staticmethod
    def _ld_images(value: Any) -> list[dict[str, str | None]]:
        images: list[dict[str, str | None]] = []
        for entry in _as_list(value):
            if isinstance(entry, str):
                images.append({"url": entry, "caption": None, "credit": None})
            elif isinstance(entry, dict):
                url = entry.get("url") or entry.get("contentUrl")
                if isinstance(url, str):
                    credit = entry.get("creditText") or entry.get("copyrightHolder")
                    images.append(
                        {
                            "url": url,
                            "caption": entry.get("caption") or entry.get("description"),
                            "credit": ", ".join(_names(credit)) or None
                            if credit
                            else None,
                        }
                    )
        return images

    def meta(self, *names: str) -> list[str]:
        """Contents of ``<meta name=...>``/``<meta property=...>`` for ``names``."""
        values: list[str] = []
        for name in names:
            values.extend(
                self.selector.xpath(
                    "//meta[@name=$n or @property=$n or @itemprop=$n]/@content", n=name
                ).getall()
            )
        return values

    def og(self, field: str) -> list[Any]:
        """Raw OpenGraph (and ``article:*``) values for one of our field names."""
        match field:
            case "title":
                return self.meta("og:title")
            case "summary":
                return self.meta("og:description")
            case "published":
                return self.meta("article:published_time")
            case "modified":
                return self.meta("article:modified_time", "og:updated_time")
            case "section":
                return self.meta("article:section")[:1]
            case "tags":
                return self.meta("article:tag")
            case "authors":
                return [a for a in self.meta("article:author") if "://" not in a]
            case "canonical_url":
                return self.meta("og:url")
            case "language":
                return self.meta("og:locale")
            case "images":
                return [
                    {"url": u, "caption": None, "credit": None}
                    for u in self.meta("og:image", "og:image:url")[:1]
                ]
        return []

    def plain_meta(self, field: str) -> list[Any]:
        """Raw values from plain ``<meta>`` and ``<link>`` tags."""
        match field:
            case "summary":
                return self.meta("description")
            case "authors":
                return self.meta("author", "dc.creator", "DC.creator", "byl")
            case "published":
                return self.meta(
                    "pubdate",
                    "publishdate",
                    "date",
                    "dc.date",
                    "DC.date.issued",
                    "datePublished",
                    "sailthru.date",
                )
            case "modified":
                return self.meta("dateModified", "last-modified", "lastmod")
            case "tags":
                return [
                    t
                    for kw in self.meta("news_keywords", "keywords")
                    for t in kw.split(",")
                ]
            case "canonical_url":
                return self.selector.xpath("//link[@rel='canonical']/@href").getall()[
                    :1
                ]
            case "language":
                return self.selector.xpath("/html/@lang").getall() + self.meta(
                    "language", "content-language", "dc.language"
                )
            case "translations":
                return [
                    (lang, href)
                    for lang, href in zip(
                        self.selector.xpath(
                            "//link[@rel='alternate'][@hreflang]/@hreflang"
                        ).getall(),
                        self.selector.xpath(
                            "//link[@rel='alternate'][@hreflang]/@href"
                        ).getall(),
                        strict=False,
                    )
                ]
        return []
