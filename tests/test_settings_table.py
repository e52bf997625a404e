"""Each NEWSCRAWL_* setting is declared once, read without a restated default, and
documented from the one table (``newscrawl/defaults.py``)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from newscrawl import defaults
from newscrawl import settings as project

from .test_first_hour import crawl_news

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "newscrawl"
NAME = re.compile(r"NEWSCRAWL_[A-Z_]+")


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        if "sample_site" not in path.parts:
            yield path, ast.parse(path.read_text("utf-8"))


def test_every_setting_the_code_names_is_declared():
    named = {}
    for path, tree in _modules():
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and NAME.fullmatch(node.value)
            ):
                named.setdefault(node.value, path.relative_to(ROOT))
    undeclared = {n: str(p) for n, p in named.items() if n not in defaults.TABLE}
    assert not undeclared, f"read but not declared in defaults.TABLE: {undeclared}"


def test_no_read_restates_a_default():
    found = []
    for path, tree in _modules():
        if path.name == "defaults.py":  # the table itself (and its environment)
            continue
        found += [
            f"{path.relative_to(ROOT)}:{node.lineno}"
            for node in ast.walk(tree)
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr.startswith("get")
                and len(node.args) >= 2
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
                and NAME.fullmatch(node.args[0].value)
            )
        ]
    assert not found, f"a default restated where a setting is read: {found}"


def test_the_scrapy_settings_module_exposes_the_table():
    for name, setting in defaults.TABLE.items():
        assert getattr(project, name) == setting.default, name


def test_the_docs_list_every_setting_from_the_table():
    text = (ROOT / "docs" / "operations.md").read_text("utf-8")
    block = re.search(
        r"<!-- settings:begin \(generated\) -->\n(.*?)<!-- settings:end -->",
        text,
        flags=re.DOTALL,
    )
    assert block, "docs/operations.md lost its generated settings table"
    assert block.group(1) == defaults.markdown_table(), (
        "regenerate it: python -m newscrawl.defaults"
    )


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("NEWSCRAWL_STATE=sqlit", "'sqlit' is not sqlite, off or a redis:// URL"),
        ("NEWSCRAWL_REPLAY=/nonexistent/archives", "not found: /nonexistent/archives"),
    ],
)
def test_a_bad_setting_stops_the_run_before_it_starts(tmp_path, setting, message):
    result = crawl_news(
        tmp_path,
        "-a",
        "url=http://127.0.0.1:9/",
        "-s",
        setting,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    name = setting.partition("=")[0]
    assert f"setting {name}: " in result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "output" / "news").exists()
