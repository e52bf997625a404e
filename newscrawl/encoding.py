"""Choosing the character encoding of a fetched page when its declarations lie."""

from __future__ import annotations

import codecs
import logging
import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Self

from charset_normalizer import from_bytes
from scrapy.http import TextResponse
from w3lib.encoding import read_bom, resolve_encoding

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

#: The legacy encoding assumed for a page that is not UTF-8 and whose declaration,
#: if any, does not read cleanly: what browsers and Scrapy fall back to.
DEFAULT_ENCODING = "cp1252"
#: Readings are judged by charset_normalizer's mess ratio (0 = clean text) and,
#: for single-byte encodings, which read any bytes as some text, its coherence
#: (the fit of the text to a language's letter frequencies: mis-decoded text
#: scored 0 to 0.4 on the test pages, text read right 0.5 to 0.8). A reading at
#: most CLEAN_MESS messy and at least TRUSTED_COHERENCE coherent is kept without
#: running detection; any reading is replaced only by detection's best guess if
#: that is MESS_MARGIN less messy, or as clean and COHERENCE_MARGIN more coherent.
CLEAN_MESS = 0.1
TRUSTED_COHERENCE = 0.5
MESS_MARGIN = 0.05
COHERENCE_MARGIN = 0.25
#: A body that is not strictly UTF-8 is still UTF-8 (with U+FFFD for the broken
#: sequences) when it has at least this many valid multi-byte characters per
#: invalid sequence. Legacy single-byte text has almost none.
UTF8_GOOD_PER_BAD = 2
#: A declared encoding that fails to decode at most this share of the non-ASCII
#: bytes (a stray byte, a truncated character) is still a candidate.
DECLARED_ERROR_SHARE = 0.05
#: Bytes of markup-free text handed to charset_normalizer, and bytes of the body
#: scanned to find them.
SAMPLE_SIZE = 64 * 1024
SCAN_SIZE = 2 * SAMPLE_SIZE
#: Bytes of a body that is not valid UTF-8 on which decoding errors are counted.
CHECK_SIZE = 1024 * 1024

_NON_ASCII = re.compile(rb"[\x80-\xff]")
_ASCII_BYTES = bytes(range(0x80))
# Markup is ASCII and says nothing about the text's encoding; scripts, styles and
# comments are dropped whole, unterminated ones to the end (as a browser would).
# "<" and ">" are below 0x40, so they are never the trail byte of a Shift_JIS,
# Big5 or GBK character: cutting there never splits a character.
_MARKUP = re.compile(
    rb"<script\b[^<]*(?:<(?!/script)[^<]*)*(?:</script[^>]*>?)?"
    rb"|<style\b[^<]*(?:<(?!/style)[^<]*)*(?:</style[^>]*>?)?"
    rb"|<!--[^-]*(?:-(?!->)[^-]*)*(?:-->)?"
    rb"|<[^>]*>?",
    re.IGNORECASE,
)
_SPACES = re.compile(rb"\s\s+")
#: Above this share of half-width katakana among the non-ASCII characters, a
#: Shift_JIS reading is taken for mojibake.
HALFWIDTH_SHARE = 0.3


def normalise(encoding: str | None) -> str | None:
    """The codec name for an encoding label as Scrapy resolves it, or ``None``.

    >>> normalise("UTF8"), normalise("latin-1"), normalise("x-sjis"), normalise("?")
    ('utf-8', 'cp1252', 'cp932', None)
    >>> normalise("euc_jis_2004")
    'euc_jis_2004'
    """
    if not encoding:
        return None
    resolved = resolve_encoding(encoding)
    if resolved is None:
        # w3lib 2.6 knows only the WHATWG labels; charset_normalizer names
        # Python codecs beyond them (euc_jis_2004, cp437...), which Scrapy reads.
        try:
            resolved = codecs.lookup(encoding).name
        except LookupError:
            return None
    return resolved


@lru_cache(maxsize=64)
def _is_single_byte(encoding: str) -> bool:
    return len(bytes(range(256)).decode(encoding, "replace")) == 256


@lru_cache(maxsize=64)
def _ascii_compatible(encoding: str) -> bool:
    return b"<html>".decode(encoding, "replace") == "<html>"


def _non_ascii_bytes(body: bytes) -> int:
    return len(body.translate(None, _ASCII_BYTES))


def _decode_errors(body: bytes, encoding: str) -> int:
    """How many sequences of ``body`` cannot be decoded in ``encoding``."""
    try:
        body.decode(encoding)
    except UnicodeDecodeError:
        pass
    else:
        return 0
    text = body.decode(encoding, "replace")
    errors = text.count("\ufffd")
    if encoding == "utf-8":  # U+FFFD written in the page itself is no error
        errors -= body.count(b"\xef\xbf\xbd")
    return errors


