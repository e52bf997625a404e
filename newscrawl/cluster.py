"""Scale out on Redis: ``scrapy crawl`` workers share one frontier, seen-set and output.

Every worker of a cluster runs the same spider against the same Redis server.
Requests go to one shared queue and one shared dupefilter (scrapy-redis's
``Scheduler`` and ``RFPDupeFilter``), so together the workers fetch each URL
once, whichever worker found it. With ``NEWSCRAWL_STATE`` set to the same Redis,
the crawl state (seen articles, revisions, failures, pending URLs) is shared too.

Enabling it: the project's settings enable the addon :class:`Cluster`, so one
setting is enough (without it the addon does nothing)::

    -s NEWSCRAWL_CLUSTER=redis://host:6379/0

What this module adds to scrapy-redis, whose ``RedisSpider``, stats collector and
``SCHEDULER_IDLE_BEFORE_CLOSE`` are not used (they do not work with Scrapy 2.19):

- **A reliable queue.** A request taken from the queue is moved, in the same Lua
  call, to the worker's ``processing`` hash, and removed from it (acknowledged,
  with the worker's next call to Redis) only once the engine is done with it:
  downloaded, its callback's items through the pipelines and written, its new
  requests queued. Each worker refreshes its
  entry in ``workers`` every ``NEWSCRAWL_CLUSTER_POLL`` seconds; an entry not
  refreshed for ``NEWSCRAWL_CLUSTER_TTL`` seconds is a dead worker (``kill -9``,
  a lost machine), and the next worker to look puts its unacknowledged requests
  back in the queue. Delivery is at-least-once: a page in flight when its worker
  died, or finished but not yet acknowledged, is fetched again.
- **Idempotent output.** :class:`ClaimPipeline`, the last pipeline, claims each
  article's URL keys and content hash in Redis atomically before it is exported,
  in the worker's name; once the line is written and flushed the claim is made
  final. An article another worker (or an earlier delivery) exported, or is
  exporting, is dropped as ``duplicate_url`` / ``duplicate_content``; the claim
  of a worker that died before writing is taken over. The union of the
  workers' feeds holds every article once.
- **A dead-letter record.** A request that fails for good (after its retries)
  lands in the hash ``dead``: URL -> JSON with the reason, the worker and the
  time; an article later exported leaves it.
- **Politeness for the cluster.** :class:`HostGate` makes the per-host limits hold
  across workers: at most ``CONCURRENT_REQUESTS_PER_DOMAIN`` downloads in flight
  per host (leases in Redis) and successive downloads at least the host's delay
  apart (the downloader slot's delay: ``DOWNLOAD_DELAY``, AutoThrottle, robots.txt
  ``Crawl-delay`` and back-off floors).
- **Joining, seeding and leaving.** Workers join and leave at any time. Seeds
  pushed with ``newscrawl seed`` (URLs, feeds, sitemaps) are taken by the first
  worker to look, within ``NEWSCRAWL_CLUSTER_POLL`` seconds. A worker whose own
  work is done stays while the queue holds requests or another worker is busy,
  and closes after ``NEWSCRAWL_CLUSTER_IDLE`` seconds of neither.
- **A seen-set that forgets.** The dupefilter and the claims live for one cluster
  run: the last worker to leave a drained cluster clears them, and the first to
  join an empty, drained cluster clears what a crashed run left. Whether a known
  article is fetched again in a later run is the crawl state's revisit policy
  (``NEWSCRAWL_REVISIT_AFTER``/``_WINDOW``), as with one process.

Settings: ``NEWSCRAWL_CLUSTER`` (the Redis URL; empty: no cluster),
``NEWSCRAWL_CLUSTER_IDLE`` (seconds, default 5), ``NEWSCRAWL_CLUSTER_TTL``
(seconds, default 30), ``NEWSCRAWL_CLUSTER_POLL`` (seconds, default 0.5), and
``NEWSCRAWL_EXTRACT_THREAD`` (off in a cluster: run one worker per core), and
scrapy-redis's ``SCHEDULER_QUEUE_KEY``, ``SCHEDULER_DUPEFILTER_KEY``,
``SCHEDULER_QUEUE_CLASS`` and ``SCHEDULER_PERSIST`` (keep the seen-set and the
claims after the run).

Keys, besides scrapy-redis's ``<spider>:requests`` and ``<spider>:dupefilter``,
are under ``<spider>:cluster:``: ``workers`` and ``busy`` (sorted sets of worker
to expiry), ``processing:<worker>``, ``seq``, ``claims``, ``hashes``, ``totals``,
``dead``, ``seeds``, ``sites``, ``sites:version``, ``next:<host>`` and
``leases:<host>``.

What is not guaranteed: a worker killed between flushing an article's line and
making its claim final (one Redis round trip) leaves a claim that a redelivery
takes over, and the article is written twice; a worker
that stalls longer than the TTL is taken for dead and its requests are fetched
again (the claims keep the output single).
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import os
import socket
import time
import uuid
from typing import TYPE_CHECKING, Any, Self, cast
from urllib.parse import urlsplit

from itemadapter import ItemAdapter
from redis.exceptions import RedisError
from scrapy import signals
from scrapy.exceptions import DontCloseSpider, NotConfigured
from scrapy.utils.misc import load_object
from twisted.internet import task

from newscrawl.failures import REASON, RequestRefused
from newscrawl.persistence import FAILED
from newscrawl.pipelines import _CountingPipeline
from newscrawl.state import key_of

if TYPE_CHECKING:
    from collections.abc import Iterable

    import redis
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
PIPELINE = "newscrawl.cluster.ClaimPipeline"
#: After the usual extensions: it only decides when an idle worker may close.
EXTENSION_ORDER = 600
#: The last pipeline: an article is claimed only once nothing else can drop it.
PIPELINE_ORDER = 900
#: Request meta key: the id of the request in its worker's ``processing`` hash.
ACK = "newscrawl_cluster_ack"
#: Seeds taken from ``seeds`` per poll (each may become a sitemap's thousands).
SEEDS_PER_POLL = 100
#: Seconds between two looks at a host's gate while it is full.
GATE_POLL = 0.02
SEED_KINDS = ("url", "feed", "sitemap")
#: The run's totals kept for every worker's health: articles the cluster knew
#: (skipped as known, unchanged or too old). Exported ones are counted by claims.
KNOWN_COUNTS = {
    "known": (
        "newscrawl/state/skipped_known",
        "newscrawl/dropped/unchanged",
        "newscrawl/dropped/too_old",
    ),
}

# Shared by the scripts: Redis's clock (one for every worker, whatever their
# machines' clocks say), and putting a dead worker's requests back.
_LIB = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function push_back(queue, kind, entry)
  local sep = string.find(entry, '\\n', 1, true)
  local score, data = string.sub(entry, 1, sep - 1), string.sub(entry, sep + 1)
  if kind == 'zset' then
    redis.call('ZADD', queue, score, data)
  elseif kind == 'fifo' then
    redis.call('RPUSH', queue, data)
  else
    redis.call('LPUSH', queue, data)
  end
end
local function qlen(queue, kind)
  if kind == 'zset' then return redis.call('ZCARD', queue) end
  return redis.call('LLEN', queue)
end
local function requeue_all(pkey, queue, kind)
  local entries = redis.call('HVALS', pkey)
  for _, entry in ipairs(entries) do push_back(queue, kind, entry) end
  redis.call('DEL', pkey)
  return #entries
end
-- Acknowledgements and lease releases a worker batched since its last call:
-- "id,id,..." and "key<TAB>token<NL>...".
local function settle(processing, acks, releases)
  for id in string.gmatch(acks, '[^,]+') do redis.call('HDEL', processing, id) end
  for key, token in string.gmatch(releases, '([^\\t\\n]+)\\t([^\\n]+)') do
    redis.call('ZREM', key, token)
  end
end
-- Workers whose entry expired are dead: their requests go back to the queue.
local function reap(workers, busy, queue, kind, prefix, now)
  local n = 0
  for _, w in ipairs(redis.call('ZRANGEBYSCORE', workers, '-inf', now)) do
    n = n + requeue_all(prefix .. ':processing:' .. w, queue, kind)
    redis.call('ZREM', workers, w)
    redis.call('ZREM', busy, w)
  end
  return n
end
"""

