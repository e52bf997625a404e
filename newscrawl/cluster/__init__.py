"""Scale out on Redis: ``scrapy crawl`` workers share one frontier, seen-set and output.

Every worker of a cluster runs the same spider against the same Redis server.
Requests go to one shared queue and one shared dupefilter (scrapy-redis's
``Scheduler`` and ``RFPDupeFilter``), so together the workers fetch each URL
once, whichever worker found it. With ``NEWSCRAWL_STATE`` set to the same Redis,
the crawl state (seen articles, revisions, failures, pending URLs) is shared too.

Enabling it: the project's settings enable the addon :class:`Cluster`, so one
setting is enough (without it the addon does nothing)::

    -s NEWSCRAWL_CLUSTER=redis://host:6379/0

What this package adds to scrapy-redis, whose ``RedisSpider``, stats collector and
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
- **Politeness for the cluster.** :class:`HostGate`, through the cluster's
  download handler (:class:`ClusterDownloadHandler`), makes the per-host limits
  hold across workers: at most ``CONCURRENT_REQUESTS_PER_DOMAIN`` downloads in
  flight per host (leases in Redis) and successive downloads at least the host's
  delay apart (the downloader slot's delay: ``DOWNLOAD_DELAY``, AutoThrottle,
  robots.txt ``Crawl-delay`` and back-off floors).
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

Settings (defaults and meanings in :mod:`newscrawl.defaults`):
``NEWSCRAWL_CLUSTER`` (the Redis URL; empty: no cluster),
``NEWSCRAWL_CLUSTER_IDLE``, ``NEWSCRAWL_CLUSTER_TTL``, ``NEWSCRAWL_CLUSTER_POLL``
and ``NEWSCRAWL_EXTRACT_THREAD`` (off in a cluster: run one worker per core), and
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

The package, one concern a module:

- ``addon``: :class:`Cluster`, the addon that installs the rest;
- ``scheduler``: :class:`Scheduler` (the reliable queue, membership, seeds and
  claims of a worker) and :func:`cluster_of`;
- ``link``: :class:`Link`, a worker's Redis client, its Lua scripts (the
  ``scripts/*.lua`` files) and the batch of acknowledgements and lease releases;
- ``keys``: :class:`Keys`, the Redis key names;
- ``hostgate``: :class:`HostGate`, the host leases;
- ``handler``: :class:`ClusterDownloadHandler`, downloads under a host lease;
- ``claims``: :class:`ClaimPipeline`; ``idle``: :class:`ClusterIdle`;
- ``admin``: :func:`connect`, :func:`push_seeds` and :func:`status`, for the
  ``newscrawl seed`` and ``newscrawl cluster`` commands (no Scrapy imported);
- ``scrapy_glue``: every use of Scrapy's and scrapy-redis's internals.

The names above are imported from their module when first used, so that
``newscrawl.cluster.admin`` loads without Scrapy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from newscrawl.cluster.addon import Cluster
    from newscrawl.cluster.admin import SEED_KINDS, connect, push_seeds, status
    from newscrawl.cluster.claims import ClaimPipeline
    from newscrawl.cluster.handler import ClusterDownloadHandler
    from newscrawl.cluster.hostgate import HostGate
    from newscrawl.cluster.idle import ClusterIdle
    from newscrawl.cluster.keys import Keys
    from newscrawl.cluster.link import Link
    from newscrawl.cluster.scheduler import Scheduler, cluster_of

#: Public name -> the module of the package that defines it.
_HOMES = {
    "Cluster": "addon",
    "SEED_KINDS": "admin",
    "connect": "admin",
    "push_seeds": "admin",
    "status": "admin",
    "ClaimPipeline": "claims",
    "ClusterDownloadHandler": "handler",
    "HostGate": "hostgate",
    "ClusterIdle": "idle",
    "Keys": "keys",
    "Link": "link",
    "Scheduler": "scheduler",
    "cluster_of": "scheduler",
}

__all__ = [  # the keys of _HOMES
    "SEED_KINDS",
    "ClaimPipeline",
    "Cluster",
    "ClusterDownloadHandler",
    "ClusterIdle",
    "HostGate",
    "Keys",
    "Link",
    "Scheduler",
    "cluster_of",
    "connect",
    "push_seeds",
    "status",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
