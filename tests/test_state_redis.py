"""The Redis crawl state keeps the SQLite state's contract, on a real redis-server.

The contract tests run against both backends; a private ``redis-server`` is
started on a free loopback port for the module (skipped without it).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import pytest

from newscrawl.state import FailureRecord, Pending, Seen, hash64
from newscrawl.state.sqlite import SQLiteState

from .redisserver import private_redis

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from newscrawl.state import CrawlState

HASH_A = "a1" * 32
HASH_B = "0f" * 32
URL = "https://news.example.com/2024/05/01/story"


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from private_redis(tmp_path_factory, "redis")


class Opener:
    """Opens states of one backend by namespace; closes what is left open."""

    def __init__(self, make: Callable[[str], CrawlState]) -> None:
        self.make = make
        self.open: list[CrawlState] = []

    def __call__(self, namespace: str = "news") -> CrawlState:
        state = self.make(namespace)
        self.open.append(state)
        return state

    def reopen(self, state: CrawlState, namespace: str = "news") -> CrawlState:
        self.open.remove(state)
        state.close()
        return self(namespace)

    def close_all(self) -> None:
        while self.open:
            self.open.pop().close()


@pytest.fixture(params=["sqlite", "redis"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    if request.param == "sqlite":

        def make(namespace: str) -> CrawlState:
            return SQLiteState(tmp_path / f"{namespace}.sqlite")

    else:
        url = request.getfixturevalue("redis_url")
        from newscrawl.state.redis import RedisState

        run = uuid.uuid4().hex[:8]  # one server for the module: fresh namespaces

        def make(namespace: str) -> CrawlState:
            return RedisState(url, f"{run}-{namespace}")

    opened = Opener(make)
    yield opened
    opened.close_all()


@pytest.fixture
def state(opener: Opener) -> CrawlState:
    return opener()


class Clock:
    minutes = 29_000_000


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Both backends read the time through ``now_minutes``: set it by hand."""
    clock = Clock()
    import newscrawl.state.sqlite

    monkeypatch.setattr(newscrawl.state.sqlite, "now_minutes", lambda: clock.minutes)
    try:
        import newscrawl.state.redis
    except ImportError:  # the redis package is missing: the SQLite tests still run
        pass
    else:
        monkeypatch.setattr(newscrawl.state.redis, "now_minutes", lambda: clock.minutes)
    return clock


def test_seen_mark_written_revision_and_touch(state: CrawlState, clock: Clock) -> None:
    assert state.seen(URL) is None
    t0 = clock.minutes
    state.mark_written(URL, HASH_A, 1, None)
    assert state.seen(URL) == Seen(hash64(HASH_A), 1, t0, t0, None)
    # The URL key ignores tracking parameters and the scheme.
    assert state.seen(URL.replace("https", "http") + "?utm_source=x") == state.seen(URL)

    clock.minutes += 90
    state.mark_written(URL, HASH_B, 2, t0 + 5)  # a revision: first_seen is kept
    assert state.seen(URL) == Seen(hash64(HASH_B), 2, t0, t0 + 90, t0 + 5)

    clock.minutes += 30
    state.touch(URL)  # fetched again, unchanged
    assert state.seen(URL) == Seen(hash64(HASH_B), 2, t0, t0 + 120, t0 + 5)

    state.touch(URL + "/other")  # touching an unknown URL does not make it seen
    assert state.seen(URL + "/other") is None


@pytest.mark.parametrize(
    "modified", [None, 0, -1, -(2**31), 2**31 - 1, 2**31, 4_216_000_000, -(2**40)]
)
def test_modified_dates_of_any_size_round_trip(
    state: CrawlState, clock: Clock, modified: int | None
) -> None:
    state.mark_written(URL, HASH_A, 7, modified)
    clock.minutes += 1
    state.touch(URL)
    seen = state.seen(URL)
    assert seen is not None
    assert (seen.modified, seen.revision, seen.fetched) == (modified, 7, clock.minutes)