# KEYS: workers, busy, queue, dupefilter, claims, hashes, totals
# ARGV: worker, ttl ms, queue kind, prefix, persist
_JOIN = (
    _LIB
    + """
local now = now_ms()
local requeued = reap(KEYS[1], KEYS[2], KEYS[3], ARGV[3], ARGV[4], now)
local fresh = 0
if redis.call('ZCARD', KEYS[1]) == 0 and qlen(KEYS[3], ARGV[3]) == 0 then
  -- An empty, drained cluster: a new run, whatever a crashed one left.
  if ARGV[5] ~= '1' then redis.call('DEL', KEYS[4], KEYS[5], KEYS[6], KEYS[7]) end
  fresh = 1
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
return {fresh, requeued}
"""
)

# KEYS: queue, workers, busy, processing, seq, sites version
# ARGV: ttl ms, queue kind, worker, acks, releases
_POP = (
    _LIB
    + """
settle(KEYS[4], ARGV[4], ARGV[5])
local data, score
if ARGV[2] == 'zset' then
  local top = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  data, score = top[1], top[2]
  if data then redis.call('ZREM', KEYS[1], data) end
elseif ARGV[2] == 'fifo' then
  data = redis.call('RPOP', KEYS[1])
else
  data = redis.call('LPOP', KEYS[1])
end
if not data then return false end
local now = now_ms()
local id = redis.call('INCR', KEYS[5])
redis.call('HSET', KEYS[4], id, (score or '0') .. '\\n' .. data)
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[1]), ARGV[3])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[1]), ARGV[3])
return {id, data, redis.call('GET', KEYS[6]) or '0', qlen(KEYS[1], ARGV[2])}
"""
)

