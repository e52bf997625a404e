"""Replay from WARC archives: the index, lookups, damaged files, the middleware.

Every archive here is written by the test with warcio's WARCWriter (pages made up
for it): WARC/1.1 and WARC/1.0, one gzip member per record or none, and CC-NEWS
style records whose HTTP payload is gzip content-encoded and/or chunked. The last
test reads the shared corpus's WARC when it is there.
"""

from __future__ import annotations

import gzip
import ipaddress
import json
import logging
import os
import zlib
from io import BytesIO
from pathlib import Path

import pytest
from scrapy import Request, Spider, signals
from scrapy.exceptions import NotConfigured, StopDownload
from scrapy.http import HtmlResponse, Response, TextResponse
from scrapy.utils.test import get_crawler
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from newscrawl.defaults import SettingError
from newscrawl.failures import RequestRefused, reason_of
from newscrawl.warc.index import ArchiveIndex
from newscrawl.warc.reader import archive_files
from newscrawl.warc.replay import ReplayMiddleware, replay_paths

CORPUS = Path(
    os.environ.get(
        "NEWSCRAWL_CORPUS",
        Path(__file__).resolve().parents[1].parent / "shared" / "corpus",
    )
)
HTML_TYPE = ("Content-Type", "text/html; charset=utf-8")


