"""Reading WARC files: which records are whole (one check for all), and a payload.

:class:`WarcScan` walks a file's records and stops at the first damage (a record
cut short or mis-sized, a damaged gzip member, garbage, bytes after the last
record), keeping the records before it and saying where the damage is. The replay
index (:mod:`newscrawl.warc.index`, which ``newscrawl extract --warc`` reads
through too) and the recorder's recovery of a killed crawl's file
(:mod:`newscrawl.warc.record`) use it. :func:`read_record` reads one record back
at its offset, payload decoded as replay serves it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import BufferedReader, ChunkedDataReader
from warcio.limitreader import LimitReader

if TYPE_CHECKING:
    import os
    from collections.abc import Iterable, Iterator

#: File names scanned in a directory (recursively).
WARC_SUFFIXES = (".warc", ".warc.gz")
#: Bytes looked at after the last record: blank lines there are harmless.
_TAIL = 65536
#: ``Damage.reason`` of a record shorter or longer than its headers say.
TRUNCATED = "truncated_record"
#: ``Damage.reason`` of bytes that do not read as WARC at all.
UNREADABLE = "archive_damaged"


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


def first_line(exc: BaseException) -> str:
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


@dataclass(frozen=True, slots=True)
class Damage:
    """Where a WARC file stops being readable; the records before it are kept."""

    path: str
    offset: int
    message: str
    #: ``truncated_record`` or ``archive_damaged``.
    reason: str
    #: The damaged record's ``WARC-Target-URI``, when its header could be read.
    uri: str | None = None

    def __str__(self) -> str:
        return f"{self.path} at byte {self.offset}: {self.message}"


@dataclass(frozen=True, slots=True)
class Entry:
    """A complete record: where it is, its type and its WARC headers."""

    offset: int
    end: int
    kind: str
    #: warcio's ``StatusAndHeaders`` of the WARC header block.
    headers: Any

    @property
    def uri(self) -> str | None:
        uri: str | None = self.headers.get_header("WARC-Target-URI")
        return uri


class WarcScan:
    """The complete records of one WARC file, in order (HTTP headers not parsed).

    Iterating stops at the first damage, then :attr:`damage` says where and why,
    and :attr:`end` is where the last complete record ends (where a torn file is
    cut to keep only whole records).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.damage: Damage | None = None
        self.end = 0

    def _damaged(
        self, offset: int, message: str, reason: str, uri: str | None = None
    ) -> None:
        self.damage = Damage(str(self.path), offset, message, reason, uri)

    def __iter__(self) -> Iterator[Entry]:
        try:
            stream = self.path.open("rb")
        except OSError as exc:
            self._damaged(0, first_line(exc), UNREADABLE)
            return
        with stream:
            iterator = ArchiveIterator(stream, no_record_parse=True)
            uri = None  # of the record being read, once its header is
            try:
                for record in iterator:
                    uri = record.rec_headers.get_header("WARC-Target-URI")
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
                        message = "record cut short or mis-sized"
                        self._damaged(offset, message, TRUNCATED, uri)
                        return
                    self.end = offset + iterator.get_record_length()
                    yield Entry(offset, self.end, record.rec_type, record.rec_headers)
                    uri = None
            except Exception as exc:  # noqa: BLE001 - any damage ends the good part
                # ArchiveLoadFailed (garbage, a bad header), zlib errors...: the
                # iterator's offset is where the record being read starts.
                self._damaged(int(iterator.offset), first_line(exc), UNREADABLE, uri)
                return
            # A file cut inside a gzip member's header ends the iteration quietly.
            stream.seek(self.end)
            if stream.read(_TAIL).strip():
                message = "bytes after the last complete record"
                self._damaged(self.end, message, TRUNCATED)


@dataclass(slots=True)
class StoredRecord:
    """One record read back from an archive (HTTP headers parsed, payload maybe)."""

    kind: str
    uri: str
    warc: Any  # warcio StatusAndHeaders
    http: Any  # warcio StatusAndHeaders, or None for a record without HTTP headers
    #: ``path@offset`` of the record.
    source: str
    digest: str | None = None
    body: bytes = b""
    too_large: bool = False
    #: The chunked transfer encoding was undone.
    dechunked: bool = False
    #: The content encoding (gzip, deflate) was undone.
    decoded: bool = False


def read_record(path: Path, offset: int, limit: int | None) -> StoredRecord:
    """The record at ``offset`` of ``path``; a response's payload too with ``limit``.

    ``limit`` caps the decoded payload (0: none); a larger one is left out and
    flagged ``too_large``.
    """
    with path.open("rb") as stream:
        stream.seek(offset)
        record = next(ArchiveIterator(stream))
        out = StoredRecord(
            kind=record.rec_type,
            uri=record.rec_headers.get_header("WARC-Target-URI") or "",
            warc=record.rec_headers,
            http=record.http_headers,
            source=f"{path}@{offset}",
            digest=record.rec_headers.get_header("WARC-Payload-Digest"),
        )
        if limit is not None and out.kind == "response" and out.http is not None:
            _read_payload(out, record, limit)
    return out


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
def _read_payload(out: StoredRecord, record: Any, limit: int) -> None:
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