def _halfwidth_mojibake(data: bytes, encoding: str) -> bool:
    """Whether ``data`` read as ``encoding`` is mostly half-width katakana.

    Shift_JIS (cp932, which w3lib 2.5+ maps the label to) gives every byte from
    0xA1 to 0xDF a half-width katakana, so EUC-JP or another legacy encoding
    read as Shift_JIS decodes without an error, as a run of those; real Japanese
    text uses them rarely.

    >>> text = "日本語の記事です。政府は発表した。"
    >>> _halfwidth_mojibake(text.encode("euc_jp"), "cp932")
    True
    >>> _halfwidth_mojibake(text.encode("cp932"), "cp932")
    False
    """
    text = data.decode(encoding, "replace")
    non_ascii = sum(1 for ch in text if ord(ch) > 0x7F)
    halfwidth = sum(1 for ch in text if "\uff61" <= ch <= "\uff9f")
    return non_ascii > 0 and halfwidth > HALFWIDTH_SHARE * non_ascii


def _mostly_utf8(body: bytes, non_ascii: int) -> bool:
    """Whether ``body`` is UTF-8 but for a few errors (``non_ascii``: high bytes)."""
    text = body.decode("utf-8", "replace")
    bad = text.count("\ufffd") - body.count(b"\xef\xbf\xbd")
    non_ascii_chars = len(text) - (len(body) - non_ascii)
    good = non_ascii_chars - bad
    return good > 0 and good >= UTF8_GOOD_PER_BAD * bad


def _window(data: bytes, start: int) -> bytes:
    """At most SAMPLE_SIZE bytes of ``data`` from about ``start``, cut at spaces."""
    if start > 0:
        space = data.find(b" ", start, start + 1024)
        start = space + 1 if space >= 0 else start
    end = start + SAMPLE_SIZE
    if end < len(data):
        space = data.rfind(b" ", start, end)
        end = space if space > start else end
    return data[start:end]


def _sample(body: bytes) -> bytes:
    """A bounded piece of the page's text, non-ASCII bytes included, to detect on."""
    text = body[:SCAN_SIZE]
    if b"\x1b" not in text:  # ISO-2022 escapes would not survive stripping
        text = _SPACES.sub(b" ", _MARKUP.sub(b" ", text))
    for data in (text, body):  # the text if it has any non-ASCII, else the body
        first = _NON_ASCII.search(data)
        if first is not None:
            return _window(data, max(0, first.start() - 2048))
    return _window(body, 0)


def _codec_label(encoding: str) -> str:
    return encoding.replace("-", "_")


def _reading(sample: bytes, encoding: str) -> tuple[float, float]:
    """charset_normalizer's mess and coherence of ``sample`` read as ``encoding``.

    (1.0, 0.0) if it cannot be read at all. Bytes that ``encoding`` cannot decode
    are dropped first, so that a stray byte does not disqualify a reading that is
    otherwise clean.
    """
    try:
        sample.decode(encoding)
    except UnicodeDecodeError:
        sample = sample.decode(encoding, "ignore").encode(encoding, "ignore")
    match = from_bytes(
        sample, cp_isolation=[_codec_label(encoding)], preemptive_behaviour=False
    ).best()
    return (1.0, 0.0) if match is None else (match.chaos, match.coherence)


