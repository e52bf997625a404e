"""Golden cases: each folder of tests/golden/ is a page, its fetch facts and authored truth."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from newscrawl.extract import DEFAULT_ORDER
from newscrawl.items import FIELDS
from newscrawl.page import PageResult, process_page
from newscrawl.schema import validation_errors
from newscrawl.sites import REGISTRY

GOLDEN = Path(__file__).with_name("golden")
FILES = ("meta.json", "expected.json")
ROOT = GOLDEN.parent.parent
GENERIC = "generic"
#: Layers that fill a field when no site profile is used.
GENERIC_LAYERS = frozenset(DEFAULT_ORDER) - {"site"}
#: ``key:version`` of every registered profile version (a case may also say ``generic``).
PARSERS = frozenset(
    {version.name() for versions in REGISTRY.values() for version in versions}
)
META_REQUIRED = {"url", "fetched_at", "site", "parser"}
#: ``page``: the page, a file of the repository's own sample sites (else the
#: case's ``page.html``); ``empty``: fields expected empty; ``dropped``: the pipeline's drop reason;
#: ``known_disagreements``: expected key -> why the extractor disagrees (xfail).
META_OPTIONAL = {"empty", "dropped", "known_disagreements", "page"}


def _paragraphs(item: dict[str, Any]) -> list[str]:
    return item["body"].split("\n\n") if item["body"] else []


def _first_paragraph(item: dict[str, Any]) -> str | None:
    """The body's first paragraph after the lead (the summary, when it opens it)."""
    paragraphs = _paragraphs(item)
    if paragraphs and item["summary"] and paragraphs[0] == item["summary"]:
        paragraphs = paragraphs[1:]
    return paragraphs[0] if paragraphs else None


def _last_paragraph(item: dict[str, Any]) -> str | None:
    paragraphs = _paragraphs(item)
    return paragraphs[-1] if paragraphs else None


#: Expected keys for a field whose truth is known only in part: key -> what of
#: the item it is compared with.
PARTIAL = {
    "body_first_paragraph": _first_paragraph,
    "body_last_paragraph": _last_paragraph,
}


def _case_dirs() -> list[Path]:
    return sorted(p for p in GOLDEN.glob("*/*") if p.is_dir())


def _name(case: Path) -> str:
    return f"{case.parent.name}/{case.name}"


