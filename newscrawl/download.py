"""HTTP downloads that a stopping crawl aborts at once instead of waiting out.

It also refuses, at the moment a download would start, requests to a host that
was cooled down after they were queued (:class:`newscrawl.hosts.HostPolicy`).
A subclass may hold something around each download (:meth:`lease`).

When a crawl closes (SIGTERM, a timeout, an output error), Scrapy waits for the
downloads in flight, each up to ``DOWNLOAD_TIMEOUT``: a server that holds
connections open keeps a killed cron job alive for minutes. This handler tracks
its downloads and cancels them as soon as the engine starts closing; they fail
with the reason ``shutdown`` and stay pending in the crawl state for the next run.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from twisted.internet import task

from newscrawl.failures import REASON, RequestRefused
from newscrawl.hosts import HostPolicy

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

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
        policy = self.crawler.get_extension(HostPolicy)
        if policy is not None and policy.cooled(request):
            raise RequestRefused("host_cooled_down", policy.key(request))
        if not self._watch.running:
            self._watch.start(CHECK_EVERY, now=False)
        async with self.lease(request):
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

    def lease(self, request: Request) -> AbstractAsyncContextManager[None]:
        """Held around the download of ``request``, once it is admitted: nothing.

        A subclass may wait here for a resource (a lease on the host shared
        with other processes, say); it should give up, raising, when
        :meth:`closing` becomes true.
        """
        return contextlib.nullcontext()

    def closing(self) -> bool:
        """Whether this handler's downloads are being aborted (the crawl closes)."""
        return self._aborted or engine_closing(self.crawler)

    def _check(self) -> None:
        if self._aborted or not engine_closing(self.crawler):
            return
        self._aborted = True
        for future, request in list(self._inflight.items()):
            request.meta[REASON] = "shutdown"
            future.cancel()

    async def close(self) -> None:
        if self._watch.running:
            self._watch.stop()
        await super().close()
