"""Scale out on Redis: several ``scrapy crawl`` workers share one frontier.

Every worker of a cluster runs the same spider with the same seeds and the same
Redis server. Requests go to one shared queue and one shared dupefilter
(scrapy-redis's ``Scheduler`` and ``RFPDupeFilter``), so together the workers
fetch each URL once, whichever worker found it.

Enabling it: the project's settings enable the addon :class:`Cluster`, so one
setting is enough (without it the addon does nothing)::

    -s NEWSCRAWL_CLUSTER=redis://host:6379/0

or, outside this project's settings, the settings the addon sets::

    -s SCHEDULER=newscrawl.cluster.Scheduler
    -s DUPEFILTER_CLASS=scrapy_redis.dupefilter.RFPDupeFilter
    -s REDIS_URL=redis://host:6379/0
    -s EXTENSIONS='{"newscrawl.cluster.ClusterIdle": 600, ...the usual ones...}'

Settings:

``NEWSCRAWL_CLUSTER``
    The Redis URL of the cluster (empty: no cluster, the addon does nothing).
``NEWSCRAWL_CLUSTER_IDLE`` (seconds, default 5)
    A worker closes once the shared queue has been empty, and no other worker
    busy, for this long. Until then :class:`ClusterIdle` keeps it open
    (``DontCloseSpider``): another worker may still find new links.
``NEWSCRAWL_CLUSTER_TTL`` (seconds, default 30)
    Life of a worker's ``busy`` and ``alive`` keys, refreshed every
    ``NEWSCRAWL_CLUSTER_POLL`` seconds (default 0.5) while it runs: a killed
    worker stops counting after this long.
``SCHEDULER_QUEUE_KEY``, ``SCHEDULER_DUPEFILTER_KEY``, ``SCHEDULER_QUEUE_CLASS``,
``SCHEDULER_PERSIST``
    scrapy-redis's (keys default to ``<spider>:requests`` and
    ``<spider>:dupefilter``; the queue is its ``PriorityQueue``).

Keys besides scrapy-redis's: ``<spider>:cluster:busy:<worker>`` exists while a
worker works on requests taken from the queue (set in the same Lua call that
pops a request, so "queue empty and nobody busy" is never seen in between), and
``<spider>:cluster:alive:<worker>`` while it runs. The last worker to leave
clears the queue and the dupefilter (unless ``SCHEDULER_PERSIST``): the next run
starts afresh, as a single crawler does; what a run leaves pending is in the
crawl state (``NEWSCRAWL_STATE``), which resumes it.

Limits of this first slice: a worker killed mid-crawl loses the requests it had
taken from the queue for this run (they stay pending in the crawl state of the
worker that found them, for the next run); ``SCHEDULER_IDLE_BEFORE_CLOSE``,
``RedisSpider`` and the Redis stats collector are not used.
"""

from __future__ import annotations

import importlib
import logging
import os
import socket
import time
import uuid
from typing import TYPE_CHECKING, Any, Self

from scrapy import signals
from scrapy.exceptions import DontCloseSpider, NotConfigured
from scrapy.utils.misc import load_object
from twisted.internet import task

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)

try:
    from scrapy_redis.scheduler import (  # type: ignore[import-untyped]
        Scheduler as RedisScheduler,
    )
except ImportError:  # The module still imports (doctests); a worker cannot start.

    class RedisScheduler:  # type: ignore[no-redef]
        """Stands in for scrapy-redis's scheduler when it is not installed."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            raise NotConfigured(
                "the cluster needs scrapy-redis: pip install 'scrapy-redis==0.9.1'"
            )


DUPEFILTER = "scrapy_redis.dupefilter.RFPDupeFilter"
SCHEDULER = "newscrawl.cluster.Scheduler"
EXTENSION = "newscrawl.cluster.ClusterIdle"
#: After the usual extensions: it only decides when an idle worker may close.
EXTENSION_ORDER = 600

# Pop one request and mark the worker busy, atomically. KEYS: queue, busy key;
# ARGV: busy TTL (ms), queue kind.
_POP = """
local data
if ARGV[2] == 'zset' then
    data = redis.call('ZRANGE', KEYS[1], 0, 0)[1]
    if data then redis.call('ZREMRANGEBYRANK', KEYS[1], 0, 0) end
elseif ARGV[2] == 'fifo' then
    data = redis.call('RPOP', KEYS[1])
else
    data = redis.call('LPOP', KEYS[1])