def _load(case: Path, file: str) -> dict[str, Any]:
    """``file`` of ``case`` as a dict; ``{}`` when missing or broken (the
    ``test_case_files`` invariant names those)."""
    try:
        data = json.loads((case / file).read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


CASES = {_name(case): case for case in _case_dirs()}
META = {name: _load(case, "meta.json") for name, case in CASES.items()}
EXPECTED = {name: _load(case, "expected.json") for name, case in CASES.items()}
FIELD_CHECKS = [
    pytest.param(name, key, id=f"{name}/{key}")
    for name in CASES
    for key in EXPECTED[name]
]
EMPTY_CHECKS = [
    pytest.param(name, key, id=f"{name}/{key}")
    for name in CASES
    for key in META[name].get("empty", [])
]


def _page(name: str) -> Path:
    """The case's page: where ``meta.json`` says, or its own ``page.html``."""
    given = META[name].get("page")
    return ROOT / given if given else CASES[name] / "page.html"


@cache
def _result(name: str) -> PageResult:
    meta = META[name]
    return process_page(
        _page(name).read_bytes(),
        url=meta["url"],
        site=meta["site"],
        fetched_at=meta["fetched_at"],
    )


def _item(name: str) -> dict[str, Any]:
    result = _result(name)
    assert result.item is not None, f"{name}: no item"
    return result.item.to_dict()


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def test_cases_are_found():
    assert CASES, f"no case folders under {GOLDEN}"


@pytest.mark.parametrize(("case", "key"), FIELD_CHECKS)
def test_field(request, case, key):
    why = META[case].get("known_disagreements", {}).get(key)
    if why:
        request.applymarker(pytest.mark.xfail(reason=why, strict=True))
    item = _item(case)
    actual = PARTIAL[key](item) if key in PARTIAL else item[key]
    assert actual == EXPECTED[case][key], f"{case}: {key}"


@pytest.mark.parametrize(("case", "key"), EMPTY_CHECKS)
def test_field_expected_empty(case, key):
    item = _item(case)
    actual = PARTIAL[key](item) if key in PARTIAL else item[key]
    assert _is_empty(actual), f"{case}: {key} should be empty, is {actual!r}"


# Invariant 1: every version of every site profile is pinned by a case.
@pytest.mark.parametrize("parser", sorted(PARSERS))
def test_every_profile_version_has_a_case(parser):
    cases = [name for name, meta in META.items() if meta.get("parser") == parser]
    assert cases, f"no golden case for {parser}: add one under tests/golden/"


# Invariant 2: the expected parser filled the fields.
@pytest.mark.parametrize("case", CASES)
def test_expected_parser_filled_the_fields(case):
    parser = META[case]["parser"]
    provenance = _item(case)["provenance"]
    others = {f: p for f, p in provenance.items() if p in PARSERS and p != parser}
    assert not others, f"{case}: fields filled by another parser: {others}"
    checked = [key for key in EXPECTED[case] if key not in PARTIAL]
    if parser == GENERIC:
        assert provenance["title"] in GENERIC_LAYERS, f"{case}: {provenance}"
        return
    assert provenance["title"] == parser, f"{case}: title by {provenance['title']}"
    # Every field the truth gives a value came from the site's rules.
    wrong = {f: provenance.get(f) for f in checked if provenance.get(f) != parser}
    assert not wrong, f"{case}: expected {parser}, filled by {wrong}"


# Invariant 3: expected.json holds only values; empty fields are declared.
@pytest.mark.parametrize("case", CASES)
def test_no_empty_expected_value(case):
    empty = [key for key, value in EXPECTED[case].items() if _is_empty(value)]
    assert not empty, f"{case}: empty in expected.json {empty}: list in meta 'empty'"
    both = set(META[case].get("empty", [])) & set(EXPECTED[case])
    assert not both, f"{case}: both expected and empty: {sorted(both)}"


# Invariant 4: the files are there and well formed, and exported items are valid.
@pytest.mark.parametrize("case", CASES)
def test_case_files(case):
    folder = CASES[case]
    missing = [f for f in FILES if not (folder / f).is_file()]
    assert not missing, f"{case}: missing {missing}"
    assert _page(case).is_file(), f"{case}: no page at {_page(case)}"
    for file in ("meta.json", "expected.json"):
        data = json.loads((folder / file).read_text("utf-8"))
        assert isinstance(data, dict), f"{case}: {file} is not an object"
    meta = META[case]
    lacking = sorted(META_REQUIRED - set(meta))
    assert not lacking, f"{case}: meta.json lacks {lacking}"
    unknown_meta = sorted(set(meta) - META_REQUIRED - META_OPTIONAL)
    assert not unknown_meta, f"{case}: unknown meta.json keys {unknown_meta}"
    site, parser = meta["site"], meta["parser"]
    if site is None:
        assert parser == GENERIC, f"{case}: no site, so the parser is generic"
        assert folder.parent.name == GENERIC, f"{case}: a generic case"
    else:
        assert site in REGISTRY, f"{case}: unknown site {site!r}"
        assert parser in {v.name() for v in REGISTRY[site]}, f"{case}: {parser!r}"
        assert folder.parent.name == site, f"{case}: folder of site {site!r}"
    keys = set(EXPECTED[case]) | set(meta.get("empty", []))
    unknown = keys - set(FIELDS) - set(PARTIAL)
    assert not unknown, f"{case}: not item fields: {sorted(unknown)}"
    assert set(meta.get("known_disagreements", {})) <= set(EXPECTED[case])


@pytest.mark.parametrize("case", CASES)
def test_exported_item_is_valid(case):
    result = _result(case)
    dropped = META[case].get("dropped")
    assert result.invalid == dropped, f"{case}: {result.invalid_message}"
    if dropped is None:
        item = _item(case)
        assert list(item) == list(FIELDS)
        assert validation_errors(item) == [], case
