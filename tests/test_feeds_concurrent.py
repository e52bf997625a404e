"""Several workers writing feeds to one directory: unique files, no live recovery."""

from __future__ import annotations

import argparse
import errno
import json
import logging
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest
from scrapy.settings import Settings

from newscrawl import feeds
from newscrawl.commands.crawl import Command, run_lock
from newscrawl.feeds import PART_SUFFIX, AtomicFileFeedStorage, try_lock
from newscrawl.health import ExitCode
from newscrawl.lock import RunLock
from newscrawl.state.recovery import feed_dirs_from, recover_parts

ROOT = Path(__file__).resolve().parent.parent
URI = "items-%(time)s.jsonl"


class MarkingState:
    """Just what ``recover_parts`` uses of a crawl state."""

    def __init__(self) -> None:
        self.written: list[str] = []
        self.commits = 0

    def mark_written(self, url: str, *_: object) -> None:
        self.written.append(url)

    def commit(self) -> None:
        self.commits += 1


def line(url: str) -> bytes:
    return json.dumps({"url": url}).encode() + b"\n"


def part_of(path: Path) -> Path:
    return path.with_name(path.name + PART_SUFFIX)


def holds_lock(path: Path) -> bool:
    """Whether some open file other than a new one holds ``path``'s flock."""
    with path.open("rb") as fh:
        return not try_lock(fh.fileno())


def test_two_storages_in_one_second_write_two_files(tmp_path):
    final = tmp_path / "feeds" / "items-2026-01-01T00-00-00.jsonl"
    first = AtomicFileFeedStorage(str(final))
    second = AtomicFileFeedStorage(str(final))
    a = first.open(None)
    a.write(line("https://a.test/1"))
    a.flush()
    b = second.open(None)
    b.write(line("https://b.test/1"))
    b.flush()
    assert first.final_path == final
    assert second.final_path == final.with_name("items-2026-01-01T00-00-00-2.jsonl")
    # Opening the second did not truncate the first.
    assert part_of(first.final_path).read_bytes() == line("https://a.test/1")
    second.store(b)
    first.store(a)
    assert first.final_path.read_bytes() == line("https://a.test/1")
    assert second.final_path.read_bytes() == line("https://b.test/1")
    assert sorted(p.name for p in final.parent.iterdir()) == [
        "items-2026-01-01T00-00-00-2.jsonl",
        "items-2026-01-01T00-00-00.jsonl",
    ]


def test_a_name_taken_after_it_was_picked_is_not_opened_twice(tmp_path, monkeypatch):
    # Two workers both saw the name free (unique_path raced): the second to
    # create the .part must move on to the next name, not truncate the first.
    final = tmp_path / "items.jsonl"
    first = AtomicFileFeedStorage(str(final))
    a = first.open(None)
    a.write(line("https://a.test/1"))
    a.flush()
    real = feeds.unique_path
    stale = iter([final])
    monkeypatch.setattr(
        feeds, "unique_path", lambda path: next(stale, None) or real(path)
    )
    second = AtomicFileFeedStorage(str(final))
    b = second.open(None)
    assert second.final_path == tmp_path / "items-2.jsonl"
    assert part_of(final).read_bytes() == line("https://a.test/1")
    second.store(b)
    first.store(a)
    assert final.read_bytes() == line("https://a.test/1")
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_the_part_is_locked_while_written_and_released_after_store(tmp_path):
    final = tmp_path / "items.jsonl"
    storage = AtomicFileFeedStorage(str(final))
    file = storage.open(None)
    file.write(line("https://a.test/1"))
    assert holds_lock(part_of(final))
    storage.store(file)
    assert final.read_bytes() == line("https://a.test/1")
    assert not part_of(final).exists()
    assert not holds_lock(final)


def test_recovery_skips_a_part_being_written_then_takes_it_once_closed(
    tmp_path, caplog
):
    final = tmp_path / "items.jsonl"
    storage = AtomicFileFeedStorage(str(final))
    file = storage.open(None)
    file.write(line("https://a.test/1") + b'{"url": "https://a.test/')
    file.flush()
    state = MarkingState()
    # flock belongs to the open file, so the recovery's own open() conflicts
    # with the storage's even in one process.
    with caplog.at_level(logging.INFO, logger="newscrawl.state.recovery"):
        assert recover_parts(tmp_path, state) == []
    assert part_of(final).exists()
    assert not final.exists()
    assert state.written == []
    assert any(
        r.levelno == logging.INFO and "locked by a running process" in r.getMessage()
        for r in caplog.records
    )
    # Still writable and complete: nothing was cut under the writer.
    file.write(b'2"}\n')
    file.close()  # closed without store(): as a writer that stopped short
    assert recover_parts(tmp_path, state) == [{"path": str(final), "items": 2}]
    assert state.written == ["https://a.test/1", "https://a.test/2"]
    assert final.read_bytes().count(b"\n") == 2
    assert json.loads(final.with_name("items.report.json").read_text())["items"] == 2


HOLDER = textwrap.dedent(
    """
    import sys
    from newscrawl.feeds import AtomicFileFeedStorage

    storage = AtomicFileFeedStorage(sys.argv[1])
    file = storage.open(None)
    file.write(b'{"url": "https://a.test/1"}\\n{"url": "https://a.test/torn')
    file.flush()
    print("ready", flush=True)
    sys.stdin.read()
    """
)


def test_recovery_skips_a_live_writer_and_recovers_it_after_kill_9(tmp_path):
    final = tmp_path / "items.jsonl"
    state = MarkingState()
    with subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(final)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline() == "ready\n"
            assert recover_parts(tmp_path, state) == []
            assert part_of(final).exists()
            assert state.written == []
        finally:
            holder.send_signal(signal.SIGKILL)
            holder.wait(timeout=30)
    assert holder.returncode == -signal.SIGKILL
    assert recover_parts(tmp_path, state) == [{"path": str(final), "items": 1}]
    assert state.written == ["https://a.test/1"]
    assert state.commits == 1
    assert final.read_bytes() == line("https://a.test/1")
    assert not part_of(final).exists()


