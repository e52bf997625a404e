"""The durable frontier in a crawl: new requests committed before the items.

A callback's new requests are committed to the frontier *before* anything the
callback produced is exported, and a request for an article the state knows is
dropped unless the revisit policy wants it again (``NEWSCRAWL_REVISIT_AFTER``,
``NEWSCRAWL_REVISIT_WINDOW``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Self

from scrapy import Request

from newscrawl import defaults
from newscrawl.failures import GONE
from newscrawl.follow import HOPS
from newscrawl.state import Pending, key_of
from newscrawl.state.extension import (
    FAILED,
    CrawlStateExtension,
    origin_urls,
    state_of,
)
from newscrawl.state.sqlite import now_minutes

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable

    from scrapy.crawler import Crawler
    from scrapy.http import Response

    from newscrawl.state import CrawlState

logger = logging.getLogger(__name__)


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
