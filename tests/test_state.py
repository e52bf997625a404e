"""Runs from cron: incremental output, kill -9 safety, the run lock, health codes."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from newscrawl.health import ExitCode
from newscrawl.lock import RunLock
from newscrawl.schema import validation_errors

from .conftest import serve
from .sitegen import article_html, article_path, build_site

REPO = Path(__file__).resolve().parent.parent
FAST = [
    "-s",
    "DOWNLOAD_DELAY=0",
    "-s",
    "AUTOTHROTTLE_START_DELAY=0",
    "-s",
    "LOG_LEVEL=INFO",
]


def crawl_cmd(out: Path, base: str, *extra: str) -> list[str]:
    feeds = json.dumps({str(out / "items-%(time)s.jsonl"): {"format": "jsonlines"}})
    return [
        sys.executable,
        "-m",
        "scrapy",
        "crawl",
        "news",
        "-a",
        f"url={base}/",
        "-s",
        f"FEEDS={feeds}",
        "-s",
        f"NEWSCRAWL_STATE_DIR={out / '.state'}",
        *FAST,
        *extra,
    ]


def run(out: Path, base: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        crawl_cmd(out, base, *extra),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def link_from_front(root: Path, path: str) -> None:
    """Add a link to ``path`` on the generated site's front page."""
    index = root / "index.html"
    index.write_text(
        index.read_text().replace("</ul>", f'<li><a href="{path}">x</a></li></ul>')
    )


def lines_of(out: Path) -> list[str]:
    return [
        line
        for path in sorted(out.glob("*.jsonl"))
        for line in path.read_text("utf-8").splitlines()
    ]


def last_report(out: Path) -> dict:
    reports = sorted(out.glob("*.report.json"), key=lambda p: p.stat().st_mtime)
    return json.loads(reports[-1].read_text("utf-8"))


@pytest.fixture
def site(tmp_path):
    root = tmp_path / "site"
    build_site(root, 12)
    with serve(root) as base:
        yield root, base


def test_second_run_emits_nothing_and_a_change_is_revision_2(site, tmp_path):
    root, base = site
    out = tmp_path / "out"
    first = run(out, base)
    assert first.returncode == 0, first.stderr[-3000:]
    items = [json.loads(line) for line in lines_of(out)]
    assert len(items) == 12
    assert {i["revision"] for i in items} == {1}

    second = run(out, base)
    assert second.returncode == 0, second.stderr[-3000:]
    assert len(lines_of(out)) == 12  # nothing new
    assert last_report(out)["known_skipped"] == 12

    # Story 3 changes; a revisit of known articles is allowed at once.
    (root / f"{article_path(3).lstrip('/')}.html").write_text(
        article_html(3, version=2), "utf-8"
    )
    third = run(out, base, "-s", "NEWSCRAWL_REVISIT_AFTER=0")
    assert third.returncode == 0, third.stderr[-3000:]
    new = [json.loads(line) for line in lines_of(out)][12:]
    assert [i["url"] for i in new] == [base + article_path(3)]
    old = next(i for i in items if i["url"] == base + article_path(3))
    assert new[0]["revision"] == 2
    assert new[0]["previous_hash"] == old["content_hash"][:16]
    assert validation_errors(new[0]) == []
    assert last_report(out)["dropped"]["unchanged"] == 11


