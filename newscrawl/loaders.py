"""The article item loader: per-field input/output processors (the cleaning rules)."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from itemloaders.processors import Identity, Join, MapCompose, TakeFirst
from scrapy.loader import ItemLoader

from newscrawl.items import ArticleItem
from newscrawl.names import split_byline
from newscrawl.processors import (
    absolute_url,
    clean_text,
    drop_boilerplate,
    language_tag,
    parse_datetime,
    url_key,
)

if TYPE_CHECKING:
    from collections.abc import Iterable


def _base(loader_context: dict[str, Any]) -> str:
    return str(loader_context.get("base_url") or "")


def _url_in(value: Any, loader_context: dict[str, Any]) -> str | None:
    return (
        absolute_url(value, _base(loader_context)) if isinstance(value, str) else None
    )


def _date_in(value: Any, loader_context: dict[str, Any]) -> str | None:
    return parse_datetime(value, loader_context.get("languages"))


def _link_in(value: Any, loader_context: dict[str, Any]) -> dict[str, Any] | None:
    """Clean an ``{url, ...}`` dict: absolute URL, cleaned text values."""
    if not isinstance(value, dict):
        return None
    url = _url_in(value.get("url"), loader_context)
    if not url:
        return None
    cleaned: dict[str, Any] = {"url": url}
    for key, text in value.items():
        if key != "url":
            cleaned[key] = clean_text(text) if text is not None else None
    return cleaned


def _translation_in(
    value: Any, loader_context: dict[str, Any]
) -> dict[str, str] | None:
    if not isinstance(value, tuple | list) or len(value) != 2:
        return None
    lang, href = value
    if not isinstance(lang, str) or lang.strip().lower() == "x-default":
        return None
    code = language_tag(lang)
    url = _url_in(href, loader_context)
    if not code or not url:
        return None
    # A dict, because MapCompose would flatten a (lang, url) tuple.
    return {"lang": code, "url": url}


def unique(values: Iterable[Any]) -> list[Any]:
    """Keep the first of equal values (case-insensitive for strings), in order.

    >>> unique(["Paris", "paris", "Rome"])
    ['Paris', 'Rome']
    """
    seen: set[Any] = set()
    out = []
    for value in values:
        key = value.casefold() if isinstance(value, str) else value
        if key not in seen:
            seen.add(key)
            out.append(value)
    return out


def unique_by_url(values: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    out = []
    for value in values:
        key = url_key(value["url"])
        if key not in seen:
            seen.add(key)
            out.append(value)
    return out


def first_per_language(values: Iterable[dict[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values:
        out.setdefault(value["lang"], value["url"])
    return out


class ArticleLoader(ItemLoader):
    """Fills an :class:`ArticleItem`; processors hold the cleaning rules.

    ``_in`` processors run on each raw value as a layer adds it, so "did this layer
    give a usable value" is simply "did anything survive the input processor".
    """

    default_item_class = ArticleItem
    default_input_processor = MapCompose(clean_text, drop_boilerplate)
    default_output_processor = TakeFirst()

    url_in = canonical_url_in = MapCompose(_url_in)
    language_in = MapCompose(language_tag)
    authors_in = MapCompose(split_byline)
    authors_out = unique
    tags_in = MapCompose(clean_text)
    tags_out = unique
    published_in = modified_in = MapCompose(_date_in)
    images_in = related_in = MapCompose(_link_in)
    images_out = related_out = unique_by_url
    translations_in = MapCompose(_translation_in)
    translations_out = first_per_language
    body_in = MapCompose(clean_text, drop_boilerplate)
    body_out = Join("\n\n")
    provenance_in = provenance_out = Identity()

    def track_rule(self, field: str, rule: str, found: Any) -> None:
        """Count one use of a site selector as itemloaders' rule-usage stats do."""
        self._track_rule(field, "css", rule, list(found))


def content_hash(title: str | None, body: str | None) -> str:
    """SHA-256 over the whitespace- and case-normalised title and body.

    >>> content_hash("A  title", "Body") == content_hash("a title", "body ")
    True
    """
    text = f"{clean_text(title) or ''}\n{clean_text(body) or ''}".casefold()
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
