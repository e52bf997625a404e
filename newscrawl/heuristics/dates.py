"""Generic publication and modification dates: metadata first, then the page."""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Any

from newscrawl.processors import parse_datetime

if TYPE_CHECKING:
    from parsel import Selector

    from newscrawl.heuristics import PageContext

#: The heuristic weighs every source itself (a UTC JSON-LD value against the page's
#: own offset, a date-only value against a timed one); the structured layers follow
#: for pages where it finds nothing.
ORDER_PUBLISHED = ("generic", "json-ld", "opengraph", "meta")
ORDER_MODIFIED = ORDER_PUBLISHED

#: ``<meta>`` names and properties, most trusted first. Several CMSs write the
#: OpenGraph names with ``:`` or ``.`` for ``_``.
PUBLISHED_META = (
    "article:published_time",
    "article:published:time",
    "article.published",
    "og:published_time",
    "published_time",
    "datePublished",
    "date.available",
    "pubdate",
    "publishdate",
    "publish-date",
    "publish_date",
    "parsely-pub-date",
    "sailthru.date",
    "dcterms.issued",
    "dcterms.created",
    "DC.date.issued",
    "dc.date.issued",
    "dc.date",
    "DC.date",
    "dcterms.date",
    "date",
    "article_date_original",
    "cXenseParse:recs:publishtime",
    "citation_publication_date",
)
MODIFIED_META = (
    "article:modified_time",
    "article:modified:time",
    "article.updated",
    "og:updated_time",
    "dateModified",
    "dcterms.modified",
    "last-modified",
    "lastmod",
)
#: schema.org types besides articles whose ``datePublished`` is the page's own:
#: a fact check, a review, a video page.
OTHER_WORK_TYPES = frozenset(
    {"ClaimReview", "Review", "CreativeWork", "VideoObject", "WebPage", "ItemPage"}
)
#: Dates outside these years are placeholders ("0001-01-01") or typos.
MIN_YEAR = 1995
_MONTH_WORD = r"[^\W\d_]{3,}\.?"
#: A date in visible text: numeric (day first, as everywhere dots are used), ISO,
#: or with a month name (left to dateparser); an optional time follows.
_VISIBLE_DATE = re.compile(
    r"(?<!\d)(?:"
    r"(?P<dmy>\d{1,2}\.\s?\d{1,2}\.\s?(?:\d{4}|\d{2}(?!\d)))"
    r"|(?P<slash>\d{1,2}/\d{1,2}/\d{4})"
    r"|(?P<iso>\d{4}-\d{2}-\d{2})"
    rf"|(?P<named>\d{{1,2}}\.?\s+{_MONTH_WORD}\s+\d{{4}}|{_MONTH_WORD}\s+\d{{1,2}},?\s+\d{{4}})"
    r")(?:\D{0,12}?(?P<time>\d{1,2}[:h.]\d{2})(?!\d)(?:\s*(?P<ampm>[AaPp]\.?[Mm]\.?))?)?"
)
_URL_DATE = re.compile(r"/((?:19|20)\d{2})[/-](\d{1,2})(?:[/-](\d{1,2}))?(?=/|$|[-_])")
#: Text nodes that are not the article's own dateline.
_NOT_DATELINE = (
    "ancestor::script or ancestor::style or ancestor::noscript or ancestor::a"
    " or ancestor::nav or ancestor::footer or ancestor::aside or ancestor::figure"
    " or ancestor::figcaption or ancestor::select or ancestor::option"
    " or ancestor::*[contains(@class, 'caption') or contains(@class, 'teaser')"
    " or contains(@class, 'related')]"
)
#: A short text whose date opens it is a dateline ("Updated: 25.04.2024 14:07");
#: a date deep in a sentence is a caption or body text.
MAX_DATE_START = 25
#: A dateline labelled as an update does not give the publication time.
_UPDATE_LABEL = re.compile(
    r"updat|aktualisier|geändert|mis à jour|actualis|actualiz|aggiorn|atualiz"
    r"|bijgewerkt|güncelle|oppdater|uppdater|opdater|päivit",
    re.IGNORECASE,
)
#: Only the first date-bearing text nodes of the article can be its dateline.
MAX_VISIBLE_NODES = 12
MAX_DATELINE_CHARS = 120


def meta_values(page: PageContext, *names: str) -> list[str]:
    """``content`` of the ``<meta>`` tags with one of ``names``, in that order."""
    return page.meta_values(*names)