# KEYS: workers, busy, queue, processing
# ARGV: worker, ttl ms, queue kind, prefix, busy, acks, releases
# Returns: queue length, other workers busy, other workers alive, requeued.
_TICK = (
    _LIB
    + """
settle(KEYS[4], ARGV[6], ARGV[7])
local now = now_ms()
local requeued = reap(KEYS[1], KEYS[2], KEYS[3], ARGV[3], ARGV[4], now)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
if ARGV[5] == '1' then
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[1])
else
  redis.call('ZREM', KEYS[2], ARGV[1])
end
local busy = redis.call('ZCOUNT', KEYS[2], '(' .. now, '+inf')
if ARGV[5] == '1' then busy = busy - 1 end
return {qlen(KEYS[3], ARGV[3]), busy, redis.call('ZCARD', KEYS[1]) - 1, requeued}
"""
)

# KEYS: processing, queue; ARGV: id, queue kind
_REQUEUE = (
    _LIB
    + """
local entry = redis.call('HGET', KEYS[1], ARGV[1])
if not entry then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
push_back(KEYS[2], ARGV[2], entry)
return 1
"""
)

# KEYS: workers, busy, queue, processing, dupefilter, claims, hashes
# ARGV: worker, queue kind, persist, acks, releases
# Returns: requests put back, other workers alive, whether the run was cleared.
_LEAVE = (
    _LIB
    + """
settle(KEYS[4], ARGV[4], ARGV[5])
local back = requeue_all(KEYS[4], KEYS[3], ARGV[2])
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
local others = redis.call('ZCOUNT', KEYS[1], '(' .. now_ms(), '+inf')
local cleared = 0
if others == 0 and qlen(KEYS[3], ARGV[2]) == 0 and ARGV[3] ~= '1' then
  redis.call('DEL', KEYS[5], KEYS[6], KEYS[7])
  cleared = 1
end
return {back, others, cleared}
"""
)

# KEYS: dupefilter, queue; ARGV: fingerprint, score, request, queue kind
# Returns 1 if the request was new (and queued), 0 if seen before.
_ENQUEUE = """
if redis.call('SADD', KEYS[1], ARGV[1]) == 0 then return 0 end
if ARGV[4] == 'zset' then
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
else
  redis.call('LPUSH', KEYS[2], ARGV[3])
end
return 1
"""

