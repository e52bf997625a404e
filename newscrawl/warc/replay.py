"""WARC replay: a crawl's requests answered from archived responses, not the network."""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.exceptions import NotConfigured, StopDownload
from scrapy.http import Headers, Response
from scrapy.responsetypes import responsetypes
from scrapy.settings.default_settings import DOWNLOAD_MAXSIZE
from w3lib.url import safe_url_string
from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import BufferedReader, ChunkedDataReader
from warcio.limitreader import LimitReader

from newscrawl.failures import RequestRefused

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from scrapy import Request
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

#: File names scanned in a directory (recursively).
WARC_SUFFIXES = (".warc", ".warc.gz")
#: Record kinds served: an HTTP response, or a revisit pointing at one.
SERVED = frozenset({"response", "revisit"})
#: Headers describing the encoding of a body the replay has decoded.
_CHUNKED_HEADERS = frozenset({"transfer-encoding", "content-length"})
_DECODED_HEADERS = frozenset({"content-encoding", "content-length"})
#: A record's location is one int, ``file index << 40 | byte offset``: an index of
#: a few million URIs then costs a string and an int each, no tuple or object.
_OFFSET_BITS = 40
_OFFSET_MASK = (1 << _OFFSET_BITS) - 1
#: Bytes looked at after the last record: blank lines there are harmless.
_TAIL = 65536
#: Characters Scrapy percent-escapes in a request URL (w3lib's safe_url_string).
_UNSAFE = re.compile(r'[^\x21-\x7e]|["<>\\^`{|}]')


@dataclass(slots=True)
class ReplayedResponse:
    """An archived HTTP response, as the replay serves it."""

    #: The archived ``WARC-Target-URI``.
    url: str
    status: int
    #: HTTP headers in archive order, without those of an encoding undone here.
    headers: list[tuple[str, str]]
    #: The payload, decoded (empty when ``too_large``).
    body: bytes
    #: ``WARC-Date`` of the record served (of the revisit, for a revisit).
    date: str
    #: ``WARC-IP-Address``, when the archive noted it.
    ip_address: str | None = None
    #: HTTP version of the status line, e.g. ``HTTP/1.1``.
    protocol: str | None = None
    #: The payload is larger than the size limit: it must not be served.
    too_large: bool = False
    #: Served through a ``revisit`` record, with the payload of its original.
    revisit: bool = False
    #: ``path@offset`` of the record the payload comes from.
    source: str = ""


@dataclass(slots=True)
class _Record:
    """One record read back from an archive (HTTP headers parsed, payload maybe)."""

    kind: str
    uri: str
    warc: Any  # warcio StatusAndHeaders
    http: Any  # warcio StatusAndHeaders, or None for a record without HTTP headers
    source: str
    body: bytes = b""
    too_large: bool = False
    dechunked: bool = False
    decoded: bool = False
    digest: str | None = field(default=None)


def replay_paths(value: object) -> list[str]:
    """The archive paths of a ``NEWSCRAWL_REPLAY`` value.

    A list of paths, or one string separated by commas or ``os.pathsep``.

    >>> replay_paths("a.warc.gz, dir/")
    ['a.warc.gz', 'dir/']
    >>> replay_paths(None), replay_paths(["x.warc", " "])
    ([], ['x.warc'])
    """
    if not value:
        return []
    if isinstance(value, str):
        parts = re.split(f"[,{re.escape(os.pathsep)}]", value)
    elif isinstance(value, list | tuple):
        parts = [str(part) for part in value]
    else:
        raise TypeError(f"NEWSCRAWL_REPLAY: expected paths, got {value!r}")
    return [part.strip() for part in parts if part.strip()]


