"""Crash-safe incremental crawling: the durable frontier, the seen-set, recovery.

The invariant: a URL counts as done only once its item is written (flushed to the
feed file) or its failure recorded. The order of operations keeps it through a
``kill -9`` at any moment:

1. a callback's new requests are committed to the frontier *before* anything the
   callback produced is exported (:class:`FrontierMiddleware`);
2. an item's line is flushed to the ``.part`` feed before the seen-set marks it
   written (:class:`CrawlStateExtension`, on ``item_scraped``);
3. at the next start, leftover ``.part`` feeds are recovered: their complete lines
   are kept and marked written, a torn last line is cut, and the file is renamed
   to its final name. Lines flushed but not yet committed are therefore not lost
   and not crawled again; requests not yet done are still in the frontier.

Settings: ``NEWSCRAWL_STATE`` (``sqlite``, the default, ``off``, or a
``redis://host:port/db`` URL for :class:`newscrawl.state.redis.RedisState`),
``NEWSCRAWL_STATE_DIR`` (default ``output/.state``), ``NEWSCRAWL_REVISIT_AFTER``
(minutes before a known article may be fetched again, default 60) and
``NEWSCRAWL_REVISIT_WINDOW`` (hours after first sight during which it is, default
48): news changes in its first days, then rarely.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from itemadapter import ItemAdapter
from scrapy import Request, signals
from scrapy.exceptions import NotConfigured
from scrapy.extensions.feedexport import FeedExporter

from newscrawl import defaults
from newscrawl.failures import GONE, NOT_ATTEMPTS, is_final
from newscrawl.feeds import PART_SUFFIX, is_open_as, try_lock
from newscrawl.health import component_failed
from newscrawl.state import Pending, key_of
from newscrawl.state.sqlite import SQLiteState, now_minutes

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable

    from scrapy import Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from twisted.python.failure import Failure

    from newscrawl.state import CrawlState

logger = logging.getLogger(__name__)

#: Request meta key set on requests the state knows (hops from a start point).
HOPS = "newscrawl_hops"
#: Request meta key: the request failed (its reason), so it is not done.
FAILED = "newscrawl_failed"
#: Commit the state at least this often (seconds) and every this many items.
COMMIT_SECONDS = 2.0
COMMIT_ITEMS = 100


def open_state(crawler: Crawler, spider_name: str) -> CrawlState | None:
    kind = defaults.get(crawler.settings, "NEWSCRAWL_STATE")
    if kind in ("off", "none", "", None):
        return None
    if str(kind).startswith(("redis://", "rediss://", "unix://")):
        from newscrawl.state.redis import RedisState  # noqa: PLC0415

        return RedisState(str(kind), spider_name)
    if kind != "sqlite":
        raise NotConfigured(
            f"NEWSCRAWL_STATE={kind!r}: 'sqlite', 'off' or a redis:// URL"
        )
    directory = Path(defaults.get(crawler.settings, "NEWSCRAWL_STATE_DIR"))
    return SQLiteState(directory / f"{spider_name}.sqlite")


def feed_dirs(crawler: Crawler, spider_name: str) -> list[Path]:
    """Directories the crawl's file feeds are written to."""
    return feed_dirs_from(crawler.settings.getdict("FEEDS"), spider_name)


def feed_dirs_from(feeds: dict[Any, Any], spider_name: str) -> list[Path]:
    """Directories of the ``file`` feeds among a FEEDS setting."""
    dirs = []
    for uri in feeds:
        path = str(uri).removeprefix("file://")
        if "://" in path:
            continue
        dirs.append(Path(path.replace("%(name)s", spider_name)).parent)
    return dirs