def _iso(value: Any, languages: list[str] | None = None) -> str | None:
    if not isinstance(value, str):
        return None
    parsed = parse_datetime(value, languages)
    if parsed is None or not MIN_YEAR <= int(parsed[:4]) <= dt.date.today().year + 1:
        return None
    return parsed


def _types(node: dict[str, Any]) -> set[str]:
    value = node.get("@type", ())
    values = [value] if isinstance(value, str) else value
    return (
        {str(t).rsplit("/", 1)[-1] for t in values}
        if isinstance(values, list)
        else set()
    )


def _ld_values(page: PageContext, keys: tuple[str, ...]) -> list[str]:
    data = page.structured
    values = [data.article.get(k) for k in keys] if data.article else []
    if not data.article:
        for node in data.json_ld_nodes:
            if _types(node) & OTHER_WORK_TYPES:
                values.extend(node.get(k) for k in keys)
    return [v for v in values if isinstance(v, str)]


def _time_elements(sel: Selector, prop: str) -> list[str]:
    """``datetime`` of the page's ``<time>`` elements, the marked-up ones first."""
    marked: list[str] = []
    first: list[str] = []
    for node in sel.root.iter("time"):
        attrs = node.attrib
        if "datetime" not in attrs:
            continue
        if attrs.get("itemprop") == prop or (
            prop == "datePublished" and "pubdate" in attrs
        ):
            marked.append(attrs["datetime"])
        elif prop == "datePublished" and not first and node.tag == "time":
            first.append(attrs["datetime"])
    return marked + first


def _url_date(url: str) -> tuple[int, int, int | None] | None:
    m = _URL_DATE.search(url)
    if not m:
        return None
    year, month = int(m.group(1)), int(m.group(2))
    day = int(m.group(3)) if m.group(3) else None
    if not 1 <= month <= 12 or (day is not None and not 1 <= day <= 31):
        return None
    return year, month, day


def _agrees(iso: str, url_date: tuple[int, int, int | None] | None) -> bool:
    if url_date is None:
        return True
    year, month, day = url_date
    return (int(iso[:4]), int(iso[5:7])) == (year, month) and (
        day is None or int(iso[8:10]) == day
    )


def _visible_date(text: str, languages: list[str] | None) -> str | None:
    """The first date (and its time, if printed next to it) in a dateline."""
    m = _VISIBLE_DATE.search(text)
    if m is None or m.start() > MAX_DATE_START:
        return None
    if m.group("dmy"):
        d, mo, y = (int(x) for x in re.split(r"\.\s?", m.group("dmy")))
        if y < 100:
            y += 2000
        try:
            day = dt.date(y, mo, d)
        except ValueError:
            return None
        date = day.isoformat()
    elif m.group("slash"):
        a, b, y = (int(x) for x in m.group("slash").split("/"))
        # Day and month order differ by country: only an unambiguous one is read.
        if (a > 12) == (b > 12):
            return None
        d, mo = (a, b) if a > 12 else (b, a)
        try:
            date = dt.date(y, mo, d).isoformat()
        except ValueError:
            return None
    elif m.group("iso"):
        date = _iso(m.group("iso")) or ""
    else:
        date = (_iso(m.group("named"), languages) or "")[:10]
    if not date or _iso(date) is None:
        return None
    clock = m.group("time")
    if not clock:
        return date
    hours, minutes = (int(x) for x in re.split(r"[:h.]", clock))
    if m.group("ampm"):
        pm = m.group("ampm")[0] in "pP"
        if not 1 <= hours <= 12:
            return date
        hours = hours % 12 + (12 if pm else 0)
    if hours > 23 or minutes > 59:
        return date
    return f"{date}T{hours:02d}:{minutes:02d}:00"


def _dateline(page: PageContext, languages: list[str] | None) -> str | None:
    """The date printed in the article's dateline, if the page shows one."""
    sel = page.selector
    # The article holding the headline (a page may hold many teaser articles).
    regions = (
        sel.xpath("(//h1)[1]/ancestor::article[1]")
        or sel.xpath("//main")
        or sel.xpath("//body")
    )
    if not regions:
        return None
    texts = (
        regions[0].xpath(f".//text()[not({_NOT_DATELINE})][re:test(., '\\d')]").getall()
    )
    for raw in texts[:MAX_VISIBLE_NODES]:
        text = " ".join(raw.split())
        if len(text) > MAX_DATELINE_CHARS:
            continue
        found = _visible_date(text, languages)
        if found:
            return None if _UPDATE_LABEL.search(text) else found
    return None


