"""The layered extraction engine: one response in, one :class:`ArticleItem` out.

For every field the layers are asked in order (site rules, JSON-LD, OpenGraph,
``<meta>``, generic heuristics); the first whose values survive the loader's input
processors wins, and ``provenance`` records which one. It never touches the network
or the crawler, so spiders, ``newscrawl parse`` and golden tests share it.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import TYPE_CHECKING, Any, Protocol

from newscrawl.heuristics import GenericLayer, PageContext, field_order
from newscrawl.items import LIST_CAPS, TEXT_CAPS, cap_text
from newscrawl.loaders import ArticleLoader, content_hash
from newscrawl.processors import url_key, word_count
from newscrawl.structured import StructuredData

if TYPE_CHECKING:
    from scrapy.http import TextResponse
    from scrapy.selector import Selector

    from newscrawl.items import ArticleItem
    from newscrawl.sites.base import SiteProfile

logger = logging.getLogger(__name__)

#: Fields filled by the layers, in the order they are extracted.
LAYERED_FIELDS = (
    "canonical_url",
    "language",
    "title",
    "summary",
    "byline",
    "authors",
    "published",
    "modified",
    "section",
    "tags",
    "images",
    "body",
    "related",
    "translations",
    "story_id",
)
DEFAULT_ORDER: tuple[str, ...] = ("site", "json-ld", "opengraph", "meta", "generic")
#: Where a field's most trustworthy structured source is not JSON-LD.
FIELD_ORDER = {
    # link[rel=canonical] is the publisher's own statement; og:url is often http://.
    "canonical_url": ("site", "meta", "json-ld", "opengraph", "generic"),
    "language": ("site", "meta", "json-ld", "opengraph", "generic"),
}
DATE_FIELDS = frozenset({"published", "modified"})
#: Layers whose lead text is shown on the page, so it opens ``body``.
VISIBLE_LAYERS = frozenset({"site", "generic"})
#: A summary whose first characters (as words) are in the body is already shown.
LEAD_KEY_CHARS = 80
_WORD = re.compile(r"\w+")


class Stats(Protocol):
    """What extraction needs of a stats collector (Scrapy's, or a plain counter)."""

    def inc_value(self, key: str, count: int = 1, start: int = 0) -> None: ...


class Layer(Protocol):
    """Anything that gives raw values for a field name."""

    def values(self, field: str) -> list[Any]: ...


class _Structured:
    def __init__(self, data: StructuredData, kind: str) -> None:
        self.data = data
        self.kind = kind

    def values(self, field: str) -> list[Any]:
        if self.kind == "json-ld":
            return self.data.ld(field)
        if self.kind == "opengraph":
            return self.data.og(field)
        return self.data.plain_meta(field)


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def extract_article(
    response: TextResponse,
    *,
    profile: type[SiteProfile] | None = None,
    site: str | None = None,
    stats: Stats | None = None,
    fetched_at: str | None = None,
    structured: StructuredData | None = None,
) -> ArticleItem:
    """Extract one article from ``response`` with the layers in order."""
    page = page_selector(response)
    # The response's own selector: a loader given only the response parses it again.
    loader = ArticleLoader(
        response=response,
        selector=page,
        stats=stats,
        base_url=response.url,
    )
    structured = structured or StructuredData(page)
    layers: dict[str, Layer] = {
        "json-ld": _Structured(structured, "json-ld"),
        "opengraph": _Structured(structured, "opengraph"),
        "meta": _Structured(structured, "meta"),
        "generic": GenericLayer(PageContext(response, structured)),
    }
    site_name = "site"
    if profile is not None:
        layers["site"] = profile(loader)
        site_name = profile.name()

    provenance: dict[str, str] = {}
    for field in LAYERED_FIELDS:
        order = FIELD_ORDER.get(field, DEFAULT_ORDER)
        if profile is None:
            # Without site rules a heuristic may weigh all sources, so it decides.
            order = field_order(field) or order
        provenance[field] = _fill(
            loader, field, layers, order, site_name, response.url, stats
        )

    if structured.broken_json_ld and stats is not None:
        stats.inc_value("newscrawl/extract/broken_json_ld", structured.broken_json_ld)
    if not loader.get_collected_values("language"):
        header = response.headers.get(b"Content-Language")
        if header:
            loader.add_value("language", header.decode("latin-1").split(",")[0])
            if loader.get_collected_values("language"):
                provenance["language"] = "http-header"

    item: ArticleItem = loader.load_item()
    item.url = response.url
    item.site = site or (profile.key if profile else _host_site(response.url))
    item.fetched_at = fetched_at or utc_now()
    _cap(item, stats)
    _finish(item, provenance, site_name)
    item.provenance = {k: v for k, v in provenance.items() if v}
    return item


def page_selector(response: TextResponse) -> Selector:
    """The response's selector, also where the page's ``<base href>`` is broken.

    Scrapy resolves ``<base href>`` as it builds the selector, and w3lib raises on
    a URL that urllib rejects ("http://[", a port past 65535). The page is then
    read against its own URL; the response keeps that selector for later callers.
    """
    try:
        return response.selector
    except ValueError:
        import parsel  # noqa: PLC0415
        from scrapy.selector import Selector  # noqa: PLC0415

        # Parsed by parsel: Scrapy's Selector would resolve <base href> again.
        parsed = parsel.Selector(text=response.text, type="html", base_url=response.url)
        selector = Selector(root=parsed.root, type="html", base_url=response.url)
        response._cached_selector = selector
        return selector


def _fill(
    loader: ArticleLoader,
    field: str,
    layers: dict[str, Layer],
    order: tuple[str, ...],
    site_name: str,
    url: str,
    stats: Stats | None,
) -> str:
    had_raw = False
    for name in order:
        layer = layers.get(name)
        if layer is None:
            continue
        try:
            raw = layer.values(field)
            if raw:
                had_raw = True
                loader.add_value(field, raw)
        except Exception:
            # One broken rule must not cost the other fields of the item.
            logger.exception("Layer %s failed on field %s of %s", name, field, url)
            if stats is not None:
                stats.inc_value(f"newscrawl/extract/error/{name}")
            continue
        if loader.get_collected_values(field):
            layer_name = site_name if name == "site" else name
            if stats is not None:
                stats.inc_value(f"newscrawl/extract/{field}/{name}")
            return layer_name
    if stats is not None:
        stats.inc_value(f"newscrawl/extract/{field}/missing")
    if had_raw and field in DATE_FIELDS:
        return "unparseable"
    return "missing"


def _host_site(url: str) -> str:
    from urllib.parse import urlsplit  # noqa: PLC0415

    host = urlsplit(url).hostname or ""
    return host.removeprefix("www.")


def _cap(item: ArticleItem, stats: Stats | None) -> None:
    """Cut over-long values to the contract's caps, counting each field cut."""
    capped: set[str] = set()

    def text(field: str, value: str | None) -> str | None:
        if value is None or len(value) <= TEXT_CAPS[field]:
            return value
        capped.add(field)
        return cap_text(value, TEXT_CAPS[field])

    for field in ("title", "summary", "byline", "section", "story_id", "body"):
        setattr(item, field, text(field, getattr(item, field)))
    for field in ("authors", "tags"):
        values = getattr(item, field)
        if len(values) > LIST_CAPS[field]:
            capped.add(field)
            values = values[: LIST_CAPS[field]]
        setattr(item, field, [text(field, v) for v in values])
    for field, parts in (("images", ("caption", "credit")), ("related", ("title",))):
        entries = getattr(item, field)
        if len(entries) > LIST_CAPS[field]:
            capped.add(field)
            entries = entries[: LIST_CAPS[field]]
        setattr(
            item,
            field,
            [
                {k: text(f"{field}.{k}", v) if k in parts else v for k, v in e.items()}
                for e in entries
            ],
        )
    if stats is not None:
        for field in sorted(capped):
            stats.inc_value(f"newscrawl/capped/{field}")


def _finish(item: ArticleItem, provenance: dict[str, str], site_name: str) -> None:
    """Fill derived fields: lead-first body, self-links dropped, counts and hash."""
    own = {url_key(item.url or "")}
    if item.canonical_url:
        own.add(url_key(item.canonical_url))
    item.related = [r for r in item.related if url_key(r["url"] or "") not in own]
    item.translations = {
        lang: u for lang, u in item.translations.items() if url_key(u) not in own
    }
    summary_layer = provenance.get("summary", "")
    shown = summary_layer == site_name or summary_layer in VISIBLE_LAYERS
    if item.body and item.summary and shown and not _opens(item.body, item.summary):
        item.body = f"{item.summary}\n\n{item.body}"
    item.word_count = word_count(item.body) if item.body else None
    if item.title or item.body:
        item.content_hash = content_hash(item.title, item.body)


def _opens(body: str, summary: str) -> bool:
    r"""Whether ``body`` already shows ``summary`` (or its start) near the top.

    >>> _opens("Intro text here.\n\nMore.", "Intro text here")
    True
    >>> _opens("Photo: AFP\n\nIntro text here.", "Intro text here.")
    True
    >>> _opens("Other text.", "Intro text here.")
    False
    """
    key = " ".join(_WORD.findall(summary)).casefold()[:LEAD_KEY_CHARS]
    return key in " ".join(_WORD.findall(body[: 4 * len(summary) + 1000])).casefold()


def extract(
    response: TextResponse,
    *,
    site: str | None = None,
    stats: Stats | None = None,
    fetched_at: str | None = None,
    structured: StructuredData | None = None,
) -> ArticleItem:
    """Extract with the profile of ``site`` (or of the URL's domain), if any.

    The profile version is chosen by the fetch date and checked against the markup;
    a page whose markup contradicts its date is counted under
    ``newscrawl/parser/version_override``.
    """
    from newscrawl.sites import choose_version, get_versions, site_for_url  # noqa: PLC0415

    key = site or site_for_url(response.url)
    profile = None
    if key is not None:
        fetched_at = fetched_at or utc_now()
        fetched_on = dt.datetime.fromisoformat(fetched_at).date()
        profile, overridden = choose_version(
            get_versions(key), page_selector(response), fetched_on
        )
        if overridden and stats is not None:
            stats.inc_value("newscrawl/parser/version_override")
        if stats is not None:
            stats.inc_value(f"newscrawl/parser/{profile.name()}")
    return extract_article(
        response,
        profile=profile,
        site=key,
        stats=stats,
        fetched_at=fetched_at,
        structured=structured,
    )
