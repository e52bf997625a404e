"""One page, one item: the crawl, replay, ``extract --warc`` and ``parse`` agree.

Every entry point goes through :func:`newscrawl.page.process_page`. Here the same
page comes in by each of them and must give the same item: pages whose charset or
markup needs repair (where ``parse`` used to differ from the crawl), and a WARC
with revisit records, written by the test, that replay and ``extract --warc`` both
serve as the response they refer to. The sample site crawl itself is compared
path by path in ``tests/test_warc.py``.
"""

from __future__ import annotations

import gzip
import json
from io import BytesIO
from pathlib import Path

from scrapy.http import HtmlResponse
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from newscrawl import cli, offline
from newscrawl.encoding import CharsetMiddleware
from newscrawl.page import MAX_DEPTH, analyse_page, process_page
from newscrawl.sampleserver import SAMPLE_SITE

from .test_hostile import crawl

EN_A = "2026/01/06/eu-ministers-agree-emergency-fund-for-flood-damaged-heritage-sites"
FR_B = "2026/01/04/leurope-a-besoin-dun-vrai-reseau-ferroviaire-commun"
EN_URL = "https://www.euronews.com/" + EN_A
FR_URL = "https://fr.euronews.com/" + FR_B
#: Archived only as a revisit of the French page's payload (by digest alone).
MIRROR_URL = "https://fr.euronews.com/" + FR_B.replace("commun", "europeen")
FIRST = "2026-12-01T10:00:00Z"
AGAIN = "2026-12-02T10:00:00Z"
HTML_UTF8 = ("Content-Type", "text/html; charset=utf-8")
FETCHED_AT = "2026-12-01T10:00:00+00:00"


def without(item: dict, *fields: str) -> dict:
    return {k: v for k, v in item.items() if k not in fields}


def parse(tmp_path: Path, capsys, body: bytes, url: str, *args: str) -> dict:
    """What ``newscrawl parse`` prints for ``body`` fetched from ``url``."""
    page = tmp_path / "page.html"
    page.write_bytes(body)
    capsys.readouterr()
    assert cli.main(["parse", str(page), "--url", url, *args]) == 0
    return json.loads(capsys.readouterr().out)


def crawled(body: bytes, url: str, headers: dict[str, str] | None = None) -> dict:
    """The item the crawl makes of the page: charset middleware, then the spider's
    page work (``analyse_page``)."""
    response = HtmlResponse(url, body=body, headers=headers)
    response = CharsetMiddleware().process_response(None, response)
    page = analyse_page(
        response, site="euronews", fetched_at=FETCHED_AT, verdict=False, max_links=0
    )
    assert page.item is not None
    return page.item.to_dict()


# -- repairs: parse now does what the crawl does ------------------------------------


def test_parse_reads_a_page_in_the_charset_the_crawl_chooses(tmp_path, capsys):
    # cp1252 bytes under a UTF-8 declaration: the crawl's charset repair reads
    # them right; parse used to decode them as UTF-8, with U+FFFD for every accent.
    utf8 = (SAMPLE_SITE / f"{FR_B}.html").read_bytes()
    body = utf8.decode("utf-8").encode("cp1252")
    args = ("--site", "euronews", "--fetched-at", FETCHED_AT)
    item = parse(tmp_path, capsys, body, FR_URL, *args)
    assert "\ufffd" not in json.dumps(item, ensure_ascii=False)
    assert item["title"] == "L'Europe a besoin d'un vrai réseau ferroviaire commun"
    assert item == parse(tmp_path, capsys, utf8, FR_URL, *args)
    assert item == crawled(body, FR_URL)
    # An explicit --encoding is still obeyed.
    forced = parse(tmp_path, capsys, body, FR_URL, "--encoding", "utf-8")
    assert "\ufffd" in json.dumps(forced, ensure_ascii=False)


def test_parse_flattens_deep_markup_as_the_crawl_does(tmp_path, capsys):
    html = (SAMPLE_SITE / f"{EN_A}.html").read_text("utf-8")
    depth = MAX_DEPTH + 50
    start = html.index(">", html.index("<body")) + 1
    end = html.index("</body>")
    body = (
        html[:start] + "<span>" * depth + html[start:end] + "</span>" * depth
    ).encode() + html[end:].encode()
    page = process_page(body, url=EN_URL, site="euronews", fetched_at=FETCHED_AT)
    assert page.repaired == "deep_nesting"
    assert page.item is not None
    assert page.item.title
    assert page.stats.values["newscrawl/repaired/deep_nesting"] == 1
    item = parse(
        tmp_path, capsys, body, EN_URL, "--site", "euronews", "--fetched-at", FETCHED_AT
    )
    assert item == page.item.to_dict() == crawled(body, EN_URL)


def test_an_item_the_pipeline_would_drop_is_marked(tmp_path, capsys):
    page = process_page(b"<html><body><p>short</p></body></html>", url=EN_URL)
    assert page.item is not None
    assert page.invalid == "missing_title"


