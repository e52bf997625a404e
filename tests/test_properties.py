"""Property-based tests of the cleaning processors, date heuristics and bylines."""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import json
import re
import unicodedata
import warnings
from urllib.parse import quote_plus, urlsplit

import pytest

hypothesis = pytest.importorskip("hypothesis")

# Hypothesis writes a patch for a failing example with libcst, whose import warns;
# under ``filterwarnings=error`` that would turn the failure into an INTERNALERROR.
with warnings.catch_warnings(), contextlib.suppress(ImportError):
    warnings.simplefilter("ignore", DeprecationWarning)
    import libcst  # noqa: F401

from hypothesis import HealthCheck, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from scrapy.http import HtmlResponse  # noqa: E402

from newscrawl.heuristics import PageContext  # noqa: E402
from newscrawl.heuristics.dates import (  # noqa: E402
    MIN_YEAR,
    candidates_modified,
    candidates_published,
    refine,
)
from newscrawl.names import plausible_name, split_byline, starts_byline  # noqa: E402
from newscrawl.processors import (  # noqa: E402
    absolute_url,
    clean_text,
    drop_boilerplate,
    language_tag,
    parse_datetime,
    strip_tracking,
    url_key,
    widest_src,
    word_count,
)
from newscrawl.structured import StructuredData  # noqa: E402

#: Deterministic and bounded: the same examples on every run, no per-example deadline.
FAST = settings(derandomize=True, deadline=None, max_examples=150)
MEDIUM = settings(derandomize=True, deadline=None, max_examples=100)
#: dateparser and the page heuristics cost milliseconds per call.
SLOW = settings(
    derandomize=True,
    deadline=None,
    max_examples=30,
    suppress_health_check=[HealthCheck.too_slow],
)

# -- strategies ---------------------------------------------------------------------

#: Characters that break naive text handling: odd whitespace, zero-width and
#: combining marks, controls, NUL, lone surrogates, RTL marks, the BOM.
AWKWARD = (
    " \t\n\r\x0b\x0c\x1c\x85\u00a0\u1680\u2000\u2028\u2029\u202f\u3000"
    "\u200b\u200c\u200d\u2060\ufeff\u0301\u0308\u0327\u200e\u200f"
    "\x00\x01\x07\x1b\x7f\x80\x9f\ud800\udfff\ufffd"
)
awkward_text = st.text(
    alphabet=st.one_of(st.characters(), st.sampled_from(AWKWARD)), max_size=60
)

# Plain text strategies, not from_regex: they generate several times faster.
_label = st.text(alphabet="abcxyzABCXYZ0129-", min_size=1, max_size=10).map(
    lambda s: s.strip("-") or "a"
)
hosts = st.builds(
    lambda labels, tld: ".".join([*labels, tld]),
    st.lists(_label, min_size=1, max_size=3),
    st.sampled_from(["com", "org", "de", "co.uk", "EXAMPLE"]),
)
_segment = st.text(
    alphabet=st.sampled_from("abcXYZ019-_.~%20éü"), min_size=0, max_size=8
)
paths = st.lists(_segment, max_size=4).map(lambda s: "/" + "/".join(s))
_param_names = st.one_of(
    st.sampled_from(
        ["id", "page", "q", "utm_source", "UTM_Medium", "fbclid", "gclid", "pk_kwd"]
    ),
    st.text(alphabet="abcdxyz_", min_size=1, max_size=6),
)
_param_values = st.text(alphabet=st.sampled_from("ab1 +%&=é/"), max_size=5)
queries = st.lists(st.tuples(_param_names, _param_values), max_size=4)
tracking = st.lists(
    st.tuples(
        st.sampled_from(
            ["utm_source", "utm_campaign", "UTM_CONTENT", "fbclid", "gclid", "xtor"]
        ),
        _param_values,
    ),
    min_size=1,
    max_size=3,
)


def _query(pairs: list[tuple[str, str]]) -> str:
    return "&".join(f"{k}={quote_plus(v)}" for k, v in pairs)


