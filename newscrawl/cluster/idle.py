"""The worker's heartbeat, seeds and closing: when an idle worker may leave."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any, Self

from itemadapter import ItemAdapter
from scrapy import signals
from scrapy.exceptions import DontCloseSpider, NotConfigured
from scrapy.utils.misc import load_object
from twisted.internet import task

from newscrawl import defaults
from newscrawl.cluster import scrapy_glue
from newscrawl.cluster.scheduler import Scheduler, cluster_of

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler

#: The cluster's one logger (its log lines read ``[newscrawl.cluster]``).
logger = logging.getLogger("newscrawl.cluster")

#: The run's totals kept for every worker's health: articles the cluster knew
#: (skipped as known, unchanged or too old). Exported ones are counted by claims.
KNOWN_COUNTS = {
    "known": (
        "newscrawl/state/skipped_known",
        "newscrawl/dropped/unchanged",
        "newscrawl/dropped/too_old",
    ),
}


class ClusterIdle:
    """Runs a worker's side of the cluster while it is open.

    Every ``NEWSCRAWL_CLUSTER_POLL`` seconds it refreshes the worker's entries
    (which puts dead workers' requests back in the queue), takes seeds pushed by
    ``newscrawl seed`` and, while the engine waits, wakes it (its own heartbeat
    is 5 seconds) to take new requests or close in time. A worker whose engine is
    idle stays open (``DontCloseSpider``) while the queue holds requests or
    another worker is busy, and closes after ``NEWSCRAWL_CLUSTER_IDLE`` seconds
    of neither.
    """

    def __init__(self, crawler: Crawler) -> None:
        if not issubclass(load_object(crawler.settings["SCHEDULER"]), Scheduler):
            raise NotConfigured("the scheduler is not newscrawl.cluster.Scheduler")
        self.crawler = crawler
        self.idle_after = defaults.getfloat(crawler.settings, "NEWSCRAWL_CLUSTER_IDLE")
        self.poll = defaults.getfloat(crawler.settings, "NEWSCRAWL_CLUSTER_POLL")
        self.quiet_since: float | None = None
        # When the engine last went idle (spider_idle): the worker is busy when
        # it has taken a request from the queue since.
        self.idle_at = -1.0
        self.loop: task.LoopingCall | None = None
        self.shared: dict[str, int] = {}
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(self.item_scraped, signal=signals.item_scraped)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def item_scraped(self, item: Any) -> None:
        from newscrawl.state.extension import CrawlStateExtension  # noqa: PLC0415

        scheduler = cluster_of(self.crawler)
        if scheduler is None:
            return
        # Flush and confirm in one step: the signal's handlers may run loop
        # iterations apart, and a kill between a line on disk and its claim
        # made final would let a redelivery write the article again.
        state = self.crawler.get_extension(CrawlStateExtension)
        if state is None or state.flush_feeds():
            scheduler.confirm(ItemAdapter(item).get("url") or "")

    def spider_opened(self, spider: Spider) -> None:
        scheduler = cluster_of(self.crawler)
        if scheduler is not None:
            scheduler.join()
        self.loop = task.LoopingCall(self.tick)
        self.loop.start(self.poll, now=True)

    def spider_closed(self, spider: Spider) -> None:
        if self.loop is not None and self.loop.running:
            self.loop.stop()

    def share_counts(self, scheduler: Scheduler) -> dict[str, int]:
        """Add what this worker knew since the last call to the run's totals.

        A worker's health is the cluster's: one that exported nothing while the
        others exported or skipped known articles is not "no articles" (exit 4).
        """
        stats = self.crawler.stats
        assert stats is not None
        deltas = {}
        for name, keys in KNOWN_COUNTS.items():
            value = sum(int(stats.get_value(key, 0)) for key in keys)
            deltas[name] = value - self.shared.get(name, 0)
            self.shared[name] = value
        return scheduler.add_totals(deltas)

    def _busy(self, scheduler: Scheduler) -> bool:
        return scheduler.last_active > self.idle_at

    def tick(self) -> None:
        scheduler = cluster_of(self.crawler)
        engine = self.crawler.engine
        if scheduler is None or engine is None:
            return
        try:
            scheduler.tick(busy=self._busy(scheduler))
            self.seed(scheduler)
            self.share_counts(scheduler)
        except Exception:
            logger.warning("Cluster poll failed", exc_info=True)
            return
        # Other workers fill the shared queue while this engine waits for its
        # heartbeat (5 s).
        scrapy_glue.wake_engine(self.crawler)

    def seed(self, scheduler: Scheduler) -> None:
        """Turn seeds pushed to the cluster into requests, through the dupefilter."""
        spider = self.crawler.spider
        make = getattr(spider, "seed_requests", None)
        engine = self.crawler.engine
        if make is None or engine is None:
            return
        seeds = scheduler.take_seeds()
        if not seeds:
            return
        scheduler.sync_sites(scheduler.spider)
        for seed in seeds:
            for request in make(seed["kind"], seed["url"]):
                engine.crawl(request)
        scheduler.count("seeds", len(seeds))
        logger.info("Cluster: took %d seeds", len(seeds))

    def spider_idle(self, spider: Spider) -> None:
        scheduler = cluster_of(self.crawler)
        if scheduler is None:
            return
        now = time.monotonic()
        self.idle_at = now
        queued, others_busy, _ = scheduler.tick(busy=False)
        if queued or others_busy or scheduler.seeds_waiting():
            self.quiet_since = None
            raise DontCloseSpider
        if self.quiet_since is None or self.quiet_since < scheduler.last_active:
            self.quiet_since = now
        if now - self.quiet_since < self.idle_after:
            raise DontCloseSpider
        totals = self.share_counts(scheduler)
        assert self.crawler.stats is not None
        for name, value in totals.items():
            self.crawler.stats.set_value(f"newscrawl/cluster/{name}_total", value)
        logger.info(
            "Cluster drained for %.1fs and no worker busy: closing",
            now - self.quiet_since,
        )
