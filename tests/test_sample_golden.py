"""The bundled sample pages changed on purpose: what the golden cases cannot show.

The sample pages as they are, field by field, are golden cases under
``tests/golden/euronews/`` (``tests/test_golden.py``). Pages take the crawl's own
path (:func:`newscrawl.page.process_page`: charset, repairs, extraction).
"""

from __future__ import annotations

from newscrawl.page import process_page
from newscrawl.sampleserver import SAMPLE_SITE

BASE = "http://127.0.0.1:8000"
EN_A = "/2026/01/06/eu-ministers-agree-emergency-fund-for-flood-damaged-heritage-sites"


def test_unparseable_date_is_null_and_says_so():
    html = (SAMPLE_SITE / f"{EN_A.lstrip('/')}.html").read_text("utf-8")
    for value in ("2026-01-06 09:15:00 +01:00", "2026-01-06 11:40:00 +01:00"):
        html = html.replace(value, "sometime last winter")
    html = html.replace("06/01/2026 - 09:15", "sometime")
    page = process_page(
        html.encode(),
        url=BASE + EN_A,
        site="euronews",
        fetched_at="2026-12-01T00:00:00+00:00",
    )
    assert page.item is not None
    assert page.item.published is None
    assert page.item.provenance["published"] == "unparseable"
