"""The crawl process under stress: SIGTERM, a full disk, an unwritable output
directory, a pipeline that raises. Nothing already written is lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from newscrawl.health import ExitCode

from .faultserver import FaultServer, article_path
from .test_hostile import FAST, ROOT, crawl


@pytest.fixture
def faults():
    with FaultServer() as server:
        server.hold_seconds = 60
        yield server


def feed_lines(out: Path) -> list[dict]:
    return [
        json.loads(line)
        for feed in sorted((out / "feeds").glob("*.jsonl*"))
        for line in feed.read_text("utf-8").splitlines()
    ]


def test_sigterm_stops_within_seconds_and_the_next_run_resumes(faults, tmp_path):
    ok = [faults.url + article_path("ok", i) for i in range(4)]
    silent = [faults.url + article_path("silent", i) for i in range(4)]
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("\n".join(ok + silent) + "\n")
    options = {
        **FAST,
        # Long timeouts: without aborting downloads, a stop would wait 60 s.
        "DOWNLOAD_TIMEOUT": "60",
        "NEWSCRAWL_STATE_DIR": str(tmp_path / "state"),
        "FEEDS": json.dumps(
            {str(tmp_path / "feeds" / "%(time)s.jsonl"): {"format": "jsonlines"}}
        ),
    }
    args = [sys.executable, "-m", "scrapy", "crawl", "news", "-a", f"urls_file={seeds}"]
    for name, value in options.items():
        args += ["-s", f"{name}={value}"]
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    # Wait (bounded) until the healthy pages are written and the silent ones hang.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        parts = list((tmp_path / "feeds").glob("*.part"))
        written = len(parts[0].read_text().splitlines()) if parts else 0
        if written == 4 and len(faults.log.times(prefix="/2026/12/01/silent")) == 4:
            break
        time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("the crawl did not reach the silent pages")
    stopped_at = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, log = proc.communicate(timeout=30)
    took = time.monotonic() - stopped_at
    assert took < 10, f"SIGTERM took {took:.1f} s"
    assert proc.returncode == ExitCode.CRAWL_FAILED, log[-3000:]
    report = json.loads(next((tmp_path / "feeds").glob("*.report.json")).read_text())
    assert report["finish_reason"] == "shutdown"
    assert report["request_failed"] == {"shutdown": 4}
    assert report["pending"] == 4
    assert not list((tmp_path / "feeds").glob("*.part"))

    # The server recovers; the next run fetches only the four pending pages.
    faults.healed = True
    run = crawl(tmp_path, ok + silent)
    assert run.returncode == 0, run.log[-3000:]
    urls = [item["url"] for item in feed_lines(tmp_path)]
    assert sorted(urls) == sorted(ok + silent)  # each once, over both runs


def test_a_full_disk_stops_the_crawl_and_loses_nothing(faults, tmp_path, monkeypatch):
    urls = [faults.url + article_path("ok", i) for i in range(20)]
    monkeypatch.setenv("NEWSCRAWL_TEST_DISK_BYTES", "6000")
    run = crawl(
        tmp_path,
        urls,
        {
            "FEED_STORAGES": json.dumps(
                {
                    "": "faultyparts.FullDiskStorage",
                    "file": "faultyparts.FullDiskStorage",
                }
            ),
            "CONCURRENT_REQUESTS_PER_DOMAIN": "1",
        },
    )
    monkeypatch.delenv("NEWSCRAWL_TEST_DISK_BYTES")
    assert run.returncode == ExitCode.OUTPUT, run.log[-3000:]
    assert "The feed failed: " in run.log
    parts = list((tmp_path / "feeds").glob("*.part"))
    assert len(parts) == 1, "the unfinished feed keeps its .part name"
    assert not list((tmp_path / "feeds").glob("*.jsonl"))
    written = parts[0].read_bytes()
    assert not written.endswith(b"\n"), "the disk filled up mid-line"
    complete = written[: written.rfind(b"\n") + 1].splitlines()
    assert 0 < len(complete) < 20

    # Space again: the next run recovers the complete lines, cuts the torn one
    # and crawls the rest. Every article once, no malformed line.
    run = crawl(tmp_path, urls)
    assert run.returncode == 0, run.log[-3000:]
    assert not list((tmp_path / "feeds").glob("*.part"))
    urls_out = [item["url"] for item in feed_lines(tmp_path)]
    assert sorted(urls_out) == sorted(urls)


def test_an_unwritable_output_directory_fails_at_once(faults, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the output directory should be")
    run = crawl(
        tmp_path,
        [faults.url + article_path("ok")],
        {
            "FEEDS": json.dumps(
                {str(blocker / "feeds" / "%(time)s.jsonl"): {"format": "jsonlines"}}
            )
        },
    )
    assert run.returncode == ExitCode.OUTPUT
    assert "cannot write the output" in run.log
    assert faults.log.paths() == []  # nothing was crawled


def test_an_exception_in_a_pipeline_loses_one_item_not_the_crawl(faults, tmp_path):
    urls = [faults.url + article_path("ok", i) for i in range(5)]
    urls.append(faults.url + article_path("ok", "boom"))
    run = crawl(
        tmp_path,
        urls,
        {
            "ITEM_PIPELINES": json.dumps(
                {
                    "newscrawl.pipelines.ValidateArticlePipeline": 100,
                    "faultyparts.BoomPipeline": 150,
                    "newscrawl.pipelines.DedupPipeline": 200,
                    "newscrawl.pipelines.RevisionPipeline": 300,
                }
            )
        },
    )
    assert run.returncode == 0, run.log[-3000:]
    assert run.urls() == set(urls[:5])
    assert run.report["item_errors"] == {"ValueError": 1}
    state = run.state()
    record = state.failure(urls[5])
    state.close()
    assert record is not None
    assert record.reason == "pipeline_error"
    assert record.detail == "ValueError"
