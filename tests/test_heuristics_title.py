"""Generic headline and language heuristics on pages without site rules."""

from __future__ import annotations

import functools

from newscrawl.extract import extract

from .htmlpages import html_page, ld, meta

URL = "https://www.dailyplanet.example/world/2024/05/01/rain-in-oslo"


page = functools.partial(html_page, url=URL)


def test_site_name_suffix_stripped_from_title_and_og():
    item = extract(
        page(
            "<title>Rain floods Oslo streets | The Daily Planet</title>"
            + meta("og:title", "Rain floods Oslo streets - Daily Planet")
            + meta("og:site_name", "The Daily Planet"),
        )
    )
    assert item.title == "Rain floods Oslo streets"


def test_site_name_from_host_and_trailing_date_stripped():
    item = extract(
        page("<title>Rain floods Oslo streets – DAILYPLANET – 01.05.2024</title>")
    )
    assert item.title == "Rain floods Oslo streets"


def test_h1_and_og_agreeing_outvote_a_different_title_tag():
    item = extract(
        page(
            "<title>Oslo weather: what you need to know</title>"
            + meta("og:title", "Rain floods Oslo streets"),
            "<h1>Rain floods Oslo streets</h1>",
        )
    )
    assert item.title == "Rain floods Oslo streets"


def test_json_ld_headline_wins_against_a_lone_social_title():
    item = extract(
        page(
            ld(headline="Rain floods Oslo streets, city closes schools")
            + meta("og:title", "Oslo under water"),
            "<h1>Rain floods Oslo streets, city closes schools</h1>",
        )
    )
    assert item.title == "Rain floods Oslo streets, city closes schools"
    assert item.provenance["title"] == "json-ld"


def test_html_escaped_json_ld_headline_is_unescaped_and_matched():
    item = extract(
        page(
            ld(headline="Caf&eacute; owners &amp; rain - Daily Planet"),
            "<h1>Café owners &amp; rain</h1>",
        )
    )
    assert item.title == "Café owners & rain"


def test_menu_h1_skipped_for_the_one_metadata_confirms():
    item = extract(
        page(
            meta("og:title", "Rain floods Oslo streets"),
            "<h1>Log in</h1><article><h1>Rain floods Oslo streets</h1></article>",
        )
    )
    assert item.title == "Rain floods Oslo streets"


def test_kicker_inside_h1_is_not_part_of_the_headline():
    item = extract(
        page(
            meta("og:title", "Weather: Rain floods Oslo streets"),
            '<h1><span class="headline__kicker">Weather</span>'
            "<span>Rain floods Oslo streets</span></h1>",
        )
    )
    assert item.title == "Rain floods Oslo streets"


def test_truncated_json_ld_headline_loses_to_the_full_one():
    item = extract(
        page(
            ld(headline="Rain floods Oslo streets as the city…")
            + meta("og:title", "Rain floods Oslo streets as the city closes schools"),
            "<h1>Rain floods Oslo streets as the city closes schools</h1>",
        )
    )
    assert item.title == "Rain floods Oslo streets as the city closes schools"


def test_declared_language_kept():
    item = extract(page(body="<p>" + "Regen in Oslo. " * 20 + "</p>", lang="de-CH"))
    assert item.language == "de"


def test_language_detected_when_none_declared():
    text = (
        "Der Regen hat am Mittwoch mehrere Straßen in Oslo überflutet. Die Stadt"
        " schloss die Schulen, und die Feuerwehr war die ganze Nacht im Einsatz."
    )
    item = extract(page(body=f"<h1>Regen in Oslo</h1><p>{text}</p>", lang=None))
    assert item.language == "de"
    assert item.provenance["language"] == "generic"


def test_default_english_declaration_overruled_by_the_text():
    text = (
        "La pluie a inondé mercredi plusieurs rues d'Oslo. La ville a fermé les"
        " écoles et les pompiers sont restés mobilisés toute la nuit."
    )
    item = extract(page(body=f"<h1>Pluie à Oslo</h1><p>{text}</p>", lang="en-US"))
    assert item.language == "fr"


def test_english_declaration_confirmed_by_english_text():
    text = (
        "The rain flooded several streets of Oslo on Wednesday, and the city"
        " closed its schools while firefighters worked through the night."
    )
    item = extract(page(body=f"<p>{text}</p>", lang="en-US"))
    assert item.language == "en"
    assert item.provenance["language"] == "meta"


def test_too_little_text_gives_no_language_rather_than_a_guess():
    item = extract(page(body="<h1>Oslo</h1><p>Rain.</p>", lang=None))
    assert item.language is None