@st.composite
def web_urls(draw: st.DrawFn) -> str:
    """Absolute http(s) URLs with mixed-case hosts, queries and fragments."""
    scheme = draw(st.sampled_from(["http", "https", "HTTPS"]))
    host = draw(hosts)
    port = draw(st.sampled_from(["", ":8080"]))
    query = _query(draw(queries))
    fragment = draw(st.sampled_from(["", "#top", "#"]))
    return (
        f"{scheme}://{host}{port}{draw(paths)}{'?' + query if query else ''}{fragment}"
    )


#: Anything an ``href`` may hold: relative paths, other schemes, garbage.
hrefs = st.one_of(
    web_urls(),
    paths,
    st.builds(lambda p, q: f"{p}?{_query(q)}", paths, queries),
    st.sampled_from(
        [
            "",
            "  ",
            "#",
            "?",
            "//",
            "//cdn.example.org/x.jpg",
            "javascript:void(0)",
            "mailto:a@b.c",
            "data:image/png;base64,AAAA",
            "ftp://x.org/f",
            "http://[::1]/a",
            "http://[",
            "http://[::1",
            "https://a]b/",
            "http://ex\uff03ample.org/",
            "http://user@Host.ORG:80/",
            "..//../a",
        ]
    ),
    awkward_text,
)
bases = st.one_of(
    web_urls(),
    st.sampled_from(["", "https://www.euronews.com/", "http://[::1]:8000/a/b"]),
)

#: Aware datetimes whose offset is a whole number of minutes (as pages print them).
offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda m: dt.timezone(dt.timedelta(minutes=m))
)
aware_datetimes = st.datetimes(
    min_value=dt.datetime(1, 1, 2),
    max_value=dt.datetime(9999, 12, 30),
    timezones=offsets,
)
#: RFC 2822 dates go through dateparser, which handles the usual range only.
rfc_datetimes = st.datetimes(
    min_value=dt.datetime(1970, 1, 1),
    max_value=dt.datetime(2100, 1, 1),
    timezones=offsets,
)


def _has_no_bad_characters(text: str) -> bool:
    return not any(unicodedata.category(ch) in ("Cc", "Cs") for ch in text)


# -- clean_text and drop_boilerplate ------------------------------------------------


@FAST
@given(awkward_text)
# A combining mark behind a zero-width space composed only on a second pass.
@example("e\u200b\u0301")
# Controls and lone surrogates were kept.
@example("a\x00b\x07c")
@example("x\ud800y")
def test_clean_text_is_idempotent_and_trimmed(raw: str) -> None:
    cleaned = clean_text(raw)
    if cleaned is None:
        return
    assert cleaned
    assert cleaned == cleaned.strip()
    assert "  " not in cleaned
    assert not re.search(r"[^\S ]", cleaned), "only plain spaces remain"
    assert _has_no_bad_characters(cleaned)
    assert unicodedata.is_normalized("NFC", cleaned)
    assert clean_text(cleaned) == cleaned


@FAST
@given(st.one_of(st.none(), st.integers(), st.floats(), awkward_text))
def test_clean_text_takes_any_value(raw: object) -> None:
    cleaned = clean_text(raw)
    assert cleaned is None or isinstance(cleaned, str)


@FAST
@given(st.one_of(st.none(), awkward_text, st.sampled_from(["Share", "ADVERTISEMENT"])))
def test_drop_boilerplate_keeps_or_drops_the_value_unchanged(raw: str | None) -> None:
    kept = drop_boilerplate(raw)
    assert kept is None or kept is raw
    assert drop_boilerplate(kept) == kept


# -- URLs ---------------------------------------------------------------------------


@FAST
@given(web_urls())
def test_strip_tracking_is_idempotent(url: str) -> None:
    once = strip_tracking(url)
    assert strip_tracking(once) == once
    assert "#" not in once
    assert not re.search(r"[?&](utm_|fbclid|gclid)", once, re.IGNORECASE)


