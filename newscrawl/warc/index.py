"""The index of a set of WARC files: which response each URL gets, revisits resolved.

Built with the one WARC reader (:mod:`newscrawl.warc.reader`). The replay
middleware (:mod:`newscrawl.warc.replay`) answers requests from it by URL;
``newscrawl extract --warc`` (:mod:`newscrawl.offline`) walks it record by record.
Both get a revisit record served as the response it refers to.
"""

from __future__ import annotations

import logging
import re
import time
from array import array
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scrapy.settings.default_settings import DOWNLOAD_MAXSIZE
from w3lib.url import safe_url_string

from newscrawl.warc.reader import (
    Damage,
    Entry,
    StoredRecord,
    WarcScan,
    archive_files,
    first_line,
    read_record,
)

if TYPE_CHECKING:
    import os
    from collections.abc import Iterable, Iterator
    from pathlib import Path

logger = logging.getLogger(__name__)

#: Record kinds served: an HTTP response, or a revisit pointing at one.
SERVED = frozenset({"response", "revisit"})
#: Headers describing the encoding of a body the replay has decoded.
_CHUNKED_HEADERS = frozenset({"transfer-encoding", "content-length"})
_DECODED_HEADERS = frozenset({"content-encoding", "content-length"})
#: A record's location is one int, ``file index << 40 | byte offset``: an index of
#: a few million URIs then costs a string and an int each, no tuple or object.
_OFFSET_BITS = 40
_OFFSET_MASK = (1 << _OFFSET_BITS) - 1
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


class NotServed(Exception):  # noqa: N818 - a reason, not an error of ours
    """A record that gives no response, with a reason code (``no_http_headers``...)."""

    def __init__(self, reason: str, uri: str | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.uri = uri


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


class ArchiveIndex:
    """Where each URL's latest response is, in a set of WARC files.

    Built once from ``paths`` (WARC files, or directories searched recursively for
    ``*.warc`` and ``*.warc.gz``); bodies are read only on :meth:`lookup` and
    :meth:`at`. Damaged files keep the records before the damage; each damage is
    logged and listed in :attr:`errors`.
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
        #: Where each damaged file stops being read, in file order.
        self.errors: list[Damage] = []
        #: Response and revisit records indexed (duplicates of a URI included).
        self.records = 0
        # Every response and revisit record, in file order (8 bytes each).
        self._order = array("Q")
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

    def _scan(
        self,
        number: int,
        path: Path,
        response_dates: dict[str, str],
        revisit_dates: dict[str, str],
    ) -> None:
        scan = WarcScan(path)
        for entry in scan:
            location = (number << _OFFSET_BITS) | entry.offset
            self._add(entry, location, response_dates, revisit_dates)
        if scan.damage is not None:
            self.errors.append(scan.damage)
            logger.error(
                "Damaged WARC file %s; the records from there on are not read",
                scan.damage,
            )

    def _add(
        self,
        entry: Entry,
        location: int,
        response_dates: dict[str, str],
        revisit_dates: dict[str, str],
    ) -> None:
        kind = entry.kind
        if kind not in SERVED:
            return
        self._order.append(location)
        uri = entry.uri
        if not uri or not uri.lower().startswith("http"):
            return
        self.records += 1
        headers = entry.headers
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
        return len({damage.path for damage in self.errors})

    def locations(self) -> Iterator[int]:
        """Every response and revisit record, in file order, for :meth:`at`."""
        return iter(self._order)

    def place(self, location: int) -> tuple[int, int]:
        """``(file number in files, byte offset)`` of a location."""
        return location >> _OFFSET_BITS, location & _OFFSET_MASK

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
        if key in self._revisits:
            location = self._revisits[key]
        else:
            location = self._responses[key]
        try:
            return self.at(location, max_bytes=max_bytes)
        except NotServed:
            return None
        except Exception as exc:  # noqa: BLE001 - one unreadable record, not the crawl
            # The file changed or was damaged since it was indexed.
            logger.error("Cannot replay %s from the archives: %s", url, first_line(exc))
            return None

    def at(self, location: int, *, max_bytes: int | None = None) -> ReplayedResponse:
        """The response the record at ``location`` serves.

        A response serves itself; a revisit the payload of the response it refers
        to, under its own URI and date. Raises :class:`NotServed` (with the reason)
        for a record that serves none.
        """
        limit = self.max_bytes if max_bytes is None else max_bytes
        number, offset = self.place(location)
        record = read_record(self.files[number], offset, limit)
        if record.kind == "revisit":
            return self._from_revisit(record, limit)
        if record.kind != "response" or record.http is None:
            # Not an HTTP response (a dns: record, a bare document).
            raise NotServed("no_http_headers", record.uri)
        return self._response(record, record, record)

    def _from_revisit(self, revisit: StoredRecord, limit: int) -> ReplayedResponse:
        original = self._read_original(revisit, limit)
        if original is None:
            logger.warning(
                "Revisit of %s (%s): its original response is not in the archives",
                revisit.uri,
                revisit.source,
            )
            raise NotServed("revisit_unresolved", revisit.uri)
        head = revisit
        if revisit.http is None or revisit.http.get_statuscode() == "304":
            # No HTTP headers of its own, or the 304 of a conditional request
            # ("server-not-modified"): the crawler asked for the page itself.
            head = original
        return self._response(revisit, head, original)

    def _read_original(self, revisit: StoredRecord, limit: int) -> StoredRecord | None:
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

    def _read(self, location: int, limit: int) -> StoredRecord | None:
        """The HTTP response at ``location``, its payload read; None if it is not."""
        number, offset = self.place(location)
        record = read_record(self.files[number], offset, limit)
        if record.kind != "response" or record.http is None:
            return None
        return record

    def _response(
        self, served: StoredRecord, head: StoredRecord, payload: StoredRecord
    ) -> ReplayedResponse:
        """The URI, date and IP of ``served``; ``head``'s status; ``payload``'s body."""
        http: Any = head.http
        try:
            status = int(http.get_statuscode())
        except ValueError:
            logger.warning("Not replayed: bad HTTP status line in %s", head.source)
            raise NotServed("bad_status_line", served.uri) from None
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
