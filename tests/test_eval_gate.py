"""Extraction quality gate on the shared corpus (trafilatura's eval_gate model).

Runs the offline extraction (the code path of ``newscrawl extract --warc``) over
``../shared/corpus/pages.warc.gz``, scores it with the corpus's own
``scripts/score.py`` and fails when any field drops below its floor in
``tests/eval_baseline.json``. Floors sit a little under the measured figures; they
are raised by hand after an improvement (re-measure with
``python benchmarks/extraction.py``), never lowered silently. The corpus's hash is
pinned too: a changed corpus makes every floor meaningless until re-measured.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

from newscrawl import offline

from .conftest import CORPUS, requires_corpus

BASELINE = Path(__file__).with_name("eval_baseline.json")
pytestmark = requires_corpus


def corpus_digest() -> str:
    return hashlib.sha256((CORPUS / "pages.jsonl").read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def scores(tmp_path_factory):
    out = tmp_path_factory.mktemp("gate") / "items.jsonl"
    summary = offline.run(offline.iter_warc(CORPUS / "pages.warc.gz"), out)
    assert summary.items > 0
    sys.path.insert(0, str(CORPUS.parent / "scripts"))
    try:
        import score
    finally:
        sys.path.pop(0)
    pages = score.read_jsonl(str(CORPUS / "pages.jsonl"))
    by_url = {item["url"]: item for item in score.read_jsonl(str(out))}
    items = {p["id"]: by_url[p["url"]] for p in pages if p["url"] in by_url}
    result = score.score(pages, items, 0)
    return {
        "body_f1": result["body"]["f1"],
        "title": result["title"]["exact"],
        "published_date": result["published"]["date"],
        "published_minute": result["published"]["minute"],
        "authors_f1": result["authors"]["f1"],
        "tags_f1": result["tags"]["f1"],
        "language": result["language"]["exact"],
        "language_coverage": result["language"]["coverage"],
    }


def test_corpus_is_the_one_the_floors_were_measured_on():
    baseline = json.loads(BASELINE.read_text("utf-8"))
    assert corpus_digest() == baseline["corpus_sha256"], (
        "../shared/corpus/pages.jsonl changed: re-measure (python "
        "benchmarks/extraction.py) and re-pin tests/eval_baseline.json"
    )


@pytest.mark.parametrize(
    "metric", sorted(json.loads(BASELINE.read_text("utf-8"))["floors"])
)
def test_metric_not_below_floor(scores, metric):
    floor = json.loads(BASELINE.read_text("utf-8"))["floors"][metric]
    assert scores[metric] >= floor, f"{metric} {scores[metric]:.4f} < floor {floor}"