def test_pending_in_priority_order_and_done(state: CrawlState) -> None:
    a, b, c = (f"https://news.example.com/{n}" for n in "abc")
    state.add_pending([Pending(a, "parse", 0, 0), Pending(b, "parse_article", 1, 10)])
    state.add_pending([Pending(c, "parse", 2, -5), Pending(a, "other", 9, 99)])
    state.add_pending([])
    # priority desc; a request already pending is kept as it was first stored
    assert state.pending() == [
        Pending(b, "parse_article", 1, 10),
        Pending(a, "parse", 0, 0),
        Pending(c, "parse", 2, -5),
    ]
    assert state.pending_count() == 3

    state.done(b)
    state.done("https://news.example.com/never-pending")
    assert [p.url for p in state.pending()] == [a, c]
    state.mark_written(c, HASH_A, 1, None)  # written: no longer pending
    assert state.pending() == [Pending(a, "parse", 0, 0)]
    assert state.pending_count() == 1


def test_a_transient_failure_is_final_after_max_attempts(state: CrawlState) -> None:
    state.add_pending([Pending(URL, "parse", 0, 0)])
    assert state.fail(URL, "timeout", final=False, detail="x") == FailureRecord(
        "timeout", 1, False, "x"
    )
    assert state.fail(URL, "http_503", final=False) == FailureRecord(
        "http_503", 2, False, ""
    )
    assert state.pending_count() == 1  # retried by a later run
    assert state.failure_counts() == {}
    record = state.fail(URL, "timeout", final=False, detail="again")
    assert record == FailureRecord("timeout", 3, True, "again")
    assert state.failure(URL) == record
    assert state.pending() == []
    assert state.failure_counts() == {"timeout": 1}


def test_max_attempts_is_per_call(state: CrawlState) -> None:
    assert state.fail(URL, "timeout", final=False, max_attempts=1).final
    other = URL + "/2"
    for attempts in range(1, 5):
        record = state.fail(other, "timeout", final=False, max_attempts=5)
        assert (record.attempts, record.final) == (attempts, False)


def test_a_failure_not_attempted_is_not_counted(state: CrawlState) -> None:
    state.add_pending([Pending(URL, "parse", 0, 0)])
    assert state.fail(URL, "shutdown", final=False, attempt=False) == FailureRecord(
        "shutdown", 0, False, ""
    )
    for _ in range(5):
        record = state.fail(URL, "shutdown", final=False, attempt=False)
    assert record == FailureRecord("shutdown", 0, False, "")
    assert state.fail(URL, "timeout", final=False) == FailureRecord(
        "timeout", 1, False, ""
    )
    assert state.pending_count() == 1


def test_done_clears_a_transient_failure_not_a_final_one(state: CrawlState) -> None:
    gone = URL + "/gone"
    state.fail(URL, "timeout", final=False)
    state.fail(URL, "timeout", final=False)
    state.fail(gone, "http_404", final=True)
    state.done(URL)
    state.done(gone)
    assert state.failure(URL) is None
    # a success ends the run of failures: three more are needed now
    assert state.fail(URL, "timeout", final=False).attempts == 1
    assert state.failure(gone) == FailureRecord("http_404", 1, True, "")
    assert state.failure_counts() == {"http_404": 1}


def test_a_final_failure_leaves_the_frontier(state: CrawlState) -> None:
    kept = URL + "/kept"
    state.add_pending([Pending(URL, "parse", 0, 3), Pending(kept, "parse", 0, 0)])
    record = state.fail(URL, "http_404", final=True, detail="Not Found")
    assert record == FailureRecord("http_404", 1, True, "Not Found")
    assert state.pending() == [Pending(kept, "parse", 0, 0)]
    assert state.pending_count() == 1


def test_failure_counts_are_final_failures_by_reason(state: CrawlState) -> None:
    for n in range(3):
        state.fail(f"{URL}/404/{n}", "http_404", final=True)
    state.fail(f"{URL}/410", "http_410", final=True)
    state.fail(f"{URL}/t", "timeout", final=False)
    assert state.failure_counts() == {"http_404": 3, "http_410": 1}

    # Failed again, for another reason: counted under the new one.
    state.fail(f"{URL}/404/0", "http_410", final=True)
    assert state.failure_counts() == {"http_404": 2, "http_410": 2}
    # A final record failed again transiently below max_attempts is not final
    # any more (as in SQLite: final is recomputed on every failure).
    assert not state.fail(f"{URL}/410", "timeout", final=False).final
    assert state.failure_counts() == {"http_404": 2, "http_410": 1}
    # Written after all: its failure is forgotten.
    state.mark_written(f"{URL}/404/1", HASH_A, 1, None)
    state.mark_written(f"{URL}/404/2", HASH_A, 1, None)
    assert state.failure(f"{URL}/404/1") is None
    assert state.failure_counts() == {"http_410": 1}