def test_an_overwriting_feed_replaces_a_dead_runs_part_but_not_a_live_one(tmp_path):
    final = tmp_path / "out.jsonl"
    part_of(final).write_bytes(b"left by a dead run\n")
    options = {"overwrite": True}
    storage = AtomicFileFeedStorage(str(final), feed_options=options)
    file = storage.open(None)
    assert storage.final_path == final
    assert part_of(final).read_bytes() == b""
    with pytest.raises(BlockingIOError):
        AtomicFileFeedStorage(str(final), feed_options=options).open(None)
    file.write(b"new\n")
    storage.store(file)
    assert final.read_bytes() == b"new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]


def test_cluster_mode_takes_no_run_lock(tmp_path):
    settings = Settings({"NEWSCRAWL_STATE_DIR": str(tmp_path)})
    lock = run_lock(settings, "news")
    assert lock is not None
    assert lock.path == tmp_path / "news.lock"
    settings.set("NEWSCRAWL_CLUSTER", "redis://localhost:6379/0")
    assert run_lock(settings, "news") is None


class FakeProcess:
    """The part of a ``CrawlerProcess`` the command uses; crawls nothing."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.spider_loader = SimpleNamespace(load=lambda name: type(name, (), {}))
        self.bootstrap_failed = False
        self.started = False

    def create_crawler(self, name: str) -> SimpleNamespace:
        return SimpleNamespace(
            signals=SimpleNamespace(connect=lambda *a, **kw: None),
            newscrawl_exit_code=0,
        )

    def crawl(self, crawler: object, **spargs: object) -> None:
        pass

    def start(self) -> None:
        self.started = True


@pytest.mark.parametrize(
    ("cluster", "exitcode", "started"),
    [("", ExitCode.LOCKED, False), ("redis://localhost:6379/0", 0, True)],
)
def test_a_held_run_lock_stops_a_plain_run_but_not_a_cluster_worker(
    tmp_path, monkeypatch, cluster, exitcode, started
):
    # The lock is the subject here: the worker's Redis counts as reachable.
    monkeypatch.setattr("newscrawl.cluster.admin.unreachable", lambda url: None)
    state_dir = tmp_path / "state"
    other_run = RunLock(state_dir / "news.lock")
    assert other_run.acquire()
    try:
        settings = Settings(
            {
                "NEWSCRAWL_STATE_DIR": str(state_dir),
                "NEWSCRAWL_CLUSTER": cluster,
                "FEEDS": {str(tmp_path / "feeds" / URI): {"format": "jsonlines"}},
            }
        )
        command = Command()
        command.crawler_process = FakeProcess(settings)  # type: ignore[assignment]
        command.run(["news"], argparse.Namespace(spargs={}))
        assert command.exitcode == exitcode
        assert command.crawler_process.started is started
    finally:
        other_run.release()


def test_without_hard_links_the_part_is_still_created_exclusively(
    tmp_path, monkeypatch
):
    def no_link(*args: object) -> None:
        raise PermissionError(errno.EPERM, "hard links not supported")

    monkeypatch.setattr(feeds.os, "link", no_link)
    final = tmp_path / "items.jsonl"
    first = AtomicFileFeedStorage(str(final))
    second = AtomicFileFeedStorage(str(final))
    a, b = first.open(None), second.open(None)
    assert holds_lock(part_of(first.final_path))
    assert second.final_path == tmp_path / "items-2.jsonl"
    second.store(b)
    first.store(a)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "items-2.jsonl",
        "items.jsonl",
    ]


def test_recovery_touches_only_its_own_unfinished_feeds(tmp_path):
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    outside = tmp_path / "outside.jsonl.part"
    outside.write_bytes(b'{"url": "https://x.example/1"}\ntorn')
    foreign = feeds / "notes.txt.part"
    foreign.write_bytes(b"a user's download\nhalf a li")
    (feeds / "items-2026-01-01T00-00-00+00-00.jsonl.part").symlink_to(outside)
    ours = feeds / "items-2026-01-02T00-00-00+00-00-2.jsonl.part"
    ours.write_bytes(b'{"url": "https://x.example/2"}\ntorn')
    pattern = feed_dirs_from({str(feeds / URI): {}}, "news")[0][1]

    recovered = recover_parts(feeds, None, pattern)

    assert recovered == [{"path": str(ours.with_suffix("")), "items": 1}]
    # Another program's file, and the file a symlink points out to: byte-for-byte.
    assert foreign.read_bytes() == b"a user's download\nhalf a li"
    assert outside.read_bytes() == b'{"url": "https://x.example/1"}\ntorn'
    assert (feeds / "items-2026-01-01T00-00-00+00-00.jsonl.part").is_symlink()


def test_a_bare_feed_name_recovers_only_that_name(tmp_path):
    # FEEDS naming a bare file: its folder (here the working one) holds others.
    mine = tmp_path / "items.jsonl.part"
    mine.write_bytes(b'{"url": "https://x.example/3"}\n')
    other = tmp_path / "export.jsonl.part"
    other.write_bytes(b"someone else's\ntorn")
    folder, pattern = feed_dirs_from({"items.jsonl": {}}, "news")[0]
    assert folder == Path()
    assert recover_parts(tmp_path, None, pattern) == [
        {"path": str(tmp_path / "items.jsonl"), "items": 1}
    ]
    assert other.read_bytes() == b"someone else's\ntorn"
