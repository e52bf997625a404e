"""Golden tests on the bundled sample pages (written for this repo, real markup shape).

``tests/sample_site_truth.json`` holds what the pages' author put in them; every
field is compared on its own so a failure names the field.
"""

from __future__ import annotations

import json

import pytest
from scrapy.http import HtmlResponse

from newscrawl.extract import extract
from newscrawl.items import FIELDS
from newscrawl.sampleserver import SAMPLE_SITE
from newscrawl.schema import validation_errors

from .conftest import TRUTH

BASE = "http://127.0.0.1:8000"
TRUTH_DATA = json.loads(TRUTH.read_text("utf-8"))
PATHS = [p for p in TRUTH_DATA if not p.startswith("_")]
EXPORTED = [p for p in PATHS if TRUTH_DATA[p]["should_export"]]
SIMPLE_FIELDS = [
    "title",
    "summary",
    "byline",
    "authors",
    "published",
    "modified",
    "section",
    "tags",
    "language",
    "story_id",
    "images",
]


def _extract(path: str, fetched_at: str = "2026-12-01T00:00:00+00:00") -> dict:
    body = (SAMPLE_SITE / f"{path.lstrip('/')}.html").read_bytes()
    response = HtmlResponse(url=BASE + path, body=body, encoding="utf-8")
    return extract(response, site="euronews", fetched_at=fetched_at).to_dict()


@pytest.fixture(scope="module")
def items():
    return {path: _extract(path) for path in PATHS}


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("field", SIMPLE_FIELDS)
def test_field(items, path, field):
    assert items[path][field] == TRUTH_DATA[path][field]


@pytest.mark.parametrize("path", PATHS)
def test_related_links_absolute_without_tracking_or_self(items, path):
    truth = TRUTH_DATA[path]
    own = path
    expected = [
        {"url": BASE + r["url_path"].split("?")[0], "title": r["title"]}
        for r in truth["related"]
        # A link back to the page itself (here with utm_* parameters) is not related.
        if r["url_path"].split("?")[0] != own
    ]
    assert items[path]["related"] == expected


@pytest.mark.parametrize("path", PATHS)
def test_translations(items, path):
    expected = {lang: BASE + p for lang, p in TRUTH_DATA[path]["translations"].items()}
    assert items[path]["translations"] == expected


@pytest.mark.parametrize("path", PATHS)
def test_body_is_lead_then_paragraphs(items, path):
    truth = TRUTH_DATA[path]
    parts = ([truth["summary"]] if truth["summary"] else []) + truth["body_paragraphs"]
    assert items[path]["body"] == ("\n\n".join(parts) or None)


@pytest.mark.parametrize("path", EXPORTED)
def test_exported_items_are_valid(items, path):
    item = items[path]
    assert list(item) == list(FIELDS)
    assert validation_errors(item) == []
    assert item["word_count"] > 50
    assert set(item["provenance"].values()) <= {
        "euronews:V1",
        "euronews:V1_1",
        "missing",
    }


def test_translations_share_story_id(items):
    en = items[
        "/2026/01/06/eu-ministers-agree-emergency-fund-for-flood-damaged-heritage-sites"
    ]
    fr = items[en["translations"]["fr"].removeprefix(BASE)]
    assert en["story_id"] == fr["story_id"]
    assert fr["translations"]["en"] == en["url"]


def test_page_without_body_has_no_body(items):
    (path,) = TRUTH_DATA["_site"]["dropped_article_paths"]
    assert items[path]["body"] is None
    assert items[path]["provenance"]["body"] == "missing"


def test_old_layout_served_today_uses_old_rules():
    # A 2024-layout page fetched now: the date says V1_1, the markup says V1.
    item = _extract(
        "/green/2024/04/30/danube-farmers-flood-their-own-fields-to-bring-back-lost-wetlands"
    )
    assert item["provenance"]["summary"] == "euronews:V1"


def test_title_prefix_label_removed(items):
    item = items["/2026/01/04/leurope-a-besoin-dun-vrai-reseau-ferroviaire-commun"]
    assert not item["title"].startswith("Euroviews")


def test_unparseable_date_is_null_and_says_so():
    path = PATHS[0]
    html = (SAMPLE_SITE / f"{path.lstrip('/')}.html").read_text("utf-8")
    for value in ("2026-01-06 09:15:00 +01:00", "2026-01-06 11:40:00 +01:00"):
        html = html.replace(value, "sometime last winter")
    html = html.replace("06/01/2026 - 09:15", "sometime")
    response = HtmlResponse(url=BASE + path, body=html.encode(), encoding="utf-8")
    item = extract(response, site="euronews", fetched_at="2026-12-01T00:00:00+00:00")
    assert item.published is None
    assert item.provenance["published"] == "unparseable"
