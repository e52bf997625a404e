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
    text = _PREFIX_RE.sub("", text)
    text = _WITH_RE.sub("", text)
    names = (clean_text(part) for part in _AUTHOR_SPLIT.split(text))
    return [n.strip(" .,:;•-–—") for n in names if n and n.strip(" .,:;•-–—")]
