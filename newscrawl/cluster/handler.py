"""The cluster's HTTP download handler: each download holds its host's lease."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from newscrawl.cluster.scheduler import cluster_of
from newscrawl.download import AbortableHTTPDownloadHandler

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from scrapy import Request


class ClusterDownloadHandler(AbortableHTTPDownloadHandler):
    """newscrawl's HTTP handler, whose downloads wait for the host's lease.

    The lease (:class:`newscrawl.cluster.hostgate.HostGate`) makes the per-host
    limits hold for all the workers together. The :class:`Cluster` addon installs
    this handler for ``http`` and ``https``.
    """

    @contextlib.asynccontextmanager
    async def lease(self, request: Request) -> AsyncIterator[None]:
        # "is None": the scheduler's len() is the queue's, often 0.
        scheduler = cluster_of(self.crawler)
        if scheduler is None:
            yield
            return
        token = await scheduler.gate.acquire(request, self.closing)
        try:
            yield
        finally:
            scheduler.gate.release(request, token)