def recover_parts(directory: Path, state: CrawlState | None) -> list[dict[str, Any]]:
    """Finalise the ``.part`` feeds an unfinished run left in ``directory``.

    A ``.part`` whose ``flock`` a live process holds (a concurrent worker still
    writing it, or another run recovering it) is skipped.
    """
    recovered = []
    for part in sorted(directory.glob(f"*{PART_SUFFIX}")):
        final = part.with_name(part.name.removesuffix(PART_SUFFIX))
        try:
            fh = part.open("r+b")
        except FileNotFoundError:
            continue  # finalised by its writer since the listing
        with fh:  # closing it drops the lock, after the rename
            if not try_lock(fh.fileno()):
                logger.info("Skipping %s: locked by a running process", part)
                continue
            if not is_open_as(fh.fileno(), part):
                continue  # finalised or recovered between the open and the lock
            data = fh.read()
            keep = data[: data.rfind(b"\n") + 1]  # a torn last line is cut
            items = 0
            for line in keep.splitlines():
                try:
                    item = json.loads(line)
                except ValueError:
                    continue
                items += 1
                if state is not None and isinstance(item, dict) and item.get("url"):
                    state.mark_written(
                        item["url"],
                        str(item.get("content_hash") or "0" * 16),
                        int(item.get("revision") or 1),
                        _minutes(item.get("modified")),
                    )
            fh.truncate(len(keep))
            fh.flush()
            os.fsync(fh.fileno())
            if state is not None:
                state.commit()  # the marks first: then the file may take its final name
            part.replace(final)
        report = final.with_name(final.stem + ".report.json")
        report.write_text(
            json.dumps(
                {
                    "finish_reason": "recovered",
                    "items": items,
                    "feeds": [{"path": str(final), "items": items}],
                },
                indent=2,
            )
            + "\n",
            encoding="utf-8",
        )
        logger.warning("Recovered %s items from unfinished feed %s", items, final)
        recovered.append({"path": str(final), "items": items})
    return recovered


