"""Event-loop stall monitor (how long the reactor thread was kept from downloads).

A tick is scheduled every ``INTERVAL`` seconds; the lateness of each tick is the
time the loop was blocked (by a callback, a pipeline, a parse). The longest stall
and the count of stalls over 100 ms go to the stats and the run report, so a
hostile page that freezes the crawl shows up in numbers.
"""

from __future__ import annotations

import resource
import time
from typing import TYPE_CHECKING, Self

from scrapy import signals
from twisted.internet import task

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

INTERVAL = 0.02
STALL_MS = 100


class LoopMonitor:
    """Measures the event loop's longest stall during a crawl."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.max_ms = 0.0
        self.stalls = 0
        self.last = 0.0
        self.loop = task.LoopingCall(self.tick)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        ext = cls(crawler)
        crawler.signals.connect(ext.opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.closed, signal=signals.spider_closed)
        return ext

    def opened(self) -> None:
        from newscrawl.worker import warm_up  # noqa: PLC0415

        # First-use imports happen now, before any download is in flight.
        warm_up()
        self.last = time.monotonic()
        self.loop.start(INTERVAL, now=False)

    def tick(self) -> None:
        now = time.monotonic()
        late_ms = (now - self.last - INTERVAL) * 1000
        self.last = now
        self.max_ms = max(self.max_ms, late_ms)
        if late_ms > STALL_MS:
            self.stalls += 1

    def closed(self) -> None:
        if self.loop.running:
            self.loop.stop()
        stats = self.crawler.stats
        assert stats is not None
        stats.set_value("newscrawl/loop/max_stall_ms", round(self.max_ms, 1))
        stats.set_value(f"newscrawl/loop/stalls_over_{STALL_MS}ms", self.stalls)
        # The process's high-water mark (Scrapy's memusage samples once a minute).
        peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        stats.set_value("newscrawl/peak_rss_bytes", peak_kib * 1024)
