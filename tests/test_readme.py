"""The README's facts that can drift from the code: tables, commands, links, length."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from newscrawl.params import EuronewsParams, NewsParams
from newscrawl.schema import article_schema

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
TEST_COMMAND = (
    "python -m pip install -U --upgrade-strategy eager -e '.[test]' && python -m pytest"
)
DEMO_COMMAND = "python -m pip install -e . && python -m newscrawl demo"
CRON_LINE = (
    "*/15 * * * *  cd /srv/newscrawl && mkdir -p log && .venv/bin/scrapy crawl news"
    " -a feed=https://www.example-news.com/rss.xml >> log/news.log 2>&1; rc=$?;"
    ' [ $rc = 0 ] || [ $rc = 75 ] || echo "newscrawl news: exit $rc, see'
    ' /srv/newscrawl/log/news.log" | mail -s "newscrawl exit $rc" ops@example.org'
)
MAX_README_LINES = 250

_FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_CODE = re.compile(r"`([^`]+)`")


def readme() -> str:
    return README.read_text(encoding="utf-8")


def without_code_blocks(text: str) -> str:
    return _FENCE.sub("", text)


def code_blocks(text: str) -> list[tuple[str, str]]:
    """``(info string, content)`` of every fenced code block, in order."""
    return [(m.group(1).strip(), m.group(2)) for m in _FENCE.finditer(text)]


def section(text: str, heading_start: str) -> tuple[str, str]:
    """The heading line that starts with ``heading_start``, and its section's text."""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if line.startswith(heading_start):
            level = len(line) - len(line.lstrip("#"))
            body = []
            fenced = False
            for following in lines[index + 1 :]:
                if following.startswith("```"):
                    fenced = not fenced
                hashes = len(following) - len(following.lstrip("#"))
                heading = hashes > 0 and following[hashes : hashes + 1] == " "
                if heading and not fenced and hashes <= level:
                    break
                body.append(following)
            return line, "\n".join(body)
    pytest.fail(f"no heading starting with {heading_start!r}")


def first_table(text: str) -> list[list[str]]:
    """The cells of the first Markdown table in ``text``, header and rule skipped."""
    rows: list[list[str]] = []
    for line in text.splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            rows.append(cells)
        elif rows:
            break
    assert len(rows) > 2, "no table found"
    return rows[2:]


def first_column_names(text: str) -> list[str]:
    """The backticked names in the first column of the first table."""
    names = []
    for row in first_table(text):
        found = _CODE.findall(row[0])
        assert len(found) == 1, f"one name per row, got {row[0]!r}"
        names.append(found[0])
    return names


def test_field_table_lists_exactly_the_schema_properties():
    _, body = section(readme(), "## Fields")
    names = first_column_names(body)
    assert len(names) == len(set(names)), "a field is listed twice"
    assert set(names) == set(article_schema()["properties"])


def test_field_table_rows_follow_the_schema_order():
    _, body = section(readme(), "## Fields")
    assert first_column_names(body) == list(article_schema()["properties"])


def test_fields_heading_names_the_schema_version():
    heading, body = section(readme(), "## Fields")
    version = article_schema()["properties"]["schema_version"]["const"]
    assert f"`{version}`" in heading
    assert f'"schema_version": "{version}"' in body, "the sample line's version"


@pytest.mark.parametrize(
    ("heading", "known"),
    [
        ("## Crawling Euronews", EuronewsParams.KNOWN),
        ("## Crawling any news site", NewsParams.KNOWN),
    ],
)
def test_argument_tables_list_every_spider_argument(heading, known):
    _, body = section(readme(), heading)
    names = first_column_names(body)
    assert len(names) == len(set(names)), "an argument is listed twice"
    assert set(names) == set(known)


def test_readme_commands_are_the_demo_and_the_ci_command():
    info, first = code_blocks(readme())[0]
    assert info == ""
    assert first.splitlines() == [DEMO_COMMAND, TEST_COMMAND]


def test_readme_test_command_is_what_ci_runs():
    _, first = code_blocks(readme())[0]
    readme_command = first.splitlines()[1]
    ci_lines = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert ci_lines[-1] == readme_command == TEST_COMMAND


def test_crontab_block_holds_the_one_cron_line():
    _, body = section(readme(), "## Running from cron")
    blocks = [content for info, content in code_blocks(body) if info == "crontab"]
    assert len(blocks) == 1, "one ```crontab block"
    lines = [
        line
        for line in blocks[0].splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert lines == [CRON_LINE]


def markdown_files() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def anchors(path: Path) -> set[str]:
    """GitHub's anchors for the headings of a Markdown file."""
    text = without_code_blocks(path.read_text(encoding="utf-8"))
    slugs = set()
    for line in text.splitlines():
        match = re.match(r"^#+ (.+)$", line)
        if match:
            title = re.sub(r"[^\w\- ]", "", match.group(1).strip().lower())
            slugs.add(title.replace(" ", "-"))
    return slugs


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: p.name)
def test_relative_links_point_to_existing_files(path):
    text = without_code_blocks(path.read_text(encoding="utf-8"))
    broken = []
    for target in _LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):
            continue  # a URL with a scheme
        relative, _, anchor = target.partition("#")
        linked = (path.parent / relative) if relative else path
        check_anchor = bool(anchor) and linked.suffix == ".md"
        if not linked.exists() or (check_anchor and anchor not in anchors(linked)):
            broken.append(target)
    assert not broken, f"{path.name}: broken links {broken}"


def test_every_docs_page_is_linked_from_the_readme():
    linked = {
        (ROOT / target.split("#", 1)[0]).resolve()
        for target in _LINK.findall(without_code_blocks(readme()))
        if not re.match(r"^[a-z][a-z0-9+.-]*:", target)
    }
    pages = {page.resolve() for page in DOCS.glob("*.md")}
    assert pages, "docs/ holds no pages"
    assert pages <= linked, f"not linked: {sorted(p.name for p in pages - linked)}"


def test_readme_stays_short():
    lines = readme().count("\n")
    assert lines < MAX_README_LINES, f"README.md has {lines} lines"