# -- revisits: replay and extract --warc serve the same response ------------------


def chunked(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data)


def _write(writer: WARCWriter, record) -> None:
    writer.write_record(record)
    if getattr(record, "buffered_stream", None) is not None:
        record.buffered_stream.close()


def write_revisit_warc(path: Path) -> None:
    """Two pages; the English one archived again as a revisit, the French one
    revisited under another URL (found by payload digest alone)."""
    en = (SAMPLE_SITE / f"{EN_A}.html").read_bytes()
    fr = (SAMPLE_SITE / f"{FR_B}.html").read_bytes()
    with path.open("wb") as stream:
        w = WARCWriter(stream, gzip=True, warc_version="WARC/1.1")
        # CC-NEWS style: gzip content-encoded and chunked, as received.
        payload = chunked(gzip.compress(en))
        original = w.create_warc_record(
            EN_URL,
            "response",
            payload=BytesIO(payload),
            length=len(payload),
            http_headers=StatusAndHeaders(
                "200 OK",
                [
                    HTML_UTF8,
                    ("Content-Encoding", "gzip"),
                    ("Transfer-Encoding", "chunked"),
                ],
                protocol="HTTP/1.1",
            ),
            warc_headers_dict={"WARC-Date": FIRST},
        )
        _write(w, original)
        french = w.create_warc_record(
            FR_URL,
            "response",
            payload=BytesIO(fr),
            length=len(fr),
            http_headers=StatusAndHeaders(
                "200 OK",
                [HTML_UTF8, ("Content-Language", "fr")],
                protocol="HTTP/1.1",
            ),
            warc_headers_dict={"WARC-Date": FIRST},
        )
        _write(w, french)
        _write(
            w,
            w.create_revisit_record(
                EN_URL,
                original.rec_headers.get_header("WARC-Payload-Digest"),
                EN_URL,
                FIRST,
                http_headers=StatusAndHeaders(
                    "200 OK",
                    [HTML_UTF8, ("Content-Encoding", "gzip")],
                    protocol="HTTP/1.1",
                ),
                warc_headers_dict={"WARC-Date": AGAIN},
            ),
        )
        _write(
            w,
            w.create_warc_record(
                MIRROR_URL,
                "revisit",
                http_headers=StatusAndHeaders(
                    "200 OK", [HTML_UTF8, ("Content-Language", "fr")], "HTTP/1.1"
                ),
                warc_headers_dict={
                    "WARC-Date": AGAIN,
                    "WARC-Payload-Digest": french.rec_headers.get_header(
                        "WARC-Payload-Digest"
                    ),
                    "WARC-Profile": "http://netpreserve.org/warc/1.1/revisit/"
                    "identical-payload-digest",
                },
            ),
        )


def test_revisits_give_the_same_item_by_replay_extract_and_parse(tmp_path, capsys):
    warc = tmp_path / "revisits.warc.gz"
    write_revisit_warc(warc)

    out = tmp_path / "items.jsonl"
    summary = offline.run(offline.iter_warc(warc), out)
    assert summary.items == 4, summary
    assert not summary.skipped
    assert not summary.failed
    extracted = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    # In archive order; a revisit has its own URI and date, its original's page.
    assert [(i["url"], i["fetched_at"]) for i in extracted] == [
        (EN_URL, "2026-12-01T10:00:00+00:00"),
        (FR_URL, "2026-12-01T10:00:00+00:00"),
        (EN_URL, "2026-12-02T10:00:00+00:00"),
        (MIRROR_URL, "2026-12-02T10:00:00+00:00"),
    ]
    first_en, first_fr, again_en, mirror = extracted
    assert without(again_en, "fetched_at") == without(first_en, "fetched_at")
    assert mirror["body"] == first_fr["body"]

    # parse of the page as archived, at the revisit's date: the same item.
    for item, path in ((again_en, EN_A), (mirror, FR_B)):
        body = (SAMPLE_SITE / f"{path}.html").read_bytes()
        parsed = parse(
            tmp_path, capsys, body, item["url"], "--fetched-at", item["fetched_at"]
        )
        # parse has no HTTP headers: the French page states its language itself.
        assert parsed == item, item["url"]

    # The crawl, replayed from the archive: the latest record of each URL, which
    # for both is a revisit; the same items but for the crawl's own fetch time.
    run = crawl(
        tmp_path / "replay",
        [EN_URL, MIRROR_URL],
        spider="euronews",
        depth=None,
        spider_args={"replay": str(warc), "related_depth": "0"},
    )
    assert run.returncode == 0, run.log[-3000:]
    assert run.report["request_failed"] == {}, run.report
    replayed = {item["url"]: item for item in run.items}
    assert set(replayed) == {EN_URL, MIRROR_URL}
    for item in (again_en, mirror):
        assert without(replayed[item["url"]], "fetched_at") == without(
            item, "fetched_at"
        )