def html(title: str, size: int = 2000) -> bytes:
    """A small article page; ``size`` bytes of filler make records of some length."""
    filler = ("Lorem ipsum dolor sit amet. " * (size // 28 + 1))[:size]
    return (
        f"<!DOCTYPE html><html lang='en'><head><title>{title}</title></head>"
        f"<body><h1>{title}</h1><p>{filler}</p></body></html>"
    ).encode()


def chunked(data: bytes, size: int = 700) -> bytes:
    parts = [data[i : i + size] for i in range(0, len(data), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


def response(
    writer: WARCWriter,
    uri: str,
    payload: bytes,
    *,
    status: str = "200 OK",
    headers: list[tuple[str, str]] | None = None,
    date: str | None = None,
    ip: str | None = None,
    content_length: bool = True,
):
    """A ``response`` record: HTTP status line, headers, ``payload`` as stored."""
    headers = [HTML_TYPE] if headers is None else list(headers)
    if content_length:
        headers.append(("Content-Length", str(len(payload))))
    warc_headers = {}
    if date:
        warc_headers["WARC-Date"] = date
    if ip:
        warc_headers["WARC-IP-Address"] = ip
    return writer.create_warc_record(
        uri,
        "response",
        payload=BytesIO(payload),
        # With its length given, warcio does not spool the payload to a temp file.
        length=len(payload),
        http_headers=StatusAndHeaders(status, headers, protocol="HTTP/1.1"),
        warc_headers_dict=warc_headers,
    )


def write_warc(path: Path, build, *, gzip_records: bool = True, version="WARC/1.1"):
    """Write the records ``build(writer)`` returns; the byte offset of each, and the end."""
    offsets = []
    with path.open("wb") as stream:
        writer = WARCWriter(stream, gzip=gzip_records, warc_version=version)
        for record in build(writer):
            offsets.append(stream.tell())
            writer.write_record(record)
        offsets.append(stream.tell())
    return offsets


def five_pages(writer):
    return [
        response(writer, f"https://news.example/2026/story-{i}", html(f"Story {i}"))
        for i in range(5)
    ]


def served(index: ArchiveIndex) -> list[str]:
    urls = [f"https://news.example/2026/story-{i}" for i in range(5)]
    return [url for url in urls if index.lookup(url) is not None]


# -- lookups --------------------------------------------------------------------


def test_an_html_page_comes_back_as_archived(tmp_path):
    page = html("Council votes")
    headers = [HTML_TYPE, ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")]

    def build(w):
        return [
            w.create_warcinfo_record("t.warc.gz", {"software": "test"}),
            response(
                w,
                "https://news.example/council",
                page,
                headers=headers,
                date="2026-01-05T10:00:00Z",
                ip="203.0.113.7",
            ),
        ]

    write_warc(tmp_path / "t.warc.gz", build)
    index = ArchiveIndex([tmp_path / "t.warc.gz"])
    found = index.lookup("https://news.example/council")
    assert found is not None
    assert found.status == 200
    assert found.body == page
    assert found.headers == [*headers, ("Content-Length", str(len(page)))]
    assert found.date == "2026-01-05T10:00:00Z"
    assert found.ip_address == "203.0.113.7"
    assert found.protocol == "HTTP/1.1"
    assert not found.too_large
    assert not found.revisit
    assert len(index) == 1
    assert "https://news.example/council" in index
    assert list(index) == ["https://news.example/council"]
    assert index.errors == []


@pytest.mark.parametrize("version", ["WARC/1.0", "WARC/1.1"])
@pytest.mark.parametrize(
    ("encoding", "stored"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        # Raw deflate, as some servers send it: warcio retries without the header.
        ("deflate", lambda data: zlib.compress(data)[2:-4]),
        (None, lambda data: data),
    ],
)
@pytest.mark.parametrize("is_chunked", [False, True])
def test_cc_news_style_payloads_are_decoded(
    tmp_path, version, encoding, stored, is_chunked
):
    page = html("Elections in three regions")
    payload = stored(page)
    headers = [HTML_TYPE, ("Server", "nginx")]
    if encoding:
        headers.append(("Content-Encoding", encoding))
    if is_chunked:
        headers.append(("Transfer-Encoding", "chunked"))
        payload = chunked(payload)
    uri = "https://news.example/elections"

    def build(w):
        return [
            response(w, uri, payload, headers=headers, content_length=not is_chunked)
        ]

    write_warc(tmp_path / "cc.warc.gz", build, version=version)
    found = ArchiveIndex([tmp_path / "cc.warc.gz"]).lookup(uri)
    assert found is not None
    assert found.body == page
    names = [name for name, _ in found.headers]
    # Content-Length described the stored bytes: it goes once they are decoded.
    expected = ["Content-Type", "Server"]
    if not (encoding or is_chunked):
        expected.append("Content-Length")
    assert names == expected


def test_a_brotli_payload_is_left_to_scrapy_with_its_header(tmp_path):
    # warcio's 'br' decoder does not start with the brotli package: the payload is
    # served encoded, with Content-Encoding, for Scrapy's HttpCompressionMiddleware.
    brotli = pytest.importorskip("brotli")
    page = html("Brotli")
    payload = brotli.compress(page)
    headers = [HTML_TYPE, ("Content-Encoding", "br"), ("Transfer-Encoding", "chunked")]
    uri = "https://news.example/br"

    def build(w):
        return [
            response(w, uri, chunked(payload), headers=headers, content_length=False)
        ]

    write_warc(tmp_path / "br.warc.gz", build)
    found = ArchiveIndex([tmp_path / "br.warc.gz"]).lookup(uri)
    assert found is not None
    assert found.body == payload  # de-chunked, still br
    assert found.headers == [HTML_TYPE, ("Content-Encoding", "br")]


def test_a_payload_not_in_its_declared_encoding_keeps_its_header(tmp_path):
    # Served as stored, so Scrapy fails it as bad_content_encoding, as it would live.
    page = html("Not gzip at all")
    uri = "https://news.example/liar"
    headers = [HTML_TYPE, ("Content-Encoding", "gzip")]

    def build(w):
        return [response(w, uri, page, headers=headers)]

    write_warc(tmp_path / "liar.warc.gz", build)
    found = ArchiveIndex([tmp_path / "liar.warc.gz"]).lookup(uri)
    assert found is not None
    assert found.body == page
    assert ("Content-Encoding", "gzip") in found.headers


def test_a_redirect_is_served_as_a_redirect(tmp_path):
    def build(w):
        return [
            response(
                w,
                "http://news.example/old",
                b"",
                status="301 Moved Permanently",
                headers=[("Location", "https://news.example/new")],
            )
        ]

    write_warc(tmp_path / "r.warc.gz", build)
    found = ArchiveIndex([tmp_path / "r.warc.gz"]).lookup("http://news.example/old")
    assert found is not None
    assert found.status == 301
    assert ("Location", "https://news.example/new") in found.headers
    assert found.body == b""


def test_a_missing_url_is_none(tmp_path):
    write_warc(tmp_path / "t.warc.gz", five_pages)
    index = ArchiveIndex([tmp_path / "t.warc.gz"])
    assert index.lookup("https://news.example/2026/never-archived") is None
    assert "https://news.example/2026/never-archived" not in index
    assert index.lookup("https://other.example/2026/story-1") is None


def test_trailing_slash_and_fragment_variants(tmp_path):
    def build(w):
        return [
            response(w, "https://news.example/section/", html("Section")),
            response(w, "https://news.example/article", html("Article")),
            response(w, "https://news.example/q?id=5", html("Query")),
            response(w, "https://news.example/frag#comments", html("Fragment")),
            response(w, "https://news.example/straße", html("IRI")),
        ]

    write_warc(tmp_path / "v.warc.gz", build)
    index = ArchiveIndex([tmp_path / "v.warc.gz"])

    def title(url):
        found = index.lookup(url)
        return None if found is None else found.body.split(b"<h1>")[1].split(b"<")[0]

    assert title("https://news.example/section/") == b"Section"
    assert title("https://news.example/section") == b"Section"
    assert title("https://news.example/section#top") == b"Section"
    assert title("https://news.example/article/") == b"Article"
    assert title("https://news.example/article#x") == b"Article"
    assert title("https://news.example/q/?id=5") == b"Query"
    # The archive's URI had a fragment; a request never does.
    assert title("https://news.example/frag") == b"Fragment"
    assert title("https://news.example/frag#comments") == b"Fragment"
    # The archive's URI is an IRI; Scrapy requests the escaped form.
    assert title("https://news.example/stra%C3%9Fe") == b"IRI"
    assert title("https://news.example/other") is None


def test_the_latest_response_of_a_url_wins(tmp_path):
    uri = "https://news.example/live-blog"

    def build(w):
        # Written out of order: the date decides, not the position.
        return [
            response(w, uri, html("Second"), date="2026-01-02T00:00:00Z"),
            response(w, uri, html("First"), date="2026-01-01T00:00:00Z"),
        ]

    write_warc(tmp_path / "a.warc.gz", build)

    def later(w):
        return [response(w, uri, html("Third"), date="2026-01-02T00:00:00.5Z")]

    write_warc(tmp_path / "b.warc.gz", later)
    assert b"Second" in ArchiveIndex([tmp_path / "a.warc.gz"]).lookup(uri).body
    both = ArchiveIndex([tmp_path / "b.warc.gz", tmp_path / "a.warc.gz"])
    assert b"Third" in both.lookup(uri).body
    assert both.records == 3
    assert len(both) == 1


def test_records_other_than_http_responses_are_not_served(tmp_path):
    def build(w):
        return [
            w.create_warcinfo_record("t.warc.gz", {"software": "test"}),
            w.create_warc_record(
                "https://news.example/resource",
                "resource",
                payload=BytesIO(html("Resource")),
                length=len(html("Resource")),
                warc_content_type="text/html",
            ),
            w.create_warc_record(
                "https://news.example/metadata",
                "metadata",
                payload=BytesIO(b"outlink: https://news.example/x\r\n"),
                length=len(b"outlink: https://news.example/x\r\n"),
                warc_content_type="application/warc-fields",
            ),
            w.create_warc_record(
                "https://news.example/requested",
                "request",
                http_headers=StatusAndHeaders(
                    "GET /requested HTTP/1.1",
                    [("Host", "news.example")],
                    is_http_request=True,
                ),
            ),
            w.create_warc_record(
                "dns:news.example",
                "response",
                payload=BytesIO(b"news.example. 300 IN A 203.0.113.7"),
                length=len(b"news.example. 300 IN A 203.0.113.7"),
                warc_content_type="text/dns",
            ),
        ]

    write_warc(tmp_path / "t.warc.gz", build)
    index = ArchiveIndex([tmp_path / "t.warc.gz"])
    for url in ("resource", "metadata", "requested"):
        assert index.lookup(f"https://news.example/{url}") is None
    assert index.lookup("dns:news.example") is None
    assert len(index) == 0
    assert index.errors == []


# -- revisits -------------------------------------------------------------------


def _original_and_revisits(tmp_path, revisits):
    """An original gzip-encoded, chunked response, then ``revisits(w, digest, date)``."""
    page = html("Budget approved")
    original_headers = [
        HTML_TYPE,
        ("Content-Encoding", "gzip"),
        ("Transfer-Encoding", "chunked"),
        ("X-Fetch", "first"),
    ]
    path = tmp_path / "rev.warc.gz"
    with path.open("wb") as stream:
        w = WARCWriter(stream, gzip=True, warc_version="WARC/1.0")
        original = response(
            w,
            "https://news.example/budget",
            chunked(gzip.compress(page)),
            headers=original_headers,
            date="2026-01-01T08:00:00Z",
            ip="203.0.113.7",
            content_length=False,
        )
        w.write_record(original)
        digest = original.rec_headers.get_header("WARC-Payload-Digest")
        for record in revisits(w, digest, "2026-01-01T08:00:00Z"):
            w.write_record(record)
    return page, ArchiveIndex([path])


def test_a_revisit_is_served_with_its_original_payload_and_its_own_headers(tmp_path):
    def revisits(w, digest, date):
        return [
            w.create_revisit_record(
                "https://news.example/budget",
                digest,
                "https://news.example/budget",
                date,
                http_headers=StatusAndHeaders(
                    "200 OK",
                    [HTML_TYPE, ("Content-Encoding", "gzip"), ("X-Fetch", "second")],
                    protocol="HTTP/1.1",
                ),
                warc_headers_dict={"WARC-Date": "2026-01-02T08:00:00Z"},
            )
        ]

    page, index = _original_and_revisits(tmp_path, revisits)
    found = index.lookup("https://news.example/budget")
    assert found is not None
    assert found.revisit
    assert found.body == page
    assert found.status == 200
    assert found.headers == [HTML_TYPE, ("X-Fetch", "second")]
    assert found.date == "2026-01-02T08:00:00Z"
    assert found.ip_address == "203.0.113.7"  # the revisit has none; the original's


def bare_revisit(w, digest, date):
    """A revisit record of the budget page without HTTP headers of its own."""
    return [
        w.create_revisit_record(
            "https://news.example/budget",
            digest,
            "https://news.example/budget",
            date,
            warc_headers_dict={"WARC-Date": "2026-01-02T08:00:00Z"},
        )
    ]


def test_a_revisit_without_http_headers_takes_the_originals(tmp_path):
    page, index = _original_and_revisits(tmp_path, bare_revisit)
    found = index.lookup("https://news.example/budget")
    assert found.revisit
    assert found.body == page
    assert found.headers == [HTML_TYPE, ("X-Fetch", "first")]


def test_a_not_modified_revisit_is_served_as_the_original_page(tmp_path):
    def revisits(w, digest, date):
        record = w.create_revisit_record(
            "https://news.example/budget",
            digest,
            "https://news.example/budget",
            date,
            http_headers=StatusAndHeaders(
                "304 Not Modified", [("ETag", '"v1"')], protocol="HTTP/1.1"
            ),
            warc_headers_dict={"WARC-Date": "2026-01-02T08:00:00Z"},
        )
        record.rec_headers.replace_header(
            "WARC-Profile",
            "http://netpreserve.org/warc/1.0/revisit/server-not-modified",
        )
        return [record]

    page, index = _original_and_revisits(tmp_path, revisits)
    found = index.lookup("https://news.example/budget")
    assert found.status == 200
    assert found.body == page


def test_a_revisit_of_another_url_is_resolved_by_payload_digest(tmp_path):
    def revisits(w, digest, _date):
        # Only the digest says which payload: no WARC-Refers-To-* fields.
        return [
            w.create_warc_record(
                "https://mirror.example/budget",
                "revisit",
                http_headers=StatusAndHeaders(
                    "200 OK", [HTML_TYPE, ("Content-Encoding", "gzip")], "HTTP/1.1"
                ),
                warc_headers_dict={
                    "WARC-Payload-Digest": digest,
                    "WARC-Profile": "http://netpreserve.org/warc/1.0/revisit/"
                    "identical-payload-digest",
                },
            )
        ]

    page, index = _original_and_revisits(tmp_path, revisits)
    found = index.lookup("https://mirror.example/budget")
    assert found is not None
    assert found.url == "https://mirror.example/budget"
    assert found.body == page
    assert found.headers == [HTML_TYPE]


def test_a_revisit_picks_the_response_its_date_refers_to(tmp_path):
    uri = "https://news.example/changing"
    path = tmp_path / "dates.warc.gz"
    with path.open("wb") as stream:
        w = WARCWriter(stream, gzip=True)
        old = response(w, uri, html("Old"), date="2026-01-01T00:00:00Z")
        w.write_record(old)
        w.write_record(response(w, uri, html("New"), date="2026-01-02T00:00:00Z"))
        revisit = w.create_revisit_record(
            uri,
            old.rec_headers.get_header("WARC-Payload-Digest"),
            uri,
            "2026-01-01T00:00:00Z",
            warc_headers_dict={"WARC-Date": "2026-01-03T00:00:00Z"},
        )
        w.write_record(revisit)
    found = ArchiveIndex([path]).lookup(uri)
    assert found.revisit
    assert b"<h1>Old</h1>" in found.body


def test_a_revisit_whose_original_is_missing_is_not_served(tmp_path, caplog):
    uri = "https://news.example/orphan"

    def build(w):
        return [
            w.create_revisit_record(
                uri,
                "sha1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                uri,
                "2025-01-01T00:00:00Z",
            )
        ]

    write_warc(tmp_path / "orphan.warc.gz", build)
    index = ArchiveIndex([tmp_path / "orphan.warc.gz"])
    assert uri in index
    with caplog.at_level(logging.WARNING, logger="newscrawl.warc.index"):
        assert index.lookup(uri) is None
    assert "original response is not in the archives" in caplog.text


def test_a_response_newer_than_a_revisit_wins(tmp_path):
    uri = "https://news.example/budget"

    def revisits(w, digest, date):
        return [
            w.create_revisit_record(
                uri,
                digest,
                uri,
                date,
                warc_headers_dict={"WARC-Date": "2026-01-02T00:00:00Z"},
            ),
            response(w, uri, html("Rewritten"), date="2026-01-03T00:00:00Z"),
        ]

    _, index = _original_and_revisits(tmp_path, revisits)
    found = index.lookup(uri)
    assert not found.revisit
    assert b"Rewritten" in found.body


# -- damaged archives -----------------------------------------------------------


@pytest.mark.parametrize("gzip_records", [True, False], ids=["gz", "plain"])
def test_a_truncated_file_serves_the_records_before_the_cut(
    tmp_path, caplog, gzip_records
):
    whole = tmp_path / "whole.warc"
    offsets = write_warc(whole, five_pages, gzip_records=gzip_records)
    cut = tmp_path / "cut.warc.gz"
    cut.write_bytes(whole.read_bytes()[: (offsets[2] + offsets[3]) // 2])
    with caplog.at_level(logging.ERROR, logger="newscrawl.warc.index"):
        index = ArchiveIndex([cut])
    assert served(index) == [
        "https://news.example/2026/story-0",
        "https://news.example/2026/story-1",
    ]
    assert len(index.errors) == 1
    (damage,) = index.errors
    assert damage.path == str(cut)
    assert damage.offset == offsets[2]
    assert damage.reason == "truncated_record"
    assert damage.uri == "https://news.example/2026/story-2"
    assert index.damaged_files == 1
    assert str(cut) in caplog.text
    assert f"at byte {offsets[2]}" in caplog.text


def test_garbage_in_the_middle_ends_the_file_there(tmp_path, caplog):
    whole = tmp_path / "whole.warc.gz"
    offsets = write_warc(whole, five_pages)
    data = whole.read_bytes()
    damaged = tmp_path / "garbage.warc.gz"
    damaged.write_bytes(
        data[: offsets[3]] + b"\x00garbage\xff" * 40 + data[offsets[3] :]
    )
    with caplog.at_level(logging.ERROR, logger="newscrawl.warc.index"):
        index = ArchiveIndex([damaged])
    assert served(index) == [f"https://news.example/2026/story-{i}" for i in range(3)]
    assert [(d.path, d.offset) for d in index.errors] == [(str(damaged), offsets[3])]
    assert "garbage.warc.gz" in caplog.text


def test_corrupt_bytes_inside_a_record_end_the_file_there(tmp_path):
    whole = tmp_path / "whole.warc.gz"
    offsets = write_warc(whole, five_pages)
    data = bytearray(whole.read_bytes())
    for i in range(offsets[2] + 30, offsets[2] + 130):
        data[i] ^= 0x5A
    damaged = tmp_path / "flipped.warc.gz"
    damaged.write_bytes(bytes(data))
    index = ArchiveIndex([damaged])
    assert served(index) == [f"https://news.example/2026/story-{i}" for i in range(2)]
    assert [(d.path, d.offset) for d in index.errors] == [(str(damaged), offsets[2])]


def test_a_bad_warc_header_ends_the_file_there(tmp_path):
    whole = tmp_path / "whole.warc"
    offsets = write_warc(whole, five_pages, gzip_records=False)
    data = whole.read_bytes()
    damaged = tmp_path / "header.warc"
    damaged.write_bytes(data[: offsets[1]] + b"WARC/9.9" + data[offsets[1] + 8 :])
    index = ArchiveIndex([damaged])
    assert served(index) == ["https://news.example/2026/story-0"]
    assert [(d.path, d.offset) for d in index.errors] == [(str(damaged), offsets[1])]


def test_a_whole_file_gzip_serves_its_first_record_and_says_why_not_more(tmp_path):
    plain = tmp_path / "plain.warc"
    write_warc(plain, five_pages, gzip_records=False)
    squeezed = tmp_path / "squeezed.warc.gz"
    squeezed.write_bytes(gzip.compress(plain.read_bytes()))
    index = ArchiveIndex([squeezed])
    assert served(index) == ["https://news.example/2026/story-0"]
    assert len(index.errors) == 1
    assert "gzip" in index.errors[0].message


def test_a_damaged_file_does_not_stop_the_others(tmp_path):
    whole = tmp_path / "whole.warc.gz"
    offsets = write_warc(whole, five_pages)
    (tmp_path / "archive").mkdir()
    (tmp_path / "archive" / "a-cut.warc.gz").write_bytes(
        whole.read_bytes()[: offsets[1] + 10]
    )

    def others(w):
        return [response(w, "https://news.example/other", html("Other"))]

    write_warc(tmp_path / "archive" / "b.warc.gz", others)
    index = ArchiveIndex([tmp_path / "archive"])
    assert index.lookup("https://news.example/2026/story-0") is not None
    assert index.lookup("https://news.example/other") is not None
    # Cut ten bytes into a record: its gzip header only, which warcio reads quietly.
    assert [(Path(d.path).name, d.offset) for d in index.errors] == [
        ("a-cut.warc.gz", offsets[1])
    ]
    assert index.damaged_files == 1


@pytest.mark.parametrize("gzip_records", [True, False], ids=["gz", "plain"])
def test_wherever_a_file_is_cut_the_complete_records_are_served(tmp_path, gzip_records):
    def three(w):
        return [
            response(w, f"https://news.example/2026/story-{i}", html(f"S{i}", 300))
            for i in range(3)
        ]

    whole = tmp_path / "whole.warc"
    offsets = write_warc(whole, three, gzip_records=gzip_records)
    data = whole.read_bytes()
    # An uncompressed record ends before the blank lines that separate records.
    ends = offsets[1:] if gzip_records else [o - 4 for o in offsets[1:]]
    cuts = {*range(1, len(data), 17), *offsets, *(o + d for o in ends for d in (-1, 1))}
    cut_file = tmp_path / "cut.warc"
    for cut in sorted(c for c in cuts if 0 < c <= len(data)):
        cut_file.write_bytes(data[:cut])
        index = ArchiveIndex([cut_file])
        complete = [
            f"https://news.example/2026/story-{i}"
            for i, e in enumerate(ends)
            if e <= cut
        ]
        assert served(index) == complete, cut
        at_boundary = cut in offsets or (
            not gzip_records and any(e <= cut <= e + 4 for e in ends)
        )
        assert bool(index.errors) != at_boundary, cut


def test_a_killed_recording_keeps_exactly_the_records_replay_serves(tmp_path):
    # One completeness check (newscrawl.warc.reader): wherever a recorder's file
    # is cut, recovery keeps the records the index serves, and the kept file
    # reads back undamaged.
    from newscrawl.warc.record import recover_open_files

    whole = tmp_path / "whole.warc.gz"
    offsets = write_warc(whole, five_pages)
    data = whole.read_bytes()
    cuts = sorted({*range(1, len(data), 97), *offsets, *(o + 1 for o in offsets)})
    for cut in (c for c in cuts if 0 < c <= len(data)):
        directory = tmp_path / f"cut-{cut}"
        directory.mkdir()
        torn = directory / "crawl.warc.gz.open"
        torn.write_bytes(data[:cut])
        served_before = served(ArchiveIndex([torn]))
        (kept,) = recover_open_files(directory)
        assert kept["records"] == len(served_before), cut
        recovered = ArchiveIndex([kept["path"]])
        assert served(recovered) == served_before, cut
        assert recovered.errors == [], cut


# -- directories, limits --------------------------------------------------------


def test_a_directory_is_searched_recursively_for_warc_files(tmp_path):
    root = tmp_path / "archives"
    (root / "2026" / "01").mkdir(parents=True)

    def page(n):
        return lambda w: [
            response(
                w,
                f"https://news.example/p{n}",
                html(f"P{n}"),
                date="2026-01-01T00:00:00Z",
            )
        ]

    write_warc(root / "one.warc.gz", page(1))
    write_warc(root / "2026" / "two.warc", page(2), gzip_records=False)
    write_warc(root / "2026" / "01" / "three.WARC.GZ", page(3), version="WARC/1.0")
    write_warc(root / "ignored.warc.gz.open", page(4))
    (root / "notes.txt").write_text("not an archive")
    index = ArchiveIndex([root])
    assert sorted(p.name for p in index.files) == [
        "one.warc.gz",
        "three.WARC.GZ",
        "two.warc",
    ]
    for n in (1, 2, 3):
        assert index.lookup(f"https://news.example/p{n}").body == html(f"P{n}")
    assert index.lookup("https://news.example/p4") is None
    # A file named twice (directly and through its directory) is read once.
    assert len(archive_files([root, root / "one.warc.gz"])) == 3


def test_a_path_that_does_not_exist_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        ArchiveIndex([tmp_path / "nowhere.warc.gz"])


def test_a_body_larger_than_max_bytes_is_refused(tmp_path):
    big = html("Big", size=50_000)
    bomb = gzip.compress(b"\0" * 5_000_000)  # 5 MB in about 5 kB

    def build(w):
        return [
            response(w, "https://news.example/big", big),
            response(
                w,
                "https://news.example/bomb",
                bomb,
                headers=[HTML_TYPE, ("Content-Encoding", "gzip")],
            ),
        ]

    write_warc(tmp_path / "big.warc.gz", build)
    index = ArchiveIndex([tmp_path / "big.warc.gz"], max_bytes=len(big))
    assert index.lookup("https://news.example/big").body == big  # at the limit: fine
    refused = index.lookup("https://news.example/big", max_bytes=len(big) - 1)
    assert refused.too_large
    assert refused.body == b""
    assert index.lookup("https://news.example/bomb").too_large
    assert not index.lookup("https://news.example/bomb", max_bytes=0).too_large


# -- the middleware -------------------------------------------------------------


def make_middleware(paths, **settings):
    crawler = get_crawler(Spider, {"NEWSCRAWL_REPLAY": paths, **settings})
    return crawler, ReplayMiddleware.from_crawler(crawler)


@pytest.fixture
def archive(tmp_path):
    def build(w):
        return [
            response(
                w,
                "https://news.example/article",
                chunked(gzip.compress(html("Article"))),
                headers=[
                    HTML_TYPE,
                    ("Content-Encoding", "gzip"),
                    ("Transfer-Encoding", "chunked"),
                ],
                ip="2001:db8::7",
                content_length=False,
            ),
            response(
                w,
                "https://news.example/old",
                b"",
                status="301 Moved Permanently",
                headers=[("Location", "https://news.example/article")],
            ),
            response(
                w,
                "https://news.example/robots.txt",
                b"User-agent: *\nDisallow: /private/\n",
                headers=[("Content-Type", "text/plain")],
            ),
            response(
                w,
                "https://news.example/report.pdf",
                b"%PDF-1.7 ...",
                headers=[("Content-Type", "application/pdf")],
            ),
        ]

    write_warc(tmp_path / "site.warc.gz", build)
    return tmp_path / "site.warc.gz"


def test_the_middleware_serves_an_html_response(archive):
    crawler, middleware = make_middleware([str(archive)])
    request = Request("https://news.example/article")
    result = middleware.serve(request)
    assert type(result) is HtmlResponse
    assert result.url == request.url
    assert result.request is request
    assert result.flags == ["replay"]
    assert result.status == 200
    assert result.css("h1::text").get() == "Article"
    assert b"Content-Encoding" not in result.headers
    assert result.ip_address == ipaddress.ip_address("2001:db8::7")
    assert result.protocol == "HTTP/1.1"
    stats = crawler.stats.get_stats()
    assert stats["newscrawl/replay/served"] == 1
    assert stats["newscrawl/replay/damaged_files"] == 0
    assert stats["newscrawl/replay/urls_indexed"] == 4


def test_the_middleware_serves_redirects_and_archived_robots_txt(archive):
    _, middleware = make_middleware(str(archive))
    moved = middleware.serve(Request("https://news.example/old"))
    assert moved.status == 301
    assert moved.headers[b"Location"] == b"https://news.example/article"
    robots = middleware.serve(Request("https://news.example/robots.txt"))
    assert isinstance(robots, TextResponse)
    assert b"Disallow: /private/" in robots.body


def test_a_robots_txt_missing_from_the_archive_is_a_404(archive):
    crawler, middleware = make_middleware([str(archive)])
    request = Request("https://elsewhere.example/robots.txt")
    result = middleware.serve(request)
    assert type(result) is Response
    assert result.status == 404
    assert result.flags == ["replay"]
    assert result.request is request
    assert crawler.stats.get_value("newscrawl/replay/missing") is None


def test_a_url_missing_from_the_archive_is_refused(archive):
    crawler, middleware = make_middleware([str(archive)])
    request = Request("https://news.example/never-archived")
    with pytest.raises(RequestRefused) as refused:
        middleware.serve(request)
    assert refused.value.reason == "not_in_archive"
    assert reason_of(refused.value, request) == "not_in_archive"
    assert crawler.stats.get_value("newscrawl/replay/missing") == 1


def test_a_body_over_download_maxsize_is_refused_as_too_large(archive):
    _, middleware = make_middleware([str(archive)], DOWNLOAD_MAXSIZE=100)
    with pytest.raises(RequestRefused) as refused:
        middleware.serve(Request("https://news.example/article"))
    assert refused.value.reason == "too_large"
    # The request's own limit wins, as with Scrapy's download handlers.
    request = Request("https://news.example/article", meta={"download_maxsize": 0})
    assert middleware.serve(request).status == 200


def test_head_requests_get_no_body(archive):
    _, middleware = make_middleware([str(archive)])
    result = middleware.serve(Request("https://news.example/article", method="HEAD"))
    assert result.status == 200
    assert result.body == b""


def test_headers_received_handlers_can_stop_a_replayed_download(archive):
    crawler, middleware = make_middleware([str(archive)])

    def stop_pdfs(headers, request, **kwargs):
        if headers.get(b"Content-Type") == b"application/pdf":
            raise StopDownload(fail=True)

    crawler.signals.connect(stop_pdfs, signal=signals.headers_received)
    request = Request("https://news.example/report.pdf")
    with pytest.raises(StopDownload) as stopped:
        middleware.serve(request)
    assert stopped.value.response.flags == ["replay", "download_stopped"]
    assert stopped.value.response.body == b""
    assert middleware.serve(Request("https://news.example/article")).body


def test_a_revisit_is_counted(tmp_path):
    page, _ = _original_and_revisits(tmp_path, bare_revisit)
    crawler, middleware = make_middleware(str(tmp_path))
    result = middleware.serve(Request("https://news.example/budget"))
    assert result.body == page
    assert crawler.stats.get_value("newscrawl/replay/revisits") == 1


def test_damaged_files_are_counted(tmp_path):
    whole = tmp_path / "whole.warc.gz"
    offsets = write_warc(whole, five_pages)
    whole.write_bytes(whole.read_bytes()[: offsets[3] - 5])
    crawler, middleware = make_middleware([str(whole)])
    middleware.spider_opened()
    assert crawler.stats.get_value("newscrawl/replay/damaged_files") == 1
    assert middleware.index.errors[0].offset == offsets[2]


@pytest.mark.parametrize("value", [None, "", [], ()])
def test_no_replay_setting_means_no_middleware(value):
    crawler = get_crawler(Spider, {"NEWSCRAWL_REPLAY": value})
    with pytest.raises(NotConfigured):
        ReplayMiddleware.from_crawler(crawler)


def test_replay_paths_from_the_setting(tmp_path):
    assert replay_paths(f"a.warc.gz,{tmp_path}{os.pathsep}c.warc") == [
        "a.warc.gz",
        str(tmp_path),
        "c.warc",
    ]
    assert replay_paths(("a.warc.gz", " b ")) == ["a.warc.gz", "b"]
    # Archives that are not there stop the run when the crawler is built, as a
    # setting error naming the setting (scrapy crawl: exit 2).
    with pytest.raises(SettingError, match="NEWSCRAWL_REPLAY: WARC archive not found"):
        make_middleware([str(tmp_path / "absent.warc.gz")])
    with pytest.raises(SettingError, match="NEWSCRAWL_REPLAY: no WARC files"):
        make_middleware([str(tmp_path)])


# -- the shared corpus ----------------------------------------------------------


@pytest.mark.skipif(
    not (CORPUS / "pages.warc.gz").exists(),
    reason=f"shared corpus WARC not found at {CORPUS / 'pages.warc.gz'} "
    "(it ships beside the repo, not in it; set NEWSCRAWL_CORPUS to its directory)",
)
def test_every_corpus_page_is_served_from_the_corpus_warc():
    index = ArchiveIndex([CORPUS / "pages.warc.gz"])
    assert index.errors == []
    urls = [
        json.loads(line)["url"]
        for line in (CORPUS / "pages.jsonl").read_text("utf-8").splitlines()
        if line.strip()
    ]
    assert len(index) == len(urls)
    for url in urls:
        found = index.lookup(url)
        assert found is not None, url
        assert found.status == 200, url
        assert found.body, url
