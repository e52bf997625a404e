"""The generic layer: heuristics for sites without rules of their own.

Each field has a module here (``title``, ``body``, ``authors``, ``dates``, ``tags``,
``language``, ...) exposing ``candidates(page) -> list`` and, optionally, ``ORDER``:
the layer order to use for that field on pages without a site profile (the
heuristic may weigh JSON-LD, OpenGraph and the visible page against each other, so
it can come first). Modules are imported lazily and own their field entirely.
"""

from __future__ import annotations

import importlib
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from parsel import Selector
    from scrapy.http import TextResponse

    from newscrawl.structured import StructuredData

#: Field -> heuristics module name (a module may serve several fields).
FIELD_MODULES = {
    "title": "title",
    "body": "body",
    "summary": "body",
    "authors": "authors",
    "byline": "authors",
    "published": "dates",
    "modified": "dates",
    "tags": "tags",
    "language": "language",
    "canonical_url": "links",
    "images": "links",
    "translations": "links",
    "section": "tags",
}


def _module(field: str) -> Any:
    name = FIELD_MODULES.get(field)
    if name is None:
        return None
    return importlib.import_module(f"newscrawl.heuristics.{name}")


def field_order(field: str) -> tuple[str, ...] | None:
    """The layer order a heuristics module asks for on pages without a profile."""
    module = _module(field)
    order: tuple[str, ...] | None = getattr(module, f"ORDER_{field.upper()}", None)
    if order is None:
        order = getattr(module, "ORDER", None)
    return order


class PageContext:
    """What a heuristic may look at: the parsed page, its structured data, the URL."""

    def __init__(self, response: TextResponse, structured: StructuredData) -> None:
        self.response = response
        self.url: str = response.url
        self.selector: Selector = response.selector
        self.structured = structured

    @cached_property
    def metas(self) -> dict[str, list[str]]:
        """``<meta>`` contents by ``name``, ``property`` and ``itemprop``, one pass.

        Heuristics read many meta names per page; lxml's own iteration over the
        ``<meta>`` tags costs far less than one XPath query per name.
        """
        index: dict[str, list[str]] = {}
        for node in self.selector.root.iter("meta"):
            attrs = node.attrib
            content = attrs.get("content")
            if content is None:
                continue
            for attr in ("name", "property", "itemprop"):
                key = attrs.get(attr)
                if key:
                    index.setdefault(key, []).append(content)
        return index

    @cached_property
    def site_names(self) -> list[str]:
        """Names the site goes by, which no headline part, author or tag can be.

        og:site_name, app names, the JSON-LD publisher, and the registrable label
        of the host ("golem" of golem.de, "bbc" of bbc.co.uk).
        """
        names = self.meta_values(
            "og:site_name", "application-name", "apple-mobile-web-app-title"
        )
        publisher = self.structured.article.get("publisher")
        if isinstance(publisher, dict) and isinstance(publisher.get("name"), str):
            names.append(publisher["name"])
        labels = self.host.split(".")
        if len(labels) >= 2:
            names.append(
                labels[-3] if len(labels[-2]) <= 3 and len(labels) > 2 else labels[-2]
            )
        return names

    @property
    def host(self) -> str:
        """The page's host without ``www.``."""
        return (urlsplit(self.url).hostname or "").removeprefix("www.")

    def meta_values(self, *names: str) -> list[str]:
        """``content`` of the ``<meta>`` tags with one of ``names``, in that order."""
        index = self.metas
        return [value for name in names for value in index.get(name, ())]

    @property
    def html(self) -> str:
        return self.response.text

    @cached_property
    def main_text(self) -> str | None:
        """Trafilatura's main text of the page (computed once, on first use)."""
        from newscrawl.heuristics.body import main_text  # noqa: PLC0415

        return main_text(self)


class GenericLayer:
    """The last layer: per-field heuristics over the visible page."""

    name = "generic"

    def __init__(self, page: PageContext) -> None:
        self.page = page

    def values(self, field: str) -> list[Any]:
        module = _module(field)
        if module is None:
            return []
        fn = getattr(module, f"candidates_{field}", None) or getattr(
            module, "candidates", None
        )
        if fn is None:
            return []
        result: list[Any] = fn(self.page)
        return result
