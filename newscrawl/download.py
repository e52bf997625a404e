"""HTTP downloads that a stopping crawl aborts at once instead of waiting out.

It also refuses, at the moment a download would start, requests to a host that
was cooled down after they were queued (:class:`newscrawl.resilience.HostPolicy`),
and, in a cluster, waits for the host's lease (:class:`newscrawl.cluster.HostGate`).

When a crawl closes (SIGTERM, a timeout, an output error), Scrapy waits for the
downloads in flight, each up to ``DOWNLOAD_TIMEOUT``: a server that holds
connections open keeps a killed cron job alive for minutes. This handler tracks
its downloads and cancels them as soon as the engine starts closing; they fail
with the reason ``shutdown`` and stay pending in the crawl state for the next run.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from twisted.internet import task

from newscrawl.cluster import cluster_of
from newscrawl.failures import REASON, RequestRefused
from newscrawl.resilience import HostPolicy

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

#: How often (seconds) the handler checks whether the engine is closing.
CHECK_EVERY = 0.2


def engine_closing(crawler: Crawler) -> bool:
    """Whether the crawl is shutting down (stop requested or spider closing)."""
    engine = crawler.engine
    if engine is None:
        return False
    if not engine.running:
        return True
    # Scrapy has no public flag or signal for "close_spider has begun".
    slot: Any = getattr(engine, "_slot", None)
    return slot is not None and slot.closing is not None


class AbortableHTTPDownloadHandler(HTTP11DownloadHandler):
    """Scrapy's HTTP/1.1 handler, whose downloads are cancelled at shutdown."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self._inflight: dict[asyncio.Future[Response], Request] = {}
        self._watch = task.LoopingCall(self._check)
        self._aborted = False

    async def download_request(self, request: Request) -> Response:
        if self._aborted:
            request.meta[REASON] = "shutdown"
            raise RequestRefused("shutdown")
        # Checked again here, when the download really starts: requests admitted
        # to the host's queue before it was cooled down must not go out either.
        policy = self._crawler.get_extension(HostPolicy)
        if policy is not None and policy.cooled(request):
            raise RequestRefused("host_cooled_down", policy.key(request))
        if not self._watch.running:
            self._watch.start(CHECK_EVERY, now=False)
        cluster = cluster_of(self._crawler)
        # In a cluster, the host's limits hold for all workers together.
        # "is not None": the scheduler's len() is the queue's, often 0.
        token = None
        if cluster is not None:
            token = await cluster.gate.acquire(request, self._closing)
        future = asyncio.ensure_future(super().download_request(request))
        self._inflight[future] = request
        try:
            return await future
        except asyncio.CancelledError:
            if request.meta.get(REASON) == "shutdown":
                raise RequestRefused("shutdown") from None
            raise
        finally:
            self._inflight.pop(future, None)
            if cluster is not None and token is not None:
                cluster.gate.release(request, token)

    def _closing(self) -> bool:
        return self._aborted or engine_closing(self._crawler)

    def _check(self) -> None:
        if self._aborted or not engine_closing(self._crawler):
            return
        self._aborted = True
        for future, request in list(self._inflight.items()):
            request.meta[REASON] = "shutdown"
            future.cancel()

    async def close(self) -> None:
        if self._watch.running:
            self._watch.stop()
        await super().close()