def test_unicode_in_urls_reasons_and_details(state: CrawlState) -> None:
    url = "https://ελληνικά.example/νέα/статья?q=ü"
    detail = 'Ошибка "quoted" \\ / \n\t ✓ \x01'
    state.add_pending([Pending(url, "parse", 1, 2)])
    assert state.pending() == [Pending(url, "parse", 1, 2)]
    assert state.fail(url, "αιτία", final=True, detail=detail) == FailureRecord(
        "αιτία", 1, True, detail
    )
    assert state.failure(url) == FailureRecord("αιτία", 1, True, detail)
    assert state.failure_counts() == {"αιτία": 1}


def test_runs_newest_first_per_site_with_a_limit(state: CrawlState) -> None:
    assert state.previous_runs("example.com", 5) == []
    for n in range(6):
        state.record_run("example.com", n, {"title": n / 10, "body": 1.0})
    state.record_run("other.org", 99, {})
    assert state.previous_runs("example.com", 3) == [
        {"items": n, "coverage": {"body": 1.0, "title": n / 10}} for n in (5, 4, 3)
    ]
    assert [r["items"] for r in state.previous_runs("example.com", 100)] == [
        5,
        4,
        3,
        2,
        1,
        0,
    ]
    assert state.previous_runs("example.com", 0) == []
    assert state.previous_runs("other.org", 5) == [{"items": 99, "coverage": {}}]


def test_namespaces_are_isolated(opener: Opener) -> None:
    news, other = opener("news"), opener("other")
    news.mark_written(URL, HASH_A, 1, None)
    news.add_pending([Pending(URL + "/p", "parse", 0, 0)])
    news.fail(URL + "/f", "http_404", final=True)
    news.record_run("example.com", 1, {})
    assert other.seen(URL) is None
    assert other.pending() == []
    assert other.pending_count() == 0
    assert other.failure(URL + "/f") is None
    assert other.failure_counts() == {}
    assert other.previous_runs("example.com", 5) == []


def test_state_survives_a_reconnect(opener: Opener, clock: Clock) -> None:
    state = opener()
    t0 = clock.minutes
    state.mark_written(URL, HASH_A, 2, t0 - 60)
    state.add_pending([Pending(URL + "/p", "parse_article", 1, 4)])
    state.fail(URL + "/t", "timeout", final=False, detail="slow")
    state.fail(URL + "/g", "http_410", final=True)
    state.record_run("example.com", 12, {"title": 1.0})
    state.commit()

    state = opener.reopen(state)
    assert state.seen(URL) == Seen(hash64(HASH_A), 2, t0, t0, t0 - 60)
    assert state.pending() == [Pending(URL + "/p", "parse_article", 1, 4)]
    assert state.failure(URL + "/t") == FailureRecord("timeout", 1, False, "slow")
    assert state.failure_counts() == {"http_410": 1}
    assert state.previous_runs("example.com", 5) == [
        {"items": 12, "coverage": {"title": 1.0}}
    ]
    # The attempts go on counting across runs.
    assert state.fail(URL + "/t", "timeout", final=False).attempts == 2


# -- Redis only ---------------------------------------------------------------


@pytest.fixture
def redis_state(redis_url: str) -> Iterator[Any]:
    from newscrawl.state.redis import RedisState

    state = RedisState(redis_url, f"r-{uuid.uuid4().hex[:8]}")
    yield state
    state.close()


