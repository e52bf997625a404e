"""Generic language: the declared language, checked and completed from the text."""

from __future__ import annotations

import itertools
import re
from functools import cache
from typing import TYPE_CHECKING, Any

from newscrawl.heuristics.dates import meta_values
from newscrawl.processors import language_tag

if TYPE_CHECKING:
    from newscrawl.heuristics import PageContext

#: The heuristic weighs the declarations against the text itself; the structured
#: layers follow for the pages where it has nothing to add.
ORDER_LANGUAGE = ("generic", "meta", "json-ld", "opengraph")

#: Paragraphs shorter than this are buttons, labels and bylines, not prose.
MIN_PARAGRAPH_CHARS = 40
#: Enough prose to tell languages apart; more only costs time.
SAMPLE_CHARS = 600
#: Below this much prose, detection is a guess and nothing is said.
MIN_SAMPLE_CHARS = 100
#: How sure detection must be to overrule a declared language, or stand alone.
MIN_CONFIDENCE = 0.9
#: English function words: prose in English is full of them, other prose is not,
#: so most pages that declare English are confirmed without running detection.
_ENGLISH_WORDS = frozenset(
    {"the", "of", "and", "to", "in", "is", "that", "for", "it", "was", "on", "with"}
    | {"as", "at", "by", "from", "be", "this", "have", "are", "his", "her", "they"}
    | {"has", "an", "not", "but", "or", "which"}
)
MIN_ENGLISH_SHARE = 0.12
_WORD = re.compile(r"[^\W\d_]+")


def _declared(page: PageContext) -> list[str]:
    """Languages the page declares, most specific statement first."""
    sel = page.selector
    values: list[Any] = [sel.root.get("lang")]
    values += meta_values(page, "language", "content-language", "dc.language")
    header = page.response.headers.get(b"Content-Language")
    if header:
        values.append(header.decode("latin-1").split(",")[0])
    values += page.structured.ld("language")
    values += meta_values(page, "og:locale")
    return [tag for tag in (language_tag(v) for v in values) if tag]


def text_sample(page: PageContext) -> str:
    """The first paragraphs of prose, from the article holding the headline."""
    root = page.selector.root
    for h1 in root.iter("h1"):
        article = next(h1.iterancestors("article"), None)
        if article is not None:
            root = article
        break
    parts: list[str] = []
    size = 0
    for p in root.iter("p"):
        text = " ".join("".join(p.itertext()).split())
        if len(text) < MIN_PARAGRAPH_CHARS:
            continue
        parts.append(text)
        size += len(text)
        if size >= SAMPLE_CHARS:
            break
    if size < MIN_SAMPLE_CHARS:
        # Little prose in <p>s (a video or gallery page): its descriptions speak too.
        parts += meta_values(page, "og:title", "og:description", "description")
        titles = itertools.islice(page.selector.root.iter("title"), 1)
        parts += [t.text or "" for t in titles]
    return " ".join(" ".join(parts).split())[:SAMPLE_CHARS]


def looks_english(text: str) -> bool:
    """Whether ``text`` is full of English function words.

    >>> looks_english("The minister said that the plan was ready for a vote.")
    True
    >>> looks_english("Der Minister sagte, dass der Plan fertig sei.")
    False
    """
    words = _WORD.findall(text.casefold())
    if not words:
        return False
    return sum(w in _ENGLISH_WORDS for w in words) / len(words) >= MIN_ENGLISH_SHARE


@cache
def _identifier() -> Any:
    # The model loads in ~0.5 s: only once, and only when a page needs it.
    try:
        from py3langid.langid import (  # type: ignore[import-untyped]  # noqa: PLC0415
            MODEL_FILE,
            LanguageIdentifier,
        )
    except ImportError:  # detection is optional: declared languages still work
        return None
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect(text: str) -> str | None:
    """The language of ``text`` when detection is sure of it, else ``None``."""
    identifier = _identifier()
    if identifier is None or len(text) < MIN_SAMPLE_CHARS:
        return None
    lang, confidence = identifier.classify(text)
    return language_tag(lang) if confidence >= MIN_CONFIDENCE else None


def choose_language(page: PageContext) -> str | None:
    declared = _declared(page)
    if declared and declared[0] != "en":
        return declared[0]
    sample = text_sample(page)
    if declared and looks_english(sample):
        return "en"
    # Nothing declared, or English declared over text that does not read as
    # English (English is the default of many CMSs, often left unchanged).
    return detect(sample) or (declared[0] if declared else None)


def candidates_language(page: PageContext) -> list[str]:
    lang = choose_language(page)
    if lang is None:
        return []
    data = page.structured
    layers = [
        page.selector.root.get("lang"),
        *meta_values(page, "language", "content-language", "dc.language"),
        *data.ld("language"),
        *meta_values(page, "og:locale"),
    ]
    first = next((t for t in (language_tag(v) for v in layers) if t), None)
    if first == lang:
        # The structured layer that follows gives this very value: let it, so
        # that provenance names the declaration rather than this heuristic.
        return []
    return [lang]
