"""The worker's scheduler: scrapy-redis's, made a reliable queue shared by workers.

It also owns the worker's membership (join, heartbeat, leave), the seeds pushed
by ``newscrawl seed``, and the claims of the articles it exports.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import socket
import time
import uuid
from typing import TYPE_CHECKING, Any, Self, cast

from redis.exceptions import RedisError
from scrapy.exceptions import NotConfigured
from scrapy.utils.misc import load_object

from newscrawl import defaults
from newscrawl.cluster import scrapy_glue
from newscrawl.cluster.admin import SEED_KINDS
from newscrawl.cluster.hostgate import HostGate
from newscrawl.cluster.keys import Keys, text
from newscrawl.cluster.link import Link
from newscrawl.failures import REASON
from newscrawl.state.extension import FAILED

if TYPE_CHECKING:
    import redis
    from scrapy import Request, Spider
    from scrapy.crawler import Crawler

#: The cluster's one logger (its log lines read ``[newscrawl.cluster]``).
logger = logging.getLogger("newscrawl.cluster")

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


#: scrapy-redis's dupefilter: the seen-set in Redis, shared by the workers.
DUPEFILTER = "scrapy_redis.dupefilter.RFPDupeFilter"
#: Request meta key: the id of the request in its worker's ``processing`` hash.
ACK = "newscrawl_cluster_ack"
#: Seeds taken from ``seeds`` per poll (each may become a sitemap's thousands).
SEEDS_PER_POLL = 100


def cluster_of(crawler: Crawler) -> Scheduler | None:
    """The crawler's cluster scheduler, or ``None`` outside a cluster."""
    engine = crawler.engine
    scheduler = engine.scheduler if engine is not None else None
    return scheduler if isinstance(scheduler, Scheduler) else None


