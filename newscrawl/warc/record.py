"""Recording a crawl as WARC: every fetched response, with its request, via warcio.

Enabled by ``-s NEWSCRAWL_WARC=DIR``. Each response is written as a WARC/1.1
``response`` record (the target URI, the fetch date, the server's IP address, the
payload digest, the HTTP status line and headers, and the body bytes as received:
still content-encoded, after the transfer encoding was undone), preceded by its
``request`` record, each record a gzip member of its own. Files are named
``<spider>-<UTC time>-<pid>-<serial>.warc.gz`` and rotated at
``NEWSCRAWL_WARC_MAX_BYTES`` (1 GiB).

A file being written carries the suffix ``.open``; it gets its final name once
closed. Each record is flushed as written, so a killed crawl leaves at most one
torn record at the end of an ``.open`` file: the next run (or
:func:`recover_open_files`) cuts it and gives the file its final name, as the
crawl state recovers ``.part`` feeds.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from io import BytesIO
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Self
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.exceptions import NotConfigured

from newscrawl import __version__, defaults
from newscrawl.health import component_failed

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)

OPEN_SUFFIX = ".open"
#: Hop-by-hop headers that describe the transfer, not the payload we store.
_DROP_HEADERS = frozenset({b"transfer-encoding", b"connection", b"keep-alive"})


def utc_stamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def recover_open_files(directory: Path) -> list[dict[str, Any]]:
    """Finish the ``.open`` WARC files a killed crawl left in ``directory``.

    Complete records are kept, a torn last record is cut, and the file takes its
    final name. Which records are complete is the WARC reader's one check
    (:class:`newscrawl.warc.reader.WarcScan`), the one replay trusts.
    """
    from newscrawl.warc.reader import WarcScan  # noqa: PLC0415

    recovered = []
    for path in sorted(directory.glob(f"*.warc.gz{OPEN_SUFFIX}")):
        scan = WarcScan(path)
        records = sum(1 for _ in scan)
        good_end = scan.end
        if scan.damage is not None:
            # Expected after a kill: a warning, not an error.
            logger.warning("Torn WARC record in %s; the file is cut there", scan.damage)
        with path.open("r+b") as fh:
            fh.truncate(good_end)
            fh.flush()
            os.fsync(fh.fileno())
        final = path.with_name(path.name.removesuffix(OPEN_SUFFIX))
        path.replace(final)
        logger.warning("Recovered WARC %s: %d records kept", final, records)
        recovered.append({"path": str(final), "records": records})
    return recovered


class WarcFile:
    """One WARC file being written; closed by :meth:`close` under its final name."""

    def __init__(self, path: Path, info: dict[str, str]) -> None:
        from warcio.warcwriter import WARCWriter  # noqa: PLC0415

        self.final = path
        self.path = path.with_name(path.name + OPEN_SUFFIX)
        self.fh: IO[bytes] = self.path.open("xb")
        self.writer = WARCWriter(self.fh, gzip=True, warc_version="WARC/1.1")
        self.writer.write_record(self.writer.create_warcinfo_record(path.name, info))
        self.fh.flush()

    @property
    def size(self) -> int:
        return self.fh.tell()

    def write(self, records: list[Any]) -> int:
        start = self.fh.tell()
        for record in records:
            self.writer.write_record(record)
        # A kill now loses at most the record being written, never an earlier one.
        self.fh.flush()
        return self.fh.tell() - start

    def close(self) -> None:
        self.fh.flush()
        os.fsync(self.fh.fileno())
        self.fh.close()
        self.path.replace(self.final)


class WarcRecorder:
    """A downloader middleware that writes each downloaded response to WARC files.

    It sits next to the downloader (after every other middleware's
    ``process_request``, before any ``process_response``), so the request is
    recorded with the headers really sent and the response as received, before
    decompression, redirects or retries.
    """

    def __init__(self, crawler: Crawler, directory: Path) -> None:
        self.crawler = crawler
        self.directory = directory
        self.max_bytes = defaults.getint(crawler.settings, "NEWSCRAWL_WARC_MAX_BYTES")
        self.current: WarcFile | None = None
        self.serial = 0
        self.stamp = utc_stamp()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        directory = defaults.get(crawler.settings, "NEWSCRAWL_WARC")
        if not directory or defaults.get(crawler.settings, "NEWSCRAWL_REPLAY"):
            raise NotConfigured  # off: silent (a reason would be logged as a warning)
        recorder = cls(crawler, Path(directory))
        crawler.signals.connect(recorder.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(recorder.spider_closed, signal=signals.spider_closed)
        return recorder

    def _stats(self, key: str, value: int = 1) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(f"newscrawl/warc/{key}", value)

    def spider_opened(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        recovered = recover_open_files(self.directory)
        if recovered:
            self._stats("recovered_files", len(recovered))

    def spider_closed(self) -> None:
        if self.current is not None:
            self.current.close()
            logger.info("WARC written: %s", self.current.final)
            self.current = None

    def _file(self) -> WarcFile:
        if self.current is not None and self.current.size >= self.max_bytes:
            self.current.close()
            self.current = None
        if self.current is None:
            self.serial += 1
            spider = self.crawler.spider
            name = getattr(spider, "name", "crawl")
            path = self.directory / (
                f"{name}-{self.stamp}-{os.getpid()}-{self.serial:05d}.warc.gz"
            )
            settings = self.crawler.settings
            self.current = WarcFile(
                path,
                {
                    "software": f"newscrawl/{__version__} (Scrapy, warcio)",
                    "format": "WARC File Format 1.1",
                    "http-header-user-agent": str(settings.get("USER_AGENT")),
                    "robots": "obey"
                    if settings.getbool("ROBOTSTXT_OBEY")
                    else "ignore",
                    "isPartOf": name,
                },
            )
            self._stats("files")
        return self.current

    def process_response(self, request: Request, response: Response) -> Response:
        # A cache hit was recorded when it was fetched. (A replay never gets here:
        # the recorder is off while replaying, decided in from_crawler alone.)
        if "cached" in response.flags:
            return response
        try:
            records = self._records(request, response)
            written = self._file().write(records)
        except OSError as exc:
            # An archive that cannot be written must not stop the crawl's output,
            # but the run is not healthy: the archive is incomplete (exit 73).
            component_failed(
                self.crawler,
                "archive",
                f"cannot write a record of {response.url}: {exc}",
            )
            self._stats("errors")
            return response
        self._stats("records", len(records))
        self._stats("bytes", written)
        return response

    def _records(self, request: Request, response: Response) -> list[Any]:
        from warcio.statusandheaders import StatusAndHeaders  # noqa: PLC0415

        writer = self._file().writer
        date = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        protocol = response.protocol or "HTTP/1.1"
        reason = _reason(response.status)
        headers = [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, values in response.headers.items()
            if name.lower() not in _DROP_HEADERS
            for value in values
        ]
        warc_headers = {"WARC-Date": date}
        if response.ip_address is not None:
            warc_headers["WARC-IP-Address"] = str(response.ip_address)
        http = StatusAndHeaders(
            f"{response.status} {reason}", headers, protocol=protocol
        )
        response_record = writer.create_warc_record(
            response.url,
            "response",
            payload=BytesIO(response.body),
            http_headers=http,
            warc_headers_dict=warc_headers,
        )
        parts = urlsplit(request.url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        request_headers = [("Host", parts.netloc)] + [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, values in request.headers.items()
            for value in values
        ]
        request_record = writer.create_warc_record(
            request.url,
            "request",
            payload=BytesIO(request.body),
            http_headers=StatusAndHeaders(
                f"{request.method} {target} HTTP/1.1",
                request_headers,
                is_http_request=True,
            ),
            warc_headers_dict={
                "WARC-Date": date,
                "WARC-Concurrent-To": response_record.rec_headers.get_header(
                    "WARC-Record-ID"
                ),
            },
        )
        return [request_record, response_record]


def _reason(status: int) -> str:
    from http import HTTPStatus  # noqa: PLC0415

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
