"""Generic headline: the one the page's headline sources agree on, minus site name."""

from __future__ import annotations

import html
import itertools
import re
import unicodedata
from typing import TYPE_CHECKING, Any

from newscrawl.heuristics.dates import meta_values
from newscrawl.processors import clean_text

if TYPE_CHECKING:
    from collections.abc import Iterator

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
_H1_SKIP_CLASS = re.compile(
    r"offscreen|sr-only|visually-hidden|overline|kicker|eyebrow", re.IGNORECASE
)
_QUOTES = str.maketrans("‘’‚‛“”„‟«»‹›", "''''\"\"\"\"\"\"''")
_DASHES = str.maketrans("‐‑‒–—―", "------")
_NON_WORD = re.compile(r"\W+")
_DATE_LIKE = re.compile(r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4}")
#: A site name is a few words; a longer segment is part of the headline.
MAX_SITE_WORDS = 5
#: More H1s than this are page furniture (teasers), not a headline to choose from.
MAX_H1 = 5
#: A support vote: the candidate is this one plus a site name, section or kicker.
PARTIAL_VOTE = 0.5
#: How much each source's word counts. JSON-LD ``headline`` is the publisher's
#: explicit statement of the headline; og:title and twitter:title are usually one
#: social headline written twice, and ``<title>`` is often an SEO variant.
WEIGHTS = {"ld": 2.5, "h1": 1.0, "og": 1.0, "twitter": 0.0, "title": 0.5}
SEO_COPY_WEIGHT = 1.0


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
    # lxml's own iteration: XPath through parsel costs more than the whole choice.
    for h1 in itertools.islice(sel.root.iter("h1"), MAX_H1):
        text = " ".join("".join(_visible_text(h1)).split())
        if text:
            texts.append(text)
    return texts


def _visible_text(node: Any) -> Iterator[str]:
    # A stack, not recursion: markup may nest thousands of levels deep.
    stack: list[Any] = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
            continue
        if item.text:
            yield item.text
        # Reversed onto the stack: each child, then its tail, in page order.
        for child in reversed(item):
            if child.tail:
                stack.append(child.tail)
            if (
                isinstance(child.tag, str)
                and child.tag not in ("script", "style")
                and not _H1_SKIP_CLASS.search(child.get("class", ""))
            ):
                stack.append(child)


def _site_keys(page: PageContext) -> set[str]:
    """Names the site goes by, as alphanumeric keys."""
    names = [*page.site_names, page.host]
    return {k for k in (_NON_WORD.sub("", _key(n)) for n in names) if len(k) >= 2}


def _is_site_name(segment: str, sites: set[str]) -> bool:
    """``segment`` is a date, or its first or last words spell a site name."""
    if _DATE_LIKE.fullmatch(segment.strip()):
        return True
    words = [w for w in (_NON_WORD.sub("", w) for w in _key(segment).split()) if w]
    if not words:
        return True
    if len(words) > MAX_SITE_WORDS:
        return False
    # "Metro News" for metro.co.uk, "Golem.de" for golem: whole words only.
    spans = {"".join(words[:i]) for i in range(1, len(words) + 1)}
    spans |= {"".join(words[i:]) for i in range(len(words))}
    return bool(spans & sites)


def _split_last(text: str) -> tuple[str, str] | None:
    seps = list(_SEPARATOR.finditer(text))
    if not seps:
        return None
    return text[: seps[-1].start()].strip(), text[seps[-1].end() :].strip()


def _split_first(text: str) -> tuple[str, str] | None:
    sep = _SEPARATOR.search(text)
    if sep is None:
        return None
    return text[: sep.start()].strip(), text[sep.end() :].strip()


def strip_site_name(text: str, sites: set[str]) -> str:
    """Remove leading and trailing segments that name the site (or a date).

    >>> strip_site_name("Rain in Oslo | Daily Planet - 01.02.2024", {"dailyplanet"})
    'Rain in Oslo'
    >>> strip_site_name("Daily Planet: Rain in Oslo", {"dailyplanet"})
    'Rain in Oslo'
    >>> strip_site_name("Planetary: A new one found", {"planet"})
    'Planetary: A new one found'
    >>> strip_site_name("Final score - 3-1", {"planet"})
    'Final score - 3-1'
    """
    while True:
        last = _split_last(text)
        first = _split_first(text)
        if last and last[0] and _is_site_name(last[1], sites):
            text = last[0]
        elif first and first[1] and _is_site_name(first[0], sites):
            text = first[1]
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
        return any(m.end() == len(head) for m in _SEPARATOR.finditer(head))
    return False


def _first_title(page: PageContext) -> list[str]:
    titles = itertools.islice(page.selector.root.iter("title"), 1)
    return [t.text or "" for t in titles]


def _raw_sources(page: PageContext) -> dict[str, str]:
    """First raw headline of each metadata source (``ld``, ``og``, ...)."""
    raw: dict[str, str] = {}
    for source, values in (
        ("ld", page.structured.ld("title")),
        ("og", meta_values(page, "og:title")),
        ("twitter", meta_values(page, "twitter:title")),
        ("title", _first_title(page)),
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
    weights = dict(WEIGHTS)
    if "ld" in keys and keys["ld"] == keys.get("title"):
        # A JSON-LD headline that repeats <title> is the SEO title copied over:
        # one voice, not the publisher's separate statement of the headline.
        weights["ld"] = SEO_COPY_WEIGHT
    for source, key in keys.items():
        votes[key] = votes.get(key, 0.0) + weights[source]
    for key in list(votes):
        votes[key] += PARTIAL_VOTE * sum(
            weights[s] for s, other in keys.items() if _extends(other, key)
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