def _languages(page: PageContext) -> list[str] | None:
    lang = page.selector.xpath("/html/@lang").get()
    if not lang:
        return None
    primary = re.split(r"[-_]", lang.strip().lower(), maxsplit=1)[0]
    return [primary] if re.fullmatch(r"[a-z]{2}", primary) else None


def _instant(iso: str) -> dt.datetime | None:
    try:
        value = dt.datetime.fromisoformat(iso)
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def refine(chosen: str, others: list[str]) -> str:
    """Complete ``chosen`` with what other sources say of the same moment.

    A date-only value takes the time of another source on the same day; a naive
    time takes the offset of another source with the same wall-clock time; a UTC
    value takes the page's local offset where another source gives the same instant
    in it. Nothing is taken from a source that disagrees.

    >>> refine("2024-04-25", ["2024-04-24T22:00:00", "2024-04-25T09:30:00+02:00"])
    '2024-04-25T09:30:00+02:00'
    >>> refine("2024-04-25T07:30:00+00:00", ["2024-04-25T09:30:00+02:00"])
    '2024-04-25T09:30:00+02:00'
    >>> refine("2024-04-25T09:30:00", ["2024-04-25T09:30:00+02:00"])
    '2024-04-25T09:30:00+02:00'
    >>> refine("2024-04-25T09:30:00+02:00", ["2024-04-25T11:00:00+02:00"])
    '2024-04-25T09:30:00+02:00'
    """
    if "T" not in chosen:
        timed = [o for o in others if o[:10] == chosen and "T" in o]
        if not timed:
            return chosen
        return next((o for o in timed if _instant(o)), timed[0])
    instant = _instant(chosen)
    if instant is None:
        for other in others:
            if other[:19] == chosen[:19] and _instant(other):
                return other
        return chosen
    if instant.utcoffset() == dt.timedelta(0):
        for other in others:
            local = _instant(other)
            if local and local == instant and local.utcoffset() != dt.timedelta(0):
                return other
    return chosen


#: The names ``StructuredData.og`` and ``.plain_meta`` read, per field.
_LAYER_META = {
    "published": (
        ("article:published_time",),
        (
            *("pubdate", "publishdate", "date", "dc.date", "DC.date.issued"),
            *("datePublished", "sailthru.date"),
        ),
    ),
    "modified": (
        ("article:modified_time", "og:updated_time"),
        ("dateModified", "last-modified", "lastmod"),
    ),
}


def _structured_first(page: PageContext, field: str) -> str | None:
    """What the JSON-LD, OpenGraph and ``<meta>`` layers would give on their own."""
    og, plain = _LAYER_META[field]
    for values in (
        page.structured.ld(field),
        meta_values(page, *og),
        meta_values(page, *plain),
    ):
        for value in values:
            parsed = parse_datetime(value)
            if parsed:
                return parsed
    return None


def _has_headline(page: PageContext) -> bool:
    return bool(
        next(page.selector.root.iter("h1"), None) is not None
        or page.structured.ld("title")
        or meta_values(page, "og:title")
    )


def _choose(page: PageContext, field: str) -> list[str]:
    languages = _languages(page)
    meta_names: tuple[str, ...]
    if field == "published":
        ld_keys: tuple[str, ...] = ("datePublished", "dateCreated")
        meta_names, prop = PUBLISHED_META, "datePublished"
    else:
        ld_keys, meta_names, prop = ("dateModified",), MODIFIED_META, "dateModified"
    raw = [
        *_ld_values(page, ld_keys),
        *meta_values(page, *meta_names),
        *_time_elements(page.selector, prop),
    ]
    parsed = [p for p in (_iso(v, languages) for v in raw) if p]
    url_date = _url_date(page.url)
    # A date the page states but we cannot read is not replaced by a guess.
    if not raw and field == "published":
        line = _dateline(page, languages)
        if line and _agrees(line, url_date):
            parsed = [line]
        elif url_date and url_date[2] is not None and _has_headline(page):
            # An empty or error page at an article URL is not that article.
            try:
                day = dt.date(*url_date).isoformat()  # type: ignore[arg-type]
            except ValueError:
                return []
            # The years of every other source: "/1900/01/01/" is a placeholder.
            parsed = [p for p in (_iso(day),) if p]
    if not parsed:
        return []
    chosen = refine(parsed[0], parsed[1:])
    if chosen == _structured_first(page, field):
        # The structured layer that follows gives this very value: let it, so that
        # provenance names the source rather than this heuristic.
        return []
    return [chosen]


def candidates_published(page: PageContext) -> list[str]:
    return _choose(page, "published")


def candidates_modified(page: PageContext) -> list[str]:
    return _choose(page, "modified")
