"""The Redis crawl state: what SQLiteState keeps, shared by parallel crawlers.

Every key is under ``newscrawl:{namespace}:`` (the namespace is the spider name):

``seen:{bucket}``
    The articles written, split over ``2**seen_bits`` hashes by the top bits of
    the URL's 64-bit key so that each stays a small listpack (Redis's compact
    encoding, up to ``hash-max-listpack-entries`` fields: 512 by default). A
    field is the key less the bytes its bucket implies (7 raw bytes with the
    default 4096 buckets), its value the packed :class:`Seen` (20 to 28 bytes):
    38 to 43 bytes a URL of Redis memory, against 92 in one big hash and 123
    with a key per URL. The bucket count is fixed when the namespace is first
    used (``meta``); 4096 buckets stay compact up to some 1.5 million URLs.
``frontier`` and ``queue``
    The pending requests: a hash of key to the packed request and a sorted set
    of the keys by priority, always changed together.
``failures`` and ``failcounts``
    A hash of key to the JSON failure record, and a hash counting the final
    failures by reason.
``runs:{site}``
    The last :data:`RUNS_KEPT` runs of a site, newest first, as JSON.
``meta``
    The layout of the namespace (format version, ``seen_bits``).

There is no transaction to commit: each call is applied at once and atomically
(a Lua script or a MULTI/EXEC block), so other crawlers and the next call see
it, and :meth:`RedisState.commit` does nothing. Calls reach Redis in the order
they are made, which the crawl relies on (a feed line before its mark, new
requests before their page is done). Durability is then Redis's: run it with
``appendonly yes`` (``appendfsync everysec`` loses at most a second to a power
cut, like the SQLite state's ``synchronous=NORMAL``; a crawler killed loses
nothing it was told was stored).
"""

from __future__ import annotations

import json
import struct
from typing import TYPE_CHECKING, Any, cast

from newscrawl.state import (
    FailureRecord,
    Pending,
    Seen,
    StateUnavailable,
    hash64,
    key_of,
)
from newscrawl.state.sqlite import now_minutes

if TYPE_CHECKING:
    from collections.abc import Iterator

    import redis

FORMAT = 1
RUNS_KEPT = 50
SEEN_BITS = 12
PENDING_CHUNK = 1000

# hash, revision, first_seen, fetched; then modified as 4 or 8 bytes, or nothing
# for None. first_seen is bytes 12-15 and fetched 16-19 (the scripts splice them).
SEEN = struct.Struct("<qIii")
INT32 = struct.Struct("<i")
INT64 = struct.Struct("<q")
PENDING = struct.Struct("<qq")  # hops, priority; then callback NUL url

# A failure record is the JSON array [url, reason, at, attempts, final, detail].
UNCOUNT = """
local function uncount(key, reason)
  if redis.call('HINCRBY', key, reason, -1) <= 0 then
    redis.call('HDEL', key, reason)
  end
end
"""

# KEYS: seen bucket, frontier, queue, failures, failcounts
# ARGV: seen field, packed seen (first_seen is kept from an older one), key
MARK_WRITTEN = (
    UNCOUNT
    + """
local old = redis.call('HGET', KEYS[1], ARGV[1])
local new = ARGV[2]
if old then
  new = string.sub(new, 1, 12) .. string.sub(old, 13, 16) .. string.sub(new, 17)
end
redis.call('HSET', KEYS[1], ARGV[1], new)
redis.call('HDEL', KEYS[2], ARGV[3])
redis.call('ZREM', KEYS[3], ARGV[3])
local failure = redis.call('HGET', KEYS[4], ARGV[3])
if failure then
  local record = cjson.decode(failure)
  if record[5] == 1 then uncount(KEYS[5], record[2]) end
  redis.call('HDEL', KEYS[4], ARGV[3])
end
"""
)

# KEYS: seen bucket; ARGV: seen field, packed fetched
TOUCH = """
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old then
  redis.call('HSET', KEYS[1], ARGV[1],
    string.sub(old, 1, 16) .. ARGV[2] .. string.sub(old, 21))
end
"""

# KEYS: frontier, queue, failures; ARGV: key
DONE = """
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
local failure = redis.call('HGET', KEYS[3], ARGV[1])
if failure and cjson.decode(failure)[5] == 0 then
  redis.call('HDEL', KEYS[3], ARGV[1])
end
"""

