"""Host leases: the per-host limits held by the whole cluster, not per worker."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from newscrawl.failures import REASON, RequestRefused

if TYPE_CHECKING:
    from collections.abc import Callable

    from scrapy import Request
    from scrapy.settings import BaseSettings

    from newscrawl.cluster.keys import Keys
    from newscrawl.cluster.link import Link

#: The cluster's one logger (its log lines read ``[newscrawl.cluster]``).
logger = logging.getLogger("newscrawl.cluster")

#: Seconds between two looks at a host's gate while it is full.
GATE_POLL = 0.02


class HostGate:
    """Per-host limits that hold for the whole cluster, not per worker.

    Before a download starts, the worker takes a lease on the host in Redis: at
    most ``CONCURRENT_REQUESTS_PER_DOMAIN`` leases at once, and two leases at
    least the host's current delay apart (the downloader slot's, which holds
    ``DOWNLOAD_DELAY``, AutoThrottle and robots.txt ``Crawl-delay``: ``delay``
    gives it). A lease ends with its download, or expires after
    ``DOWNLOAD_TIMEOUT`` plus a margin when its worker died.
    """

    def __init__(
        self,
        link: Link,
        keys: Keys,
        settings: BaseSettings,
        delay: Callable[[Request], float],
    ) -> None:
        self.link = link
        self.keys = keys
        self.delay = delay
        self.limit = max(1, settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN", 8))
        self.lease_ms = int((settings.getfloat("DOWNLOAD_TIMEOUT", 180) + 30) * 1000)

    async def acquire(self, request: Request, aborted: Callable[[], bool]) -> str:
        """Wait for a lease on the request's host; return its token."""
        host = urlsplit(request.url).hostname or ""
        leases, nxt = self.keys.host(host)
        token = uuid.uuid4().hex
        waited = False
        while True:
            if aborted():
                request.meta[REASON] = "shutdown"
                raise RequestRefused("shutdown")
            wait = self.link.call(
                "acquire",
                keys=[leases, nxt, self.keys.processing(self.link.worker)],
                args=[
                    token,
                    self.limit,
                    int(self.delay(request) * 1000),
                    self.lease_ms,
                ],
            )
            if wait == 0:
                if waited:
                    self.link.count("gate_waits")
                logger.debug("Lease %s on %s for %s", token[:6], host, request.url)
                return token
            waited = True
            await asyncio.sleep(GATE_POLL if wait < 0 else max(wait / 1000, 0.001))

    def release(self, request: Request, token: str) -> None:
        """End the lease with this worker's next call to Redis.

        That is a pop, a lease or its poll: a few milliseconds later under load,
        at most ``NEWSCRAWL_CLUSTER_POLL`` when idle; never before the download
        ends, so the limits hold.
        """
        host = urlsplit(request.url).hostname or ""
        leases, _ = self.keys.host(host)
        self.link.release_later(leases, token)
