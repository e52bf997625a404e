"""The cluster from outside a worker: connect, push seeds, report status (no Scrapy).

Used by ``newscrawl seed`` and ``newscrawl cluster`` (:mod:`newscrawl.cli`); this
module and what it imports load no Scrapy module, so those commands start fast.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, cast

from newscrawl.cluster.keys import Keys, text

if TYPE_CHECKING:
    from collections.abc import Iterable

    import redis

SEED_KINDS = ("url", "feed", "sitemap")


def connect(url: str) -> redis.Redis:
    """A Redis client for the cluster at ``url``."""
    import redis as redis_py  # noqa: PLC0415

    client = redis_py.Redis.from_url(url)
    client.ping()
    return client


def unreachable(url: str) -> str | None:
    """Why the cluster's Redis at ``url`` cannot be used, or ``None``."""
    import redis as redis_py  # noqa: PLC0415

    try:
        connect(url).close()
    except (redis_py.RedisError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


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
    kind = text(cast("bytes", client.type(queue)))
    queued = client.zcard(queue) if kind == "zset" else client.llen(queue)
    dead = cast("dict[bytes, bytes]", client.hgetall(keys.dead))
    return {
        "workers": {
            text(worker): {
                "alive": expiry > now_ms,
                "processing": client.hlen(keys.processing(text(worker))),
            }
            for worker, expiry in entries
        },
        "queued": int(queued),
        "seeds": int(client.llen(keys.seeds)),
        "seen": int(client.scard(f"{spider}:dupefilter")),
        "exported": int(cast("bytes", client.hget(keys.totals, "items")) or 0),
        "dead": {text(url): json.loads(value) for url, value in dead.items()},
    }
