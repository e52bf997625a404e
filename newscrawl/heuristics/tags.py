"""Generic tags and section: the publisher's keyword lists, weighed by agreement."""

from __future__ import annotations

import html
import re
import unicodedata
from typing import TYPE_CHECKING, Any

from lxml import etree

from newscrawl.heuristics.authors import page_metas
from newscrawl.processors import clean_text

if TYPE_CHECKING:
    from collections.abc import Callable

    from newscrawl.heuristics import PageContext
    from newscrawl.structured import StructuredData

#: This module weighs JSON-LD, OpenGraph, ``<meta>`` and the page itself.
ORDER_TAGS = ("generic",)

#: Links in the page, compiled once and run on lxml: this runs on every page.
_LINKS = etree.XPath("//a[@href]")
#: Where links are navigation, running text or a headline, not a list of tags.
_NOT_TAG_LIST = frozenset({"nav", "header", "footer", "p", "h1"})
_TAG_PATH = re.compile(
    r"/(?:tags?|topics?|themen?|thema|schlagw[oö]rte?r?|stichw[oö]rte?r?|keywords?"
    r"|subjects?|temas?|etiquetas?|sujets?|argomenti|tagi)/[^/?#]",
    re.IGNORECASE,
)
#: How far up a tag link we look for the list that holds its siblings.
_LIST_DEPTH = 4
#: Faceted keywords ("Subject: World") whose facet names the article's topic.
_TOPIC_FACETS = frozenset(
    {"category", "categories", "subject", "subjects", "tag", "tags", "topic", "topics"}
)
_LIST_SEP = re.compile(r"[,，、]")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")
_FACET = re.compile(r"^([^:]{1,30}):\s*(.+)$")
_DOMAIN = re.compile(r"^(?:[\w-]+\.)+[a-z]{2,}$", re.IGNORECASE)
#: Ids and hashes ("100312362", a UUID): machine keys, not keywords.
_MACHINE_KEY = re.compile(r"^[\d\W_]+$|^[0-9a-f]{8}-[0-9a-f-]{27}$", re.IGNORECASE)
#: All-caps codes without spaces ("MTPIX", "RSBI:X"), as wire services tag stories.
_CODE = re.compile(r"^[A-Z0-9:_.-]+$")
#: Fewer single words than this may well be real keywords that the title uses.
_MIN_TITLE_WORDS = 4
#: Longer link text is a teaser headline, not a tag.
_MAX_TAG_LENGTH = 60
#: A list of more codes than this is a classification dump, not keywords.
_MAX_CODES = 8


def candidates_tags(page: PageContext) -> list[str]:
    """The keyword list that other sources of the page agree with most.

    Sources, by trust: ``news_keywords`` (meant for news search, so chosen by the
    newsroom), JSON-LD ``keywords``, ``article:tag``, ``<meta name=keywords>`` (often
    site-wide stuffing), Dublin Core subjects, and visible ``rel=tag`` links. The
    two keyword metas count as one witness, as CMSs copy one into the other.
    """
    data = page.structured
    metas = page_metas(page)
    links = _links(page)
    sources: list[tuple[str, Callable[[], list[str]]]] = [
        ("meta", lambda: _split(metas.get("news_keywords", []))),
        ("json-ld", lambda: _ld_keywords(data)),
        ("opengraph", lambda: _split(metas.get("article:tag", []))),
        ("meta", lambda: _split(metas.get("keywords", []))),
        ("dc", lambda: metas.get("dc.subject", []) + metas.get("DC.subject", [])),
        ("page", lambda: [_text(a) for a in links if "tag" in (a.get("rel") or "")]),
        ("page", lambda: _tag_link_list(links)),
    ]
    site = {n.casefold() for n in page.site_names}
    # Headline and URL slug: the words some CMSs turn into keywords by themselves.
    titles = page.selector.root.findall(".//title")[:1]
    title = _fold(
        " ".join([*metas.get("og:title", []), *(_text(t) for t in titles), page.url])
    )
    lists: list[tuple[str, list[str]]] = []
    for family, get in sources:
        tags = _clean(get(), site)
        if tags and not _title_words(tags, title):
            lists.append((family, tags))
    if not lists:
        return []
    keys = [{t.casefold() for t in tags} for _, tags in lists]

    def support(i: int) -> int:
        family = lists[i][0]
        return len(
            {
                lists[j][0]
                for j in range(len(lists))
                if lists[j][0] != family and _similar(keys[i], keys[j])
            }
        )

    best = max(range(len(lists)), key=lambda i: (support(i), -i))
    return lists[best][1]


