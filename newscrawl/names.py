"""Author names: splitting and cleaning bylines ("By A and B with AP")."""

from __future__ import annotations

import re
from typing import Any

from newscrawl.processors import clean_text

#: Words that open a byline ("By Jane Doe") in the languages we crawl.
BYLINE_PREFIXES = (
    "by",
    "von",
    "par",
    "por",
    "przez",
    "автор",
    "от",
    "από",
    "yazan",
    "írta",
    "توسط",
    "بقلم",
)
#: Words that join an agency or extra source to the byline ("with AP").
BYLINE_WITH = (
    "with",
    "mit",
    "avec",
    "con",
    "com",
    "z",
    "ze",
    "с",
    "με",
    "ile",
    "és",
    "با",
    "مع",
)
_PREFIX_RE = re.compile(
    r"^(?:" + "|".join(map(re.escape, BYLINE_PREFIXES)) + r")[\s:]+",
    re.IGNORECASE,
)
_WITH_RE = re.compile(
    r"\s+(?:" + "|".join(map(re.escape, BYLINE_WITH)) + r")\s+.*$", re.IGNORECASE
)
_AUTHOR_SPLIT = re.compile(
    r"\s*(?:,|;|\||/|&|\band\b|\bund\b|\bet\b|\bve\b|\bκαι\b|\bи\b)\s*",
    re.IGNORECASE,
)
#: A credit for pictures, not for the text ("Foto: X", "© X").
_IMAGE_CREDIT = re.compile(
    r"^(?:fotos?|photos?|bild(?:er)?|images?|picture|grafik|illustration|video)\b"
    r"|©|\(c\)|\bcopyright\b",
    re.IGNORECASE,
)
#: CMS placeholders that stand for nobody in particular.
PLACEHOLDER_NAMES = frozenset(
    {
        "admin",
        "administrator",
        "anonymous",
        "author",
        "autor",
        "editor",
        "guest",
        "none",
        "null",
        "staff",
        "undefined",
        "unknown",
    }
)
_STRIP = " .,:;•-–—·"
MAX_NAME_WORDS = 6


def split_byline(value: Any) -> list[str]:
    """Split a byline into author names; drop the "By" word and "with AP" sources.

    >>> split_byline("By Jane Doe and John Roe")
    ['Jane Doe', 'John Roe']
    >>> split_byline("Von Diana Muster mit AP")
    ['Diana Muster']
    >>> split_byline("Jane Doe, John Roe | Reuters")
    ['Jane Doe', 'John Roe', 'Reuters']
    """
    text = clean_text(value)
    if not text:
        return []
    if "://" in text or _IMAGE_CREDIT.search(text):
        return []
    text = _PREFIX_RE.sub("", text)
    text = _WITH_RE.sub("", text)
    names = (clean_text(part) for part in _AUTHOR_SPLIT.split(text))
    return [n.strip(_STRIP) for n in names if n and plausible_name(n.strip(_STRIP))]


def starts_byline(text: str) -> bool:
    """Whether ``text`` opens with a byline word ("By Jane Doe", "Von ...").

    >>> starts_byline("By Jane Doe"), starts_byline("Byron Bay floods")
    (True, False)
    """
    return bool(_PREFIX_RE.match(text.strip()))


def plausible_name(name: str) -> bool:
    """Whether ``name`` can be an author: no e-mail, URL, date, title or placeholder.

    >>> [plausible_name(n) for n in ("Jane Doe", "jane@example.org", "12.05.2024")]
    [True, False, False]
    """
    if not name or len(name) > 80 or "@" in name or "://" in name:
        return False
    # Longer than any name: a job title or a sentence.
    if name.count(" ") >= MAX_NAME_WORDS:
        return False
    if sum(ch.isdigit() for ch in name) >= 2:
        return False
    return name.casefold() not in PLACEHOLDER_NAMES
