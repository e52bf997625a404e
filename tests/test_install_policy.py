"""The install policy holds: bounded dependencies, a consistent constraints file.

A fresh machine installs the newest releases ``pyproject.toml`` allows; these
tests keep the ranges and the deployment pins (``constraints.txt``) honest.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
PROJECT = PYPROJECT["project"]
#: Stub-only packages follow the library they describe; no API of theirs is used.
UNBOUNDED = {"types-dateparser", "types-tqdm"}


def requirements() -> list[Requirement]:
    deps = PROJECT["dependencies"] + PROJECT["optional-dependencies"]["test"]
    return [Requirement(text) for text in deps]


def pins() -> dict[str, str]:
    lines = (ROOT / "constraints.txt").read_text("utf-8").splitlines()
    found = {}
    for line in lines:
        text = line.split("#", 1)[0].strip()
        if text:
            name, _, version = text.partition("==")
            assert version, f"constraints.txt: not a pin: {text!r}"
            found[canonicalize_name(name)] = version
    return found


@pytest.mark.parametrize("req", requirements(), ids=str)
def test_every_dependency_has_an_upper_bound(req):
    if req.name in UNBOUNDED:
        return
    ops = {spec.operator for spec in req.specifier}
    assert ops & {"<", "<=", "==", "~="}, f"{req} has no upper bound"


@pytest.mark.parametrize("req", requirements(), ids=str)
def test_the_constraints_pin_what_pyproject_allows(req):
    if req.marker is not None and not req.marker.evaluate():
        return
    pinned = pins().get(canonicalize_name(req.name))
    assert pinned is not None, f"constraints.txt does not pin {req.name}"
    assert req.specifier.contains(pinned, prereleases=True), (
        f"constraints.txt pins {req.name}=={pinned}, outside {req.specifier}"
    )


def test_only_our_own_deprecations_fail_the_tests():
    filters = PYPROJECT["tool"]["pytest"]["ini_options"]["filterwarnings"]
    assert filters[0] == "error"
    assert "default::DeprecationWarning" in filters
    # ...but a deprecated API newscrawl calls still fails (attributed to us).
    assert any(f.startswith("error::DeprecationWarning:(newscrawl|") for f in filters)