def archive_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The WARC files that ``paths`` name: files, and ``*.warc[.gz]`` under directories.

    A path that does not exist raises :class:`FileNotFoundError`: a replay that
    quietly serves nothing would look like a site that lost all its pages.
    """
    files: list[Path] = []
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.name.lower().endswith(WARC_SUFFIXES) and p.is_file()
            )
        elif path.exists():
            found = [path]
        else:
            raise FileNotFoundError(f"WARC archive not found: {path}")
        for item in found:
            resolved = item.resolve()
            if resolved not in seen:
                seen.add(resolved)
                files.append(item)
    return files


def _variants(url: str) -> list[str]:
    """``url``, without its fragment, and with/without a trailing slash on its path.

    >>> _variants("https://a.example/x#top")
    ['https://a.example/x#top', 'https://a.example/x', 'https://a.example/x/']
    >>> _variants("https://a.example/x/?p=1")
    ['https://a.example/x/?p=1', 'https://a.example/x?p=1']
    """
    base = url.partition("#")[0]
    path, sep, query = base.partition("?")
    toggled = path[:-1] if path.endswith("/") else path + "/"
    out = [url]
    for candidate in (base, toggled + sep + query):
        if candidate not in out:
            out.append(candidate)
    return out


def _date_key(date: str) -> str:
    """A ``WARC-Date`` that sorts in time order, fractions of a second included.

    >>> _date_key("2024-01-01T00:00:00Z") < _date_key("2024-01-01T00:00:00.5Z")
    True
    """
    return date.removesuffix("Z")


def _first_line(exc: BaseException) -> str:
    """The gist of an exception: warcio's messages run over several lines."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else ""
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


def record_complete(iterator: Any, record: Any) -> bool:
    """Whether ``record`` has every byte its WARC headers announce, gzip end included.

    Call it after ``iterator.read_to_end(record)`` (warcio's ``ArchiveIterator``):
    warcio itself reads a record cut short without complaint.
    """
    stream = record.raw_stream
    length = record.rec_headers.get_header("Content-Length") or ""
    if not length.strip().isdigit():
        # Headers cut short: warcio takes a missing or cut value as no length.
        return False
    if not isinstance(stream, LimitReader) or stream.limit:
        return False  # fewer bytes than the Content-Length said
    reader = iterator.reader
    decompressor = reader.decompressor if reader is not None else None
    # A gzip member cut short decompresses to fewer bytes without any error, or
    # even to all of them when only its trailer is gone: only the decompressor
    # knows it never saw the member's end.
    return decompressor is None or getattr(decompressor, "eof", True)


