"""Generic authors and byline: JSON-LD, author ``<meta>`` tags and visible bylines."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from lxml import etree

from newscrawl.names import split_byline, starts_byline
from newscrawl.structured import ARTICLE_TYPES, node_types

if TYPE_CHECKING:
    from collections.abc import Iterator

    from newscrawl.heuristics import PageContext
    from newscrawl.structured import StructuredData

#: This module weighs JSON-LD, OpenGraph, ``<meta>`` and the page itself.
ORDER_AUTHORS = ("generic",)

#: schema.org types of a value that names an organisation rather than a person.
_ORG_TYPES = frozenset(
    {"Organization", "NewsMediaOrganization", "Corporation", "WebSite", "Brand"}
)
#: ``<meta>`` names that CMSs and analytics tags use for the article's author.
_AUTHOR_METAS = (
    "article:author",
    "author",
    "byl",
    "sailthru.author",
    "parsely-author",
    "dc.creator",
    "DC.creator",
)
#: Author markup of every kind, in page order; Python sorts it out. Compiled once,
#: and run on lxml directly: this runs on every page.
_AUTHOR_MARKUP = etree.XPath(
    "//a[contains(@rel, 'author') or contains(@href, '/aut')]"
    " | //*[contains(@class, 'author') or contains(@class, 'byline')]"
    " | //*[@itemprop = 'name'][ancestor::*[contains(@itemprop, 'author')]]"
)
_BYLINES = etree.XPath("//*[contains(@class, 'byline')]")
_VISIBLE_TEXT = etree.XPath(".//text()[not(ancestor::script or ancestor::style)]")
#: Classes of an element that holds just one author's name.
_NAME_CLASSES = frozenset({"byline__name", "author-name", "author__name"})
#: Author profile pages, whose links in a byline carry the author's name.
_AUTHOR_PATH = re.compile(r"/(?:authors?|autor|autoren|auteur|autore)/", re.IGNORECASE)
_CHROME = frozenset({"nav", "footer"})
#: Elements with "byline" in their class that are tried as a plain byline.
_MAX_BYLINES = 3
#: A longer "byline" element holds more than the byline (the article head).
_MAX_BYLINE_LENGTH = 120
#: Credits further from the first byline than this belong to teasers.
_BYLINE_DEPTH = 3
#: "Doe, Jane": how Dublin Core and library metadata write a single name.
_INVERTED = re.compile(r"^([^\s,]+), ([^\s,]+(?: [^\s,]+)?)$")
#: Nested JSON-LD is rarely deeper than page -> mainEntity -> article.
_MAX_DEPTH = 4


def candidates_authors(page: PageContext) -> list[str]:
    """Author names from the first source that names anybody but the site itself.

    The article's JSON-LD comes first (people and organisations it credits), then
    the author ``<meta>`` tags, then the visible byline. Publishers put their own
    name in these when no person wrote the piece, and often also when one did, so
    the site's name is used only when no source names anyone else.
    """
    metas = page_metas(page)
    site = _site_keys(page)
    people, orgs = _ld_authors(page.structured)
    # An affiliation after a person's name ("Jane Doe, site.com") is no author.
    named = _clean(people)
    ld_names = [n for n in named if not _is_site(n, site)] or named
    ld_names += _clean(orgs)
    markup = _author_markup(page)
    fallback: list[str] = []
    for names in (
        ld_names,
        _clean(_meta_authors(metas)),
        _clean(_visible_authors(markup)),
        _clean(_byline_text(markup)),
    ):
        own = [n for n in names if _is_site(n, site)]
        # A free-text credit naming the site is the site's ("site.de, City, Land").
        if names and (names is ld_names or not own) and len(own) < len(names):
            return names
        fallback = fallback or own or names
    return fallback


def candidates_byline(page: PageContext) -> list[str]:
    found = _BYLINES(page.selector.root)
    for node in found[:_MAX_BYLINES] if isinstance(found, list) else []:
        text = _text(node)
        # A wrapper whose class mentions "byline" may hold the whole article head.
        if text and len(text) <= _MAX_BYLINE_LENGTH:
            return [text]
    return []


def page_metas(page: PageContext) -> dict[str, list[str]]:
    """``<meta>`` contents by name, property and itemprop (shared, one pass)."""
    return page.metas


def _site_keys(page: PageContext) -> tuple[set[str], str]:
    """(names the site goes by, its host name), as alphanumeric keys."""
    return {_key(n) for n in page.site_names} - {""}, _key(page.host)


def _is_site(name: str, site: tuple[set[str], str]) -> bool:
    """Whether ``name`` is the site's own ("VnExpress", "Redaktion site.de")."""
    key = _key(name)
    names, host = site
    return key in names or (len(host) >= 4 and host in key)


def _key(text: str) -> str:
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def _clean(values: list[str]) -> list[str]:
    names: list[str] = []
    seen: set[str] = set()
    for value in values:
        for name in split_byline(value):
            key = name.casefold()
            if key not in seen:
                seen.add(key)
                names.append(name)
    return names


