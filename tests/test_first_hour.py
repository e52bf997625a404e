"""A newcomer's first hour: the demo, the cron line as written, the summary.

Each test runs the real command lines (``python -m newscrawl demo``, ``scrapy
crawl``, the README's crontab line under ``env -i``) against servers on
127.0.0.1 that the tests start.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.exceptions import IgnoreRequest

from newscrawl.cli import _loopback_only
from newscrawl.lock import RunLock
from newscrawl.params import EuronewsParams, NewsParams

from .conftest import serve
from .test_hostile import FAST, closed_port

ROOT = Path(__file__).resolve().parent.parent
GENERIC = Path(__file__).with_name("sites") / "generic"
README_HOST = "https://www.example-news.com"
README_PROJECT = "/srv/newscrawl"


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}


def _items(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


# -- the demo ---------------------------------------------------------------


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _demo(cwd: Path) -> subprocess.CompletedProcess[str]:
    return _run([sys.executable, "-m", "newscrawl", "demo"], cwd)


def _comparable(item: dict) -> dict:
    """An item without what differs between runs: fetch time and server port."""
    text = json.dumps({k: v for k, v in item.items() if k != "fetched_at"})
    return json.loads(re.sub(r"http://127\.0\.0\.1:\d+", "http://SITE", text))


def test_demo_twice_gives_the_same_items_and_leaves_the_real_state_alone(tmp_path):
    first, second = _demo(tmp_path), _demo(tmp_path)
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    feeds = sorted((tmp_path / "output" / "demo").glob("*.jsonl"))
    assert len(feeds) == 2, feeds
    runs = [sorted(map(_comparable, _items(f)), key=lambda i: i["url"]) for f in feeds]
    assert len(runs[0]) == 5
    assert runs[0] == runs[1]
    # Its own temporary state: never the real spider's, never a history entry.
    assert not (tmp_path / "output" / ".state").exists()
    assert sorted(p.name for p in (tmp_path / "output").iterdir()) == ["demo"]
    for item in runs[0]:
        assert item["url"].startswith("http://SITE/")
    # The second run says what the first said: nothing was known from before.
    assert "5 new, 0 changed, 0 known skipped" in second.stderr
    # Optional components that are off are silent; no traceback.
    assert "Disabled" not in second.stderr
    assert "Traceback" not in second.stderr


def test_the_demo_refuses_any_request_off_the_machine():
    class Stats(dict):
        def inc_value(self, key):
            self[key] = self.get(key, 0) + 1

    spider = type("S", (), {})()
    spider.crawler = type("C", (), {"stats": Stats()})()
    _loopback_only(Request("http://127.0.0.1:8000/"), spider)
    _loopback_only(Request("http://localhost:8000/x"), spider)
    for url in ("https://www.euronews.com/", "http://10.0.0.1/", "http://[::2]/"):
        with pytest.raises(IgnoreRequest):
            _loopback_only(Request(url), spider)
    assert spider.crawler.stats == {"newscrawl/demo/refused_off_machine": 3}


# -- the cron line ----------------------------------------------------------


def readme_cron_line() -> str:
    """The crontab line of the README's cron section, without its schedule."""
    readme = (ROOT / "README.md").read_text("utf-8")
    blocks = re.findall(r"```crontab\n(.*?)```", readme, flags=re.DOTALL)
    assert blocks, "the README has no ```crontab block"
    lines = [
        ln
        for block in blocks
        for ln in block.splitlines()
        if ln.strip() and not ln.lstrip().startswith("#")
    ]
    assert len(lines) == 1, lines
    fields = lines[0].split(None, 5)
    assert len(fields) == 6, lines[0]
    return fields[5]


@pytest.fixture
def cron_project(tmp_path):
    """A deployment as the README describes it: project dir with a venv."""
    project = tmp_path / "srv"
    (project / ".venv" / "bin").mkdir(parents=True)
    shutil.copy(ROOT / "scrapy.cfg", project / "scrapy.cfg")
    script = Path(sys.executable).parent / "scrapy"
    scrapy = project / ".venv" / "bin" / "scrapy"
    if script.exists():
        scrapy.symlink_to(script)
    else:  # an interpreter without console scripts beside it
        scrapy.write_text(f'#!/bin/sh\nexec {sys.executable} -m scrapy "$@"\n')
        scrapy.chmod(0o755)
    site = tmp_path / "site"
    shutil.copytree(GENERIC, site)
    # The README's example feed is /rss.xml.
    shutil.copy(site / "feed.xml", site / "rss.xml")
    return project, site


