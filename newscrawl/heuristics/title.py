"""Generic headline: the text the page's headline sources agree on, site name removed."""

from __future__ import annotations

import html
import re
import unicodedata
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from newscrawl.processors import clean_text

if TYPE_CHECKING:
    from parsel import Selector

    from newscrawl.heuristics import PageContext

#: The heuristic weighs JSON-LD, OpenGraph and the visible page itself; the
#: structured layers follow for the pages where it has nothing to weigh.
ORDER_TITLE = ("generic", "json-ld", "opengraph", "meta")

#: Sources in the order their wording is preferred within agreeing candidates:
#: JSON-LD keeps typographic quotes and is free of layout text.
SOURCES = ("ld", "h1", "og", "twitter", "title")
#: Separators between a headline and a site name, section or date.
_SEPARATOR = re.compile(r"\s+[|\-–—·•»/:]{1,2}\s+|\s*[|｜：]\s*|:\s+")
#: Kickers (overlines) and screen-reader-only text inside an ``<h1>`` are not
#: part of the headline itself.
_H1_SKIP = (
    "ancestor::script or ancestor::style"
    " or ancestor::*[contains(@class, 'offscreen') or contains(@class, 'sr-only')"
    " or contains(@class, 'visually-hidden') or contains(@class, 'overline')"
    " or contains(@class, 'kicker') or contains(@class, 'eyebrow')]"
)
_QUOTES = str.maketrans("‘’‚‛“”„‟«»‹›", "''''\"\"\"\"\"\"''")
_DASHES = str.maketrans("‐‑‒–—―", "------")
_NON_WORD = re.compile(r"\W+")
_DATE_LIKE = re.compile(r"[\d\s./-]+")
#: More H1s than this are page furniture (teasers), not a headline to choose from.
MAX_H1 = 5
#: A support vote: the candidate is this one plus a site name, section or kicker.
PARTIAL_VOTE = 0.5
#: How much each source's word counts. JSON-LD ``headline`` is the publisher's
#: explicit statement of the headline; og:title and twitter:title are usually one
#: social headline written twice, and ``<title>`` is often an SEO variant.
WEIGHTS = {"ld": 2.5, "h1": 1.0, "og": 1.0, "twitter": 0.0, "title": 0.5}


def _key(text: str) -> str:
    """Comparison key: width, quotes, dashes, case and spacing don't matter."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES).translate(_DASHES)
    return " ".join(text.casefold().split())


def _clean(text: str | None) -> str:
    # JSON-LD and meta values are sometimes HTML-escaped twice.
    return " ".join(html.unescape(text or "").split())


def _h1_texts(sel: Selector) -> list[str]:
    """Text of the page's ``<h1>`` elements, kickers and hidden text left out."""
    texts = []
    for h1 in sel.xpath("//h1")[:MAX_H1]:
        text = " ".join(
            "".join(h1.xpath(f".//text()[not({_H1_SKIP})]").getall()).split()
        )
        if text:
            texts.append(text)
    return texts


def _site_keys(page: PageContext) -> set[str]:
    """Names the site goes by, as alphanumeric keys."""
    data = page.structured
    names = data.meta("og:site_name", "application-name", "apple-mobile-web-app-title")
    publisher = data.article.get("publisher")
    if isinstance(publisher, dict) and isinstance(publisher.get("name"), str):
        names.append(publisher["name"])
    host = (urlsplit(page.url).hostname or "").removeprefix("www.")
    labels = host.split(".")
    # The registrable label: "golem" of golem.de, "bbc" of bbc.co.uk.
    if len(labels) >= 2:
        names.append(
            labels[-3] if len(labels[-2]) <= 3 and len(labels) > 2 else labels[-2]
        )
    names.append(host)
    return {k for k in (_NON_WORD.sub("", _key(n)) for n in names) if len(k) >= 2}


def _is_site_name(segment: str, sites: set[str]) -> bool:
    key = _NON_WORD.sub("", _key(segment))
    if not key:
        return True
    if _DATE_LIKE.fullmatch(segment):
        return True
    if len(segment.split()) > 5:
        return False
    return any(
        key == s or (len(s) >= 3 and (key.startswith(s) or key.endswith(s)))
        for s in sites
    )


