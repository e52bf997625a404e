"""Crawler-trap bounds: which discovered links lead into endless URL spaces."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Final
from urllib.parse import urlsplit

from newscrawl.recent import Recent

TRAP_URL_TOO_LONG: Final = "trap_url_too_long"
TRAP_REPEATED_SEGMENTS: Final = "trap_repeated_segments"
TRAP_TOO_DEEP: Final = "trap_too_deep"
TRAP_PAGINATION: Final = "trap_pagination"
TRAP_CALENDAR: Final = "trap_calendar"
TRAP_QUERY_PERMUTATIONS: Final = "trap_query_permutations"
TRAP_TEMPLATE: Final = "trap_template"
#: Every reason :meth:`TrapGuard.rejected` can return, in the order it tests them.
REASONS: Final = (
    TRAP_URL_TOO_LONG,
    TRAP_REPEATED_SEGMENTS,
    TRAP_TOO_DEEP,
    TRAP_PAGINATION,
    TRAP_CALENDAR,
    TRAP_QUERY_PERMUTATIONS,
    TRAP_TEMPLATE,
)
# What a remembered URL's stored number means: 0 admitted, else the reason.
_VERDICTS: Final[tuple[str | None, ...]] = (None, *REASONS)

#: Path segments under which a date means "a page of a calendar", not an article.
CALENDAR_SEGMENTS: Final = frozenset(
    {
        "calendar",
        "calendars",
        "cal",
        "kalender",
        "calendrier",
        "calendario",
        "agenda",
        "event",
        "events",
        "schedule",
        "diary",
        "archive",
        "archives",
        "archiv",
        "date",
        "day",
        "by-date",
    }
)
#: Query keys whose numeric value selects a date, a month or a year.
CALENDAR_KEYS: Final = frozenset(
    {
        "date",
        "day",
        "week",
        "month",
        "year",
        "ym",
        "yearmonth",
        "dt",
        "from",
        "to",
        "since",
        "until",
        "startdate",
        "enddate",
        "start_date",
        "end_date",
        "datefrom",
        "dateto",
        "date_from",
        "date_to",
        "fromdate",
        "todate",
    }
)
#: Query keys holding a page number. ``p`` is absent: WordPress uses it for post ids.
PAGE_KEYS: Final = frozenset(
    {"page", "pg", "paged", "pagenum", "page_num", "pageno", "pagenumber", "pn"}
)
#: Path segments followed by a page number, as in /news/page/3.
PAGE_SEGMENTS: Final = frozenset({"page", "pages", "seite", "pagina", "strona"})
#: Query keys that name one document, so each value is a page of its own.
ID_KEYS: Final = frozenset(
    {"id", "p", "aid", "nid", "story", "article", "post", "item", "doc", "news"}
)
#: Keys ending in "id" that still name a visit, not a document.
SESSION_KEYS: Final = frozenset(
    {"sid", "sessionid", "session_id", "phpsessid", "jsessionid", "cfid", "sessid"}
)

_PATH_DATE = re.compile(
    r"/([12]\d{3})([/-])(1[0-2]|0[1-9]|[1-9])(?:\2(3[01]|[12]\d|0[1-9]|[1-9]))?"
    r"(?=$|[/_.-])"
)
_PATH_YEAR = re.compile(r"/([12]\d{3})(?=/|$)")
#: A full date in the path followed by a named segment: a dated article URL.
_DATED_ARTICLE = re.compile(
    r"/[12]\d{3}/(?:1[0-2]|0?[1-9])/(?:3[01]|[12]\d|0?[1-9])/[^/?#]*[a-z][^/?#]*",
    re.IGNORECASE,
)
_COMPACT_DATE = re.compile(
    r"(?<![0-9])([12]\d{3})(1[0-2]|0[1-9])(3[01]|[12]\d|0[1-9])?(?![0-9])"
)
_VALUE_DATE = re.compile(
    r"(?<![0-9])([12]\d{3})(?:[-/.]?(1[0-2]|0[1-9]|[1-9])"
    r"(?:[-/.]?(3[01]|[12]\d|0[1-9]|[1-9]))?)?"
)
# What may follow a date for the page to still be the archive of that date.
_DATE_ARCHIVE_TAIL = re.compile(r"(?:/page/\d+|/index\.\w+)?/?")
_PAGE_SEGMENT = re.compile(r"(?:page|pages|seite|pagina|strona)[_-]?([0-9]+)")
_LONG_ID = re.compile(r"(?<![0-9])[0-9]{5,}(?![0-9])")
_HEX_ID_IN_SEGMENT = re.compile(
    r"(?<![0-9a-z])[0-9a-f]{16,}(?![0-9a-z])", re.IGNORECASE
)
_DIGIT = re.compile(r"[0-9]")
_UUID = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE
)
# Hex needs both a digit and a letter, so words ("deadbeef") and years stay apart.
_HEX_ID = re.compile(
    r"(?<![0-9a-z])(?=[0-9a-f]*[0-9])(?=[0-9a-f]*[a-f])[0-9a-f]{8,}(?![0-9a-z])",
    re.IGNORECASE,
)
_DIGITS = re.compile(r"[0-9]+")


def url_template(url: str) -> str:
    """The shape of ``url``: numbers, ids and query values replaced by placeholders.

    Digit runs become ``N``, hex and UUID ids ``H``; query keys are sorted and
    their values become ``*``. The scheme and fragment are dropped.

    >>> url_template("https://x.com/calendar/2026/12/01?view=day")
    'x.com/calendar/N/N/N?view=*'
    >>> url_template("http://X.com/item/5f3a9c2e1b7d?sort=new&b")
    'x.com/item/H?b&sort=*'
    """
    return _template(*_split(url.partition("#")[0]))[0]


def _template(host: str, path: str, query: str) -> tuple[str, bool]:
    """The template, and whether it stands for more than one URL."""
    shape, uuids = _UUID.subn("H", path or "/")
    shape, hexes = _HEX_ID.subn("H", shape)
    shape, numbers = _DIGITS.subn("N", shape)
    if not query:
        return f"{host}{shape}", bool(uuids or hexes or numbers)
    keys = sorted(
        f"{key.lower()}=*" if sep else key.lower()
        for key, sep, _ in (pair.partition("=") for pair in query.split("&") if pair)
    )
    return f"{host}{shape}?{'&'.join(keys)}", True


def _repeats(segments: list[str]) -> bool:
    """Whether a segment occurs 4+ times, or a run of segments 3+ times."""
    counts: dict[str, int] = {}
    most = 0
    for segment in segments:
        seen = counts.get(segment, 0) + 1
        if seen >= 4:
            return True
        counts[segment] = seen
        most = max(most, seen)
    # A run that occurs three times has each of its segments three times.
    if most < 3:
        return False
    size = len(segments)
    for length in range(2, size // 3 + 1):
        runs: dict[tuple[str, ...], int] = {}
        for start in range(size - length + 1):
            run = tuple(segments[start : start + length])
            seen = runs.get(run, 0) + 1
            if seen >= 3:
                return True
            runs[run] = seen
    return False


def _is_slug(segment: str) -> bool:
    """Whether ``segment`` is a headline-like slug of three or more words."""
    words = segment.split("-")
    if len(words) < 3:
        if "_" not in segment:
            return False
        words = segment.replace("_", "-").split("-")
        if len(words) < 3:
            return False
    return len(words) - words.count("") - sum(map(str.isdigit, words)) >= 3


def _has_document_id(path: str, segments: list[str], in_calendar: bool) -> bool:
    """Whether the path carries a long numeric or hex id of one document."""
    if segments and _HEX_ID_IN_SEGMENT.search(segments[-1]):
        return True
    if not _LONG_ID.search(path):
        return False
    # Digits inside a hex token belong to a session or hash, not a document id.
    for match in _LONG_ID.finditer(_HEX_ID.sub("H", path)):
        # In a calendar, 20261130 is a day, not a document.
        if not (in_calendar and _COMPACT_DATE.fullmatch(match[0])):
            return True
    return False


def _split(url: str) -> tuple[str, str, str]:
    """The lowercased host, the path and the query of a URL without fragment."""
    start = url.find("://")
    if start < 0:
        parts = urlsplit(url)
        return parts.netloc.lower(), parts.path, parts.query
    start += 3
    end = len(url)
    query = ""
    mark = url.find("?", start)
    if mark >= 0:
        query = url[mark + 1 :]
        end = mark
    slash = url.find("/", start, end)
    if slash < 0:
        return url[start:end].lower(), "", query
    return url[start:slash].lower(), url[slash:end], query


class TrapGuard:
    """Per-crawl bounds on URL spaces that never end; memory stays bounded.

    A link may be requested when :meth:`rejected` returns ``None``; otherwise the
    reason (one of :data:`REASONS`) names the trap and serves as a stats key.

    Counters are kept for URL shapes that can repeat (templates with numbers or
    query values, query variants of one path, calendar pages of one host), never
    per article: a URL with a headline slug or a long document id is exempt from
    the template and calendar budgets, since a news site has no end of those.
    All counters share one least-recently-used store of ``max_templates``
    entries. Verdicts are remembered by URL hash in another, of
    ``max_remembered``, so a link repeated on every page is counted once and
    answered by one lookup. An evicted counter starts again from zero, which
    lets a trap through one more budget at worst; a live trap is looked up
    often and so stays known.

    Memory is about ``max_templates`` short strings plus ``max_remembered``
    integers: under 10 MB at the defaults, whatever the crawl size.

    :param max_url_length: longer URLs are ``trap_url_too_long`` (default 1000).
    :param max_depth: more path segments are ``trap_too_deep`` (default 12).
    :param max_page: higher ``?page=N`` or ``/page/N`` are ``trap_pagination``
        (default 50).
    :param max_query_variants: distinct query strings per path, not counting
        page, date and document-id parameters, before ``trap_query_permutations``
        (default 20).
    :param max_calendar_pages: calendar pages per host before ``trap_calendar``
        (default 50).
    :param max_per_template: distinct URLs per template without an article slug
        or id before ``trap_template`` (default 500).
    :param min_year: calendar pages before this year are ``trap_calendar``
        (default 1990).
    :param max_future_days: calendar pages further ahead of ``today`` are
        ``trap_calendar`` (default 366).
    :param max_templates: counters kept at most (default 10,000).
    :param max_remembered: URL verdicts remembered at most (default 100,000).
    :param today: the reference date for ``max_future_days`` (default: today).

    >>> guard = TrapGuard(max_page=3)
    >>> guard.rejected("https://x.com/news/page/3") is None
    True
    >>> guard.rejected("https://x.com/news/page/4")
    'trap_pagination'
    """

    def __init__(
        self,
        *,
        max_url_length: int = 1000,
        max_depth: int = 12,
        max_page: int = 50,
        max_query_variants: int = 20,
        max_calendar_pages: int = 50,
        max_per_template: int = 500,
        min_year: int = 1990,
        max_future_days: int = 366,
        max_templates: int = 10_000,
        max_remembered: int = 100_000,
        today: date | None = None,
    ) -> None:
        self.max_url_length = max_url_length
        self.max_depth = max_depth
        self.max_page = max_page
        self.max_query_variants = max_query_variants
        self.max_calendar_pages = max_calendar_pages
        self.max_per_template = max_per_template
        self.min_year = min_year
        self.max_templates = max_templates
        self.max_remembered = max_remembered
        latest = (today or date.today()) + timedelta(days=max_future_days)
        self._latest = (latest.year, latest.month, latest.day)
        self._counts: Recent[str] = Recent(max_templates)
        self._seen: Recent[int] = Recent(max_remembered)

    @property
    def tracked_templates(self) -> int:
        """Counters currently kept (never more than ``max_templates``)."""
        return len(self._counts)

    @property
    def remembered_urls(self) -> int:
        """URLs whose verdict is remembered (never more than ``max_remembered``)."""
        return len(self._seen)

    def rejected(self, url: str) -> str | None:
        """Why ``url`` leads into a trap, or ``None``; an admitted URL is counted.

        A URL seen again gets the verdict it got before, from one lookup.
        """
        # The fragment is never sent: #a and #b are one page.
        url = url.partition("#")[0]
        if len(url) > self.max_url_length:
            return TRAP_URL_TOO_LONG
        url_key = hash(url)
        verdict = self._seen.get(url_key)
        if verdict is not None:
            return _VERDICTS[verdict]
        reason = self._judge(url, url_key)
        if reason:
            self._seen.put(url_key, _VERDICTS.index(reason))
        return reason

    def _judge(self, url: str, url_key: int) -> str | None:
        """Why ``url`` (not seen before) is a trap, or ``None`` once counted."""
        host, path, query = _split(url)
        lowered = path.lower()
        stripped = lowered.strip("/")
        segments = stripped.split("/") if stripped else []
        if "//" in stripped:
            segments = [segment for segment in segments if segment]
        if len(segments) != len(set(segments)) and _repeats(
            segments[: 2 * self.max_depth]
        ):
            return TRAP_REPEATED_SEGMENTS
        if len(segments) > self.max_depth:
            return TRAP_TOO_DEEP

        page = 0
        has_id = False
        calendar_values: list[str] = []
        residual: list[str] = []
        if query:
            for pair in query.split("&"):
                if not pair:
                    continue
                key, _, value = pair.partition("=")
                key = key.lower()
                numeric = value.isascii() and value.isdigit()
                if key in PAGE_KEYS and numeric:
                    page = max(page, int(value))
                elif (key in CALENDAR_KEYS and _DIGIT.search(value)) or (
                    # WordPress month and day archives: ?m=202611, ?m=20261130.
                    key == "m" and numeric and 6 <= len(value) <= 8
                ):
                    calendar_values.append(value)
                elif numeric and (
                    key in ID_KEYS or (key.endswith("id") and key not in SESSION_KEYS)
                ):
                    has_id = True
                else:
                    residual.append(pair)
        # Only the last segment: /page/2327/n/468 is a CMS page id, not page 2327.
        last = segments[-1] if segments else ""
        if last[-1:].isdigit():
            if last.isascii() and last.isdigit():
                if len(segments) > 1 and segments[-2] in PAGE_SEGMENTS:
                    page = max(page, int(last))
            elif match := _PAGE_SEGMENT.fullmatch(last):
                page = max(page, int(match[1]))
        if page > self.max_page:
            return TRAP_PAGINATION

        # Most navigation links have no digit: no id, date or number to vary.
        digits = _DIGIT.search(path) is not None
        in_calendar = not CALENDAR_SEGMENTS.isdisjoint(segments)
        article = (
            has_id
            or _is_slug(last)
            or (len(segments) > 1 and _is_slug(segments[-2]))
            or (digits and _has_document_id(path, segments, in_calendar))
            # /2026/01/06/copy-7: news sites publish unbounded articles per day.
            or (digits and not in_calendar and _DATED_ARTICLE.search(path) is not None)
        )
        pending: list[str] = []

        if not article and (digits or calendar_values):
            calendar, dates = self._calendar_dates(
                lowered, in_calendar, calendar_values
            )
            if calendar:
                for year, month, day in dates:
                    if year < self.min_year or (year, month, day) > self._latest:
                        return TRAP_CALENDAR
                if self._full(f"c {host}", self.max_calendar_pages):
                    return TRAP_CALENDAR
                pending.append(f"c {host}")

        variant_key = 0
        if residual:
            residual.sort()
            bucket = f"q {host}{path}"
            variant_key = hash((bucket, "&".join(residual)))
            if self._seen.get(variant_key) is not None:
                variant_key = 0
            elif self._full(bucket, self.max_query_variants):
                return TRAP_QUERY_PERMUTATIONS
            else:
                pending.append(bucket)

        if not article and (digits or query):
            template, varies = _template(host, path, query)
            if varies:
                bucket = f"t {template}"
                if self._full(bucket, self.max_per_template):
                    return TRAP_TEMPLATE
                pending.append(bucket)

        self._admit(pending, url_key, variant_key)
        return None

    def _calendar_dates(
        self, lowered: str, in_calendar: bool, calendar_values: list[str]
    ) -> tuple[bool, list[tuple[int, int, int]]]:
        """Whether this is a calendar page, and the (year, month, day) it names."""
        dates: list[tuple[int, int, int]] = []
        calendar = bool(calendar_values)
        for match in _PATH_DATE.finditer(lowered):
            dates.append((int(match[1]), int(match[3]), int(match[4] or 1)))
            # A path that ends with its date lists that day or month.
            if in_calendar or _DATE_ARCHIVE_TAIL.fullmatch(lowered, match.end()):
                calendar = True
        if in_calendar:
            for match in _COMPACT_DATE.finditer(lowered):
                dates.append((int(match[1]), int(match[2]), int(match[3] or 1)))
                calendar = True
            # A lone number is a year only if it can be one: /archives/2364 is a post.
            calendar = calendar or any(
                self.min_year <= int(match[1]) <= self._latest[0]
                for match in _PATH_YEAR.finditer(lowered)
            )
        if not calendar:
            return False, dates
        found = (_VALUE_DATE.search(value) for value in calendar_values)
        dates.extend(
            (int(m[1]), int(m[2] or 1), int(m[3] or 1)) for m in found if m is not None
        )
        return True, dates

    def _full(self, bucket: str, limit: int) -> bool:
        """Whether ``bucket`` is at ``limit``; a lookup keeps a live trap known."""
        return (self._counts.get(bucket) or 0) >= limit

    def _admit(self, buckets: list[str], url_key: int, variant_key: int) -> None:
        counts = self._counts
        for bucket in buckets:
            counts.put(bucket, (counts.get(bucket) or 0) + 1)
        seen = self._seen
        seen.put(url_key, 0)
        if variant_key:
            seen.put(variant_key, 0)