def _ld_authors(data: StructuredData) -> tuple[list[str], list[str]]:
    """(people, organisations) credited as author of the page's JSON-LD article."""
    by_id: dict[str, dict[str, Any]] = {}
    # The top-level article is the page's own; nested ones may be teasers.
    articles = [data.article] if data.article else []
    for node in _deep_nodes(data.json_ld_nodes):
        node_id = node.get("@id")
        if isinstance(node_id, str) and "name" in node:
            by_id[node_id] = node
        if node_types(node) & ARTICLE_TYPES:
            articles.append(node)
    people: list[str] = []
    orgs: list[str] = []
    for article in articles:
        for entry in _as_list(article.get("author")) + _as_list(article.get("creator")):
            if isinstance(entry, dict) and "name" not in entry:
                entry = by_id.get(str(entry.get("@id")), entry)  # noqa: PLW2901
            name = _entry_name(entry)
            if not name:
                continue
            if isinstance(entry, dict) and node_types(entry) & _ORG_TYPES:
                orgs.append(name)
            else:
                people.append(name)
        if people or orgs:
            # The first article with credits is the page's; later ones are teasers.
            break
    return people, orgs


def _entry_name(entry: Any) -> str | None:
    if isinstance(entry, str):
        return entry
    if not isinstance(entry, dict):
        return None
    name = entry.get("name")
    if isinstance(name, list):
        name = " ".join(str(n) for n in name)
    if not name and (entry.get("givenName") or entry.get("familyName")):
        name = f"{entry.get('givenName') or ''} {entry.get('familyName') or ''}"
    return str(name) if name else None


def _meta_authors(metas: dict[str, list[str]]) -> list[str]:
    for name in _AUTHOR_METAS:
        values = [v for v in metas.get(name, ()) if v.strip()]
        if name.lower() == "dc.creator":
            values = [_uninvert(v) for v in values]
        names = _clean(values)
        if names:
            return names
    # Slack/Twitter "enhanced data" pairs, as WordPress SEO plugins write them.
    for label, contents in metas.items():
        if label.startswith("twitter:label") and any(
            c.strip().casefold() == "written by" for c in contents
        ):
            values = metas.get(label.replace("label", "data"), [])
            if _clean(values):
                return values
    return metas.get("twitter:misc:Written by", [])


def _uninvert(value: str) -> str:
    """Rewrite "Doe, Jane" as "Jane Doe" (only a single two-part name)."""
    m = _INVERTED.match(value.strip())
    return f"{m.group(2)} {m.group(1)}" if m else value


def _visible_authors(markup: list[Any]) -> list[str]:
    """Names in the first visible byline (and credits next to it, not teasers')."""
    nodes = [n for n in markup if _names_one_author(n)]
    if not nodes:
        return []
    near = set(_ancestors(nodes[0]))
    return [
        _text(n)
        for i, n in enumerate(nodes)
        if i == 0 or near.intersection(_ancestors(n))
    ]


def _author_markup(page: PageContext) -> list[Any]:
    """Elements whose class, rel, itemprop or link mentions an author, in page order."""
    found = _AUTHOR_MARKUP(page.selector.root)
    return found if isinstance(found, list) else []


def _text(element: Any) -> str:
    texts = _VISIBLE_TEXT(element)
    return " ".join("".join(texts if isinstance(texts, list) else []).split())


def _names_one_author(element: Any) -> bool:
    if "author" in (element.get("rel") or ""):
        return True
    if set((element.get("class") or "").split()) & _NAME_CLASSES:
        return True
    if element.tag == "a" and _AUTHOR_PATH.search(element.get("href") or ""):
        return not any(a.tag in _CHROME for a in element.iterancestors())
    if "author" in (element.get("itemprop") or ""):
        return False  # its [itemprop=name] child is the name, found below
    return bool(element.get("itemprop") == "name")


def _byline_text(markup: list[Any]) -> list[str]:
    """A visible byline without author markup, if it reads like one ("By ...")."""
    bylines = [n for n in markup if "byline" in (n.get("class") or "")]
    for node in bylines[:_MAX_BYLINES]:
        text = _text(node)
        if len(text) <= _MAX_BYLINE_LENGTH and starts_byline(text):
            return [text]
    return []


def _ancestors(element: Any) -> list[Any]:
    out: list[Any] = []
    parent = element.getparent()
    while parent is not None and len(out) < _BYLINE_DEPTH:
        out.append(parent)
        parent = parent.getparent()
    return out


def _deep_nodes(nodes: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every JSON-LD object, also those nested as ``mainEntity`` or ``hasPart``."""
    stack: list[tuple[Any, int]] = [(n, 0) for n in reversed(nodes)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            yield value
            if depth < _MAX_DEPTH:
                stack.extend(
                    (v, depth + 1)
                    for k, v in reversed(value.items())
                    if isinstance(v, dict | list) and k != "@graph"
                )
        elif isinstance(value, list) and depth < _MAX_DEPTH:
            stack.extend((v, depth + 1) for v in reversed(value))


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