def strip_site_name(text: str, sites: set[str]) -> str:
    """Remove leading and trailing segments that name the site (or a date).

    >>> strip_site_name("Rain in Oslo | Daily Planet - 01.02.2024", {"dailyplanet"})
    'Rain in Oslo'
    >>> strip_site_name("Daily Planet: Rain in Oslo", {"dailyplanet"})
    'Rain in Oslo'
    >>> strip_site_name("Planet: A new one found", {"dailyplanet"})
    'Planet: A new one found'
    """
    while True:
        parts = _SEPARATOR.split(text)
        if len(parts) < 2:
            return text
        if _is_site_name(parts[-1], sites):
            seps = list(_SEPARATOR.finditer(text))
            text = text[: seps[-1].start()].strip()
        elif _is_site_name(parts[0], sites):
            text = text[_SEPARATOR.search(text).end() :].strip()  # type: ignore[union-attr]
        else:
            return text


def _extends(longer: str, shorter: str) -> bool:
    """``longer`` is ``shorter`` plus a separated label before or after it."""
    if len(longer) <= len(shorter):
        return False
    if longer.startswith(shorter):
        return bool(_SEPARATOR.match(longer, len(shorter)))
    if longer.endswith(shorter):
        head = longer[: -len(shorter)]
        return bool(_SEPARATOR.search(head)) and _SEPARATOR.search(head).end() == len(
            head
        )  # type: ignore[union-attr]
    return False


def _raw_sources(page: PageContext) -> dict[str, str]:
    """First raw headline of each metadata source (``ld``, ``og``, ...)."""
    data = page.structured
    raw: dict[str, str] = {}
    for source, values in (
        ("ld", data.ld("title")),
        ("og", data.meta("og:title")),
        ("twitter", data.meta("twitter:title")),
        ("title", page.selector.xpath("//title/text()").getall()[:1]),
    ):
        if values and isinstance(values[0], str):
            raw[source] = values[0]
    return raw


def headline_candidates(
    page: PageContext, raw: dict[str, str] | None = None
) -> dict[str, str]:
    """Cleaned headline per source (``ld``, ``h1``, ``og``, ``twitter``, ``title``)."""
    sites = _site_keys(page)
    if raw is None:
        raw = _raw_sources(page)
    found = {s: strip_site_name(_clean(v), sites) for s, v in raw.items()}
    found = {s: v for s, v in found.items() if v and not _truncated(v, found)}
    h1s = _h1_texts(page.selector)
    if h1s:
        keys = {_key(v) for v in found.values()}
        # Of several <h1>s, the one the metadata confirms; else the first.
        agreed = [h for h in h1s if _key(h) in keys] or [
            h for h in h1s if any(_extends(k, _key(h)) for k in keys)
        ]
        found["h1"] = agreed[0] if agreed else h1s[0]
    return found


def _truncated(text: str, found: dict[str, str]) -> bool:
    """``text`` is another candidate cut short with an ellipsis mid-sentence."""
    stem = text.removesuffix("…").removesuffix("...").rstrip()
    if stem == text or not stem[-1:].isalnum():
        return False
    return any(len(o) > len(stem) and o.startswith(stem) for o in found.values())


def choose_headline(found: dict[str, str]) -> str | None:
    """The candidate with the most (weighted) votes; ties go to the earlier source."""
    if not found:
        return None
    keys = {s: _key(v) for s, v in found.items()}
    votes: dict[str, float] = {}
    for source, key in keys.items():
        votes[key] = votes.get(key, 0.0) + WEIGHTS[source]
    for key in list(votes):
        votes[key] += PARTIAL_VOTE * sum(
            WEIGHTS[s] for s, other in keys.items() if _extends(other, key)
        )
    rank = {s: i for i, s in enumerate(SOURCES)}
    best = max(sorted(found, key=rank.__getitem__), key=lambda s: votes[keys[s]])
    return found[best]


def candidates_title(page: PageContext) -> list[str]:
    raw = _raw_sources(page)
    title = choose_headline(headline_candidates(page, raw))
    if title is None:
        return []
    # The JSON-LD or OpenGraph layer that follows gives this very value: let it,
    # so that provenance names the source rather than this heuristic.
    first = raw.get("ld", raw.get("og"))
    if first is not None and clean_text(first) == title:
        return []
    return [title]