end
if not data then return false end
redis.call('SET', KEYS[2], '1', 'PX', ARGV[1])
return data
"""


class Cluster:
    """Addon: ``NEWSCRAWL_CLUSTER=redis://...`` turns a crawl into a cluster worker."""

    def update_settings(self, settings: BaseSettings) -> None:
        url = settings.get("NEWSCRAWL_CLUSTER")
        if not url:
            return
        settings.set("SCHEDULER", SCHEDULER, priority="addon")
        settings.set("DUPEFILTER_CLASS", DUPEFILTER, priority="addon")
        settings.set("REDIS_URL", url, priority="addon")
        settings["EXTENSIONS"][EXTENSION] = EXTENSION_ORDER


class Scheduler(RedisScheduler):  # type: ignore[misc]
    """scrapy-redis's scheduler, adapted to Scrapy 2.19 and to several workers.

    Differences: it is built from the crawler only (no ``from_settings``), always
    with the Redis dupefilter; it pops a request and marks its worker busy in one
    Lua call; and on close it clears the shared queue and dupefilter only when no
    other worker is alive.
    """

    crawler: Crawler
    worker: str
    last_active: float

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        from scrapy_redis import (  # type: ignore[import-untyped]  # noqa: PLC0415
            connection,
        )
        from scrapy_redis import defaults as redis_defaults  # noqa: PLC0415

        settings = crawler.settings
        kwargs: dict[str, Any] = {
            "persist": settings.getbool("SCHEDULER_PERSIST"),
            "flush_on_start": settings.getbool("SCHEDULER_FLUSH_ON_START"),
            "queue_key": settings.get(
                "SCHEDULER_QUEUE_KEY", redis_defaults.SCHEDULER_QUEUE_KEY
            ),
            "queue_cls": settings.get(
                "SCHEDULER_QUEUE_CLASS", redis_defaults.SCHEDULER_QUEUE_CLASS
            ),
            "dupefilter_key": settings.get(
                "SCHEDULER_DUPEFILTER_KEY", redis_defaults.SCHEDULER_DUPEFILTER_KEY
            ),
        }
        dupefilter_cls = settings.get("DUPEFILTER_CLASS")
        if not hasattr(load_object(dupefilter_cls), "from_spider"):
            # Scrapy's in-memory dupefilter would not be shared.
            dupefilter_cls = DUPEFILTER
        kwargs["dupefilter_cls"] = dupefilter_cls
        serializer = settings.get("SCHEDULER_SERIALIZER")
        if serializer:
            # A module path, as scrapy-redis reads it.
            kwargs["serializer"] = importlib.import_module(serializer)
        server = connection.get_redis_from_settings(settings)
        server.ping()
        instance = cls(server=server, **kwargs)
        instance.stats = crawler.stats
        instance.crawler = crawler
        instance.ttl = settings.getfloat("NEWSCRAWL_CLUSTER_TTL", 30.0)
        instance.worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        instance.last_active = 0.0
        instance._pop = server.register_script(_POP)
        return instance

    def open(self, spider: Spider) -> None:
        from scrapy_redis.queue import (  # type: ignore[import-untyped]  # noqa: PLC0415
            FifoQueue,
            LifoQueue,
            PriorityQueue,
        )

        super().open(spider)
        prefix = f"{spider.name}:cluster"
        self.prefix = prefix
        self.busy_key = f"{prefix}:busy:{self.worker}"
        self.alive_key = f"{prefix}:alive:{self.worker}"
        if isinstance(self.queue, PriorityQueue):
            self.queue_kind = "zset"
        elif isinstance(self.queue, FifoQueue):
            self.queue_kind = "fifo"
        elif isinstance(self.queue, LifoQueue):
            self.queue_kind = "lifo"
        else:
            raise TypeError(f"unsupported scheduler queue {self.queue_cls!r}")
        self.refresh(busy=False)
        logger.info("Cluster worker %s joined (queue %s)", self.worker, self.queue.key)

    # Membership.

    def refresh(self, *, busy: bool) -> None:
        """Keep this worker's ``alive`` key (and ``busy`` key, if busy) alive."""
        ms = int(self.ttl * 1000)
        pipe = self.server.pipeline(transaction=False)
        pipe.set(self.alive_key, "1", px=ms)
        if busy:
            pipe.set(self.busy_key, "1", px=ms)
        pipe.execute()

    def set_idle(self) -> None:
        self.server.delete(self.busy_key)

    def others(self, kind: str) -> list[str]:
        """The other workers with a live ``kind`` (``busy``/``alive``) key."""
        own = f"{self.prefix}:{kind}:{self.worker}"
        return [
            key.decode() if isinstance(key, bytes) else key
            for key in self.server.scan_iter(match=f"{self.prefix}:{kind}:*")
            if (key.decode() if isinstance(key, bytes) else key) != own
        ]

    # The scheduler interface.

    def next_request(self) -> Request | None:
        data = self._pop(
            keys=[self.queue.key, self.busy_key],
            args=[int(self.ttl * 1000), self.queue_kind],
        )
        if data is None:
            return None
        self.last_active = time.monotonic()
        request: Request = self.queue._decode_request(data)
        if self.stats:
            self.stats.inc_value("scheduler/dequeued/redis")
        return request

    def enqueue_request(self, request: Request) -> bool:
        if not request.dont_filter and self.df.request_seen(request):
            self.df.log(request, self.spider)
            return False
        if self.stats:
            self.stats.inc_value("scheduler/enqueued/redis")
        self.queue.push(request)
        return True

    def close(self, reason: str) -> None:
        self.server.delete(self.busy_key, self.alive_key)
        others = self.others("alive")
        if not self.persist and not others:
            self.flush()
            logger.info("Cluster worker %s left last: queue cleared", self.worker)
        else:
            logger.info(
                "Cluster worker %s left (%d other workers alive)",
                self.worker,
                len(others),
            )


