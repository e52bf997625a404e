"""Golden tests on the real Euronews pages of ``../shared/corpus`` (read at run time).

The pages are never copied into the repository; without the corpus these tests skip.
Truth values are the corpus's reference (Fundus's reviewed parser expectations).
Pages take the crawl's own path (:func:`newscrawl.page.process_page`).
"""

from __future__ import annotations

import sys
import unicodedata
from pathlib import Path

import pytest

from newscrawl.page import process_page
from newscrawl.schema import validation_errors
from newscrawl.sites.euronews import strip_copyright

from .conftest import CORPUS, corpus_html, corpus_pages, requires_corpus

PAGES = corpus_pages("Euronews")
pytestmark = requires_corpus


def _score_module():
    sys.path.insert(0, str(CORPUS.parent / "scripts"))
    try:
        import score
    finally:
        sys.path.pop(0)
    return score


@pytest.fixture(scope="module")
def items():
    out = {}
    for page in PAGES:
        result = process_page(
            corpus_html(page), url=page["url"], fetched_at=page["crawl_date"]
        )
        assert result.item is not None
        out[page["id"]] = result.item.to_dict()
    return out


def _norm(text):
    return " ".join(unicodedata.normalize("NFKC", text or "").split()).casefold()


def test_corpus_has_the_seven_euronews_pages():
    assert len(PAGES) == 7, [p["id"] for p in PAGES]


@pytest.mark.parametrize("page", PAGES, ids=[p["id"] for p in PAGES])
@pytest.mark.parametrize("field", ["title", "authors", "published", "tags", "language"])
def test_field_equals_truth(items, page, field):
    assert items[page["id"]][field] == page[field]


@pytest.mark.parametrize("page", PAGES, ids=[p["id"] for p in PAGES])
def test_summary_equals_lead(items, page):
    assert _norm(items[page["id"]]["summary"]) == _norm(page["lead"])


@pytest.mark.parametrize("page", PAGES, ids=[p["id"] for p in PAGES])
def test_body_f1(items, page):
    score = _score_module()
    tp, fp, fn = score.body_counts(page["body"], items[page["id"]]["body"])
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    f1 = 2 * precision * recall / (precision + recall)
    assert f1 >= 0.98, f"body F1 {f1:.3f} (P {precision:.3f} R {recall:.3f})"


@pytest.mark.parametrize("page", PAGES, ids=[p["id"] for p in PAGES])
def test_body_leaves_out_boilerplate(items, page):
    body = items[page["id"]]["body"]
    for furniture in (
        "ADVERTISEMENT",
        "WERBUNG",
        "Share this article",
        "Close Button",
        "Copy/paste the article video embed link",
        "You might also like",
    ):
        assert furniture not in body


IMAGE_PAGES = [p for p in PAGES if p.get("images")]


@pytest.mark.parametrize("page", IMAGE_PAGES, ids=[p["id"] for p in IMAGE_PAGES])
def test_images_caption_and_credit(items, page):
    got = items[page["id"]]["images"]
    truth = page["images"]
    assert [i["url"] for i in got] == [t["url"] for t in truth]
    for image, ref in zip(got, truth, strict=True):
        # The reference keeps the text shown as the picture's description.
        caption = ref.get("caption") or ref.get("description")
        if caption:
            assert _norm(image["caption"]) == _norm(caption)
        if ref.get("authors"):
            # The reference splits the credit line into names and keeps the
            # localised "Tous droits réservés" label; we keep the whole line, minus
            # that label.
            expected = strip_copyright(ref["authors"][0])
            assert _norm(image["credit"]).startswith(_norm(expected))


@pytest.mark.parametrize("page", PAGES, ids=[p["id"] for p in PAGES])
def test_item_is_valid_against_schema(items, page):
    assert validation_errors(items[page["id"]]) == []


@pytest.mark.parametrize("page", PAGES, ids=[p["id"] for p in PAGES])
def test_layout_version_matches_page_date(items, page):
    expected = "euronews:V1" if page["crawl_date"] < "2025-11-24" else "euronews:V1_1"
    assert items[page["id"]]["provenance"]["title"] == expected


def test_corpus_location_is_outside_the_repo():
    repo = Path(__file__).resolve().parent.parent
    assert not CORPUS.resolve().is_relative_to(repo)