# KEYS: failures, failcounts, frontier, queue
# ARGV: key, url, reason, at, detail, attempt (0/1), final (0/1), max_attempts
FAIL = (
    UNCOUNT
    + """
local attempts = 0
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old then
  local record = cjson.decode(old)
  attempts = record[4]
  if record[5] == 1 then uncount(KEYS[2], record[2]) end
end
attempts = attempts + tonumber(ARGV[6])
local final = 0
if ARGV[7] == '1' or attempts >= tonumber(ARGV[8]) then final = 1 end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(
  {ARGV[2], ARGV[3], tonumber(ARGV[4]), attempts, final, ARGV[5]}))
if final == 1 then
  redis.call('HINCRBY', KEYS[2], ARGV[3], 1)
  redis.call('HDEL', KEYS[3], ARGV[1])
  redis.call('ZREM', KEYS[4], ARGV[1])
end
return {attempts, final}
"""
)


def key_bytes(url: str) -> bytes:
    """The URL's 64-bit key as 8 big-endian bytes (its top bits pick the bucket)."""
    return key_of(url).to_bytes(8, "big", signed=True)


def pack_seen(
    content_hash: int,
    revision: int,
    first_seen: int,
    fetched: int,
    modified: int | None,
) -> bytes:
    packed = SEEN.pack(content_hash, revision, first_seen, fetched)
    if modified is None:
        return packed
    if -(2**31) <= modified < 2**31:
        return packed + INT32.pack(modified)
    return packed + INT64.pack(modified)


def unpack_seen(value: bytes) -> Seen:
    content_hash, revision, first_seen, fetched = SEEN.unpack_from(value)
    rest = value[SEEN.size :]
    modified = None
    if len(rest) == INT32.size:
        modified = INT32.unpack(rest)[0]
    elif len(rest) == INT64.size:
        modified = INT64.unpack(rest)[0]
    return Seen(content_hash, revision, first_seen, fetched, modified)


def pack_pending(request: Pending) -> bytes:
    return (
        PENDING.pack(request.hops, request.priority)
        + request.callback.encode("utf-8")
        + b"\0"
        + request.url.encode("utf-8")
    )


def unpack_pending(value: bytes) -> Pending:
    hops, priority = PENDING.unpack_from(value)
    callback, url = value[PENDING.size :].split(b"\0", 1)
    return Pending(url.decode("utf-8"), callback.decode("utf-8"), hops, priority)


def failure_record(value: bytes) -> FailureRecord:
    _url, reason, _at, attempts, final, detail = json.loads(value)
    return FailureRecord(str(reason), int(attempts), bool(final), str(detail))


