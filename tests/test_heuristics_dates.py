"""Generic publication dates on pages without site rules."""

from __future__ import annotations

import functools

import pytest

from newscrawl.extract import extract
from newscrawl.processors import parse_datetime

from .htmlpages import html_page, ld, meta

URL = "https://www.dailyplanet.example/world/rain-in-oslo"


page = functools.partial(html_page, url=URL)


def test_json_ld_date_wins_over_meta_and_time():
    item = extract(
        page(
            ld(datePublished="2024-05-01T09:30:00+02:00")
            + meta("article:published_time", "2024-04-30T08:00:00+02:00"),
            '<article><time datetime="2024-04-29T10:00:00+02:00">x</time></article>',
        )
    )
    assert item.published == "2024-05-01T09:30:00+02:00"
    assert item.provenance["published"] == "json-ld"


def test_utc_value_takes_the_pages_own_offset_for_the_same_instant():
    item = extract(
        page(
            ld(datePublished="2024-05-01T07:30:00Z"),
            '<article><time datetime="2024-05-01T09:30:00+02:00">9:30</time></article>',
        )
    )
    assert item.published == "2024-05-01T09:30:00+02:00"


def test_date_only_value_completed_by_a_time_on_the_same_day():
    item = extract(
        page(
            ld(datePublished="2024-05-01"),
            meta("article:published_time", "2024-05-01T09:30:00+02:00"),
        )
    )
    assert item.published == "2024-05-01T09:30:00+02:00"


def test_a_time_from_another_day_is_not_borrowed():
    item = extract(
        page(
            ld(datePublished="2024-05-01")
            + meta("article:published_time", "2024-04-30T09:30:00+02:00")
        )
    )
    assert item.published == "2024-05-01"


def test_colon_variant_of_the_opengraph_name():
    item = extract(page(meta("article:published:time", "2024-05-01T09:30:00+00:00")))
    assert item.published == "2024-05-01T09:30:00+00:00"


def test_placeholder_date_ignored():
    item = extract(
        page(
            meta("article:published_time", "0001-01-01T00:00:00Z")
            + meta("pubdate", "2024-05-01T09:30:00-05:00")
        )
    )
    assert item.published == "2024-05-01T09:30:00-05:00"


def test_fact_check_page_dated_by_its_claim_review():
    item = extract(page(ld("ClaimReview", datePublished="2024-05-01 15:44")))
    assert item.published == "2024-05-01T15:44:00"


def test_visible_dateline_with_time_and_no_offset_invented():
    item = extract(
        page(
            body="<h1>Rain in Oslo</h1><div><span>Updated never</span></div>"
            "<p>Mi 01.05.24 | 09:30 Uhr | Von A. Writer</p><p>Rain fell.</p>"
        )
    )
    assert item.published == "2024-05-01T09:30:00"


def test_caption_date_is_not_the_dateline():
    item = extract(
        page(
            body="<h1>Rain in Oslo</h1><p>Firefighters pump water out of a cellar"
            " in the old town, 28. April 2024</p><p>Rain fell again.</p>"
        )
    )
    assert item.published is None


def test_updated_dateline_is_not_the_publication_date():
    item = extract(page(body="<h1>Rain</h1><p>Updated: 02.05.2024 10:00</p>"))
    assert item.published is None


def test_dateline_contradicting_the_url_date_gives_the_url_date():
    item = extract(
        page(
            body="<h1>Rain</h1><p>03.05.2024</p>",
            url="https://www.dailyplanet.example/2024/05/01/rain",
        )
    )
    assert item.published == "2024-05-01"


def test_ambiguous_slash_date_in_text_left_out():
    item = extract(page(body="<h1>Rain</h1><p>05/04/2024</p>"))
    assert item.published is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Mon, 18 Nov 2019 16:07:38 -0600", "2019-11-18T16:07:38-06:00"),
        ("Tue Nov 19 2019 05:44:06 GMT+0000 (UTC)", "2019-11-19T05:44:06+00:00"),
        ("19 Nov 2019 07:09 CEST", "2019-11-19T07:09:00+02:00"),
        # An abbreviation with several meanings gives no offset, never a guessed one.
        ("19 Nov 2019 07:09 IST", "2019-11-19T07:09:00"),
        ("20191119", "2019-11-19"),
        ("20191119T1316Z", "2019-11-19T13:16:00+00:00"),
        ("Jetzt", None),
        ("3 hours ago", None),
    ],
)
def test_parse_datetime_keeps_stated_offsets_and_rejects_relative_dates(
    raw: str, expected: str | None
) -> None:
    assert parse_datetime(raw) == expected