class ArchiveIndex:
    """Where each URL's latest response is, in a set of WARC files.

    Built once from ``paths`` (WARC files, or directories searched recursively for
    ``*.warc`` and ``*.warc.gz``); bodies are read only on :meth:`lookup`. Damaged
    files keep the records before the damage; each damage is logged and listed in
    :attr:`errors` as ``(path, byte offset, message)``.
    """

    def __init__(
        self,
        paths: Iterable[str | os.PathLike[str]],
        *,
        max_bytes: int = DOWNLOAD_MAXSIZE,
    ) -> None:
        started = time.perf_counter()
        self.files = archive_files(paths)
        #: Largest payload served (bytes, 0 = no limit); larger ones are refused.
        self.max_bytes = max_bytes
        self.errors: list[tuple[str, int, str]] = []
        #: Response and revisit records indexed (duplicates of a URI included).
        self.records = 0
        # URI -> location of its latest response record.
        self._responses: dict[str, int] = {}
        # URI -> location of its latest revisit, only where newer than any response.
        self._revisits: dict[str, int] = {}
        # (URI, WARC-Date) -> location of a response superseded by a later one, for
        # revisits whose WARC-Refers-To-Date names it.
        self._older: dict[tuple[str, str], int] = {}
        # WARC-Payload-Digest -> location of a response with that payload.
        self._digests: dict[str, int] = {}
        # Another spelling of an indexed URI (escaped, without fragment) -> the URI.
        self._aliases: dict[str, str] = {}
        # Dates are needed only to pick the latest record while building.
        response_dates: dict[str, str] = {}
        revisit_dates: dict[str, str] = {}
        for number, path in enumerate(self.files):
            self._scan(number, path, response_dates, revisit_dates)
        for uri, date in revisit_dates.items():
            newer = response_dates.get(uri)
            # On equal dates the response wins: it holds the payload itself.
            if newer is not None and _date_key(newer) >= _date_key(date):
                del self._revisits[uri]
        for uri in (*self._responses, *self._revisits):
            self._add_aliases(uri)
        self.build_seconds = time.perf_counter() - started

    # -- building ----------------------------------------------------------------

    def _damaged(self, path: Path, offset: int, message: str) -> None:
        self.errors.append((str(path), offset, message))
        logger.error(
            "Damaged WARC file %s at byte %d: %s; the records from there on are "
            "not served",
            path,
            offset,
            message,
        )

    def _scan(
        self,
        number: int,
        path: Path,
        response_dates: dict[str, str],
        revisit_dates: dict[str, str],
    ) -> None:
        try:
            stream = path.open("rb")
        except OSError as exc:
            self._damaged(path, 0, _first_line(exc))
            return
        with stream:
            iterator = ArchiveIterator(stream, no_record_parse=True)
            end = 0  # where the last complete record ends
            try:
                for record in iterator:
                    warned = iterator.err_count
                    iterator.read_to_end(record)
                    offset = iterator.get_record_offset()
                    if not record.rec_headers.headers:
                        continue  # blank lines after the last record
                    if (
                        not record_complete(iterator, record)
                        or iterator.err_count != warned
                    ):
                        # warcio's err_count: no blank line where the record's
                        # Content-Length said it ends.
                        self._damaged(path, offset, "record cut short or mis-sized")
                        return
                    end = offset + iterator.get_record_length()
                    self._add(
                        record,
                        (number << _OFFSET_BITS) | offset,
                        response_dates,
                        revisit_dates,
                    )
            except Exception as exc:  # noqa: BLE001 - any damage ends the good part
                # ArchiveLoadFailed (garbage, a bad header), zlib errors...: the
                # iterator's offset is where the record being read starts.
                self._damaged(path, int(iterator.offset), _first_line(exc))
                return
            # A file cut inside a gzip member's header ends the iteration quietly.
            stream.seek(end)
            if stream.read(_TAIL).strip():
                self._damaged(path, end, "bytes after the last complete record")

    def _add(
        self,
        record: Any,
        location: int,
        response_dates: dict[str, str],
        revisit_dates: dict[str, str],
    ) -> None:
        kind = record.rec_type
        headers = record.rec_headers
        uri = headers.get_header("WARC-Target-URI")
        if kind not in SERVED or not uri or not uri.lower().startswith("http"):
            return
        self.records += 1
        date = headers.get_header("WARC-Date") or ""
        if kind == "revisit":
            known = revisit_dates.get(uri)
            if known is None or _date_key(date) >= _date_key(known):
                self._revisits[uri] = location
                revisit_dates[uri] = date
            return
        digest = headers.get_header("WARC-Payload-Digest")
        if digest:
            self._digests.setdefault(digest, location)
        known = response_dates.get(uri)
        if known is None or _date_key(date) >= _date_key(known):
            if known is not None:
                self._older[uri, known] = self._responses[uri]
            self._responses[uri] = location
            response_dates[uri] = date
        else:
            self._older[uri, date] = location

    def _add_aliases(self, uri: str) -> None:
        spellings = [uri.partition("#")[0]]
        if _UNSAFE.search(uri):
            # An IRI or a space in the archive; Scrapy requests the escaped form.
            spellings += [safe_url_string(s) for s in (uri, spellings[0])]
        for spelling in spellings:
            if spelling not in self._responses and spelling not in self._revisits:
                self._aliases.setdefault(spelling, uri)

    # -- lookups -----------------------------------------------------------------

    def __len__(self) -> int:
        """The number of URIs served."""
        return len(self._responses.keys() | self._revisits.keys())

    def __contains__(self, url: object) -> bool:
        return isinstance(url, str) and self._key(url) is not None

    def __iter__(self) -> Iterator[str]:
        """The URIs served, each once."""
        yield from self._responses
        yield from (uri for uri in self._revisits if uri not in self._responses)

    @property
    def damaged_files(self) -> int:
        return len({path for path, _, _ in self.errors})

    def _key(self, url: str, *, responses_only: bool = False) -> str | None:
        """The indexed URI that ``url`` (or a variant spelling of it) stands for."""
        tables: tuple[dict[str, int], ...] = (self._responses,)
        if not responses_only:
            tables += (self._revisits,)
        variants = _variants(url)
        for candidate in variants:
            if any(candidate in table for table in tables):
                return candidate
        for candidate in variants:
            uri = self._aliases.get(candidate)
            if uri is not None and any(uri in table for table in tables):
                return uri
        return None

    def lookup(
        self, url: str, *, max_bytes: int | None = None
    ) -> ReplayedResponse | None:
        """The archived response for ``url``, or None when the archives lack it.

        ``max_bytes`` (default: the index's) caps the decoded payload; a larger one
        comes back with ``too_large`` set and no body.
        """
        key = self._key(url)
        if key is None:
            return None
        limit = self.max_bytes if max_bytes is None else max_bytes
        try:
            revisit_at = self._revisits.get(key)
            if revisit_at is not None:
                return self._from_revisit(revisit_at, limit)
            record = self._read(self._responses[key], limit)
            if record is None:
                return None
            return self._response(record, record, record)
        except Exception as exc:  # noqa: BLE001 - one unreadable record, not the crawl
            # The file changed or was damaged since it was indexed.
            logger.error(
                "Cannot replay %s from the archives: %s", url, _first_line(exc)
            )
            return None

    def _from_revisit(self, location: int, limit: int) -> ReplayedResponse | None:
        revisit = self._read(location, None)
        if revisit is None:
            return None
        original = self._read_original(revisit, limit)
        if original is None:
            logger.warning(
                "Revisit of %s (%s): its original response is not in the archives",
                revisit.uri,
                revisit.source,
            )
            return None
        head = revisit
        if revisit.http is None or revisit.http.get_statuscode() == "304":
            # No HTTP headers of its own, or the 304 of a conditional request
            # ("server-not-modified"): the crawler asked for the page itself.
            head = original
        return self._response(revisit, head, original)

    def _read_original(self, revisit: _Record, limit: int) -> _Record | None:
        """The response a revisit refers to: by URI and date, by digest, by URI."""
        warc = revisit.warc
        target = warc.get_header("WARC-Refers-To-Target-URI")
        date = warc.get_header("WARC-Refers-To-Date")
        digest = revisit.digest
        if target and date:
            key = self._key(target, responses_only=True) or target
            location = self._older.get((key, date))
            if location is not None:
                return self._read(location, limit)
        if digest and digest in self._digests:
            return self._read(self._digests[digest], limit)
        for uri in (target, revisit.uri):
            key = self._key(uri, responses_only=True) if uri else None
            if key is None:
                continue
            original = self._read(self._responses[key], limit)
            # Without its digest, the latest response of a URI may hold another payload.
            if original is not None and (
                not digest or not original.digest or digest == original.digest
            ):
                return original
        return None

    def _read(self, location: int, limit: int | None) -> _Record | None:
        """The record at ``location``, its payload read when ``limit`` is not None."""
        path = self.files[location >> _OFFSET_BITS]
        offset = location & _OFFSET_MASK
        with path.open("rb") as stream:
            stream.seek(offset)
            record = next(ArchiveIterator(stream))
            out = _Record(
                kind=record.rec_type,
                uri=record.rec_headers.get_header("WARC-Target-URI") or "",
                warc=record.rec_headers,
                http=record.http_headers,
                source=f"{path}@{offset}",
                digest=record.rec_headers.get_header("WARC-Payload-Digest"),
            )
            if out.kind not in SERVED:
                return None
            if out.kind == "response" and out.http is None:
                return None  # not an HTTP response (a dns: record, a bare document)
            if limit is not None:
                _read_payload(out, record, limit)
        return out

    def _response(
        self, served: _Record, head: _Record, payload: _Record
    ) -> ReplayedResponse | None:
        """The URI, date and IP of ``served``; ``head``'s status; ``payload``'s body."""
        http = head.http
        try:
            status = int(http.get_statuscode())
        except ValueError:
            logger.warning("Not replayed: bad HTTP status line in %s", head.source)
            return None
        drop: set[str] = set()
        if payload.dechunked:
            drop |= _CHUNKED_HEADERS
        if payload.decoded:
            drop |= _DECODED_HEADERS
        headers = [
            (name, value) for name, value in http.headers if name.lower() not in drop
        ]
        return ReplayedResponse(
            url=served.uri,
            status=status,
            headers=headers,
            body=payload.body,
            date=served.warc.get_header("WARC-Date") or "",
            ip_address=served.warc.get_header("WARC-IP-Address")
            or payload.warc.get_header("WARC-IP-Address"),
            protocol=http.protocol or None,
            too_large=payload.too_large,
            revisit=served is not payload,
            source=payload.source,
        )