class RedisState:
    """:class:`newscrawl.state.CrawlState` on a Redis server, one namespace a spider.

    ``seen_bits`` (0 to 16) sets the number of seen buckets for a new namespace;
    an existing one keeps the number it was created with.
    """

    def __init__(self, url: str, namespace: str, *, seen_bits: int = SEEN_BITS) -> None:
        if not 0 <= seen_bits <= 16:
            raise ValueError(f"seen_bits must be within 0..16, not {seen_bits}")
        self.url = url
        self.namespace = namespace
        self.prefix = f"newscrawl:{namespace}:"
        # Imported here: the package is needed only when the state is on Redis.
        from redis import Redis  # noqa: PLC0415
        from redis.exceptions import RedisError  # noqa: PLC0415

        self.client: redis.Redis = Redis.from_url(url)
        try:
            meta = self.prefix + "meta"
            self.client.hsetnx(meta, "format", FORMAT)
            self.client.hsetnx(meta, "seen_bits", seen_bits)
            stored = cast(
                "list[bytes | None]", self.client.hmget(meta, ["format", "seen_bits"])
            )
            if stored[0] is None or int(stored[0]) != FORMAT:
                raise ValueError(
                    f"{self.prefix}* holds crawl state of an unknown format"
                    f" {stored[0]!r} (this version reads {FORMAT})"
                )
            self.seen_bits = int(stored[1] or seen_bits)
        except RedisError as exc:
            self.client.close()
            raise StateUnavailable(
                f"the crawl state at {url} cannot be reached ({exc}). Nothing was"
                " crawled. Start Redis there, or set NEWSCRAWL_STATE to another state"
            ) from exc
        except BaseException:
            self.client.close()
            raise
        self.frontier = self.prefix + "frontier"
        self.queue = self.prefix + "queue"
        self.failures = self.prefix + "failures"
        self.failcounts = self.prefix + "failcounts"
        self._mark_written = self.client.register_script(MARK_WRITTEN)
        self._touch = self.client.register_script(TOUCH)
        self._done = self.client.register_script(DONE)
        self._fail = self.client.register_script(FAIL)

    def seen_slot(self, url: str) -> tuple[str, bytes]:
        """The hash and the field holding what is known of ``url``."""
        key = key_bytes(url)
        bucket = int.from_bytes(key[:2], "big") >> (16 - self.seen_bits)
        return f"{self.prefix}seen:{bucket:x}", key[self.seen_bits // 8 :]

    def seen(self, url: str) -> Seen | None:
        bucket, field = self.seen_slot(url)
        value = cast("bytes | None", self.client.hget(bucket, field))
        return unpack_seen(value) if value is not None else None

    def mark_written(
        self, url: str, content_hash: str, revision: int, modified: int | None
    ) -> None:
        bucket, field = self.seen_slot(url)
        now = now_minutes()
        value = pack_seen(hash64(content_hash), revision, now, now, modified)
        self._mark_written(
            keys=[bucket, self.frontier, self.queue, self.failures, self.failcounts],
            args=[field, value, key_bytes(url)],
        )

    def touch(self, url: str) -> None:
        bucket, field = self.seen_slot(url)
        self._touch(keys=[bucket], args=[field, INT32.pack(now_minutes())])

    def add_pending(self, requests: list[Pending]) -> None:
        if not requests:
            return
        with self.client.pipeline(transaction=True) as pipe:
            for request in requests:
                key = key_bytes(request.url)
                pipe.hsetnx(self.frontier, key, pack_pending(request))
                pipe.zadd(self.queue, {key: request.priority}, nx=True)
            pipe.execute()

    def done(self, url: str) -> None:
        self._done(
            keys=[self.frontier, self.queue, self.failures], args=[key_bytes(url)]
        )

    def _pending_keys(self) -> Iterator[list[bytes]]:
        start = 0
        while True:
            keys = cast(
                "list[bytes]",
                self.client.zrevrange(self.queue, start, start + PENDING_CHUNK - 1),
            )
            if not keys:
                return
            yield keys
            start += PENDING_CHUNK

    def pending(self) -> list[Pending]:
        found: list[Pending] = []
        for keys in self._pending_keys():
            values = cast("list[bytes | None]", self.client.hmget(self.frontier, keys))
            found.extend(unpack_pending(v) for v in values if v is not None)
        return found

    def fail(
        self,
        url: str,
        reason: str,
        *,
        final: bool,
        detail: str = "",
        attempt: bool = True,
        max_attempts: int = 3,
    ) -> FailureRecord:
        attempts, is_final = cast(
            "list[int]",
            self._fail(
                keys=[self.failures, self.failcounts, self.frontier, self.queue],
                args=[
                    key_bytes(url),
                    url,
                    reason,
                    now_minutes(),
                    detail,
                    int(attempt),
                    int(final),
                    max_attempts,
                ],
            ),
        )
        return FailureRecord(reason, int(attempts), bool(is_final), detail)

    def failure(self, url: str) -> FailureRecord | None:
        value = cast("bytes | None", self.client.hget(self.failures, key_bytes(url)))
        return failure_record(value) if value is not None else None

    def failure_counts(self) -> dict[str, int]:
        counts = cast("dict[bytes, bytes]", self.client.hgetall(self.failcounts))
        return {
            reason.decode("utf-8"): int(n) for reason, n in counts.items() if int(n) > 0
        }

    def pending_count(self) -> int:
        return int(self.client.hlen(self.frontier))

    def record_run(self, site: str, items: int, coverage: dict[str, float]) -> None:
        run = {"finished": now_minutes(), "items": items, "coverage": coverage}
        key = f"{self.prefix}runs:{site}"
        with self.client.pipeline(transaction=True) as pipe:
            pipe.lpush(key, json.dumps(run, sort_keys=True))
            pipe.ltrim(key, 0, RUNS_KEPT - 1)
            pipe.execute()

    def previous_runs(self, site: str, limit: int) -> list[dict[str, Any]]:
        if limit == 0:
            return []
        # A negative LIMIT is no limit in SQLite.
        end = limit - 1 if limit > 0 else -1
        rows = cast(
            "list[bytes]", self.client.lrange(f"{self.prefix}runs:{site}", 0, end)
        )
        runs = (json.loads(row) for row in rows)
        return [{"items": run["items"], "coverage": run["coverage"]} for run in runs]

    def commit(self) -> None:
        """Nothing to do: every call is applied (and visible) when it returns."""

    def close(self) -> None:
        self.client.close()
