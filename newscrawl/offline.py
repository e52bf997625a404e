"""Offline extraction: WARC records or saved pages -> JSONL items, no network.

The same ``extract()`` and the same validation as the spiders; output goes through
Scrapy's JSON Lines exporter into an atomic ``.part`` file. A record that cannot be
read or extracted is reported with its URL and reason, and the run goes on.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from scrapy.exporters import JsonLinesItemExporter
from scrapy.http import HtmlResponse

from newscrawl.extract import extract, utc_now
from newscrawl.feeds import AtomicFileFeedStorage
from newscrawl.pipelines import ArticleDropped, ValidateArticlePipeline

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from newscrawl.items import ArticleItem

logger = logging.getLogger(__name__)

#: Content types we extract; everything else in a WARC is skipped and counted.
HTML_TYPES = ("text/html", "application/xhtml+xml")
#: Bodies larger than this are not parsed (a page, not an archive dump).
MAX_BODY_BYTES = 20 * 1024 * 1024


class DictStats:
    """The slice of Scrapy's stats collector that loaders and pipelines use."""

    def __init__(self) -> None:
        self.values: Counter[str] = Counter()

    def inc_value(self, key: str, count: int = 1, start: int = 0) -> None:
        self.values[key] += count

    def get_value(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def get_stats(self) -> dict[str, Any]:
        return dict(self.values)


@dataclass
class Record:
    """One HTTP response out of an archive (or a saved page)."""

    url: str
    body: bytes
    headers: dict[str, str]
    fetched_at: str | None
    offset: int | None = None


@dataclass
class Skip:
    """A record that is not extracted, and why."""

    url: str | None
    reason: str
    offset: int | None = None


@dataclass
class RunSummary:
    """What an offline run did, for the console and the tests."""

    items: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    seconds: list[tuple[str, float]] = field(default_factory=list)


def _iso_date(warc_date: str | None) -> str | None:
    """A WARC-Date as the ISO form items use (whole seconds, ``+00:00``).

    >>> _iso_date("2026-12-01T11:44:34.449461Z")
    '2026-12-01T11:44:34+00:00'
    """
    if not warc_date:
        return None
    try:
        when = dt.datetime.fromisoformat(warc_date)
    except ValueError:
        return None
    return when.replace(microsecond=0).isoformat()


def iter_warc(path: Path) -> Iterator[Record | Skip]:
    """Response records of a WARC file (gzipped or not), HTML or a ``Skip``."""
    from warcio.archiveiterator import ArchiveIterator  # noqa: PLC0415
    from warcio.exceptions import ArchiveLoadFailed  # noqa: PLC0415

    with path.open("rb") as stream:
        records = ArchiveIterator(stream)
        try:
            for record in records:
                if record.rec_type != "response":
                    continue
                url = record.rec_headers.get_header("WARC-Target-URI")
                fetched_at = _iso_date(record.rec_headers.get_header("WARC-Date"))
                http = record.http_headers
                reason, body = _read(record, http)
                # warcio reads the rest of the record to find its offset: call it
                # only once the body has been read.
                offset = records.get_record_offset()
                if reason:
                    yield Skip(url, reason, offset)
                    continue
                assert http is not None
                headers = {k: v for k, v in http.headers if k.lower() == "content-type"}
                yield Record(url, body, headers, fetched_at, offset)
        except (ArchiveLoadFailed, OSError, EOFError, ValueError) as exc:
            yield Skip(None, f"archive_damaged: {exc}", records.get_record_offset())


def _read(record: Any, http: Any) -> tuple[str | None, bytes]:
    """``(skip reason or None, body)`` of a response record."""
    if http is None:
        return "no_http_headers", b""
    ctype = (http.get_header("Content-Type") or "").lower()
    if ctype and not ctype.startswith(HTML_TYPES):
        return "not_html", b""
    status = http.get_statuscode()
    if status != "200":
        return f"http_{status}", b""
    body: bytes = record.content_stream().read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        return "too_large", b""
    # A cut-off archive ends in a record shorter than its declared length; warcio
    # returns what is there without complaint, and half a page is a wrong page.
    if getattr(record.raw_stream, "limit", 0) > 0:
        return "truncated_record", b""
    if not body.strip():
        return "empty_body", b""
    return None, body


def extract_record(
    record: Record, stats: DictStats | None = None, site: str | None = None
) -> ArticleItem:
    """The record's article, by the same page work as a crawl.

    That is charset repair, deep-nesting repair, link pruning and extraction.
    """
    from newscrawl.encoding import CharsetMiddleware  # noqa: PLC0415
    from newscrawl.worker import analyse_page  # noqa: PLC0415

    response = HtmlResponse(url=record.url, body=record.body, headers=record.headers)
    fixed = CharsetMiddleware(stats).process_response(  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        response,
    )
    page = analyse_page(
        fixed,  # type: ignore[arg-type]
        site=site,
        fetched_at=record.fetched_at or utc_now(),
        verdict=False,
        max_links=0,
    )
    if stats is not None:
        page.stats.merge_into(stats)
    if page.item is None:
        return extract(response, site=site, stats=stats, fetched_at=record.fetched_at)
    return page.item


def run(
    records: Iterator[Record | Skip],
    out: Path | IO[bytes],
    *,
    progress: Callable[[], object] | None = None,
    site: str | None = None,
) -> RunSummary:
    """Extract every record into ``out`` (a path: written atomically).

    ``site`` forces a site profile (as ``-a site=`` does for the ``news`` spider);
    by default it is chosen from each record's URL.
    """
    summary = RunSummary()
    stats = DictStats()
    validate = ValidateArticlePipeline(stats)
    storage = None
    if isinstance(out, Path):
        storage = AtomicFileFeedStorage(str(out), feed_options={"overwrite": True})
        stream: IO[bytes] = storage.open(None)  # type: ignore[arg-type]
    else:
        stream = out
    exporter = JsonLinesItemExporter(
        stream,  # type: ignore[arg-type]  # any binary file works
        encoding="utf-8",
        ensure_ascii=False,
    )
    exporter.start_exporting()
    try:
        for record in records:
            if progress is not None:
                progress()
            if isinstance(record, Skip):
                summary.skipped[record.reason] += 1
                logger.warning(
                    "Skipped %s (record at byte %s): %s",
                    record.url or "?",
                    record.offset,
                    record.reason,
                )
                continue
            start = time.perf_counter()
            try:
                item = extract_record(record, stats, site)
                validate.process_item(item)
            except ArticleDropped as exc:
                summary.failed[exc.reason] += 1
                logger.warning("Not extracted %s: %s", record.url, exc.reason)
                continue
            except Exception as exc:  # one bad page must not end the run
                summary.failed[type(exc).__name__] += 1
                logger.exception("Failed on %s", record.url)
                continue
            finally:
                summary.seconds.append((record.url, time.perf_counter() - start))
            exporter.export_item(item)
            summary.items += 1
    finally:
        exporter.finish_exporting()
        if storage is not None:
            storage.store(stream)
    return summary


def saved_page(path: Path, url: str, fetched_at: str | None = None) -> Record:
    """A page saved to disk (``.html`` or ``.html.gz``) as a record."""
    body = path.read_bytes()
    if path.suffix == ".gz":
        import gzip  # noqa: PLC0415

        body = gzip.decompress(body)
    return Record(url=url, body=body, headers={}, fetched_at=fetched_at)
