"""The site-profile base class: per-site rules as data plus small methods.

A profile version holds CSS selectors as class attributes (tuples, best first) and
returns raw values per field; the extraction engine cleans them through the loader.
Versions follow fundus: ``V1_1(V1)`` changes selectors only, ``valid_until`` says
when a layout ended and is not inherited (each version states its own).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Sequence

    from parsel import Selector, SelectorList

    from newscrawl.loaders import ArticleLoader

_SPACE = re.compile(r"\s+")


def node_text(node: Selector, exclude: str | None = None) -> str:
    """All descendant text of ``node`` (no script/style), minus ``exclude`` subtrees."""
    skip = "ancestor::script or ancestor::style"
    if exclude:
        skip += f" or ancestor::*[{_css_class_test(exclude)}]"
    texts = node.xpath(f".//text()[not({skip})]").getall()
    return _SPACE.sub(" ", "".join(texts)).strip()


def _css_class_test(css: str) -> str:
    """XPath predicate for a ``[class*=x]`` or ``.x`` CSS test (the forms we use)."""
    m = re.fullmatch(r"\[class\*=['\"]?([\w-]+)['\"]?\]", css)
    if m:
        return f"contains(@class, '{m.group(1)}')"
    m = re.fullmatch(r"\.([\w-]+)", css)
    if m:
        return f"contains(concat(' ', normalize-space(@class), ' '), ' {m.group(1)} ')"
    raise ValueError(f"unsupported exclude selector: {css!r}")


def own_text(node: Selector) -> str:
    """Text directly inside ``node``, not in its child elements."""
    return _SPACE.sub(" ", "".join(node.xpath("./text()").getall())).strip()


class SiteProfile:
    """One version of one site's extraction rules.

    Subclasses set ``key``, ``domains``, ``version``, ``valid_until`` and selector
    tuples named ``<field>_css``; fields needing logic get an ``extract_<field>``
    method. Selectors are tracked as itemloaders rule-usage stats
    (``parser/<field>/css/<query>``), so a selector that stops matching shows up.
    """

    key: ClassVar[str]
    domains: ClassVar[tuple[str, ...]]
    version: ClassVar[str] = "V1"
    #: Last day this layout was served; ``None`` for the current one.
    valid_until: ClassVar[dt.date | None] = None
    #: Where the article lives on the page (rails and teasers are outside it).
    scope_css: ClassVar[tuple[str, ...]] = ()
    #: Fields whose ``<field>_css`` runs on the whole page (``<head>`` metadata),
    #: not inside ``scope_css``.
    page_fields: ClassVar[frozenset[str]] = frozenset()
    #: Fields that take only the first match of their selector.
    single_fields: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, loader: ArticleLoader) -> None:
        self.loader = loader
        page = loader.selector
        assert page is not None
        self.page: Selector = page
        self.root: Selector = self._root(page)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # valid_until marks the end of one layout; a subclass is a new layout.
        if "valid_until" not in cls.__dict__:
            cls.valid_until = None

    @classmethod
    def name(cls) -> str:
        return f"{cls.key}:{cls.version}"

    @classmethod
    def matches_layout(cls, page: Selector) -> bool:
        """Whether ``page`` carries this version's markers (default: yes)."""
        return True

    def _root(self, page: Selector) -> Selector:
        for css in self.scope_css:
            found = page.css(css)
            if found:
                return found[0]
        return page

    def select(self, field: str, css: str, *, page: bool = False) -> SelectorList[Any]:
        """Run ``css`` in the article (or whole ``page``), counting the rule's use."""
        found = (self.page if page else self.root).css(css)
        self.loader.track_rule(field, css, found)
        return found

    def first(
        self, field: str, selectors: Sequence[str], *, page: bool = False
    ) -> SelectorList[Any]:
        """The matches of the first selector in ``selectors`` that matches."""
        for css in selectors:
            found = self.select(field, css, page=page)
            if found:
                return found
        return self.root.css("__nothing__")

    def values(self, field: str) -> list[Any]:
        """Raw values for ``field``: ``extract_<field>()``, else its ``<field>_css``.

        A selector is enough for most fields: the declarative path runs it in the
        article (or the page, for ``page_fields``), keeps the first match for
        ``single_fields``, and takes an element's text or an attribute's value.
        """
        method = getattr(self, f"extract_{field}", None)
        if method is not None:
            result: list[Any] = method()
            return result
        selectors: tuple[str, ...] = getattr(self, f"{field}_css", ())
        found = self.first(field, selectors, page=field in self.page_fields)
        if field in self.single_fields:
            found = found[:1]
        return [node_text(n) if not _is_attr(n) else n.get() for n in found]


def _is_attr(node: Selector) -> bool:
    return node.type == "text" or isinstance(node.root, str)