def run_cron_line(project: Path, base: str) -> subprocess.CompletedProcess[str]:
    line = readme_cron_line()
    assert README_PROJECT in line
    assert README_HOST in line
    line = line.replace(README_PROJECT, str(project)).replace(README_HOST, base)
    # The notifier: a file the test reads instead of a mail.
    line, n = re.subn(r"\| mail .*$", f"| cat > {project}/mailed.txt", line)
    assert n == 1, "the cron line pipes a failure message into mail"
    # As cron runs it: /bin/sh, an empty environment but a minimal PATH.
    return subprocess.run(
        ["env", "-i", "PATH=/usr/bin:/bin", "sh", "-c", line],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_the_readme_cron_line_works_as_written(cron_project):
    project, site = cron_project
    with serve(site) as base:
        first = run_cron_line(project, base)
        assert first.returncode == 0, first.stdout + first.stderr
        # Cron mails any output: the line prints nothing when all is well.
        assert first.stdout == first.stderr == ""
        assert not (project / "mailed.txt").exists()
        log = (project / "log" / "news.log").read_text("utf-8")
        assert "newscrawl: news finished" in log
        assert "newscrawl: exit 0" in log
        feeds = list((project / "output" / "news").glob("*.jsonl"))
        assert len(feeds) == 1
        assert len(_items(feeds[0])) >= 3

        # The next run finds nothing new: exit 0, no mail, no empty feed file.
        second = run_cron_line(project, base)
        assert second.returncode == 0
        assert not (project / "mailed.txt").exists()
        assert len(list((project / "output" / "news").glob("*.jsonl"))) == 1
        assert len(list((project / "output" / "news").glob("*.report.json"))) == 2
        log = (project / "log" / "news.log").read_text("utf-8")
        assert "newscrawl: nothing new:" in log

        # A run still holding the lock: exit 75, which is not mailed.
        lock = RunLock(project / "output" / ".state" / "news.lock")
        assert lock.acquire()
        try:
            third = run_cron_line(project, base)
        finally:
            lock.release()
        assert not (project / "mailed.txt").exists()
        assert "another run of 'news' is active" in (
            project / "log" / "news.log"
        ).read_text("utf-8")
        assert third.returncode == 0


def test_the_readme_cron_line_mails_a_failed_run(cron_project):
    project, site = cron_project
    (site / "rss.xml").unlink()  # the feed is gone: 404, nothing to export
    with serve(site) as base:
        run_cron_line(project, base)
    mailed = (project / "mailed.txt").read_text("utf-8")
    assert mailed.startswith("newscrawl news: exit 4, see"), mailed


# -- what a crawl says ------------------------------------------------------


def crawl_news(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``scrapy crawl news ARGS`` run in ``cwd`` as a user would, fast settings."""
    command = [sys.executable, "-m", "scrapy", "crawl", "news", *args]
    for name, value in FAST.items():
        command += ["-s", f"{name}={value}"]
    shutil.copy(ROOT / "scrapy.cfg", cwd / "scrapy.cfg")
    return _run(command, cwd)


def test_a_rerun_says_why_it_exported_nothing_and_how_to_get_everything(tmp_path):
    with serve(GENERIC) as base:
        first = crawl_news(tmp_path, "-a", f"feed={base}/feed.xml", "-O", "items.json")
        assert first.returncode == 0, first.stderr
        exported = json.loads((tmp_path / "items.json").read_text("utf-8"))
        assert len(exported) >= 3
        (tmp_path / "items.json").unlink()
        again = crawl_news(tmp_path, "-a", f"feed={base}/feed.xml", "-O", "items.json")
        everything = crawl_news(
            tmp_path,
            "-a",
            f"feed={base}/feed.xml",
            "-O",
            "all.json",
            "-s",
            "NEWSCRAWL_STATE=off",
        )
    assert again.returncode == 0
    # Nothing new: -O overwrote the file with an empty list, and the summary
    # says why.
    assert json.loads((tmp_path / "items.json").read_text("utf-8")) == []
    tail = again.stderr.strip().splitlines()[-3:]
    assert tail[0].startswith("newscrawl: news finished in ")
    assert f"0 new, 0 changed, {len(exported)} known skipped" in tail[0]
    assert tail[1] == (
        f"newscrawl: nothing new: {len(exported)} known articles skipped (the crawl"
        " state remembers them); -s NEWSCRAWL_STATE=off exports them again"
    )
    assert tail[2] == "newscrawl: exit 0 (ok: articles written, or nothing new)"
    # The way out the summary names works.
    assert everything.returncode == 0, everything.stderr
    again_all = json.loads((tmp_path / "all.json").read_text("utf-8"))
    assert sorted(i["url"] for i in again_all) == sorted(i["url"] for i in exported)
    # Quiet: no start-up listings, no disabled-component warnings, no stats dump.
    for noise in (
        "Disabled ",
        "Enabled downloader",
        "Overridden settings",
        "Versions:",
        "Dumping Scrapy stats",
        "Remote control",
    ):
        assert noise not in again.stderr, noise
    # The report is readable like the feed beside it (not 0600).
    report = tmp_path / "items.report.json"
    assert json.loads(report.read_text("utf-8"))["known_skipped"] == len(exported)
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(report.stat().st_mode) == 0o666 & ~umask


def test_network_failures_are_one_line_each_without_traceback(tmp_path):
    dead = f"http://127.0.0.1:{closed_port()}"
    result = crawl_news(tmp_path, "-a", f"url={dead}/,{dead}/2026/01/01/a-story-here")
    assert result.returncode == 4
    assert "Traceback" not in result.stderr
    log = [ln for ln in result.stderr.splitlines() if not ln.startswith("newscrawl:")]
    refused = [ln for ln in log if "connection_refused" in ln]
    # robots.txt and the two pages: one WARNING line each.
    assert len(refused) >= 3, result.stderr
    errors = [ln for ln in log if " ERROR: " in ln]
    assert len(errors) == 1, errors
    assert "Unhealthy run (exit code 4)" in errors[0]
    tail = result.stderr.strip().splitlines()[-2:]
    assert tail[0].startswith("newscrawl: nothing exported: 2 requests failed")
    assert tail[1] == (
        "newscrawl: exit 4 (no articles exported and none known;"
        " 2 requests failed (connection_refused 2))"
    )


def test_crawl_help_lists_every_spider_argument(tmp_path):
    shutil.copy(ROOT / "scrapy.cfg", tmp_path / "scrapy.cfg")
    result = subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", "news", "-h"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    for params, spider in ((EuronewsParams, "euronews"), (NewsParams, "news")):
        section = result.stdout.split(f"Arguments of the {spider!r} spider")[1]
        listed = set(re.findall(r"^  (\w+)  ", section, flags=re.MULTILINE))
        assert listed >= params.KNOWN, params.KNOWN - listed


# -- the newscrawl command ----------------------------------------------------


def test_newscrawl_tools_fail_cleanly(tmp_path):
    missing = subprocess.run(
        [
            sys.executable,
            "-m",
            "newscrawl",
            "extract",
            str(tmp_path / "no.html"),
            "--url",
            "https://example.org/a",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert missing.returncode == 2
    assert missing.stderr.startswith("extract: cannot read "), missing.stderr
    page = ROOT / "newscrawl" / "sample_site" / "index.html"
    # A reader that leaves early (| head): no BrokenPipeError traceback.
    piped = subprocess.run(
        f"{sys.executable} -m newscrawl parse {page} --url http://127.0.0.1/"
        " | head -c 10 >/dev/null; echo ${PIPESTATUS[0]} >&2",
        shell=True,
        executable="/bin/bash",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "Traceback" not in piped.stderr, piped.stderr
    assert "BrokenPipeError" not in piped.stderr
    helped = subprocess.run(
        [sys.executable, "-m", "newscrawl", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "``" not in helped.stdout
    assert "crawls run with `scrapy crawl`" in helped.stdout