@FAST
@given(hrefs, bases)
# urljoin raised ValueError on a broken IPv6 host or an NFKC-unsafe netloc.
@example("http://[", "https://a.org/")
@example("/a", "http://[::1")
@example("http://ex\uff03ample.org/", "https://a.org/")
# Controls and lone surrogates went into the URL raw.
@example("/\x01fr/2024/05/01/x\ud800", "https://a.org/")
def test_absolute_url_never_raises_and_gives_http_urls(href: str, base: str) -> None:
    url = absolute_url(href, base)
    if url is None:
        return
    assert urlsplit(url).scheme in ("http", "https")
    assert not re.search(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]", url)
    assert "#" not in url
    # What absolute_url gives is already clean, and stays the same page.
    assert strip_tracking(url) == url
    assert absolute_url(url, base) == url


@FAST
@given(
    st.sampled_from(["http", "https"]),
    hosts,
    paths,
    queries,
    tracking,
    st.booleans(),
)
def test_url_key_ignores_scheme_tracking_and_trailing_slash(
    scheme: str,
    host: str,
    path: str,
    pairs: list[tuple[str, str]],
    noise: list[tuple[str, str]],
    slash: bool,
) -> None:
    plain = f"https://{host}{path}" + (f"?{_query(pairs)}" if pairs else "")
    noisy_path = path.rstrip("/") + "/" if slash else path
    noisy = f"{scheme}://{host.upper()}{noisy_path}?{_query([*noise, *pairs])}#frag"
    key = url_key(plain)
    assert url_key(noisy) == key
    assert url_key(strip_tracking(plain)) == key
    # A key names the page: its host and path are in it, never the scheme.
    assert key.startswith(host.lower())
    assert "://" not in key


@FAST
@given(hrefs)
def test_url_key_never_raises_on_urls_a_page_gives(href: str) -> None:
    url = absolute_url(href, "https://www.example.org/news/")
    if url is not None:
        # A key read back as a URL is its own key.
        assert url_key(f"https://{url_key(url)}") == url_key(url)


@FAST
@given(st.one_of(st.none(), awkward_text, st.text(alphabet="ab.jpg ,0123456789.wx²")))
# str.isdigit() takes "²", float() does not: widest_src raised ValueError.
@example("a.jpg \u00b2w")
@example("a.jpg 1.5.w, b.jpg 3w")
def test_widest_src_gives_one_of_the_candidates(srcset: str | None) -> None:
    best = widest_src(srcset)
    if best is None:
        assert not (srcset or "").replace(",", " ").split()
        return
    urls = [c.split()[0] for c in (srcset or "").split(",") if c.split()]
    assert best in urls


@FAST
@given(st.lists(st.tuples(st.sampled_from("abcdef"), st.integers(0, 5000)), max_size=5))
def test_widest_src_picks_the_widest(candidates: list[tuple[str, int]]) -> None:
    srcset = ", ".join(f"{name}.jpg {width}w" for name, width in candidates)
    best = widest_src(srcset)
    if not candidates:
        assert best is None
        return
    widest = max(width for _, width in candidates)
    assert best == next(f"{n}.jpg" for n, w in candidates if w == widest)


# -- language and words -------------------------------------------------------------


@FAST
@given(
    st.one_of(
        awkward_text,
        st.builds(
            "{}{}{}".format,
            st.text(alphabet="abcdefENFRZ", min_size=1, max_size=4),
            st.sampled_from(["", "-", "_"]),
            st.text(alphabet="abGBUS0419", max_size=8),
        ),
    )
)
@example("\u212aa")  # KELVIN SIGN lower-cases to an ASCII "k"
def test_language_tag_is_a_lower_case_primary_subtag(raw: str) -> None:
    tag = language_tag(raw)
    if tag is not None:
        assert re.fullmatch(r"[a-z]{2,3}", tag)
        assert language_tag(tag) == tag


@FAST
@given(st.one_of(st.none(), awkward_text), awkward_text)
def test_word_count_counts_runs_of_word_characters(a: str | None, b: str) -> None:
    assert word_count(a) >= 0
    assert word_count(None) == word_count("") == 0
    assert word_count(f"{a or ''} {b}") == word_count(a) + word_count(b)


# -- parse_datetime -----------------------------------------------------------------