def candidates_section(page: PageContext) -> list[str]:
    return []


def _links(page: PageContext) -> list[Any]:
    found = _LINKS(page.selector.root)
    return found if isinstance(found, list) else []


def _text(element: Any) -> str:
    return " ".join("".join(element.itertext()).split())


def _tag_link_list(all_links: list[Any]) -> list[str]:
    """The largest group of sibling links to tag pages (a "topics" box).

    Links to tag pages (``/tag/floods``, ``/themen/...``) in menus, running text
    and teasers' labels are left out; a lone tag link is more often a kicker than
    a tag list, so a group needs two links.
    """
    links = [
        a
        for a in all_links
        if _TAG_PATH.search(a.get("href", ""))
        and not any(e.tag in _NOT_TAG_LIST for e in a.iterancestors())
    ]
    if len(links) < 2:
        return []
    ancestors = [_ancestors(a) for a in links]
    groups: dict[Any, list[Any]] = {}
    for i, own in enumerate(ancestors):
        others = set().union(*(ancestors[j] for j in range(len(links)) if j != i))
        container = next((e for e in own if e in others), None)
        if container is not None:
            groups.setdefault(container, []).append(links[i])
    if not groups:
        return []
    best = max(groups.values(), key=len)
    return [_text(a) for a in best]


def _ancestors(element: Any) -> list[Any]:
    out: list[Any] = []
    parent = element.getparent()
    while parent is not None and len(out) < _LIST_DEPTH:
        out.append(parent)
        parent = parent.getparent()
    return out


def _title_words(tags: list[str], title: str) -> bool:
    """Whether ``tags`` are just the title's or slug's words, as CMSs fill keywords.

    Such lists are single lower-case words (names lose their capitals too);
    curated keywords that happen to be in the title keep theirs.
    """
    if len(tags) < _MIN_TITLE_WORDS or any(" " in t or not t.islower() for t in tags):
        return False
    return sum(_fold(t) in title for t in tags) * 3 >= len(tags) * 2


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _similar(a: set[str], b: set[str]) -> bool:
    return len(a & b) * 2 >= len(a | b)


def _split(values: list[str]) -> list[str]:
    parts = [part for value in values for part in _LIST_SEP.split(value)]
    if len(parts) == 1 and _CJK.search(parts[0]):
        # Chinese and Japanese words need no spaces, so a space separates keywords.
        return parts[0].split()
    return parts


def _ld_keywords(data: StructuredData) -> list[str]:
    keywords = data.article.get("keywords") if data.article else None
    if isinstance(keywords, str):
        return _split([keywords])
    if isinstance(keywords, list):
        return [k for k in keywords if isinstance(k, str)]
    return []


def _clean(values: list[Any], site: set[str]) -> list[str]:
    # Keyword metas are often HTML-escaped twice ("&amp;").
    tags = [
        t
        for t in (clean_text(html.unescape(v)) for v in values if isinstance(v, str))
        if t and len(t) <= _MAX_TAG_LENGTH
    ]
    if sum(1 for t in tags if _CODE.match(t) and len(t) > 1) > _MAX_CODES:
        return []
    faceted = sum(1 for t in tags if _FACET.match(t)) >= 2
    out: list[str] = []
    seen: set[str] = set()
    for tag in tags:
        if faceted and (m := _FACET.match(tag)):
            if m.group(1).strip().casefold() not in _TOPIC_FACETS:
                continue
            tag = m.group(2).strip()  # noqa: PLW2901
        key = tag.casefold()
        if (
            key in seen
            or key in site
            or tag.startswith("_")
            or _MACHINE_KEY.match(tag)
            or _DOMAIN.match(tag)
            or "://" in tag
        ):
            continue
        seen.add(key)
        out.append(tag)
    return out