def test_kill_9_at_random_points_loses_and_repeats_nothing(tmp_path):
    root = tmp_path / "site"
    count = 150
    build_site(root, count)
    out = tmp_path / "out"
    rng = random.Random(20261201)
    kills = 0
    with serve(root) as base:
        for _ in range(6):
            target = len(lines_of_parts(out)) + rng.randint(5, 20)
            proc = subprocess.Popen(
                crawl_cmd(out, base),
                cwd=REPO,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            deadline = time.monotonic() + 60
            try:
                while proc.poll() is None and time.monotonic() < deadline:
                    if len(lines_of_parts(out)) >= target:
                        proc.send_signal(signal.SIGKILL)
                        kills += 1
                        break
                    time.sleep(0.01)
                proc.wait(timeout=60)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        final = run(out, base)
    assert kills >= 5
    assert final.returncode == 0, final.stderr[-3000:]
    assert not list(out.glob("*.part"))
    lines = lines_of(out)
    items = [json.loads(line) for line in lines]  # every line is valid JSON
    urls = [i["url"] for i in items]
    assert sorted(urls) == sorted(base + article_path(n) for n in range(count))
    assert len(urls) == len(set(urls))


def lines_of_parts(out: Path) -> list[bytes]:
    """Complete lines written so far, finished feeds and the running one."""
    lines: list[bytes] = []
    for path in out.glob("*.jsonl*"):
        if path.suffix in (".jsonl", ".part"):
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                # Listed as .part, renamed by the crawl since: counted next time.
                continue
            lines += data[: data.rfind(b"\n") + 1].splitlines()
    return lines


def test_overlapping_runs_the_second_exits_the_first_is_unharmed(tmp_path):
    root = tmp_path / "site"
    build_site(root, 60)
    out = tmp_path / "out"
    with serve(root) as base:
        # The first run is slowed down (0.1 s between requests: at least 6 s) so
        # that it is certainly still running when the second one starts.
        first = subprocess.Popen(
            crawl_cmd(out, base, "-s", "DOWNLOAD_DELAY=0.1"),
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while not lines_of_parts(out) and time.monotonic() < deadline:
            time.sleep(0.01)
        second = run(out, base)
        assert first.poll() is None, "the first run ended before the second started"
        _, first_err = first.communicate(timeout=300)
    assert second.returncode == ExitCode.LOCKED
    assert "another run of 'news' is active" in second.stderr
    assert first.returncode == 0, first_err[-3000:]
    urls = [json.loads(line)["url"] for line in lines_of(out)]
    assert sorted(urls) == sorted(base + article_path(n) for n in range(60))


def test_a_second_run_while_one_is_active_exits_with_the_lock_code(site, tmp_path):
    _, base = site
    out = tmp_path / "out"
    lock = RunLock(out / ".state" / "news.lock")
    assert lock.acquire()
    try:
        second = run(out, base)
    finally:
        lock.release()
    assert second.returncode == ExitCode.LOCKED
    assert "another run of 'news' is active" in second.stderr
    assert not list(out.glob("*.jsonl"))


def test_a_lock_left_by_a_dead_process_is_taken_over(site, tmp_path):
    _, base = site
    out = tmp_path / "out"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import time; from pathlib import Path;"
                " from newscrawl.lock import RunLock;"
                f" assert RunLock(Path({str(out / '.state' / 'news.lock')!r})).acquire();"
                " print('locked', flush=True); time.sleep(600)"
            ),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "locked"
    holder.kill()
    holder.communicate()
    result = run(out, base)
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(lines_of(out)) == 12


def test_layout_change_makes_the_run_unhealthy_and_says_which_field(tmp_path):
    root = tmp_path / "site"
    build_site(root, 12)
    out = tmp_path / "out"
    with serve(root) as base:
        assert run(out, base).returncode == 0
        # A redesign: the same articles, now without any date.
        build_site(root, 12, dated=False, version=2)
        result = run(out, base, "-s", "NEWSCRAWL_REVISIT_AFTER=0")
    assert result.returncode == ExitCode.COVERAGE_DROP, result.stderr[-3000:]
    report = last_report(out)
    assert report["health"]["status"] == "coverage_drop"
    assert any("published" in p for p in report["health"]["problems"])


def test_a_run_that_finds_nothing_is_unhealthy(tmp_path):
    root = tmp_path / "empty"
    root.mkdir()
    (root / "index.html").write_text("<html><body>No news today.</body></html>")
    out = tmp_path / "out"
    with serve(root) as base:
        result = run(out, base)
    assert result.returncode == ExitCode.NO_ARTICLES, result.stderr[-3000:]
    assert last_report(out)["health"]["problems"]


def test_a_page_found_gone_is_not_requested_again(site, tmp_path):
    root, base = site
    link_from_front(root, "/news/a-story-that-was-taken-down-today")
    out = tmp_path / "out"
    first = run(out, base)
    assert first.returncode == 0, first.stderr[-3000:]
    assert last_report(out)["request_failed"] == {"http_404": 1}
    second = run(out, base)
    assert second.returncode == 0, second.stderr[-3000:]
    report = last_report(out)
    assert report["request_failed"] == {}
    assert report["responses_by_status"].get("404", 0) == 0


def test_an_oversized_page_is_cancelled_and_counted(site, tmp_path):
    root, base = site
    big = root / "news" / "a-page-far-too-large-to-be-an-article.html"
    big.write_text(
        "<html><body><h1>Big</h1>" + "x" * (11 * 1024 * 1024) + "</body></html>"
    )
    link_from_front(root, "/news/a-page-far-too-large-to-be-an-article")
    out = tmp_path / "out"
    result = run(out, base)
    assert result.returncode == 0, result.stderr[-3000:]
    report = last_report(out)
    assert report["items"] == 12
    assert report["request_failed"] == {"too_large": 1}
