"""Offline extraction: WARC records or saved pages -> JSONL items, no network.

Each page takes the crawl's own path (:func:`newscrawl.page.process_page`: charset,
markup repair, link pruning, extraction, the pipeline's validation); WARC files are
read through the replay's index (:class:`newscrawl.warc.index.ArchiveIndex`), so a
revisit record gives the response it refers to, as replay serves it. Output goes
through Scrapy's JSON Lines exporter into an atomic ``.part`` file. A record that
cannot be read or extracted is reported with its URL and reason, and the run goes on.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

from scrapy.exporters import JsonLinesItemExporter

from newscrawl.feeds import AtomicFileFeedStorage
from newscrawl.page import LocalStats, PageResult, process_page
from newscrawl.warc.index import ArchiveIndex, NotServed, ReplayedResponse
from newscrawl.warc.reader import first_line

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

logger = logging.getLogger(__name__)

#: Content types we extract; everything else in a WARC is skipped and counted.
HTML_TYPES = ("text/html", "application/xhtml+xml")
#: Bodies larger than this are not parsed (a page, not an archive dump).
MAX_BODY_BYTES = 20 * 1024 * 1024


@dataclass
class Record:
    """One HTTP response out of an archive (or a saved page)."""

    url: str
    body: bytes
    #: HTTP headers, in archive order (none for a saved page).
    headers: list[tuple[str, str]]
    fetched_at: str | None
    offset: int | None = None
    #: The WARC file it comes from.
    path: str | None = None


@dataclass
class Skip:
    """A record that is not extracted, and why."""

    url: str | None
    reason: str
    offset: int | None = None
    path: str | None = None


@dataclass
class RunSummary:
    """What an offline run did, for the console and the tests."""

    items: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    seconds: list[tuple[str, float]] = field(default_factory=list)
    #: The pages' counters (``newscrawl/extract/...``), as a crawl's stats has them.
    stats: LocalStats = field(default_factory=LocalStats)


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


def iter_warc(*paths: Path) -> Iterator[Record | Skip]:
    """Every response and revisit record of the WARC files in order: page or ``Skip``.

    The files are indexed together first, so that a revisit in one refers to a
    response in any. A damaged file gives the records before the damage, then a
    ``Skip`` saying where it is.
    """
    index = ArchiveIndex(paths, max_bytes=MAX_BODY_BYTES)
    damages = {damage.path: damage for damage in index.errors}

    def damaged(number: int) -> Iterator[Skip]:
        damage = damages.get(str(index.files[number]))
        if damage is not None:
            yield Skip(damage.uri, damage.reason, damage.offset, damage.path)

    done = 0  # the files before this one have had their damage, if any, given
    for location in index.locations():
        number, offset = index.place(location)
        for earlier in range(done, number):
            yield from damaged(earlier)
        done = number
        path = str(index.files[number])
        try:
            found = index.at(location)
        except NotServed as exc:
            yield Skip(exc.uri, exc.reason, offset, path)
            continue
        except Exception as exc:  # noqa: BLE001 - the file changed since it was indexed
            logger.error(
                "Cannot read the record at %s@%d: %s", path, offset, first_line(exc)
            )
            yield Skip(None, "unreadable_record", offset, path)
            continue
        yield _page(found, offset, path)
    for number in range(done, len(index.files)):
        yield from damaged(number)


def _header(headers: list[tuple[str, str]], name: str) -> str:
    return next((v for k, v in headers if k.lower() == name), "")


def _page(found: ReplayedResponse, offset: int, path: str) -> Record | Skip:
    """The served response as a page to extract, or why it is none."""
    ctype = _header(found.headers, "content-type").lower()
    if ctype and not ctype.startswith(HTML_TYPES):
        return Skip(found.url, "not_html", offset, path)
    if found.status != 200:
        return Skip(found.url, f"http_{found.status}", offset, path)
    if found.too_large:
        return Skip(found.url, "too_large", offset, path)
    if _header(found.headers, "content-encoding"):
        # br, zstd or stacked: a crawl's HttpCompressionMiddleware decodes them.
        return Skip(found.url, "content_encoding", offset, path)
    if not found.body.strip():
        return Skip(found.url, "empty_body", offset, path)
    fetched_at = _iso_date(found.date)
    return Record(found.url, found.body, found.headers, fetched_at, offset, path)


def process_record(record: Record, site: str | None = None) -> PageResult:
    """The record's page work: the crawl's :func:`~newscrawl.page.process_page`."""
    return process_page(
        record.body,
        url=record.url,
        headers=record.headers,
        fetched_at=record.fetched_at,
        site=site,
    )


def run(
    records: Iterator[Record | Skip],
    out: Path | IO[bytes],
    *,
    progress: Callable[[], object] | None = None,
    site: str | None = None,
) -> RunSummary:
    """Extract every record into ``out`` (a path: written atomically).

    ``site`` forces a site profile (as ``-a site=`` does for the ``news`` spider);
    by default it is chosen from each record's URL. An item the crawl's validation
    would drop is counted as failed with the pipeline's reason, not written.
    """
    summary = RunSummary()
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
                    "Skipped %s (%s at byte %s): %s",
                    record.url or "?",
                    record.path or "record",
                    record.offset,
                    record.reason,
                )
                continue
            start = time.perf_counter()
            try:
                page = process_record(record, site)
            except Exception as exc:  # one bad page must not end the run
                summary.failed[type(exc).__name__] += 1
                logger.exception("Failed on %s", record.url)
                continue
            finally:
                summary.seconds.append((record.url, time.perf_counter() - start))
            page.stats.merge_into(summary.stats)
            # The crawl's reasons: a page without an item fails as no_body.
            reason = "no_body" if page.item is None else page.invalid
            if reason is not None:
                summary.failed[reason] += 1
                logger.warning("Not extracted %s: %s", record.url, reason)
                continue
            exporter.export_item(page.item)
            summary.items += 1
    finally:
        exporter.finish_exporting()
        if storage is not None:
            storage.store(stream)
    return summary


class PageTooLargeError(ValueError):
    """A saved page over ``MAX_BODY_BYTES`` (decompressed): refused, as in a crawl."""


def read_saved_page(path: Path) -> bytes:
    """The bytes of a saved page (``.html``, or ``.html.gz`` decompressed).

    Read in a bounded way: a small ``.gz`` that inflates to gigabytes (a bomb) is
    refused at ``MAX_BODY_BYTES`` instead of filling memory.
    """
    if path.suffix == ".gz":
        import gzip  # noqa: PLC0415

        with gzip.open(path, "rb") as fh:
            body = fh.read(MAX_BODY_BYTES + 1)
    else:
        with path.open("rb") as fh:
            body = fh.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        raise PageTooLargeError(
            f"{path}: larger than {MAX_BODY_BYTES // (1024 * 1024)} MiB"
            + (" once decompressed" if path.suffix == ".gz" else "")
        )
    return body


def saved_page(path: Path, url: str, fetched_at: str | None = None) -> Record:
    """A page saved to disk (``.html`` or ``.html.gz``) as a record."""
    return Record(
        url=url, body=read_saved_page(path), headers=[], fetched_at=fetched_at
    )
