"""The module map in docs/modules.md is true: every module listed, no forbidden
import, no import cycle."""

from __future__ import annotations

import ast
import importlib
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "newscrawl"
MAP = ROOT / "docs" / "modules.md"

#: What "crawl" stands for in the map's "must not import" column.
CRAWL = [
    "newscrawl.spiders",
    "newscrawl.follow",
    "newscrawl.params",
    "newscrawl.state",
    "newscrawl.persistence",
    "newscrawl.cluster",
    "newscrawl.warc",
    "newscrawl.download",
    "newscrawl.hosts",
    "newscrawl.guards",
    "newscrawl.resilience",
    "newscrawl.pipelines",
    "newscrawl.feeds",
    "newscrawl.report",
    "newscrawl.health",
    "newscrawl.extensions",
    "newscrawl.extract_thread",
    "newscrawl.loopmonitor",
    "newscrawl.offline",
    "newscrawl.commands",
    "newscrawl.cli",
    "newscrawl.settings",
]
#: Narrower rules inside packages (the map's list under the table).
NO_SCRAPY = (
    "newscrawl.state",
    "newscrawl.state.sqlite",
    "newscrawl.state.redis",
    "newscrawl.cluster.admin",
)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {
        module_name(p): p
        for p in sorted(PACKAGE.rglob("*.py"))
        if "sample_site" not in p.parts
    }


def imports(name: str, path: Path) -> set[str]:
    """Modules ``name`` imports at run time (module level or in functions);
    imports under ``if TYPE_CHECKING:`` are for types only and left out."""
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.Import):
                found.update(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    pkg = package
                    for _ in range(child.level - 1):
                        pkg = pkg.rpartition(".")[0]
                    base = f"{pkg}.{base}" if base else pkg
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in child.names)
            visit(child)

    visit(ast.parse(path.read_text("utf-8")))
    return found


def rows() -> dict[str, list[str]]:
    text = MAP.read_text("utf-8")
    table = text.split("<!-- modules:begin -->")[1].split("<!-- modules:end -->")[0]
    rules: dict[str, list[str]] = {}
    for line in table.strip().splitlines()[2:]:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        module, _owns, forbidden = cells
        key = module.strip("`").removesuffix(".py").rstrip("/").replace("/", ".")
        key = key.removesuffix(".__init__")
        banned: list[str] = []
        text_rule = forbidden
        allowed: list[str] = []
        if " but " in text_rule:
            text_rule, _, exceptions = text_rule.partition(" but ")
            allowed = re.findall(r"`([\w.]+)`", exceptions)
        for raw in re.split(r",\s*", text_rule):
            word = raw.strip().strip("`")
            if word == "crawl":
                banned += CRAWL
            elif word:
                banned.append(word)
        rules[key] = [b for b in banned if b not in allowed]
    return rules


def rule_for(name: str, rules: dict[str, list[str]]) -> str | None:
    """The most specific row that covers module ``name``."""
    candidates = [key for key in rules if name == key or name.startswith(key + ".")]
    return max(candidates, key=len) if candidates else None


def within(imported: str, prefix: str) -> bool:
    return imported == prefix or imported.startswith(prefix + ".")


def test_every_module_is_on_the_map():
    rules = rows()
    missing = [name for name in modules() if rule_for(name, rules) is None]
    assert not missing, f"add these to docs/modules.md: {missing}"
    stale = [
        key
        for key in rules
        if not any(n == key or n.startswith(key + ".") for n in modules())
    ]
    assert not stale, f"docs/modules.md lists modules that do not exist: {stale}"


def test_no_module_imports_what_its_row_forbids():
    rules = rows()
    broken = []
    for name, path in modules().items():
        key = rule_for(name, rules)
        assert key is not None
        own = [b for b in rules[key] if not within(name, b)]
        broken += [
            f"{name} imports {imported} ({key}: not {banned})"
            for imported in sorted(imports(name, path))
            for banned in own
            if within(imported, banned) and not within(imported, key)
        ]
        if name in NO_SCRAPY:
            broken += [
                f"{name} imports {i}"
                for i in imports(name, path)
                if within(i, "scrapy") or within(i, "twisted")
            ]
    assert not broken, "\n".join(broken)


def test_no_import_cycles():
    mods = modules()

    def resolve(imported: str) -> str | None:
        while imported and imported not in mods:
            imported = imported.rpartition(".")[0]
        return imported or None

    graph = {
        name: {r for i in imports(name, path) if (r := resolve(i)) and r != name}
        for name, path in mods.items()
    }
    # Packages' __init__ re-exporting a submodule is not a cycle with it.
    seen: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def walk(node: str) -> None:
        seen[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if seen.get(nxt) == 1:
                cycle = [*stack[stack.index(nxt) :], nxt]
                if not all(
                    c.startswith(cycle[0] + ".") or c == cycle[0] for c in cycle
                ):
                    cycles.append(cycle)
            elif nxt not in seen:
                walk(nxt)
        stack.pop()
        seen[node] = 2

    for name in sorted(graph):
        if name not in seen:
            walk(name)
    assert not cycles, f"import cycles: {cycles}"


@pytest.mark.parametrize(
    ("old", "names", "new"),
    [
        ("newscrawl.extensions", ["CrawlReport", "ExitCode"], "newscrawl.report"),
        (
            "newscrawl.resilience",
            [
                "HostPolicy",
                "RetryPolicyMiddleware",
                "RedirectGuardMiddleware",
                "ContentGuard",
            ],
            "newscrawl.hosts",
        ),
        (
            "newscrawl.persistence",
            ["CrawlStateExtension", "FrontierMiddleware", "recover_parts"],
            "newscrawl.state.extension",
        ),
    ],
)
def test_renamed_modules_keep_their_old_names_with_a_warning(old, names, new):
    # Users' settings name components by these paths (EXTENSIONS, middlewares).
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=re.escape(new)):
        module = importlib.import_module(old)
    for name in names:
        assert getattr(module, name).__module__.startswith("newscrawl.")