def _assert_iso(value: str) -> None:
    """A date, a naive local time or an aware time: each one ``fromisoformat`` reads."""
    if "T" in value:
        parsed = dt.datetime.fromisoformat(value)
        assert parsed.microsecond == 0
        assert value == parsed.isoformat(timespec="seconds")
    else:
        assert dt.date.fromisoformat(value).isoformat() == value


@SLOW
@given(
    st.one_of(awkward_text, st.text(alphabet="0123456789-:+ TZ./GMTUC", max_size=30))
)
@example("2024-02-30")
@example("2024-04-30T24:00:00Z")
@example("2024-04-30T10:00:60+02:00")
@example("0000-01-01")
@example("30.04.2024 25:61")
@example("31/02/2024 - 10:00 GMT+99")
@example("Mon, 18 Nov 2019 16:07:38 +9999")
@example("1.1.0001 00:00 UTC-23:59")
def test_parse_datetime_never_raises_and_gives_iso(raw: str) -> None:
    parsed = parse_datetime(raw)
    if parsed is not None:
        _assert_iso(parsed)


@MEDIUM
@given(aware_datetimes, st.sampled_from(["T", " "]), st.booleans())
def test_parse_datetime_round_trips_iso(
    value: dt.datetime, sep: str, fraction: bool
) -> None:
    text = value.isoformat(sep=sep, timespec="microseconds" if fraction else "seconds")
    expected = value.replace(microsecond=0).isoformat(timespec="seconds")
    assert parse_datetime(text) == expected
    if value.utcoffset() == dt.timedelta(0):
        assert parse_datetime(text.replace("+00:00", "Z")) == expected


@MEDIUM
@given(aware_datetimes.map(lambda d: d.replace(microsecond=0)))
def test_parse_datetime_round_trips_euronews_and_basic_formats(
    value: dt.datetime,
) -> None:
    expected = value.isoformat(timespec="seconds")
    offset = value.strftime("%z")
    # Euronews metas: "2026-01-06 14:02:09 +01:00".
    day, clock = value.date().isoformat(), value.time().isoformat()
    euronews = f"{day} {clock} {offset[:3]}:{offset[3:]}"
    assert parse_datetime(euronews) == expected
    if 1900 <= value.year < 2100:
        basic = f"{day.replace('-', '')}T{clock[:5].replace(':', '')}{offset}"
        assert parse_datetime(basic) == value.replace(second=0).isoformat()


@SLOW
@given(rfc_datetimes.map(lambda d: d.replace(microsecond=0)))
# dateparser alone knew no "+1345" (Chatham Islands summer time), nor "+0001".
@example(
    dt.datetime(2019, 11, 18, 16, 7, 38, tzinfo=dt.timezone(dt.timedelta(minutes=825)))
)
@example(dt.datetime(2000, 1, 1, tzinfo=dt.timezone(dt.timedelta(minutes=1))))
def test_parse_datetime_round_trips_rfc_2822(value: dt.datetime) -> None:
    assert parse_datetime(email.utils.format_datetime(value)) == value.isoformat()


# -- date heuristics ----------------------------------------------------------------

#: Date-ish strings a page may hold, readable or not.
date_texts = st.one_of(
    aware_datetimes.map(lambda d: d.isoformat()),
    st.dates(min_value=dt.date(1, 1, 1)).map(lambda d: d.isoformat()),
    st.from_regex(
        r"\d{1,2}[./]\d{1,2}[./]\d{2,4}( \d{1,2}[:h.]\d{2}( ?[AP]M)?)?", fullmatch=True
    ),
    st.from_regex(r"\d{1,2}\. [A-Za-zä]{3,9} \d{4}", fullmatch=True),
    st.text(alphabet="0123456789-:.T /+Z", max_size=25),
    awkward_text,
)


