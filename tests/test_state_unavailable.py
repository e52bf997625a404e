"""A crawl state that cannot be used stops the run: it is never replaced by none.

Damaged SQLite files (cut in half, a bad header, a directory, 0 bytes) and a
Redis state nobody answers for: ``scrapy crawl`` refuses before any request
(exit 69, a message naming the state and how to recover), leaves the state as it
was, and exports nothing; a crawl started from Python stops at spider open.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scrapy.utils.defer import deferred_f_from_coro_f
from scrapy.utils.test import get_crawler

from newscrawl.health import ExitCode
from newscrawl.spiders.news import NewsSpider
from newscrawl.state import StateUnavailable
from newscrawl.state.sqlite import SQLiteState

from .conftest import serve
from .test_e2e import project_settings
from .test_first_hour import crawl_news
from .test_hostile import closed_port

ROOT = Path(__file__).resolve().parent.parent
GENERIC = Path(__file__).with_name("sites") / "generic"


def _full_state(path: Path) -> None:
    state = SQLiteState(path)
    for i in range(3000):
        state.mark_written(f"https://example.org/2026/01/01/story-{i}", "ab" * 32, 1, 1)
    state.commit()
    state.close()


def _damage(kind: str, path: Path) -> str | None:
    """Damage the state at ``path``; return the NEWSCRAWL_STATE to crawl with."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "directory":
        path.mkdir()
    elif kind == "empty":
        path.write_bytes(b"")
    else:
        _full_state(path)
        data = path.read_bytes()
        assert len(data) > 64 * 1024
        if kind == "cut_in_half":
            path.write_bytes(data[: len(data) // 2])
        elif kind == "bad_header":
            path.write_bytes(b"\0" * 100 + data[100:])
    return None


DAMAGES = ["cut_in_half", "bad_header", "directory", "empty"]


def _snapshot(path: Path) -> bytes | str:
    return "dir" if path.is_dir() else path.read_bytes()


@pytest.mark.parametrize("kind", DAMAGES)
def test_scrapy_crawl_refuses_a_damaged_sqlite_state(tmp_path, kind):
    state = tmp_path / "state" / "news.sqlite"
    _damage(kind, state)
    before = _snapshot(state)
    with serve(GENERIC) as site:
        result = crawl_news(
            tmp_path,
            "-a",
            f"feed={site}/feed.xml",
            "-s",
            f"NEWSCRAWL_STATE_DIR={tmp_path / 'state'}",
        )
    assert result.returncode == ExitCode.COMPONENT, result.stderr[-3000:]
    first = result.stderr.strip().splitlines()[-1]
    assert first.startswith(
        f"cannot use the crawl state: the crawl state {state} is damaged"
    )
    assert f"mv {state} {state}.damaged" in first
    assert "Traceback" not in result.stderr
    # Nothing crawled, nothing exported, and the state left as it was.
    # (the output directory is checked for writing before; it stays empty)
    assert not list((tmp_path / "output" / "news").iterdir())
    assert _snapshot(state) == before


def test_scrapy_crawl_refuses_a_redis_state_nobody_answers_for(tmp_path):
    url = f"redis://127.0.0.1:{closed_port()}/0"
    result = crawl_news(
        tmp_path,
        "-a",
        f"url=http://127.0.0.1:{closed_port()}/",
        "-s",
        f"NEWSCRAWL_STATE={url}",
    )
    assert result.returncode == ExitCode.COMPONENT, result.stderr[-3000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(
        f"cannot use the crawl state: the crawl state at {url} cannot be reached"
    )
    # (the output directory is checked for writing before; it stays empty)
    assert not list((tmp_path / "output" / "news").iterdir())


def test_the_sqlite_state_refuses_damage_and_accepts_a_first_run(tmp_path):
    for kind in DAMAGES:
        path = tmp_path / kind / "news.sqlite"
        _damage(kind, path)
        with pytest.raises(StateUnavailable, match="is damaged"):
            SQLiteState(path)
    fresh = tmp_path / "fresh" / "news.sqlite"
    SQLiteState(fresh).close()  # no file yet: a first run creates it
    SQLiteState(fresh).close()  # and the next run reads it


@deferred_f_from_coro_f
async def test_a_crawl_started_from_python_stops_and_exports_nothing(tmp_path):
    feed = tmp_path / "out" / "items.jsonl"
    settings = project_settings(feed)
    state = Path(settings["NEWSCRAWL_STATE_DIR"]) / "news.sqlite"
    _damage("bad_header", state)
    with serve(GENERIC) as site:
        crawler = get_crawler(NewsSpider, settings)
        await crawler.crawl_async(feed=f"{site}/feed.xml")
    stats = crawler.stats.get_stats()
    assert stats["finish_reason"] == "state_unavailable"
    assert stats["newscrawl/component_failed/state"] == 1
    assert crawler.newscrawl_exit_code == ExitCode.COMPONENT
    lines = feed.read_text("utf-8").splitlines() if feed.exists() else []
    assert [json.loads(line) for line in lines] == []


def test_a_cluster_worker_without_its_redis_says_so_first(tmp_path):
    url = f"redis://127.0.0.1:{closed_port()}/0"
    result = crawl_news(
        tmp_path,
        "-s",
        f"NEWSCRAWL_CLUSTER={url}",
    )
    assert result.returncode == ExitCode.COMPONENT, result.stderr[-3000:]
    # The first thing it says, after Scrapy's one start-up line.
    said = [ln for ln in result.stderr.splitlines() if "[scrapy." not in ln]
    assert said[0].startswith(f"cannot reach the cluster's Redis at {url}: ")
    assert "Traceback" not in result.stderr
