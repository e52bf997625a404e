"""``newscrawl extract``: WARC records and saved pages to JSONL, offline."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from newscrawl import offline
from newscrawl.sampleserver import SAMPLE_SITE
from newscrawl.schema import validation_errors

from .conftest import CORPUS, requires_corpus

EN_A = "2026/01/06/eu-ministers-agree-emergency-fund-for-flood-damaged-heritage-sites"
FR_B = "2026/01/04/leurope-a-besoin-dun-vrai-reseau-ferroviaire-commun"
EN_D = "2024/04/29/scientists-warn-europes-rivers-are-running-out-of-room"
BASE = "https://www.euronews.com/"


def _record(writer, url, body, status="200 OK", ctype="text/html; charset=utf-8"):
    headers = StatusAndHeaders(status, [("Content-Type", ctype)], protocol="HTTP/1.1")
    record = writer.create_warc_record(
        url,
        "response",
        payload=io.BytesIO(body),
        length=len(body),
        http_headers=headers,
        warc_headers_dict={"WARC-Date": "2026-01-07T10:00:00Z"},
    )
    writer.write_record(record)
    # warcio buffers the record to compute its digests and leaves the buffer open.
    if getattr(record, "buffered_stream", None) is not None:
        record.buffered_stream.close()


@pytest.fixture
def warc(tmp_path) -> Path:
    path = tmp_path / "crawl.warc.gz"
    with path.open("wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        _record(writer, BASE + EN_A, (SAMPLE_SITE / f"{EN_A}.html").read_bytes())
        _record(writer, BASE + "logo.png", b"\x89PNG....", ctype="image/png")
        _record(writer, BASE + "gone", b"<html>gone</html>", status="404 Not Found")
        _record(writer, BASE + "empty", b"")
        _record(writer, BASE + EN_D, (SAMPLE_SITE / f"{EN_D}.html").read_bytes())
        _record(writer, BASE + FR_B, (SAMPLE_SITE / f"{FR_B}.html").read_bytes())
    return path


def test_warc_to_items_with_counted_skips(warc, tmp_path):
    out = tmp_path / "items.jsonl"
    summary = offline.run(offline.iter_warc(warc), out)
    items = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert [i["url"] for i in items] == [BASE + EN_A, BASE + FR_B]
    assert all(validation_errors(i) == [] for i in items)
    # The WARC date picks the parser version and is the fetch time.
    assert items[0]["fetched_at"] == "2026-01-07T10:00:00+00:00"
    assert items[0]["provenance"]["title"] == "euronews:V1_1"
    assert summary.skipped == {"not_html": 1, "http_404": 1, "empty_body": 1}
    assert summary.failed == {"missing_body": 1}
    assert not out.with_name(out.name + ".part").exists()


def test_damaged_warc_keeps_records_before_the_damage(warc, tmp_path):
    data = warc.read_bytes()
    damaged = tmp_path / "damaged.warc.gz"
    damaged.write_bytes(data[: len(data) - 300] + b"garbage" * 10)
    records = list(offline.iter_warc(damaged))
    good = [r for r in records if isinstance(r, offline.Record)]
    assert [r.url for r in good][:1] == [BASE + EN_A]
    assert isinstance(records[-1], offline.Skip)
    assert records[-1].reason == "truncated_record"
    assert records[-1].url == BASE + FR_B


def test_a_revisit_is_resolved_in_any_of_the_files_given(warc, tmp_path):
    # The original of a revisit may be in an earlier file (a crawl's later run).
    with warc.open("rb") as stream:
        from warcio.archiveiterator import ArchiveIterator

        digest = next(
            r.rec_headers.get_header("WARC-Payload-Digest")
            for r in ArchiveIterator(stream)
            if r.rec_headers.get_header("WARC-Target-URI") == BASE + EN_A
        )
    later = tmp_path / "later.warc.gz"
    with later.open("wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        writer.write_record(
            writer.create_revisit_record(
                BASE + EN_A,
                digest,
                BASE + EN_A,
                "2026-01-07T10:00:00Z",
                warc_headers_dict={"WARC-Date": "2026-01-09T10:00:00Z"},
            )
        )
    records = list(offline.iter_warc(warc, later))
    revisit = records[-1]
    assert isinstance(revisit, offline.Record)
    assert revisit.url == BASE + EN_A
    assert revisit.fetched_at == "2026-01-09T10:00:00+00:00"
    assert revisit.body == (SAMPLE_SITE / f"{EN_A}.html").read_bytes()
    # Alone, the later file cannot serve it: counted, not extracted.
    (alone,) = list(offline.iter_warc(later))
    assert isinstance(alone, offline.Skip)
    assert (alone.url, alone.reason) == (BASE + EN_A, "revisit_unresolved")


def test_a_damaged_file_is_reported_before_the_next_file(warc, tmp_path):
    data = warc.read_bytes()
    damaged = tmp_path / "damaged.warc.gz"
    damaged.write_bytes(data[: len(data) - 300])
    records = list(offline.iter_warc(damaged, warc))
    skips = [(r.path, r.reason) for r in records if isinstance(r, offline.Skip)]
    assert (str(damaged), "truncated_record") in skips
    cut = next(i for i, r in enumerate(records) if r.path == str(warc))
    assert isinstance(records[cut - 1], offline.Skip)
    assert records[cut - 1].reason == "truncated_record"
    assert sum(isinstance(r, offline.Record) for r in records) == 5


def test_cli_extract_warc_and_saved_page(warc, tmp_path):
    out = tmp_path / "cli.jsonl"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "newscrawl",
            "extract",
            "--warc",
            str(warc),
            "--out",
            str(out),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "2 items" in result.stderr
    assert len(out.read_text("utf-8").splitlines()) == 2

    page = tmp_path / "page.html.gz"
    page.write_bytes(gzip.compress((SAMPLE_SITE / f"{FR_B}.html").read_bytes()))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "newscrawl",
            "extract",
            str(page),
            "--url",
            "https://fr.euronews.com/" + FR_B,
            "--quiet",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    assert json.loads(line)["language"] == "fr"


@requires_corpus
def test_corpus_warc_gives_one_item_per_page(tmp_path):
    out = tmp_path / "corpus.jsonl"
    summary = offline.run(offline.iter_warc(CORPUS / "pages.warc.gz"), out)
    pages = len((CORPUS / "pages.jsonl").read_text("utf-8").splitlines())
    assert summary.items + sum(summary.failed.values()) == pages
    assert summary.items >= pages - 2
    assert not summary.skipped


def test_a_saved_page_that_inflates_to_gigabytes_is_refused_in_bounded_memory(tmp_path):
    import gzip
    import subprocess
    import sys

    bomb = tmp_path / "page.html.gz"
    with gzip.open(bomb, "wb", compresslevel=9) as fh:
        chunk = b"<p>" + b"a" * (1024 * 1024) + b"</p>"
        for _ in range(1024):  # 1 GiB of markup, about 1 MB on disk
            fh.write(chunk)
    assert bomb.stat().st_size < 5 * 1024 * 1024
    # The command in a process that reports its own peak memory (kB) at exit:
    # VmHWM, which starts afresh at exec (ru_maxrss would carry pytest's size).
    wrapper = (
        "import re, runpy, sys\n"
        "sys.argv = ['newscrawl', *sys.argv[1:]]\n"
        "try:\n"
        "    runpy.run_module('newscrawl', run_name='__main__')\n"
        "finally:\n"
        "    status = open('/proc/self/status').read()\n"
        "    peak = re.search(r'VmHWM:\\s+(\\d+)', status).group(1)\n"
        "    print(f'peak-kb {peak}', file=sys.stderr)\n"
    )
    for command in ("extract", "parse"):
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                wrapper,
                command,
                str(bomb),
                "--url",
                "https://news.example/2026/01/01/a-story",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 1, result.stderr[-2000:]
        assert "larger than 20 MiB once decompressed" in result.stderr
        assert "Traceback" not in result.stderr
        peak_kb = int(result.stderr.rsplit("peak-kb ", 1)[1])
        # Unbounded, the 1 GiB page alone takes over 1,048,576 kB; bounded,
        # the command peaks near 100 MB.
        assert peak_kb < 300 * 1024, f"{command}: {peak_kb} kB"
