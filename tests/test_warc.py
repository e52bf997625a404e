"""WARC recording, replay and re-extraction, end to end with real crawls.

A crawl of the sample site is recorded, the server is stopped, and the replay from
the archive must give the same items and the same counts. The shared corpus's WARC
replays one item per page. A killed recording leaves an archive the next run
recovers. ``newscrawl extract --warc`` reproduces a recorded crawl's items, and so
does ``newscrawl parse`` page by page: one page path (``newscrawl.page``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from .conftest import CORPUS, requires_corpus, serve
from .faultserver import FaultServer, article_path
from .test_hostile import ROOT, crawl

#: Fields that differ between a live crawl and its replay by nature.
VOLATILE = ("fetched_at",)


def comparable(items: list[dict]) -> dict[str, dict]:
    return {
        item["url"]: {k: v for k, v in item.items() if k not in VOLATILE}
        for item in items
    }


def warc_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.warc.gz"))


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """A live crawl of the sample site, recorded; then its server is gone."""
    out = tmp_path_factory.mktemp("live")
    with serve() as base:
        run = crawl(
            out,
            [f"{base}/", f"{base}/fr/"],
            {"NEWSCRAWL_WARC": str(out / "warc")},
            spider="euronews",
            depth=None,
        )
    assert run.returncode == 0, run.log[-3000:]
    return run


def test_recording_writes_finished_warc_files(recorded):
    files = warc_files(recorded.out / "warc")
    assert files
    assert not list((recorded.out / "warc").glob("*.open"))
    from warcio.archiveiterator import ArchiveIterator

    kinds: dict[str, int] = {}
    with files[0].open("rb") as stream:
        for record in ArchiveIterator(stream):
            kinds[record.rec_type] = kinds.get(record.rec_type, 0) + 1
            if record.rec_type == "response":
                headers = record.rec_headers
                assert headers.get_header("WARC-Target-URI").startswith("http://")
                assert headers.get_header("WARC-Payload-Digest").startswith("sha1:")
                assert headers.get_header("WARC-IP-Address") == "127.0.0.1"
                assert record.http_headers.get_statuscode()
    assert kinds["warcinfo"] == 1
    # Every response (pages, robots.txt, the 404) with its request.
    assert kinds["response"] == kinds["request"] == recorded.report["requests"]


@pytest.fixture(scope="module")
def replayed(recorded, tmp_path_factory):
    """The recorded crawl again, served from its archive."""
    seeds = (recorded.out / "seeds.txt").read_text().split()
    run = crawl(
        tmp_path_factory.mktemp("replay"),
        seeds,
        spider="euronews",
        depth=None,
        spider_args={"replay": str(recorded.out / "warc")},
    )
    assert run.returncode == 0, run.log[-3000:]
    return run


def test_replay_gives_the_same_items_and_counts(recorded, replayed):
    run = replayed
    assert comparable(run.items) == comparable(recorded.items)
    for key in ("items", "dropped", "request_failed", "responses_by_status"):
        assert run.report[key] == recorded.report[key], key
    assert run.report["links_skipped"] == recorded.report["links_skipped"]


def test_every_path_gives_the_same_item_for_each_page(
    recorded, replayed, tmp_path, capsys
):
    """Crawl, replay, ``extract --warc`` and ``parse``: one item per sample page."""
    from newscrawl import cli, offline
    from newscrawl.sampleserver import SAMPLE_SITE

    crawled = comparable(recorded.items)
    assert len(crawled) >= 5
    assert comparable(replayed.items) == crawled
    out = tmp_path / "items.jsonl"
    offline.run(
        offline.iter_warc(*warc_files(recorded.out / "warc")), out, site="euronews"
    )
    extracted = comparable(
        [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    )
    for item in recorded.items:
        url = item["url"]
        assert extracted[url] == crawled[url], url
        page = SAMPLE_SITE / (urlsplit(url).path.strip("/") + ".html")
        capsys.readouterr()
        args = ["parse", str(page), "--url", url, "--site", "euronews"]
        assert cli.main([*args, "--fetched-at", item["fetched_at"]]) == 0
        # The whole item, fetch time included.
        assert json.loads(capsys.readouterr().out) == item, url


def test_a_url_missing_from_the_archive_is_a_counted_failure(recorded, tmp_path):
    seeds = (recorded.out / "seeds.txt").read_text().split()
    missing = seeds[0].rstrip("/") + "/2026/01/01/a-story-never-recorded"
    run = crawl(
        tmp_path,
        [*seeds, missing],
        spider="euronews",
        depth=None,
        spider_args={"replay": str(recorded.out / "warc")},
    )
    assert run.report["request_failed"].get("not_in_archive") == 1
    assert len(run.items) == len(recorded.items)


def test_reextracting_a_recorded_crawl_reproduces_its_items(recorded, tmp_path):
    out = tmp_path / "items.jsonl"
    # --site: the sample site runs on 127.0.0.1, not under a Euronews host name.
    args = [sys.executable, "-m", "newscrawl", "extract", "--out", str(out)]
    args += ["--site", "euronews"]
    for path in warc_files(recorded.out / "warc"):
        args += ["--warc", str(path)]
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    items = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    again = comparable(items)
    for url, item in comparable(recorded.items).items():
        assert again[url] == item, url


def test_a_damaged_archive_serves_the_records_before_the_damage(recorded, tmp_path):
    (source,) = warc_files(recorded.out / "warc")
    data = source.read_bytes()
    damaged = tmp_path / "damaged.warc.gz"
    damaged.write_bytes(data[: len(data) * 2 // 3])
    seeds = (recorded.out / "seeds.txt").read_text().split()
    run = crawl(
        tmp_path / "run",
        seeds,
        spider="euronews",
        depth=None,
        spider_args={"replay": str(damaged)},
    )
    assert "damaged.warc.gz" in run.log
    assert 0 < len(run.items) < len(recorded.items)
    assert run.report["request_failed"].get("not_in_archive", 0) >= 1


def test_a_killed_recording_is_recovered_by_the_next_run(tmp_path):
    with FaultServer() as faults:
        faults.hold_seconds = 60
        urls = [faults.url + article_path("ok", i) for i in range(5)]
        urls += [faults.url + article_path("silent", i) for i in range(2)]
        seeds = tmp_path / "seeds.txt"
        seeds.write_text("\n".join(urls) + "\n")
        warc_dir = tmp_path / "warc"
        args = [
            sys.executable, "-m", "scrapy", "crawl", "news",
            "-a", f"urls_file={seeds}", "-a", "depth=0",
            "-s", f"NEWSCRAWL_WARC={warc_dir}",
            "-s", f"NEWSCRAWL_STATE_DIR={tmp_path / 'state'}",
            "-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=0",
            "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=8",
            "-s", "FEEDS=" + json.dumps(
                {str(tmp_path / "feeds" / "%(time)s.jsonl"): {"format": "jsonlines"}}
            ),
        ]  # fmt: skip
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if len(faults.log.times(prefix="/2026/12/01/silent")) == 2:
                break
            time.sleep(0.1)
        time.sleep(0.5)  # the healthy responses are written by now
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        (open_file,) = warc_dir.glob("*.warc.gz.open")
        # Tear the last record, as a kill in the middle of a write would.
        open_file.write_bytes(open_file.read_bytes()[:-25])

        faults.healed = True
        run = crawl(tmp_path, urls, {"NEWSCRAWL_WARC": str(warc_dir)})
    assert run.report["errors"]["log_errors"] == 0, run.log[-3000:]
    assert not list(warc_dir.glob("*.open"))
    files = warc_files(warc_dir)
    assert len(files) == 2  # the recovered one and this run's
    # The recovered archive replays its complete records.
    from newscrawl.warc.index import ArchiveIndex

    index = ArchiveIndex([files[0]])
    assert not index.errors
    served = [u for u in urls if index.lookup(u) is not None]
    assert 1 <= len(served) <= 5


@requires_corpus
def test_replay_of_the_shared_corpus_warc_gives_one_item_per_page(tmp_path):
    pages = [
        json.loads(line)
        for line in (CORPUS / "pages.jsonl").read_text("utf-8").splitlines()
    ]
    run = crawl(
        tmp_path,
        [page["url"] for page in pages],
        # The pages are known articles; 18 of them fail the page test (og:type
        # website, short texts) and would otherwise be skipped as not articles.
        spider_args={
            "replay": str(CORPUS / "pages.warc.gz"),
            "seeds_are_articles": "1",
        },
        timeout=600,
    )
    assert run.returncode == 0, run.log[-3000:]
    assert run.report["request_failed"] == {}
    assert {item["url"] for item in run.items} == {page["url"] for page in pages}