def _minutes(value: Any) -> int | None:
    if not isinstance(value, str):
        return None
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return int(when.timestamp() // 60)


class CrawlStateExtension:
    """Opens the state for the spider, recovers old feeds, records written items."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.state: CrawlState | None = None
        self.last_commit = time.monotonic()
        self.uncommitted = 0
        self.recovered: list[dict[str, Any]] = []
        self.max_attempts = defaults.getint(crawler.settings, "NEWSCRAWL_MAX_ATTEMPTS")
        self.output_error: BaseException | None = None
        # URL keys this run has written or found unchanged: a link to one of them
        # is a repeat within the run, not an article known from an earlier run.
        self.done_this_run: set[int] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        ext = cls(crawler)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(ext.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(ext.item_dropped, signal=signals.item_dropped)
        crawler.signals.connect(ext.item_error, signal=signals.item_error)
        # Normally the report closes the state after recording the run's coverage.
        crawler.signals.connect(ext.close_state, signal=signals.engine_stopped)
        return ext

    def spider_opened(self, spider: Spider) -> None:
        self.state = open_state(self.crawler, spider.name)
        for directory in feed_dirs(self.crawler, spider.name):
            if directory.is_dir():
                self.recovered += recover_parts(directory, self.state)
        if self.recovered:
            self._stats("recovered_feeds", len(self.recovered))

    def _stats(self, key: str, value: int = 1) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(f"newscrawl/state/{key}", value)

    def flush_feeds(self) -> bool:
        """Flush the feed files; on a write error stop the crawl, return False."""
        exporter = self.crawler.get_extension(FeedExporter)
        for slot in getattr(exporter, "slots", ()):
            if slot.file is None:
                continue
            error = getattr(slot.file, "error", None)
            if error is None:
                try:
                    slot.file.flush()
                except OSError as exc:
                    error = exc
            if error is not None:
                self.output_failed(error)
                return False
        return True

    def output_failed(self, error: BaseException) -> None:
        """The feed cannot be written (disk full...): stop now, keep what is done."""
        if self.output_error is not None:
            return
        self.output_error = error
        component_failed(
            self.crawler,
            "feed",
            f"{error}: stopping the crawl; items written so far are kept, the"
            " unfinished feed is recovered by the next run",
        )
        assert self.crawler.stats is not None
        self.crawler.stats.set_value("newscrawl/output_error", str(error))
        from scrapy.utils.defer import deferred_from_coro  # noqa: PLC0415

        assert self.crawler.engine is not None
        deferred_from_coro(
            self.crawler.engine.close_spider_async(reason="output_error")
        )

    def _maybe_commit(self, force: bool = False) -> None:
        assert self.state is not None
        self.uncommitted += 1
        if (
            force
            or self.uncommitted >= COMMIT_ITEMS
            or time.monotonic() - self.last_commit >= COMMIT_SECONDS
        ):
            self.state.commit()
            self.uncommitted = 0
            self.last_commit = time.monotonic()

    def item_scraped(self, item: Any, response: Response, spider: Spider) -> None:
        # The line must reach the file before the state says the URL is done, and
        # before a cluster worker acknowledges the request (kill -9 loses no line).
        if not self.flush_feeds() or self.state is None:
            return
        adapter = ItemAdapter(item)
        self.state.mark_written(
            adapter["url"],
            adapter.get("content_hash") or "0" * 16,
            int(adapter.get("revision") or 1),
            _minutes(adapter.get("modified")),
        )
        for url in origin_urls(response):
            self.state.done(url)
        self.done_this_run.update(map(key_of, {adapter["url"], *origin_urls(response)}))
        self._maybe_commit()

    def item_dropped(
        self, item: Any, response: Response, exception: BaseException, spider: Spider
    ) -> None:
        if self.state is None:
            return
        url = ItemAdapter(item).get("url") or (response.url if response else None)
        if url is None:
            return
        reason = getattr(exception, "reason", type(exception).__name__)
        urls = {url, *origin_urls(response)}
        if reason in ("unchanged", "duplicate_url", "duplicate_content", "too_old"):
            if reason == "unchanged":
                self.state.touch(url)
            for each in urls:
                self.state.done(each)
            self.done_this_run.update(map(key_of, urls))
        else:
            # Invalid (no body, schema): a failure, retried by later runs.
            for each in urls:
                self.failed(each, reason)
        self._maybe_commit()

    def item_error(
        self, item: Any, response: Response, spider: Spider, failure: Failure
    ) -> None:
        """A pipeline step raised for one item: record it; the crawl goes on."""
        name = type(failure.value).__name__
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(f"newscrawl/item_error/{name}")
        if self.state is None:
            return
        urls = {ItemAdapter(item).get("url"), *origin_urls(response)}
        for url in urls:
            if url:
                self.failed(url, "pipeline_error", name)
        self._maybe_commit()

    def failed(self, url: str, reason: str, detail: str = "") -> None:
        """Record a failure of ``url`` in the state, final or to retry later."""
        assert self.state is not None
        record = self.state.fail(
            url,
            reason,
            final=is_final(reason),
            detail=detail[:500],
            attempt=reason not in NOT_ATTEMPTS,
            max_attempts=self.max_attempts,
        )
        if record.final:
            self._stats(f"failed_final/{reason}")

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self.state is not None:
            self.state.commit()

    def close_state(self) -> None:
        if self.state is not None:
            self.state.close()
            self.state = None


def state_of(spider: Spider) -> CrawlState | None:
    """The state of the spider's crawl (``None`` when state is off)."""
    ext = spider.crawler.get_extension(CrawlStateExtension)
    return ext.state if ext is not None else None


def origin_urls(response: Response | None) -> list[str]:
    """The URLs a response answers for: the request's, and those redirected from."""
    if response is None or response.request is None:
        return []
    request = response.request
    return [*request.meta.get("redirect_urls", ()), request.url]


def record_failure(
    crawler: Crawler, request: Request, reason: str, detail: str
) -> None:
    """Record a failed request (and the URLs it was redirected from)."""
    # Seen by FrontierMiddleware: a failed callback's URL is not "done".
    request.meta[FAILED] = reason
    ext = crawler.get_extension(CrawlStateExtension)
    if ext is None or ext.state is None:
        return
    for url in [*request.meta.get("redirect_urls", ()), request.url]:
        ext.failed(url, reason, detail)
    ext._maybe_commit()


class FrontierMiddleware:
    """Commits a callback's new requests before its items; skips known articles.

    A request for an article the state has written is dropped unless the article
    is still young enough to change (``NEWSCRAWL_REVISIT_WINDOW``) and was last
    fetched long enough ago (``NEWSCRAWL_REVISIT_AFTER``).
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.revisit_after = defaults.getint(
            crawler.settings, "NEWSCRAWL_REVISIT_AFTER"
        )
        self.revisit_window = defaults.getint(
            crawler.settings, "NEWSCRAWL_REVISIT_WINDOW"
        )

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def _wanted(self, state: CrawlState, request: Request) -> bool:
        assert self.crawler.stats is not None
        seen = state.seen(request.url)
        if seen is None:
            failure = state.failure(request.url)
            if failure is not None and failure.final:
                # A page found gone (404/410), off-site, not HTML... stays so.
                kind = "gone" if failure.reason in GONE else "failed"
                self.crawler.stats.inc_value(f"newscrawl/state/skipped_{kind}")
                return False
            return True
        now = now_minutes()
        young = now - seen.first_seen < self.revisit_window * 60
        stale = now - seen.fetched >= self.revisit_after
        if young and stale:
            return True
        ext = self.crawler.get_extension(CrawlStateExtension)
        if ext is not None and key_of(request.url) in ext.done_this_run:
            self.crawler.stats.inc_value("newscrawl/state/skipped_this_run")
        else:
            self.crawler.stats.inc_value("newscrawl/state/skipped_known")
        return False

    def _persist(self, response: Response | None, outputs: list[Any]) -> list[Any]:
        spider = self.crawler.spider
        state = state_of(spider) if spider is not None else None
        if state is None:
            return outputs
        kept: list[Any] = []
        pending: list[Pending] = []
        for out in outputs:
            if isinstance(out, Request):
                if not self._wanted(state, out):
                    continue
                callback = getattr(out.callback, "__name__", "parse")
                pending.append(
                    Pending(out.url, callback, int(out.meta.get(HOPS, 0)), out.priority)
                )
            kept.append(out)
        state.add_pending(pending)
        has_item = any(not isinstance(o, Request) for o in kept)
        failed = response is not None and (
            response.request is None or response.request.meta.get(FAILED)
        )
        if response is not None and not has_item and not failed:
            # A listing, feed or skipped page: done once its requests are stored.
            for url in origin_urls(response):
                state.done(url)
        state.commit()
        return kept

    async def process_start(self, start: AsyncIterator[Any]) -> AsyncIterator[Any]:
        """Start requests enter the durable frontier too.

        A failed seed then stays pending for the next run; URLs that failed for
        good are not requested.
        """
        spider = self.crawler.spider
        state = state_of(spider) if spider is not None else None
        added = 0
        async for out in start:
            if state is not None and isinstance(out, Request):
                failure = state.failure(out.url)
                if failure is not None and failure.final:
                    assert self.crawler.stats is not None
                    self.crawler.stats.inc_value("newscrawl/state/skipped_failed")
                    continue
                callback = getattr(out.callback, "__name__", "parse")
                state.add_pending(
                    [
                        Pending(
                            out.url, callback, int(out.meta.get(HOPS, 0)), out.priority
                        )
                    ]
                )
                added += 1
                if added % 500 == 0:
                    state.commit()
            yield out
        if state is not None and added:
            state.commit()

    def process_spider_output(
        self, response: Response | None, result: Iterable[Any]
    ) -> Iterable[Any]:
        yield from self._persist(response, list(result))

    async def process_spider_output_async(
        self, response: Response | None, result: AsyncIterator[Any]
    ) -> AsyncIterator[Any]:
        outputs = [o async for o in result]
        for out in self._persist(response, outputs):
            yield out