def test_redis_keys_are_under_the_namespace(redis_state: Any) -> None:
    redis_state.mark_written(URL, HASH_A, 1, None)
    redis_state.add_pending([Pending(URL + "/p", "parse", 0, 0)])
    redis_state.fail(URL + "/f", "http_404", final=True)
    redis_state.record_run("example.com", 1, {})
    keys = {k.decode() for k in redis_state.client.scan_iter(count=1000)}
    mine = {k for k in keys if k.startswith(redis_state.prefix)}
    assert {k.removeprefix(redis_state.prefix).split(":")[0] for k in mine} == {
        "meta",
        "seen",
        "frontier",
        "queue",
        "failures",
        "failcounts",
        "runs",
    }


def test_redis_runs_keep_the_last_fifty(redis_state: Any) -> None:
    for n in range(60):
        redis_state.record_run("example.com", n, {})
    runs = redis_state.previous_runs("example.com", 100)
    assert [r["items"] for r in runs] == list(range(59, 9, -1))


def test_redis_seen_buckets_are_fixed_when_the_namespace_is_made(
    redis_url: str,
) -> None:
    from newscrawl.state.redis import RedisState

    namespace = f"b-{uuid.uuid4().hex[:8]}"
    state = RedisState(redis_url, namespace, seen_bits=4)
    state.mark_written(URL, HASH_A, 1, None)
    state.close()
    state = RedisState(redis_url, namespace)  # the default is 12 bits
    try:
        assert state.seen_bits == 4
        assert state.seen(URL) is not None
    finally:
        state.close()
    with pytest.raises(ValueError, match="seen_bits"):
        RedisState(redis_url, namespace, seen_bits=17)


def test_redis_memory_per_seen_url(redis_url: str) -> None:
    """Bytes of Redis memory a seen URL takes (printed; run with ``-s``)."""
    from newscrawl.state import key_of
    from newscrawl.state.redis import RedisState, pack_seen

    n = 100_000
    state = RedisState(redis_url, f"mem-{uuid.uuid4().hex[:8]}")
    client = state.client
    try:
        before = client.info("memory")["used_memory"]
        minutes = 29_000_000
        with client.pipeline(transaction=False) as pipe:
            for i in range(n):
                url = f"https://www.example.com/news/2024/05/{i:07d}/an-article-{i}"
                bucket, field = state.seen_slot(url)
                value = pack_seen(key_of(url), 1 + i % 3, minutes, minutes, minutes)
                pipe.hset(bucket, field, value)
                if i % 5000 == 4999:
                    pipe.execute()
            pipe.execute()
        used = client.info("memory")["used_memory"] - before
        buckets = list(client.scan_iter(match=f"{state.prefix}seen:*", count=10_000))
        usage = sum(client.memory_usage(k, samples=0) for k in buckets)
        encodings = {client.object("encoding", k) for k in buckets}
        print(
            f"\n{n} seen URLs in {len(buckets)} hashes {sorted(encodings)}:"
            f" {used / n:.1f} B/URL (INFO used_memory),"
            f" {usage / n:.1f} B/URL (MEMORY USAGE)"
        )
        assert state.seen(url) == Seen(key_of(url), 1 + (n - 1) % 3, *[minutes] * 3)
        # The compact encoding: "listpack" from Redis 7, "ziplist" before (6.2, the
        # test extra's server); a "hashtable" would mean the buckets grew too big.
        assert len(encodings) == 1
        assert encodings <= {b"listpack", b"ziplist"}
        assert used / n < 80
    finally:
        client.delete(*buckets)
        state.close()


def test_a_crawl_with_the_redis_state_is_incremental(redis_url, tmp_path):
    # A real `scrapy crawl news` twice against one Redis: the second run finds
    # every article known and writes nothing.
    from newscrawl.health import ExitCode

    from .faultserver import FaultServer, article_path
    from .test_hostile import crawl

    with FaultServer() as faults:
        urls = [faults.url + article_path("ok", i) for i in range(5)]
        settings = {"NEWSCRAWL_STATE": redis_url}
        first = crawl(tmp_path / "first", urls, settings)
        second = crawl(tmp_path / "second", urls, settings)
    assert first.returncode == ExitCode.OK, first.log[-3000:]
    assert first.urls() == set(urls)
    assert second.returncode == ExitCode.OK, second.log[-3000:]
    assert second.items == []
    assert second.report["dropped"] == {"unchanged": 5}