# KEYS: claims, hashes, totals, dead, workers
# ARGV: url, content hash, worker, url keys...
# A claim holds its worker's id until the line is written ("1" then): a claim of
# a worker that died before writing is taken over, not honoured.
_CLAIM = (
    _LIB
    + """
local now = now_ms()
local function held(key, field)
  local holder = redis.call('HGET', key, field)
  if not holder then return false end
  if holder == '1' or holder == ARGV[3] then return true end
  local expiry = redis.call('ZSCORE', KEYS[5], holder)
  return expiry ~= false and tonumber(expiry) > now
end
for i = 4, #ARGV do
  if held(KEYS[1], ARGV[i]) then return 'duplicate_url' end
end
if ARGV[2] ~= '' and held(KEYS[2], ARGV[2]) then return 'duplicate_content' end
for i = 4, #ARGV do redis.call('HSET', KEYS[1], ARGV[i], ARGV[3]) end
if ARGV[2] ~= '' then redis.call('HSET', KEYS[2], ARGV[2], ARGV[3]) end
redis.call('HINCRBY', KEYS[3], 'items', 1)
redis.call('HDEL', KEYS[4], ARGV[1])
return ''
"""
)

# KEYS: leases, next start, processing
# ARGV: token, limit, interval ms, lease ttl ms, acks, releases
# Returns 0 (leased) or the milliseconds to wait before asking again.
_ACQUIRE = (
    _LIB
    + """
settle(KEYS[3], ARGV[5], ARGV[6])
local now = now_ms()
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local nxt = tonumber(redis.call('GET', KEYS[2]) or '0')
if nxt > now then return math.max(1, math.ceil(nxt - now)) end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return -1 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[4]))
local interval = tonumber(ARGV[3])
if interval > 0 then
  redis.call('SET', KEYS[2], now + interval, 'PX', interval + 1000)
end
return 0
"""
)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class Keys:
    """The Redis keys of one spider's cluster."""

    def __init__(self, spider_name: str) -> None:
        self.spider = spider_name
        self.prefix = f"{spider_name}:cluster"
        p = self.prefix
        self.workers = f"{p}:workers"
        self.busy = f"{p}:busy"
        self.seq = f"{p}:seq"
        self.claims = f"{p}:claims"
        self.hashes = f"{p}:hashes"
        self.totals = f"{p}:totals"
        self.dead = f"{p}:dead"
        self.seeds = f"{p}:seeds"
        self.sites = f"{p}:sites"
        self.sites_version = f"{p}:sites:version"

    def processing(self, worker: str) -> str:
        return f"{self.prefix}:processing:{worker}"

    def host(self, host: str) -> tuple[str, str]:
        """The lease set and the next-start key of a host."""
        return f"{self.prefix}:leases:{host}", f"{self.prefix}:next:{host}"


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
        settings["ITEM_PIPELINES"][PIPELINE] = PIPELINE_ORDER
        # One worker per core: a worker's extraction thread would take the core
        # of another worker (see newscrawl/worker.py); -s can still turn it on.
        settings.set("NEWSCRAWL_EXTRACT_THREAD", False, priority="addon")


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
    worker: str
    last_active: float
    keys: Keys
    queue_kind: str
    gate: HostGate
    sites_version: bytes
    ttl_ms: int
    #: The queue's length as the last pop saw it (saves a round trip per check).
    queued_hint: int
    #: Acknowledgements and lease releases not yet sent: they ride on the next
    #: call to Redis (pop, lease, poll), one round trip fewer each per page.
    acks: list[str]
    releases: list[str]
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
        instance.ttl_ms = int(settings.getfloat("NEWSCRAWL_CLUSTER_TTL", 30.0) * 1000)
        instance.worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        instance.last_active = 0.0
        instance.sites_version = b""
        instance.queued_hint = 0
        instance.acks = []
        instance.releases = []
        instance.unconfirmed = {}
        instance._scripts = {
            name: server.register_script(source)
            for name, source in {
                "join": _JOIN,
                "pop": _POP,
                "tick": _TICK,
                "requeue": _REQUEUE,
                "leave": _LEAVE,
                "claim": _CLAIM,
                "acquire": _ACQUIRE,
                "enqueue": _ENQUEUE,
            }.items()
        }
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
        self.gate = HostGate(self)
        self.joined = False
        self._watch_engine()

    def join(self) -> None:
        """Enter the cluster: from now on this worker takes requests.

        Called when the worker is ready (after the extraction warm-up), so that a
        worker counts as joined only once it can work; the first worker of an
        empty, drained cluster starts a new run (a fresh seen-set).
        """
        if self.joined:
            return
        self.joined = True
        fresh, requeued = self._scripts["join"](
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
        self._count("requeued", requeued)
        logger.info(
            "Cluster worker %s joined %s (queue %s: %d requests%s)",
            self.worker,
            "a new run" if fresh else "a running crawl",
            self.queue.key,
            len(self.queue),
            f", {requeued} put back from dead workers" if requeued else "",
        )
        self._sync_sites(self.spider)

    def _watch_engine(self) -> None:
        """Acknowledge each request when the engine is done with it.

        Scrapy has no signal for "request fully handled" (downloaded, callback
        output through the pipelines and scheduled). The engine slot's
        ``remove_request`` is exactly that moment, for every request taken from
        the scheduler, redirects and failures included.
        """
        slot: Any = getattr(self.crawler.engine, "_slot", None)
        if slot is None:
            raise RuntimeError("the engine has no slot: cannot acknowledge requests")
        remove = slot.remove_request

        def remove_request(request: Request) -> None:
            try:
                remove(request)
            finally:
                self.done(request)

        slot.remove_request = remove_request

    def _count(self, key: str, value: int = 1) -> None:
        if self.stats and value:
            self.stats.inc_value(f"newscrawl/cluster/{key}", value)

    # Sites a seed command allowed (the news spider stays on its seeds' sites).

    def _sync_sites(self, spider: Spider) -> None:
        allow = getattr(spider, "allow_urls", None)
        version = cast("bytes", self.server.get(self.keys.sites_version) or b"0")
        if allow is None or version == self.sites_version:
            return
        self.sites_version = version
        allow([_text(url) for url in self.server.smembers(self.keys.sites)])

    # The scheduler interface.

    def settle(self) -> list[str]:
        """The batched acknowledgements and releases, as the scripts take them.

        Taken out of the batch: a caller whose call fails puts them back
        (:meth:`unsettle`); if the worker dies first, its unacknowledged
        requests are delivered again, which the claims make harmless.
        """
        batch = [",".join(self.acks), "".join(self.releases)]
        self.acks, self.releases = [], []
        return batch

    def unsettle(self, batch: list[str]) -> None:
        acks, releases = batch
        self.acks += [a for a in acks.split(",") if a]
        self.releases += [f"{r}\n" for r in releases.split("\n") if r]

    def call(self, script: str, keys: list[str], args: list[Any]) -> Any:
        """Run ``script`` with the batch appended to its arguments."""
        batch = self.settle()
        try:
            return self._scripts[script](keys=keys, args=[*args, *batch])
        except RedisError:
            self.unsettle(batch)
            raise

    def has_pending_requests(self) -> bool:
        return self.queued_hint > 0 or len(self) > 0

    def next_request(self) -> Request | None:
        self.join()  # without ClusterIdle, at the first request
        try:
            result = self.call(
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
            self._count("redis_errors")
            return None
        if not result:
            self.queued_hint = 0
            return None
        ack, data, version, self.queued_hint = result
        self.last_active = time.monotonic()
        if version != self.sites_version:
            self._sync_sites(self.spider)
        request: Request = self.queue._decode_request(data)
        request.meta[ACK] = int(ack)
        self._count("dequeued")
        return request

    def enqueue_request(self, request: Request) -> bool:
        # A redirect or a callback may copy the meta of the request it came from:
        # the copy is a new request, with an acknowledgement of its own.
        request.meta.pop(ACK, None)
        if request.dont_filter:
            self.queue.push(request)
        elif not self._scripts["enqueue"](
            # The seen-set and the queue in one round trip, atomically.
            keys=[self.df.key, self.queue.key],
            args=[
                self.df.request_fingerprint(request),
                -request.priority,
                self.queue._encode_request(request),
                self.queue_kind,
            ],
        ):
            self.df.log(request, self.spider)
            return False
        self._count("enqueued")
        self.queued_hint += 1
        return True

    def done(self, request: Request) -> None:
        """The engine is done with ``request``: acknowledge it, or put it back."""
        ack = request.meta.pop(ACK, None)
        if ack is None:
            return
        failed = request.meta.get(FAILED)
        if not failed and request.meta.get(REASON) != "shutdown":
            self.acks.append(str(ack))  # sent with this worker's next Redis call
            self._count("acked")
            return
        processing = self.keys.processing(self.worker)
        try:
            if (failed or request.meta.get(REASON)) == "shutdown":
                # Aborted because this worker is stopping: another one takes it.
                self._scripts["requeue"](
                    keys=[processing, self.queue.key], args=[ack, self.queue_kind]
                )
                self._count("requeued")
                return
            record = {"reason": failed, "worker": self.worker, "at": time.time()}
            pipe = self.server.pipeline(transaction=True)
            pipe.hdel(processing, ack)
            pipe.hset(self.keys.dead, request.url, json.dumps(record))
            pipe.execute()
        except RedisError as exc:  # delivered again, at worst
            logger.warning("Cannot acknowledge %s: %s", request.url, exc)
            self._count("redis_errors")
        else:
            self._count("dead_letters")

    # Membership.

    def tick(self, *, busy: bool) -> tuple[int, int, int]:
        """Refresh this worker's entries, put dead workers' requests back.

        Returns the queue's length, the other workers busy and those alive.
        """
        queued, others_busy, alive, requeued = self.call(
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
            self._count("requeued", requeued)
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
            self._count("redis_errors")

    def add_totals(self, deltas: dict[str, int]) -> dict[str, int]:
        """Add this worker's counts to the run's totals; return the totals."""
        pipe = self.server.pipeline(transaction=True)
        for name, delta in deltas.items():
            if delta:
                pipe.hincrby(self.keys.totals, name, delta)
        pipe.hgetall(self.keys.totals)
        totals = cast("dict[bytes, bytes]", pipe.execute()[-1])
        return {_text(k): int(v) for k, v in totals.items()}

    def close(self, reason: str) -> None:
        try:
            back, others, cleared = self.call(
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


class HostGate:
    """Per-host limits that hold for the whole cluster, not per worker.

    Before a download starts, the worker takes a lease on the host in Redis: at
    most ``CONCURRENT_REQUESTS_PER_DOMAIN`` leases at once, and two leases at
    least the host's current delay apart (the downloader slot's, which holds
    ``DOWNLOAD_DELAY``, AutoThrottle and robots.txt ``Crawl-delay``). A lease
    ends with its download, or expires after ``DOWNLOAD_TIMEOUT`` plus a margin
    when its worker died.
    """

    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler
        settings = scheduler.crawler.settings
        self.limit = max(1, settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN", 8))
        self.lease_ms = int((settings.getfloat("DOWNLOAD_TIMEOUT", 180) + 30) * 1000)

    def _delay(self, request: Request) -> float:
        engine = self.scheduler.crawler.engine
        downloader: Any = getattr(engine, "downloader", None)
        if downloader is None:
            return 0.0
        key = request.meta.get("download_slot") or urlsplit(request.url).hostname
        slot = downloader.slots.get(key)
        return float(slot.delay) if slot is not None else 0.0

    async def acquire(self, request: Request, aborted: Any) -> str:
        """Wait for a lease on the request's host; return its token."""
        host = urlsplit(request.url).hostname or ""
        leases, nxt = self.scheduler.keys.host(host)
        token = uuid.uuid4().hex
        waited = False
        while True:
            if aborted():
                request.meta[REASON] = "shutdown"
                raise RequestRefused("shutdown")
            wait = self.scheduler.call(
                "acquire",
                keys=[
                    leases,
                    nxt,
                    self.scheduler.keys.processing(self.scheduler.worker),
                ],
                args=[
                    token,
                    self.limit,
                    int(self._delay(request) * 1000),
                    self.lease_ms,
                ],
            )
            if wait == 0:
                if waited:
                    self.scheduler._count("gate_waits")
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
        leases, _ = self.scheduler.keys.host(host)
        self.scheduler.releases.append(f"{leases}\t{token}\n")


class ClaimPipeline(_CountingPipeline):
    """Exports an article only if no worker of the cluster has exported it yet."""

    def __init__(self, crawler: Crawler) -> None:
        assert crawler.stats is not None
        super().__init__(crawler.stats)
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        if not crawler.settings.get("NEWSCRAWL_CLUSTER"):
            raise NotConfigured  # off: silent (a reason would be logged as a warning)
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        scheduler = cluster_of(self.crawler)
        if scheduler is None:
            return item
        adapter = ItemAdapter(item)
        url = adapter.get("url") or ""
        # 8 bytes a member (the state's 64-bit keys), not the URL: claims cost
        # Redis memory for every article of the run.
        keys = sorted(
            {
                key_of(u).to_bytes(8, "big", signed=True)
                for u in (adapter.get("canonical_url"), url)
                if u
            }
        )
        digest = adapter.get("content_hash") or ""
        packed = bytes.fromhex(digest[:16]) if digest else b""
        verdict = scheduler._scripts["claim"](
            keys=[
                scheduler.keys.claims,
                scheduler.keys.hashes,
                scheduler.keys.totals,
                scheduler.keys.dead,
                scheduler.keys.workers,
            ],
            args=[url, packed, scheduler.worker, *keys],
        )
        if verdict:
            raise self.drop(_text(verdict), url, "exported by the cluster already")
        scheduler.unconfirmed[url] = (keys, packed)
        return item


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
        self.idle_after = crawler.settings.getfloat("NEWSCRAWL_CLUSTER_IDLE", 5.0)
        self.poll = crawler.settings.getfloat("NEWSCRAWL_CLUSTER_POLL", 0.5)
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
        from newscrawl.persistence import CrawlStateExtension  # noqa: PLC0415

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
        # heartbeat (5 s); Scrapy has no public way to wake it sooner.
        slot = getattr(engine, "_slot", None)
        if slot is not None:
            slot.nextcall.schedule()

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
        scheduler._sync_sites(scheduler.spider)
        for seed in seeds:
            for request in make(seed["kind"], seed["url"]):
                engine.crawl(request)
        scheduler._count("seeds", len(seeds))
        logger.info("Cluster: took %d seeds", len(seeds))

    def spider_idle(self, spider: Spider) -> None:
        scheduler = cluster_of(self.crawler)
        if scheduler is None:
            return
        now = time.monotonic()
        self.idle_at = now
        queued, others_busy, _ = scheduler.tick(busy=False)
        if queued or others_busy or scheduler.server.llen(scheduler.keys.seeds):
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


def connect(url: str) -> redis.Redis:
    """A Redis client for the cluster at ``url``."""
    import redis as redis_py  # noqa: PLC0415

    client = redis_py.Redis.from_url(url)
    client.ping()
    return client


def push_seeds(
    client: redis.Redis, spider: str, seeds: Iterable[tuple[str, str]]
) -> int:
    """Queue ``(kind, url)`` seeds for the cluster's workers; return how many.

    The seeds' sites are allowed first, so that a worker taking a request found
    from a seed already knows the site is in scope.
    """
    keys = Keys(spider)
    values = []
    urls = []
    for kind, url in seeds:
        if kind not in SEED_KINDS:
            raise ValueError(f"unknown seed kind {kind!r} (one of {SEED_KINDS})")
        values.append(json.dumps({"kind": kind, "url": url}))
        urls.append(url)
    if not values:
        return 0
    pipe = client.pipeline(transaction=True)
    pipe.sadd(keys.sites, *urls)
    pipe.incr(keys.sites_version)
    pipe.rpush(keys.seeds, *values)
    pipe.execute()
    return len(values)


def status(
    client: redis.Redis, spider: str, queue_key: str | None = None
) -> dict[str, Any]:
    """What the cluster of ``spider`` is doing: workers, queue, dead letters."""
    keys = Keys(spider)
    seconds, micros = client.time()
    now_ms = seconds * 1000 + micros // 1000  # Redis's clock, as the workers use
    entries = cast(
        "list[tuple[bytes, float]]", client.zrange(keys.workers, 0, -1, withscores=True)
    )
    queue = queue_key or f"{spider}:requests"
    kind = _text(cast("bytes", client.type(queue)))
    queued = client.zcard(queue) if kind == "zset" else client.llen(queue)
    dead = cast("dict[bytes, bytes]", client.hgetall(keys.dead))
    return {
        "workers": {
            _text(worker): {
                "alive": expiry > now_ms,
                "processing": client.hlen(keys.processing(_text(worker))),
            }
            for worker, expiry in entries
        },
        "queued": int(queued),
        "seeds": int(client.llen(keys.seeds)),
        "seen": int(client.scard(f"{spider}:dupefilter")),
        "exported": int(cast("bytes", client.hget(keys.totals, "items")) or 0),
        "dead": {_text(url): json.loads(value) for url, value in dead.items()},
    }
