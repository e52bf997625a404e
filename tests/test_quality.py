"""The code standard is part of the test suite: ruff and mypy must be clean."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_ruff_check():
    result = _run("ruff", "check", "newscrawl", "tests", "benchmarks")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format():
    result = _run("ruff", "format", "--check", "newscrawl", "tests", "benchmarks")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict():
    result = _run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_module_starts_with_a_docstring():
    import ast

    for path in sorted((ROOT / "newscrawl").rglob("*.py")):
        tree = ast.parse(path.read_text("utf-8"))
        doc = ast.get_docstring(tree)
        assert doc, f"{path.relative_to(ROOT)} has no module docstring"