# What ``record.content_stream()`` (warcio 1.8) undoes, read in its source: a
# ``Transfer-Encoding: chunked`` framing (only that exact value), and a
# ``Content-Encoding`` of ``gzip`` or ``deflate`` (raw deflate too), first gzip
# member only. ``br`` is registered, but its decoder fails to start with Google's
# ``brotli`` package (it sets an attribute the C object lacks): such a payload is
# served still encoded, with its header, and Scrapy's HttpCompressionMiddleware
# decodes it as it would a live response; so are ``zstd``, ``x-gzip`` and stacked
# encodings (``gzip, br``), which warcio leaves alone. A payload that does not start
# as the encoding it declares is served as stored, header kept, so it fails as it
# would live; one corrupt further in is cut where the damage starts (warcio prints
# the zlib error on stderr), as Scrapy's own gunzip keeps what it could decode.
def _read_payload(out: _Record, record: Any, limit: int) -> None:
    """Read a response's payload into ``out``, decoded, at most ``limit`` bytes."""
    http = record.http_headers
    try:
        stream = record.content_stream()
    except Exception:  # noqa: BLE001 - warcio's 'br' decoder fails to start
        # Then the payload stays encoded (Scrapy decodes it); the chunks still go.
        chunked = http.get_header("Transfer-Encoding") == "chunked"
        stream = ChunkedDataReader(record.raw_stream) if chunked else record.raw_stream
    # One byte past the limit tells a payload at the limit from a larger one, and
    # a compression bomb is never inflated further than that.
    body = stream.read(limit + 1) if limit > 0 else stream.read()
    if limit > 0 and len(body) > limit:
        out.too_large = True
        body = b""
    out.body = body
    out.dechunked = isinstance(stream, ChunkedDataReader) and not stream.not_chunked
    # warcio drops its decompressor when the payload does not start as declared.
    out.decoded = isinstance(stream, BufferedReader) and stream.decompressor is not None