class ClusterIdle:
    """Keeps an idle worker open while the cluster may still give it work.

    A worker whose own engine is idle stays open (``DontCloseSpider``) while the
    shared queue holds requests or another worker is busy, and closes after
    ``NEWSCRAWL_CLUSTER_IDLE`` seconds of neither. Every ``NEWSCRAWL_CLUSTER_POLL``
    seconds it refreshes the worker's keys and, while waiting, wakes the engine
    (whose own heartbeat is 5 seconds) to take new requests or close in time.
    """

    def __init__(self, crawler: Crawler) -> None:
        if not issubclass(load_object(crawler.settings["SCHEDULER"]), Scheduler):
            raise NotConfigured("the scheduler is not newscrawl.cluster.Scheduler")
        self.crawler = crawler
        self.idle_after = crawler.settings.getfloat("NEWSCRAWL_CLUSTER_IDLE", 5.0)
        self.poll = crawler.settings.getfloat("NEWSCRAWL_CLUSTER_POLL", 0.5)
        self.quiet_since: float | None = None
        # When the engine last went idle (spider_idle): the worker is busy when
        # it has taken a request from the queue since.
        self.idle_at = -1.0
        self.loop: task.LoopingCall | None = None
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    @property
    def scheduler(self) -> Scheduler | None:
        engine = self.crawler.engine
        scheduler = engine.scheduler if engine is not None else None
        return scheduler if isinstance(scheduler, Scheduler) else None

    def spider_opened(self, spider: Spider) -> None:
        self.loop = task.LoopingCall(self.tick)
        self.loop.start(self.poll, now=False)

    def spider_closed(self, spider: Spider) -> None:
        if self.loop is not None and self.loop.running:
            self.loop.stop()

    def tick(self) -> None:
        scheduler = self.scheduler
        engine = self.crawler.engine
        if scheduler is None or engine is None:
            return
        busy = scheduler.last_active > self.idle_at
        try:
            scheduler.refresh(busy=busy)
        except Exception:
            logger.warning("Cannot refresh the cluster keys", exc_info=True)
            return
        if not busy and self.idle_at >= 0:
            # Scrapy has no public way to wake the engine before its heartbeat.
            slot = getattr(engine, "_slot", None)
            if slot is not None:
                slot.nextcall.schedule()

    def spider_idle(self, spider: Spider) -> None:
        scheduler = self.scheduler
        if scheduler is None:
            return
        now = time.monotonic()
        self.idle_at = now
        scheduler.set_idle()
        if len(scheduler.queue) or scheduler.others("busy"):
            self.quiet_since = None
            raise DontCloseSpider
        if self.quiet_since is None or self.quiet_since < scheduler.last_active:
            self.quiet_since = now
        if now - self.quiet_since < self.idle_after:
            raise DontCloseSpider
        logger.info(
            "Cluster drained for %.1fs and no worker busy: closing",
            now - self.quiet_since,
        )