def choose_encoding(body: bytes, declared: str | None) -> tuple[str, str]:
    """The encoding to read ``body`` with, and a short code for why.

    ``declared`` is what the server or the page declares (the Content-Type
    charset, else the meta charset), as Scrapy resolved it. In order:

    - ``bom``: a byte order mark wins;
    - ``utf8_valid``: a body that is strictly valid UTF-8 and not all ASCII is
      UTF-8 whatever the declaration says (``declared`` if it said so);
    - ``ascii``: an all-ASCII body reads the same in any declared encoding, but
      for UTF-16/32 declared without the NUL bytes they imply;
    - ``utf8_mostly``: UTF-8 with a few broken sequences (read with U+FFFD);
    - ``declared``: the declaration (mostly) decodes the body and its reading is
      clean by charset_normalizer's measures, or none is clearly cleaner;
    - ``default``: cp1252, the web's legacy default, when the declaration fails
      that test (or is missing) and cp1252 passes it;
    - ``detected``: charset_normalizer's guess on a bounded sample of the text,
      when it reads clearly cleaner than both.

    The common case, valid UTF-8 declared as UTF-8, costs one strict decode.

    >>> choose_encoding("Grève à l\u2019usine".encode(), "cp1252")
    ('utf-8', 'utf8_valid')
    >>> choose_encoding("Grève à l\u2019usine".encode("cp1252"), "utf-8")
    ('cp1252', 'default')
    """
    bom_encoding, _ = read_bom(body)
    if bom_encoding is not None:
        return bom_encoding, "bom"
    declared = normalise(declared)
    if declared is not None and not _ascii_compatible(declared):
        # UTF-16/32 without a BOM: markup in them is full of NUL bytes.
        if b"\x00" in body[:1024] and not _decode_errors(body, declared):
            return declared, "declared"
        declared = None
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        if declared == "utf-8":
            return declared, "declared"
        if not body.isascii():
            return "utf-8", "utf8_valid"
        return (declared, "declared") if declared else ("utf-8", "ascii")
    head = body[:CHECK_SIZE]
    non_ascii = _non_ascii_bytes(head)
    if _mostly_utf8(head, non_ascii):
        return "utf-8", "utf8_mostly"

    if declared is not None and _halfwidth_mojibake(head, declared):
        declared = None  # a Shift_JIS label on another encoding's bytes
    if (
        declared is not None
        and not _is_single_byte(declared)
        and not _decode_errors(head, declared)
    ):
        # A multi-byte declaration (Shift_JIS, GBK, EUC-KR) that decodes without
        # an error is almost always right; on a short text charset_normalizer
        # confuses these with each other.
        return declared, "declared"
    # The declaration, then the legacy default, if they (mostly) decode the body.
    candidates: list[tuple[str, str]] = []
    for encoding, reason in ((declared, "declared"), (DEFAULT_ENCODING, "default")):
        if (
            encoding is not None
            and encoding not in {"utf-8", *(e for e, _ in candidates)}
            and _decode_errors(head, encoding) <= DECLARED_ERROR_SHARE * non_ascii
        ):
            candidates.append((encoding, reason))

    sample = _sample(body)
    readings: list[tuple[str, str, float, float]] = []
    for encoding, reason in candidates:
        mess, coherence = _reading(sample, encoding)
        if mess <= CLEAN_MESS and (
            coherence >= TRUSTED_COHERENCE or not _is_single_byte(encoding)
        ):
            return encoding, reason
        readings.append((encoding, reason, mess, coherence))
    best = from_bytes(sample, preemptive_behaviour=False).best()
    detected = normalise(best.encoding) if best is not None else None
    if best is None or detected is None:
        if readings:
            encoding, reason, *_ = min(readings, key=lambda reading: reading[2])
            return encoding, reason
        return declared or DEFAULT_ENCODING, "declared" if declared else "default"
    for encoding, reason, mess, coherence in readings:
        beaten = best.chaos + MESS_MARGIN < mess or (
            _is_single_byte(encoding)
            and best.chaos <= mess
            and best.coherence >= coherence + COHERENCE_MARGIN
        )
        if encoding == detected or not beaten:
            return encoding, reason
    return detected, "detected"


def _with_encoding(response: TextResponse, encoding: str) -> TextResponse:
    """``response.replace(encoding=encoding)``, without what replace() costs.

    ``replace()`` evaluates every attribute it copies, ``encoding`` included,
    even when given a new one: on an undeclared body Scrapy would run its own
    detection (charset_normalizer over the whole body) only to throw it away.
    """
    kwargs: dict[str, Any] = {
        name: getattr(response, name)
        for name in response.attributes
        if name != "encoding"
    }
    return type(response)(encoding=encoding, **kwargs)


class CharsetMiddleware:
    """Downloader middleware: re-decides the encoding of text responses.

    Enable it between decompression (590) and the meta-refresh middleware (580),
    which reads the text::

        DOWNLOADER_MIDDLEWARES = {"newscrawl.encoding.CharsetMiddleware": 585}

    A response whose declared encoding holds (see :func:`choose_encoding`) is
    returned as it is, and so is an undeclared one that is ASCII or valid UTF-8,
    which Scrapy's own fallback reads right. Otherwise the response is replaced by
    a copy with the encoding pinned, counted under ``newscrawl/charset/<reason>``
    and logged at DEBUG. That includes every undeclared body that is not UTF-8:
    Scrapy would guess it by running charset_normalizer over the whole body, so
    the bounded guess is pinned even where Scrapy would have guessed the same.
    Responses that are not text, empty ones, and text responses whose encoding
    code set explicitly, are left alone.
    """

    def __init__(self, stats: StatsCollector | None = None) -> None:
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler.stats)

    def process_response(self, request: Request, response: Response) -> Response:
        if not isinstance(response, TextResponse):
            return response
        settled, reason = settle_encoding(response)
        if reason is not None and self.stats is not None:
            self.stats.inc_value(f"newscrawl/charset/{reason}")
        return settled


def settle_encoding(response: TextResponse) -> tuple[TextResponse, str | None]:
    """``response`` pinned to the encoding :func:`choose_encoding` picks, and why.

    The reason is ``None`` when the response comes back as it was: its encoding
    set explicitly, an empty body, a declaration that holds, or an undeclared body
    that is ASCII or valid UTF-8 (Scrapy's own fallback reads those the same way;
    anything else it would send to charset_normalizer, whole body). The
    :class:`CharsetMiddleware` of a crawl and :func:`newscrawl.page.process_page`
    decide with this one rule.
    """
    if response._encoding is not None or not response.body:
        return response, None
    declared = response._declared_encoding()
    encoding, reason = choose_encoding(response.body, declared)
    if declared is None:
        if reason in {"ascii", "utf8_valid"}:
            return response, None
    elif normalise(declared) == encoding:
        return response, None
    logger.debug(
        "Charset of %s: %s instead of %s (%s)",
        response.url,
        encoding,
        declared or "undeclared",
        reason,
    )
    return _with_encoding(response, encoding), reason