class Scheduler(RedisScheduler):  # type: ignore[misc]
    """scrapy-redis's scheduler, made a reliable queue shared by many workers.

    Differences: it is built from the crawler only (no ``from_settings``), always
    with the Redis dupefilter; popping a request moves it to the worker's
    ``processing`` hash; the engine's end of a request acknowledges it; and the
    shared keys are cleared only by the last worker of a drained cluster.
    """

    crawler: Crawler
    server: redis.Redis
    #: The worker's connection: its scripts and the batch of acks and releases.
    link: Link
    worker: str
    last_active: float
    keys: Keys
    queue_kind: str
    gate: HostGate
    sites_version: bytes
    ttl_ms: int
    #: The queue's length as the last pop saw it (saves a round trip per check).
    queued_hint: int
    #: Claims of articles not yet written: URL -> (URL keys, content hash).
    unconfirmed: dict[str, tuple[list[bytes], bytes]]

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
        instance.ttl_ms = int(
            defaults.getfloat(settings, "NEWSCRAWL_CLUSTER_TTL") * 1000
        )
        instance.worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        instance.link = Link(server, instance.worker, crawler.stats)
        instance.last_active = 0.0
        instance.sites_version = b""
        instance.queued_hint = 0
        instance.unconfirmed = {}
        return instance

    def open(self, spider: Spider) -> None:
        from scrapy_redis.queue import (  # type: ignore[import-untyped]  # noqa: PLC0415
            FifoQueue,
            LifoQueue,
            PriorityQueue,
        )

        super().open(spider)
        self.keys = Keys(spider.name)
        if isinstance(self.queue, PriorityQueue):
            self.queue_kind = "zset"
        elif isinstance(self.queue, FifoQueue):
            self.queue_kind = "fifo"
        elif isinstance(self.queue, LifoQueue):
            self.queue_kind = "lifo"
        else:
            raise TypeError(f"unsupported scheduler queue {self.queue_cls!r}")
        crawler = self.crawler
        self.gate = HostGate(
            self.link,
            self.keys,
            crawler.settings,
            lambda request: scrapy_glue.download_delay(crawler, request),
        )
        self.joined = False
        # Acknowledge each request when the engine is done with it: downloaded,
        # its callback's output through the pipelines and scheduled.
        scrapy_glue.on_request_finished(crawler, self.done)

    def join(self) -> None:
        """Enter the cluster: from now on this worker takes requests.

        Called when the worker is ready (after the extraction warm-up), so that a
        worker counts as joined only once it can work; the first worker of an
        empty, drained cluster starts a new run (a fresh seen-set).
        """
        if self.joined:
            return
        self.joined = True
        fresh, requeued = self.link.run(
            "join",
            keys=[
                self.keys.workers,
                self.keys.busy,
                self.queue.key,
                self.df.key,
                self.keys.claims,
                self.keys.hashes,
                self.keys.totals,
            ],
            args=[
                self.worker,
                self.ttl_ms,
                self.queue_kind,
                self.keys.prefix,
                int(self.persist),
            ],
        )
        self.count("requeued", requeued)
        logger.info(
            "Cluster worker %s joined %s (queue %s: %d requests%s)",
            self.worker,
            "a new run" if fresh else "a running crawl",
            self.queue.key,
            len(self.queue),
            f", {requeued} put back from dead workers" if requeued else "",
        )
        self.sync_sites(self.spider)

    def count(self, key: str, value: int = 1) -> None:
        """Add ``value`` to the stat ``newscrawl/cluster/<key>``."""
        self.link.count(key, value)

    def sync_sites(self, spider: Spider) -> None:
        """Allow the sites a seed command allowed, if they changed since last time.

        The news spider stays on its seeds' sites; a cluster's seeds come from
        ``newscrawl seed``.
        """
        allow = getattr(spider, "allow_urls", None)
        version = cast("bytes", self.server.get(self.keys.sites_version) or b"0")
        if allow is None or version == self.sites_version:
            return
        self.sites_version = version
        allow([text(url) for url in self.server.smembers(self.keys.sites)])

    # The scheduler interface.

    def has_pending_requests(self) -> bool:
        return self.queued_hint > 0 or len(self) > 0

    def next_request(self) -> Request | None:
        self.join()  # without ClusterIdle, at the first request
        try:
            result = self.link.call(
                "pop",
                keys=[
                    self.queue.key,
                    self.keys.workers,
                    self.keys.busy,
                    self.keys.processing(self.worker),
                    self.keys.seq,
                    self.keys.sites_version,
                ],
                args=[self.ttl_ms, self.queue_kind, self.worker],
            )
        except RedisError as exc:  # retried at the next call
            logger.warning("Cannot take a request from the cluster queue: %s", exc)
            self.count("redis_errors")
            return None
        if not result:
            self.queued_hint = 0
            return None
        ack, data, version, self.queued_hint = result
        self.last_active = time.monotonic()
        if version != self.sites_version:
            self.sync_sites(self.spider)
        request = scrapy_glue.decode_request(self.queue, data)
        request.meta[ACK] = int(ack)
        self.count("dequeued")
        return request

    def enqueue_request(self, request: Request) -> bool:
        # A redirect or a callback may copy the meta of the request it came from:
        # the copy is a new request, with an acknowledgement of its own.
        request.meta.pop(ACK, None)
        if request.dont_filter:
            self.queue.push(request)
        elif not self.link.run(
            # The seen-set and the queue in one round trip, atomically.
            "enqueue",
            keys=[self.df.key, self.queue.key],
            args=[
                self.df.request_fingerprint(request),
                -request.priority,
                scrapy_glue.encode_request(self.queue, request),
                self.queue_kind,
            ],
        ):
            self.df.log(request, self.spider)
            return False
        self.count("enqueued")
        self.queued_hint += 1
        return True

    def done(self, request: Request) -> None:
        """The engine is done with ``request``: acknowledge it, or put it back."""
        ack = request.meta.pop(ACK, None)
        if ack is None:
            return
        failed = request.meta.get(FAILED)
        if not failed and request.meta.get(REASON) != "shutdown":
            self.link.ack_later(str(ack))  # sent with this worker's next Redis call
            self.count("acked")
            return
        processing = self.keys.processing(self.worker)
        try:
            if (failed or request.meta.get(REASON)) == "shutdown":
                # Aborted because this worker is stopping: another one takes it.
                self.link.run(
                    "requeue",
                    keys=[processing, self.queue.key],
                    args=[ack, self.queue_kind],
                )
                self.count("requeued")
                return
            record = {"reason": failed, "worker": self.worker, "at": time.time()}
            pipe = self.server.pipeline(transaction=True)
            pipe.hdel(processing, ack)
            pipe.hset(self.keys.dead, request.url, json.dumps(record))
            pipe.execute()
        except RedisError as exc:  # delivered again, at worst
            logger.warning("Cannot acknowledge %s: %s", request.url, exc)
            self.count("redis_errors")
        else:
            self.count("dead_letters")

    # Membership.

    def tick(self, *, busy: bool) -> tuple[int, int, int]:
        """Refresh this worker's entries, put dead workers' requests back.

        Returns the queue's length, the other workers busy and those alive.
        """
        queued, others_busy, alive, requeued = self.link.call(
            "tick",
            keys=[
                self.keys.workers,
                self.keys.busy,
                self.queue.key,
                self.keys.processing(self.worker),
            ],
            args=[
                self.worker,
                self.ttl_ms,
                self.queue_kind,
                self.keys.prefix,
                int(busy),
            ],
        )
        if requeued:
            logger.warning(
                "Cluster: %d requests of dead workers put back in the queue", requeued
            )
            self.count("requeued", requeued)
        return int(queued), int(others_busy), int(alive)

    def take_seeds(self, limit: int = SEEDS_PER_POLL) -> list[dict[str, str]]:
        """Seeds pushed by ``newscrawl seed``, taken by this worker."""
        raw: Any = self.server.lpop(self.keys.seeds, limit)
        seeds = []
        for value in raw or ():
            try:
                seed = json.loads(value)
            except ValueError:
                logger.warning("Cluster: not a seed, ignored: %r", value[:200])
                continue
            if isinstance(seed, dict) and seed.get("kind") in SEED_KINDS:
                seeds.append(seed)
        return seeds

    def seeds_waiting(self) -> int:
        """How many seeds wait in the cluster for a worker to take them."""
        return int(self.server.llen(self.keys.seeds))

    # Claims (ClaimPipeline claims, ClusterIdle confirms).

    def claim(self, url: str, keys: list[bytes], packed: bytes) -> str:
        """Claim an article for this worker: ``""``, or why another worker has it.

        ``keys`` are its URLs' 8-byte keys, ``packed`` its content hash's first 8
        bytes (or empty). The reason is ``duplicate_url`` or ``duplicate_content``.
        """
        verdict = self.link.run(
            "claim",
            keys=[
                self.keys.claims,
                self.keys.hashes,
                self.keys.totals,
                self.keys.dead,
                self.keys.workers,
            ],
            args=[url, packed, self.worker, *keys],
        )
        if verdict:
            return text(verdict)
        self.unconfirmed[url] = (keys, packed)
        return ""

    def confirm(self, url: str) -> None:
        """The article's line is written and flushed: its claims become final.

        Done at once (not batched): until then a redelivery after this worker's
        death would take the claim over and write the article a second time.
        """
        claimed = self.unconfirmed.pop(url, None)
        if claimed is None:
            return
        keys, packed = claimed
        pipe = self.server.pipeline(transaction=False)
        pipe.hset(self.keys.claims, mapping=dict.fromkeys(keys, "1"))
        if packed:
            pipe.hset(self.keys.hashes, packed, "1")
        try:
            pipe.execute()
        except RedisError as exc:  # still ours while this worker lives
            logger.warning("Cannot confirm the claim on %s: %s", url, exc)
            self.count("redis_errors")

    def add_totals(self, deltas: dict[str, int]) -> dict[str, int]:
        """Add this worker's counts to the run's totals; return the totals."""
        pipe = self.server.pipeline(transaction=True)
        for name, delta in deltas.items():
            if delta:
                pipe.hincrby(self.keys.totals, name, delta)
        pipe.hgetall(self.keys.totals)
        totals = cast("dict[bytes, bytes]", pipe.execute()[-1])
        return {text(k): int(v) for k, v in totals.items()}

    def close(self, reason: str) -> None:
        try:
            back, others, cleared = self.link.call(
                "leave",
                keys=[
                    self.keys.workers,
                    self.keys.busy,
                    self.queue.key,
                    self.keys.processing(self.worker),
                    self.df.key,
                    self.keys.claims,
                    self.keys.hashes,
                ],
                args=[self.worker, self.queue_kind, int(self.persist)],
            )
        except RedisError as exc:  # the TTL reaps us instead
            logger.warning("Cannot leave the cluster cleanly: %s", exc)
            return
        logger.info(
            "Cluster worker %s left (%s; %d other workers alive%s)",
            self.worker,
            reason,
            others,
            ", run cleared" if cleared else "",
        )
        if back:
            logger.warning("Cluster: %d unfinished requests put back", back)