@st.composite
def dated_pages(draw: st.DrawFn) -> HtmlResponse:
    """A page with dates in JSON-LD, metas, ``<time>`` and the visible dateline."""
    lang = draw(st.sampled_from(["en", "de", "fr", "x", ""]))
    ld = {"@type": draw(st.sampled_from(["NewsArticle", "WebPage", "Thing"]))}
    for key in draw(st.sets(st.sampled_from(["datePublished", "dateModified"]))):
        ld[key] = draw(st.one_of(date_texts, st.integers(), st.none()))
    metas = "".join(
        f'<meta property="{name}" content="{draw(date_texts)}">'
        for name in draw(
            st.lists(
                st.sampled_from(
                    ["article:published_time", "date", "dateModified", "lastmod"]
                ),
                max_size=3,
            )
        )
    )
    times = "".join(
        f'<time datetime="{draw(date_texts)}"{attrs}>x</time>'
        for attrs in draw(
            st.lists(
                st.sampled_from(["", " pubdate", ' itemprop="dateModified"']),
                max_size=2,
            )
        )
    )
    dateline = draw(date_texts)
    headline = draw(st.sampled_from(["<h1>Rain in Oslo</h1>", ""]))
    html = (
        f'<html lang="{lang}"><head>'
        f'<script type="application/ld+json">{json.dumps(ld)}</script>{metas}'
        f"</head><body><article>{headline}<p>{dateline}</p>{times}</article></body>"
        "</html>"
    )
    path = draw(
        st.sampled_from(
            ["/world/rain", "/2024/05/01/rain", "/2024/02/31/rain", "/1900/01/01/rain"]
        )
    )
    return HtmlResponse(
        f"https://www.dailyplanet.example{path}",
        body=html.encode("utf-8", "surrogatepass"),
        encoding="utf-8",
    )


@SLOW
@given(dated_pages())
# A date from the URL alone skipped the year rule: "/1900/01/01/" gave 1900-01-01.
@example(
    HtmlResponse(
        "https://www.dailyplanet.example/1900/01/01/rain",
        body=b"<html><body><article><h1>Rain</h1><p>x</p></article></body></html>",
        encoding="utf-8",
    )
)
def test_date_candidates_never_raise_and_are_iso(response: HtmlResponse) -> None:
    page = PageContext(response, StructuredData(response.selector))
    for found in (candidates_published(page), candidates_modified(page)):
        assert len(found) <= 1
        for value in found:
            _assert_iso(value)
            assert MIN_YEAR <= int(value[:4]) <= dt.date.today().year + 1


iso_values = st.one_of(
    aware_datetimes.map(lambda d: d.isoformat(timespec="seconds")),
    st.datetimes().map(lambda d: d.isoformat(timespec="seconds")),
    st.dates().map(dt.date.isoformat),
)


@FAST
@given(iso_values, st.lists(iso_values, max_size=4))
def test_refine_gives_one_of_its_inputs_for_the_same_day(
    chosen: str, others: list[str]
) -> None:
    refined = refine(chosen, others)
    assert refined in [chosen, *others]
    assert refined[:10] == chosen[:10] or "T" in chosen
    _assert_iso(refined)


# -- bylines ------------------------------------------------------------------------

bylines = st.one_of(
    awkward_text,
    st.builds(
        lambda prefix, names, sep, tail: prefix + sep.join(names) + tail,
        st.sampled_from(["", "By ", "von ", "PAR: ", "Foto: ", "by"]),
        st.lists(
            st.one_of(
                st.sampled_from(["Jane Doe", "admin", "J. R. R.", "x@y.org", "  "]),
                awkward_text,
            ),
            max_size=4,
        ),
        st.sampled_from([", ", " and ", " | ", "/", " & ", ";", " - "]),
        st.sampled_from(["", " with AP", " mit dpa", ", Reuters", " •"]),
    ),
)


@FAST
@given(st.one_of(st.none(), st.integers(), bylines))
def test_split_byline_gives_clean_plausible_names(raw: object) -> None:
    names = split_byline(raw)
    assert isinstance(names, list)
    for name in names:
        assert name
        assert name == name.strip()
        assert name == clean_text(name)
        assert plausible_name(name)
        assert not re.search(r"[,;|/&]", name)


@FAST
@given(awkward_text)
def test_starts_byline_and_plausible_name_never_raise(text: str) -> None:
    assert starts_byline(text) in (True, False)
    assert plausible_name(text) in (True, False)
