"""Unit tests of the cleaning processors (dates, URLs, bylines, text)."""

from __future__ import annotations

import pytest

from newscrawl.names import split_byline
from newscrawl.processors import (
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


@pytest.mark.parametrize(
    ("raw", "languages", "expected"),
    [
        # Euronews metas: space before the offset.
        ("2026-01-06 14:02:09 +01:00", None, "2026-01-06T14:02:09+01:00"),
        ("2024-04-30 16:17:29 +02:00", None, "2024-04-30T16:17:29+02:00"),
        # ISO variants.
        ("2024-04-30T16:38:37Z", None, "2024-04-30T16:38:37+00:00"),
        ("2024-04-30T16:38:37.123+0530", None, "2024-04-30T16:38:37+05:30"),
        ("2024-04-30T16:38:37-04:00", None, "2024-04-30T16:38:37-04:00"),
        ("2024-04-30T16:38", None, "2024-04-30T16:38:00"),
        # No offset given: stays naive, never a guessed zone.
        ("2024-04-30 16:17:29", None, "2024-04-30T16:17:29"),
        # Date only stays a date.
        ("2024-04-30", None, "2024-04-30"),
        # Euronews visible date line, day first, with zone.
        ("06/01/2026 - 13:55 GMT+1", None, "2026-01-06T13:55:00+01:00"),
        ("06/01/2026 - 14:02 MEZ", None, "2026-01-06T14:02:00+01:00"),
        ("06/01/2026 - 14:16 UTC+1", None, "2026-01-06T14:16:00+01:00"),
        ("30/04/2024 - 16:17", None, "2024-04-30T16:17:00"),
        # Natural language in several languages (dateparser).
        ("30 avril 2024 à 16h00", ["fr"], "2024-04-30T16:00:00"),
        ("30. April 2024, 16:17 Uhr", ["de"], "2024-04-30T16:17:00"),
        ("30 de abril de 2024", ["es"], "2024-04-30"),
        ("April 30, 2024 4:38 PM", ["en"], "2024-04-30T16:38:00"),
        ("30 апреля 2024", ["ru"], "2024-04-30"),
    ],
)
def test_parse_datetime(raw, languages, expected):
    assert parse_datetime(raw, languages) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        None,
        "soon",
        "2024-13-45",
        "2024-02-30 10:00:00 +01:00",
        "99/99/2024",
        "2024-04-30 25:61:00",
        "2024-04-30T10:00:00+25:00",
        "x" * 500,
    ],
)
def test_unparseable_dates_are_none(raw):
    assert parse_datetime(raw) is None


def test_clean_text_collapses_nbsp_and_zero_width():
    assert clean_text("Von\u00a0 Diana\u200b  Muster\n") == "Von Diana Muster"


@pytest.mark.parametrize(
    "text", ["ADVERTISEMENT", "Werbung", "Share this article", "Comments"]
)
def test_boilerplate_strings_are_dropped(text):
    assert drop_boilerplate(text) is None


def test_tracking_parameters_removed_keeps_real_query():
    assert (
        strip_tracking("https://x.org/a?utm_source=nl&utm_medium=email&p=2&fbclid=1#c")
        == "https://x.org/a?p=2"
    )


def test_absolute_url_resolves_relative_and_rejects_other_schemes():
    base = "https://de.euronews.com/2026/01/06/x"
    assert absolute_url("/profile/3270", base) == "https://de.euronews.com/profile/3270"
    assert absolute_url("mailto:a@b.c", base) is None
    assert absolute_url("  ", base) is None


def test_url_key_equates_scheme_slash_and_tracking():
    assert url_key("http://www.euronews.com/a/?utm_campaign=x") == url_key(
        "https://www.euronews.com/a"
    )
    assert url_key("https://www.euronews.com/a?p=2") != url_key(
        "https://www.euronews.com/a"
    )


@pytest.mark.parametrize(
    ("byline", "names"),
    [
        ("By Euronews with Agencies", ["Euronews"]),
        ("Von Diana Muster mit AP", ["Diana Muster"]),
        ("Par Jeanne Exemple avec AFP", ["Jeanne Exemple"]),
        ("By Jane Doe and John Roe", ["Jane Doe", "John Roe"]),
        ("Jane Doe, John Roe | Reuters", ["Jane Doe", "John Roe", "Reuters"]),
        ("Jane Doe", ["Jane Doe"]),
        # Name particles are not byline words.
        ("Luigi Di Maio", ["Luigi Di Maio"]),
        ("Da Silva", ["Da Silva"]),
        # Not names: e-mail, date, placeholder, photo credit, profile URL.
        ("Jane Doe, jane.doe@example.org", ["Jane Doe"]),
        ("Jane Doe | 12.05.2024", ["Jane Doe"]),
        ("Staff", []),
        ("Foto: Jane Doe", []),
        ("https://example.org/authors/jane-doe", []),
        ("", []),
    ],
)
def test_split_byline(byline, names):
    assert split_byline(byline) == names


def test_language_tag():
    assert language_tag("el-GR") == "el"
    assert language_tag("FA") == "fa"
    assert language_tag("") is None
    assert language_tag("12") is None


def test_widest_src_and_word_count():
    assert widest_src("a.jpg 384w, b.jpg 1920w") == "b.jpg"
    assert widest_src("only.jpg") == "only.jpg"
    assert word_count("L'Europe a besoin d'un réseau") == 7
