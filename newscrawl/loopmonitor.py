"""Event-loop stall monitor (how long the reactor thread was kept from downloads).

A tick is scheduled every ``INTERVAL`` seconds; the lateness of each tick is the
time the loop was blocked (by a callback, a pipeline, a parse). The longest stall
and the count of stalls over 100 ms go to the stats and the run report, so a
hostile page that freezes the crawl shows up in numbers.
"""

from __future__ import annotations

import logging
import resource
import sys
import threading
import time
import traceback
from typing import TYPE_CHECKING, Self

from scrapy import signals
from twisted.internet import task

from newscrawl import defaults

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

INTERVAL = 0.02
STALL_MS = 100

logger = logging.getLogger(__name__)


class StallTracer(threading.Thread):
    """Logs where the loop thread is while it is stalled (``NEWSCRAWL_LOOP_TRACE``).

    A diagnostic: a daemon thread that, when the loop's tick is more than
    ``STALL_MS`` late, logs the loop thread's current stack once per stall.
    """

    def __init__(self, monitor: LoopMonitor) -> None:
        super().__init__(daemon=True, name="newscrawl-stall-tracer")
        self.monitor = monitor
        self.loop_thread = threading.get_ident()
        self.stopped = threading.Event()

    def run(self) -> None:
        reported = 0.0
        while not self.stopped.wait(STALL_MS / 2000):
            last = self.monitor.last
            late = time.monotonic() - last - INTERVAL
            if late * 1000 > STALL_MS and last != reported:
                reported = last
                frame = sys._current_frames().get(self.loop_thread)
                if frame is not None:
                    stack = "".join(traceback.format_stack(frame)[-12:])
                    logger.warning(
                        "Event loop stalled %.0f ms at:\n%s", late * 1000, stack
                    )


class LoopMonitor:
    """Measures the event loop's longest stall during a crawl."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.max_ms = 0.0
        self.stalls = 0
        self.last = 0.0
        self.loop = task.LoopingCall(self.tick)
        self.tracer: StallTracer | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        ext = cls(crawler)
        crawler.signals.connect(ext.opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.closed, signal=signals.spider_closed)
        return ext

    def opened(self) -> None:
        # Extraction is set up and warmed up before (newscrawl.extract_thread).
        self.last = time.monotonic()
        self.loop.start(INTERVAL, now=False)
        if defaults.getbool(self.crawler.settings, "NEWSCRAWL_LOOP_TRACE"):
            self.tracer = StallTracer(self)
            self.tracer.start()

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
        if self.tracer is not None:
            self.tracer.stopped.set()
        stats = self.crawler.stats
        assert stats is not None
        stats.set_value("newscrawl/loop/max_stall_ms", round(self.max_ms, 1))
        stats.set_value(f"newscrawl/loop/stalls_over_{STALL_MS}ms", self.stalls)
        # The process's high-water mark (Scrapy's memusage samples once a minute).
        peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        stats.set_value("newscrawl/peak_rss_bytes", peak_kib * 1024)
