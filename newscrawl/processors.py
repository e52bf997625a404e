"""Cleaning functions used as itemloaders input/output processors.

Each function takes one raw value (a string pulled out of a page) and returns the
cleaned value, or ``None`` to drop it; ``MapCompose`` chains them. They never raise on
bad input: an unparseable date is ``None``, never a guessed one.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import re
import unicodedata
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

_SPACE = re.compile(r"\s+")
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))
#: Control characters that are not whitespace (NUL, ESC, C1 codes) and lone
#: surrogates (from JSON ``\ud800`` escapes): never text, and unwritable as UTF-8.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\ud800-\udfff]")

#: Strings that are page furniture, never article content (ad labels, share widgets).
BOILERPLATE = frozenset(
    s.casefold()
    for s in (
        "ADVERTISEMENT",
        "Advertisement",
        "WERBUNG",
        "PUBLICITÉ",
        "PUBBLICITÀ",
        "PUBLICIDAD",
        "PUBLICIDADE",
        "REKLAMA",
        "РЕКЛАМА",
        "REKLAM",
        "ΔΙΑΦΗΜΙΣΗ",
        "HIRDETÉS",
        "Share this article",
        "Share",
        "Comments",
        "Close Button",
        "Copy to clipboard",
        "Copied",
        "Copy/paste the article video embed link below:",
        "Copy/paste the link below:",
    )
)

#: Query parameters that only track a click and never change the page.
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "mc_cid",
        "mc_eid",
        "igshid",
        "yclid",
        "_ga",
        "_gl",
        "ocid",
        "cmpid",
        "xtor",
        "ito",
        "ns_mchannel",
        "ns_source",
        "ns_campaign",
        "ns_linkname",
        "ns_fee",
        "at_medium",
        "at_campaign",
        "sr_share",
        "smid",
        "ref_src",
    }
)
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_")
#: What browsers drop from a URL (ASCII tab and newline), and lone surrogates.
_URL_DROP = re.compile(r"[\t\n\r\ud800-\udfff]")
#: Control characters, which a URL only holds percent-encoded.
_URL_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def clean_text(value: Any) -> str | None:
    r"""Collapse all whitespace (incl. no-break spaces), drop zero-width and controls.

    >>> clean_text("  Hello\u00a0 \n world\u200b\x00 ")
    'Hello world'
    >>> clean_text("   ") is None
    True
    """
    if value is None:
        return None
    # Normalised after the drop: a mark behind a zero-width space composes only then.
    text = _CONTROL.sub("", str(value).translate(_ZERO_WIDTH))
    text = unicodedata.normalize("NFC", text)
    text = _SPACE.sub(" ", text).strip()
    return text or None


def drop_boilerplate(value: str | None) -> str | None:
    """Return ``None`` for strings that are known page furniture.

    >>> drop_boilerplate("ADVERTISEMENT") is None
    True
    >>> drop_boilerplate("Share this article") is None
    True
    >>> drop_boilerplate("The minister shared the plan.")
    'The minister shared the plan.'
    """
    if value is None or value.casefold() in BOILERPLATE:
        return None
    return value


def strip_tracking(url: str) -> str:
    """Remove tracking query parameters and the fragment from an absolute URL.

    >>> strip_tracking("https://x.com/a?utm_source=nl&id=3&fbclid=z#top")
    'https://x.com/a?id=3'
    >>> strip_tracking("https://x.com/a?utm_medium=email")
    'https://x.com/a'
    """
    parts = urlsplit(url)
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k.lower() not in TRACKING_PARAMS
        and not k.lower().startswith(TRACKING_PREFIXES)
    ]
    return urlunsplit(
        (parts.scheme, parts.netloc.lower(), parts.path or "/", urlencode(query), "")
    )


def absolute_url(value: str | None, base: str) -> str | None:
    r"""Resolve ``value`` against ``base``; keep only http(s) URLs, tracking removed.

    >>> absolute_url("/2026/01/06/x?utm_source=a", "https://www.euronews.com/")
    'https://www.euronews.com/2026/01/06/x'
    >>> absolute_url("javascript:void(0)", "https://a.com/") is None
    True
    >>> absolute_url("http://[::1/a", "https://a.com/") is None
    True
    >>> absolute_url("/a\x01b\n/c", "https://a.com/")
    'https://a.com/a%01b/c'
    """
    if not value:
        return None
    value = _URL_DROP.sub("", value).strip()
    if not value:
        return None
    try:
        url = urljoin(base, value)
        if urlsplit(url).scheme not in ("http", "https"):
            return None
        url = strip_tracking(url)
    except ValueError:
        # urllib rejects a broken IPv6 host ("http://[") or an NFKC-unsafe netloc.
        return None
    return _URL_CONTROL.sub(lambda m: quote(m.group()), url)


def url_key(url: str) -> str:
    """Key under which two URLs of the same page compare equal (scheme-less).

    >>> url_key("http://WWW.example.com/a/?utm_source=x") == url_key(
    ...     "https://www.example.com/a")
    True
    """
    parts = urlsplit(strip_tracking(url))
    return f"{parts.netloc}{parts.path.rstrip('/') or '/'}?{parts.query}"


_ISO = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:[T ](?P<time>\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)"
    r"\s*(?P<tz>Z|[+-]\d{2}:?\d{2}|[+-]\d{2}|(?:UTC|GMT)(?:[+-]\d{1,2}(?::?\d{2})?)?)?)?$",
    re.IGNORECASE,
)
_NUMERIC_DMY = re.compile(
    r"(?P<d>\d{1,2})[./](?P<m>\d{1,2})[./](?P<y>\d{4})"
    r"(?:\D{1,6}?(?P<H>\d{1,2})[:h](?P<M>\d{2}))?"
    r"(?:\s*(?P<tz>(?:UTC|GMT)\s*[+-]\d{1,2}(?::?\d{2})?|[A-Z]{3,4}))?"
)
#: ISO 8601 basic format (``20240430``, ``20240430T1617Z``), as some ``<meta>`` give.
_ISO_BASIC = re.compile(
    r"^(?P<y>(?:19|20)\d{2})(?P<m>\d{2})(?P<d>\d{2})"
    r"(?:T(?P<H>\d{2})(?P<M>\d{2})(?:\d{2})?(?P<tz>Z|[+-]\d{4})?)?$"
)
#: RFC 2822, as feeds and HTTP give it ("Mon, 18 Nov 2019 16:07:38 -0600"): read
#: here, since dateparser knows only the offsets of its zone table (not "+1345").
_RFC_2822 = re.compile(
    r"^(?:[A-Za-z]{3},\s*)?\d{1,2}\s+[A-Za-z]{3}\s+\d{4}\s+\d{1,2}:\d{2}(?::\d{2})?"
    r"\s+(?P<tz>[+-]\d{4})$"
)
#: An explicit zone after a time in free text ("07:09 GMT", "16:07:38 -0600",
#: "05:44:06 GMT+0000 (UTC)"): the page's own offset, kept on the parsed value.
_TRAILING_ZONE = re.compile(
    r"\d{1,2}:\d{2}(?::\d{2})?(?:\s*[AaPp]\.?[Mm]\.?)?\s*"
    r"(?P<tz>(?:UTC|GMT)\s*[+-]\d{1,2}(?::?\d{2})?|[+-]\d{2}:?\d{2}|Z|[A-Z]{3,4})"
    r"(?:\s*\([^)]*\))?\s*$"
)
#: Zone abbreviations the European editions print after a time (summer and winter).
_ZONE_ABBREVIATIONS = {
    "UTC": 0,
    "GMT": 0,
    "WET": 0,
    "WEST": 60,
    "BST": 60,
    "CET": 60,
    "MEZ": 60,
    "CEST": 120,
    "MESZ": 120,
    "EET": 120,
    "EEST": 180,
    "MSK": 180,
}


def _offset(tz: str | None) -> dt.timezone | None:
    if not tz:
        return None
    tz = tz.upper().replace(" ", "")
    if tz == "Z":
        return dt.UTC
    if tz in _ZONE_ABBREVIATIONS:
        return dt.timezone(dt.timedelta(minutes=_ZONE_ABBREVIATIONS[tz]))
    m = re.fullmatch(r"(?:UTC|GMT)?([+-])(\d{1,2}):?(\d{2})?", tz)
    if not m:
        return None
    minutes = int(m.group(2)) * 60 + int(m.group(3) or 0)
    if minutes > 14 * 60:
        return None
    return dt.timezone(dt.timedelta(minutes=-minutes if m.group(1) == "-" else minutes))


def _format(value: dt.datetime) -> str:
    return value.isoformat(timespec="seconds")


def parse_datetime(value: Any, languages: list[str] | None = None) -> str | None:
    """Normalise a date string to ISO 8601, keeping the page's UTC offset.

    A date without a time stays a date; a time without an offset stays naive
    (never a guessed zone). Unparseable input gives ``None``.

    >>> parse_datetime("2026-01-06 14:02:09 +01:00")
    '2026-01-06T14:02:09+01:00'
    >>> parse_datetime("2024-04-30T16:38:37Z")
    '2024-04-30T16:38:37+00:00'
    >>> parse_datetime("2024-04-30")
    '2024-04-30'
    >>> parse_datetime("2024-04-30 16:17:29")
    '2024-04-30T16:17:29'
    >>> parse_datetime("06/01/2026 - 13:55 GMT+1")
    '2026-01-06T13:55:00+01:00'
    >>> parse_datetime("30 avril 2024 à 16h00", ["fr"])
    '2024-04-30T16:00:00'
    >>> parse_datetime("Mon, 18 Nov 2019 16:07:38 -0600")
    '2019-11-18T16:07:38-06:00'
    >>> parse_datetime("20191119")
    '2019-11-19'
    >>> parse_datetime("next blue moon") is None
    True
    >>> parse_datetime("2 hours ago") is None
    True
    """
    text = clean_text(value)
    if not text or len(text) > 200:
        return None
    parsed = (
        _parse_iso(text)
        or _parse_iso_basic(text)
        or _parse_rfc_2822(text)
        or _parse_numeric_dmy(text)
    )
    if parsed is not None:
        return parsed
    return _parse_natural(text, languages)


def _parse_iso(text: str) -> str | None:
    m = _ISO.match(text)
    if not m:
        return None
    try:
        day = dt.date.fromisoformat(m.group("date"))
    except ValueError:
        return None
    if not m.group("time"):
        return day.isoformat()
    hms = m.group("time").replace(",", ".").split(":")
    try:
        clock = dt.time(
            int(hms[0]), int(hms[1]), int(float(hms[2])) if len(hms) > 2 else 0
        )
    except ValueError:
        return None
    tz = m.group("tz")
    offset = _offset(tz)
    if tz and offset is None:
        return None
    return _format(dt.datetime.combine(day, clock, tzinfo=offset))


def _parse_iso_basic(text: str) -> str | None:
    m = _ISO_BASIC.match(text)
    if not m:
        return None
    try:
        day = dt.date(int(m.group("y")), int(m.group("m")), int(m.group("d")))
        if m.group("H") is None:
            return day.isoformat()
        clock = dt.time(int(m.group("H")), int(m.group("M")))
    except ValueError:
        return None
    offset = _offset(m.group("tz"))
    if m.group("tz") and offset is None:
        return None
    return _format(dt.datetime.combine(day, clock, tzinfo=offset))


def _parse_rfc_2822(text: str) -> str | None:
    m = _RFC_2822.match(text)
    offset = _offset(m.group("tz")) if m else None
    if offset is None:
        return None
    try:
        value = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    # The offset as _offset reads it: "-0000" is UTC here, as in the other formats.
    return _format(value.replace(tzinfo=offset))


def _parse_numeric_dmy(text: str) -> str | None:
    m = _NUMERIC_DMY.search(text)
    if not m:
        return None
    try:
        day = dt.date(int(m.group("y")), int(m.group("m")), int(m.group("d")))
    except ValueError:
        return None
    if m.group("H") is None:
        return day.isoformat()
    try:
        clock = dt.time(int(m.group("H")), int(m.group("M")))
    except ValueError:
        return None
    return _format(dt.datetime.combine(day, clock, tzinfo=_offset(m.group("tz"))))


def _parse_natural(text: str, languages: list[str] | None) -> str | None:
    # dateparser is slow to import and to run; only free text reaches it.
    import dateparser  # noqa: PLC0415

    settings: Any = {
        # Absolute dates only: "now" or "2 hours ago" would be read against today.
        "PARSERS": ["absolute-time"],
        "RETURN_AS_TIMEZONE_AWARE": False,
        "PREFER_DAY_OF_MONTH": "first",
        "REQUIRE_PARTS": ["day", "month", "year"],
        "PREFER_DATES_FROM": "past",
        "DATE_ORDER": "DMY",
    }
    try:
        result = dateparser.parse(text, languages=languages, settings=settings)
    except (ValueError, OverflowError, TypeError):
        return None
    if result is None:
        return None
    has_time = bool(re.search(r"\d{1,2}\s*[:hH]\s*\d{2}", text))
    if not has_time:
        return result.date().isoformat()
    # dateparser gives the wall-clock time of a stated zone; attach that zone's
    # offset when we know it exactly (never one it guessed from an ambiguous name).
    zone = _TRAILING_ZONE.search(text)
    offset = _offset(zone.group("tz")) if zone else None
    return _format(result.replace(microsecond=0, tzinfo=offset))


def language_tag(value: Any) -> str | None:
    """Return the primary BCP 47 subtag, lower case (``en-GB`` -> ``en``).

    >>> language_tag("en-GB")
    'en'
    >>> language_tag("fr_FR")
    'fr'
    >>> language_tag("x-default") is None
    True
    """
    text = clean_text(value)
    if not text:
        return None
    primary = re.split(r"[-_]", text, maxsplit=1)[0].lower()
    if not re.fullmatch(r"[a-z]{2,3}", primary):
        return None
    return primary


_WORD = re.compile(r"\w+")
_WIDTH = re.compile(r"[0-9]+\.?[0-9]*|\.[0-9]+")


def word_count(text: str | None) -> int:
    r"""Count words as ``\w+`` runs (the benchmark's tokenizer).

    >>> word_count("Hello, brave new world!")
    4
    """
    return len(_WORD.findall(text or ""))


def widest_src(srcset: str | None) -> str | None:
    """Pick the URL of the widest candidate in an ``srcset`` attribute.

    >>> widest_src("a.jpg 320w, b.jpg 1920w, c.jpg 1024w")
    'b.jpg'
    >>> widest_src("") is None
    True
    """
    best: tuple[float, str] | None = None
    for candidate in (srcset or "").split(","):
        bits = candidate.split()
        if not bits:
            continue
        width = 0.0
        # ASCII digits only: str.isdigit() also takes "²", which float() rejects.
        if len(bits) > 1 and _WIDTH.fullmatch(bits[1][:-1]):
            width = float(bits[1][:-1])
        if best is None or width > best[0]:
            best = (width, bits[0])
    return best[1] if best else None