class ReplayMiddleware:
    """A downloader middleware answering every request from WARC archives.

    Enabled by ``NEWSCRAWL_REPLAY`` (paths of WARC files or directories). A URL
    the archives lack fails with reason ``not_in_archive`` (never the network);
    a missing ``/robots.txt`` is a 404, so robots rules do not block the replay.
    Replayed responses carry the flag ``replay``, and the ``headers_received``
    signal is sent for them as the downloader would.
    """

    def __init__(self, crawler: Crawler, files: list[Path]) -> None:
        self.crawler = crawler
        self.files = files
        self.max_bytes = crawler.settings.getint("DOWNLOAD_MAXSIZE", DOWNLOAD_MAXSIZE)
        self._index: ArchiveIndex | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        paths = replay_paths(crawler.settings.get("NEWSCRAWL_REPLAY"))
        if not paths:
            raise NotConfigured  # off: silent (a reason would be logged as a warning)
        # Missing archives stop the crawl here rather than fail every request.
        files = archive_files(paths)
        if not files:
            raise FileNotFoundError(f"No WARC files (*.warc, *.warc.gz) in {paths}")
        middleware = cls(crawler, files)
        crawler.signals.connect(middleware.spider_opened, signal=signals.spider_opened)
        return middleware

    def _stats(self, key: str, value: int = 1) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(f"newscrawl/replay/{key}", value)

    @property
    def index(self) -> ArchiveIndex:
        """The archive index, built on first use (a GB of WARC takes seconds)."""
        if self._index is None:
            index = ArchiveIndex(self.files, max_bytes=self.max_bytes)
            logger.info(
                "Replay: %d URLs indexed from %d WARC files in %.2f s%s",
                len(index),
                len(index.files),
                index.build_seconds,
                f" ({index.damaged_files} damaged)" if index.errors else "",
            )
            assert self.crawler.stats is not None
            self.crawler.stats.set_value("newscrawl/replay/urls_indexed", len(index))
            self.crawler.stats.set_value(
                "newscrawl/replay/damaged_files", index.damaged_files
            )
            self._index = index
        return self._index

    def spider_opened(self) -> None:
        _ = self.index

    async def process_request(self, request: Request) -> Response:
        # Reading and decompressing a record takes up to tens of milliseconds:
        # on the worker thread, off the event loop.
        from newscrawl.worker import in_worker  # noqa: PLC0415

        maxsize = request.meta.get("download_maxsize", self.max_bytes)
        found = await in_worker(self.index.lookup, request.url, max_bytes=maxsize)
        return self.respond(request, found)

    def serve(self, request: Request) -> Response:
        """:meth:`process_request`, synchronously (for tools and tests)."""
        maxsize = request.meta.get("download_maxsize", self.max_bytes)
        return self.respond(request, self.index.lookup(request.url, max_bytes=maxsize))

    def respond(self, request: Request, found: ReplayedResponse | None) -> Response:
        """The response for ``request`` from the archive record ``found``."""
        if found is None:
            if urlsplit(request.url).path == "/robots.txt":
                self._stats("robots_missing")
                return Response(
                    request.url, status=404, flags=["replay"], request=request
                )
            self._stats("missing")
            raise RequestRefused("not_in_archive", request.url)
        if found.too_large:
            raise RequestRefused("too_large", request.url)
        headers = Headers(found.headers)
        body = b"" if request.method == "HEAD" else found.body
        flags = ["replay"]
        if self._stopped(request, headers, len(body)):
            body = b""
            flags.append("download_stopped")
        respcls = responsetypes.from_args(headers=headers, url=request.url, body=body)
        ip_address = None
        # An archive's typo in the address is no reason to refuse the page.
        with contextlib.suppress(ValueError):
            ip_address = ipaddress.ip_address((found.ip_address or "").strip())
        self._stats("served")
        if found.revisit:
            self._stats("revisits")
        return respcls(
            url=request.url,
            status=found.status,
            headers=headers,
            body=body,
            flags=flags,
            request=request,
            ip_address=ip_address,
            protocol=found.protocol,
        )

    def _stopped(self, request: Request, headers: Headers, size: int) -> bool:
        """Send ``headers_received`` as a download does; True if a handler stopped it.

        Handlers (newscrawl's ContentGuard) stop non-HTML pages at their headers;
        a replayed page must stop the same way: ``StopDownload(fail=True)`` fails
        the request (the stopped response attached), ``fail=False`` leaves it
        without body.
        """
        results = self.crawler.signals.send_catch_log(
            signal=signals.headers_received,
            headers=headers,
            body_length=size,
            request=request,
            spider=self.crawler.spider,
        )
        for _, result in results:
            stop = getattr(result, "value", None)
            if not isinstance(stop, StopDownload):
                continue
            if stop.fail:
                stop.response = Response(
                    request.url,
                    headers=headers,
                    flags=["replay", "download_stopped"],
                    request=request,
                )
                raise stop
            return True
        return False
