"""The cluster's Redis scripts, one behaviour at a time, against a private Redis.

:mod:`tests.test_cluster` runs whole workers; here each script of
:mod:`newscrawl.cluster` (pop, acknowledge, reap, join, leave, claim, host lease)
is called directly, so that each guarantee is checked without process timing.
The addon's settings and the package's layout are checked here too.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from newscrawl.cluster import Keys, push_seeds, status
from newscrawl.cluster.link import SCRIPTS, Link, script

from .redisserver import private_redis

if TYPE_CHECKING:
    from collections.abc import Iterator

QUEUE = "news:requests"
DUPEFILTER = "news:dupefilter"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from private_redis(tmp_path_factory, "redis")


@pytest.fixture
def client(server: str) -> Iterator[Any]:
    import redis

    with redis.Redis.from_url(server) as connection:
        connection.flushdb()
        yield connection


class Node:
    """One worker's view of the scripts (what Scheduler does, minus Scrapy)."""

    def __init__(self, client: Any, name: str, ttl_ms: int = 60_000) -> None:
        self.client = client
        self.name = name
        self.ttl_ms = ttl_ms
        self.keys = Keys("news")
        self.scripts = {
            name: client.register_script(script(name))
            for name in ("join", "pop", "tick", "requeue", "leave", "claim", "acquire")
        }

    def join(self, persist: bool = False) -> list[int]:
        return list(
            self.scripts["join"](
                keys=[
                    self.keys.workers,
                    self.keys.busy,
                    QUEUE,
                    DUPEFILTER,
                    self.keys.claims,
                    self.keys.hashes,
                    self.keys.totals,
                ],
                args=[self.name, self.ttl_ms, "zset", self.keys.prefix, int(persist)],
            )
        )

    def pop(self, acks: str = "", releases: str = "") -> tuple[int, bytes] | None:
        result = self.scripts["pop"](
            keys=[
                QUEUE,
                self.keys.workers,
                self.keys.busy,
                self.keys.processing(self.name),
                self.keys.seq,
                self.keys.sites_version,
            ],
            args=[self.ttl_ms, "zset", self.name, acks, releases],
        )
        return (int(result[0]), result[1]) if result else None

    def ack(self, ack: int) -> None:
        self.client.hdel(self.keys.processing(self.name), ack)

    def tick(self, busy: bool = False) -> list[int]:
        return list(
            self.scripts["tick"](
                keys=[
                    self.keys.workers,
                    self.keys.busy,
                    QUEUE,
                    self.keys.processing(self.name),
                ],
                args=[
                    self.name,
                    self.ttl_ms,
                    "zset",
                    self.keys.prefix,
                    int(busy),
                    "",
                    "",
                ],
            )
        )

    def leave(self) -> list[int]:
        return list(
            self.scripts["leave"](
                keys=[
                    self.keys.workers,
                    self.keys.busy,
                    QUEUE,
                    self.keys.processing(self.name),
                    DUPEFILTER,
                    self.keys.claims,
                    self.keys.hashes,
                ],
                args=[self.name, "zset", 0, "", ""],
            )
        )

    def claim(self, url: str, digest: str, *keys: str) -> str:
        verdict = self.scripts["claim"](
            keys=[
                self.keys.claims,
                self.keys.hashes,
                self.keys.totals,
                self.keys.dead,
                self.keys.workers,
            ],
            args=[url, digest, self.name, *keys],
        )
        return verdict.decode() if isinstance(verdict, bytes) else verdict

    def acquire(self, host: str, token: str, limit: int, interval_ms: int) -> int:
        leases, nxt = self.keys.host(host)
        return int(
            self.scripts["acquire"](
                keys=[leases, nxt, self.keys.processing(self.name)],
                args=[token, limit, interval_ms, 60_000, "", ""],
            )
        )


def push(client: Any, *requests: tuple[bytes, int]) -> None:
    for data, priority in requests:
        client.zadd(QUEUE, {data: -priority})


def test_a_popped_request_is_held_until_acknowledged(client: Any) -> None:
    node = Node(client, "a")
    node.join()
    push(client, (b"low", 0), (b"high", 5))
    first = node.pop()
    assert first is not None
    assert first[1] == b"high"  # priority order kept
    assert client.zcard(QUEUE) == 1
    assert client.hlen(node.keys.processing("a")) == 1
    node.ack(first[0])
    assert client.hlen(node.keys.processing("a")) == 0
    assert client.zscore(node.keys.busy, "a") is not None


def test_acknowledgements_and_releases_ride_on_the_next_pop(client: Any) -> None:
    node = Node(client, "a")
    node.join()
    push(client, (b"one", 0), (b"two", 0), (b"three", 0))
    first, second = node.pop(), node.pop()
    assert first is not None
    assert second is not None
    assert node.acquire("x.test", "lease", 1, 0) == 0
    leases = node.keys.host("x.test")[0]
    node.pop(acks=f"{first[0]},{second[0]}", releases=f"{leases}\tlease\n")
    # Only the third request is held; the host's lease is free again.
    assert client.hlen(node.keys.processing("a")) == 1
    assert client.zcard(leases) == 0


def test_a_dead_workers_requests_go_back_with_their_priority(client: Any) -> None:
    dead, alive = Node(client, "dead"), Node(client, "alive")
    dead.join()
    alive.join()
    push(client, (b"one", 3), (b"two", 1))
    assert dead.pop() is not None
    assert dead.pop() is not None
    assert client.zcard(QUEUE) == 0
    # While its entry is fresh, nothing moves.
    assert alive.tick()[3] == 0
    # Its entry is not refreshed: it expires (here: set in the past).
    client.zadd(dead.keys.workers, {"dead": 0})
    queued, busy, others, requeued = alive.tick()
    assert (queued, busy, others, requeued) == (2, 0, 0, 2)
    assert client.zscore(QUEUE, b"one") == -3
    assert not client.exists(dead.keys.processing("dead"))
    assert status(client, "news")["workers"].keys() == {"alive"}


def test_a_requeued_request_is_taken_again_by_another_worker(client: Any) -> None:
    a, b = Node(client, "a"), Node(client, "b")
    a.join()
    b.join()
    push(client, (b"page", 0))
    taken = a.pop()
    assert taken is not None
    # Aborted at shutdown: put back, not acknowledged.
    a.scripts["requeue"](keys=[a.keys.processing("a"), QUEUE], args=[taken[0], "zset"])
    again = b.pop()
    assert again is not None
    assert again[1] == b"page"


def test_the_first_worker_of_a_drained_cluster_starts_a_new_run(client: Any) -> None:
    client.sadd(DUPEFILTER, "fingerprint-of-a-crashed-run")
    client.sadd(Keys("news").claims, "claim-of-a-crashed-run")
    client.hset(Keys("news").totals, "items", 7)
    assert Node(client, "a").join() == [1, 0]
    assert not client.exists(DUPEFILTER)
    assert not client.exists(Keys("news").claims)
    assert not client.exists(Keys("news").totals)
    # A second worker joins the running crawl: the seen-set stays.
    client.sadd(DUPEFILTER, "fingerprint")
    assert Node(client, "b").join() == [0, 0]
    assert client.sismember(DUPEFILTER, "fingerprint")


def test_a_crashed_run_with_queued_requests_is_resumed(client: Any) -> None:
    client.sadd(DUPEFILTER, "fingerprint")
    push(client, (b"left over", 0))
    assert Node(client, "a").join() == [0, 0]
    assert client.sismember(DUPEFILTER, "fingerprint")


def test_the_last_worker_to_leave_a_drained_cluster_clears_the_run(
    client: Any,
) -> None:
    a, b = Node(client, "a"), Node(client, "b")
    a.join()
    b.join()
    client.sadd(DUPEFILTER, "fingerprint")
    push(client, (b"unfinished", 0))
    taken = a.pop()
    assert taken is not None
    # Leaving with a request in hand puts it back; b is still there.
    assert a.leave() == [1, 1, 0]
    assert client.zcard(QUEUE) == 1
    assert b.pop() is not None
    assert b.leave() == [1, 0, 0]  # the queue is not drained: the run is kept
    assert client.exists(DUPEFILTER)
    client.delete(QUEUE)
    c = Node(client, "c")
    c.join(persist=True)  # a drained cluster, but SCHEDULER_PERSIST
    assert c.leave() == [0, 0, 1]
    assert not client.exists(DUPEFILTER)


def test_an_article_is_claimed_once_by_url_or_content(client: Any) -> None:
    a, b = Node(client, "a"), Node(client, "b")
    a.join()
    b.join()
    client.hset(a.keys.dead, "http://x.test/a", json.dumps({"reason": "timeout"}))
    assert a.claim("http://x.test/a", "h1", "x.test/a") == ""
    assert b.claim("http://x.test/a?utm_source=y", "h2", "x.test/a") == "duplicate_url"
    assert b.claim("http://x.test/copy", "h1", "x.test/copy") == "duplicate_content"
    assert b.claim("http://x.test/b", "", "x.test/b") == ""
    assert int(client.hget(a.keys.totals, "items")) == 2
    # Exported after all: no longer a dead letter.
    assert not client.hexists(a.keys.dead, "http://x.test/a")


def test_host_leases_bound_concurrency_and_space_starts(client: Any) -> None:
    a, b = Node(client, "a"), Node(client, "b")
    assert a.acquire("busy.test", "t1", 2, 0) == 0
    assert b.acquire("busy.test", "t2", 2, 0) == 0
    assert a.acquire("busy.test", "t3", 2, 0) == -1  # full: wait for a release
    client.zrem(a.keys.host("busy.test")[0], "t1")
    assert b.acquire("busy.test", "t3", 2, 0) == 0
    # An interval (Crawl-delay 1 s): the next start is about a second away.
    assert a.acquire("polite.test", "p1", 8, 1000) == 0
    wait = b.acquire("polite.test", "p2", 8, 1000)
    assert 900 <= wait <= 1000


def test_seeds_are_pushed_with_their_sites(client: Any) -> None:
    pushed = push_seeds(
        client,
        "news",
        [
            ("url", "https://a.test/front"),
            ("feed", "https://b.test/rss"),
            ("sitemap", "https://c.test/sitemap.xml"),
        ],
    )
    assert pushed == 3
    keys = Keys("news")
    assert {s.decode() for s in client.smembers(keys.sites)} == {
        "https://a.test/front",
        "https://b.test/rss",
        "https://c.test/sitemap.xml",
    }
    assert client.get(keys.sites_version) == b"1"
    seeds = [json.loads(s) for s in client.lrange(keys.seeds, 0, -1)]
    assert [s["kind"] for s in seeds] == ["url", "feed", "sitemap"]
    with pytest.raises(ValueError, match="unknown seed kind"):
        push_seeds(client, "news", [("page", "https://a.test/")])


def test_a_news_worker_turns_seeds_into_requests_and_allows_their_sites() -> None:
    from scrapy.utils.test import get_crawler

    from newscrawl.spiders.news import NewsSpider

    crawler = get_crawler(NewsSpider, {"NEWSCRAWL_CLUSTER": "redis://unused"})
    spider = NewsSpider.from_crawler(crawler)  # no seeds of its own: allowed
    assert not spider.is_allowed("https://www.example.com/2026/01/01/story")
    spider.allow_urls(["https://example.com/rss"])
    assert spider.is_allowed("https://www.example.com/2026/01/01/story")
    feed, sitemap, page = (
        spider.seed_requests(kind, url)[0]
        for kind, url in [
            ("feed", "https://example.com/rss"),
            ("sitemap", "https://example.com/sitemap.xml"),
            ("url", "https://example.com/"),
        ]
    )
    assert feed.callback == spider.parse_feed
    assert sitemap.callback == spider.parse_sitemap
    assert page.callback == spider.parse_page


def test_a_dead_workers_unwritten_claim_is_taken_over(client: Any) -> None:
    a, b, c = Node(client, "a"), Node(client, "b"), Node(client, "c")
    for node in (a, b, c):
        node.join()
    assert a.claim("http://x.test/a", "h1", "x.test/a") == ""
    # a is alive and may still write the line: nobody else exports it.
    assert b.claim("http://x.test/a", "h1", "x.test/a") == "duplicate_url"
    # a died before writing it (its entry expired): b takes the claim over.
    client.zadd(a.keys.workers, {"a": 0})
    assert b.claim("http://x.test/a", "h1", "x.test/a") == ""
    # b wrote the line and made the claim final: nobody takes it over again.
    client.hset(b.keys.claims, "x.test/a", "1")
    client.zadd(b.keys.workers, {"b": 0})
    assert c.claim("http://x.test/a", "h2", "x.test/a") == "duplicate_url"


def test_acks_and_releases_wait_for_a_call_that_succeeds(client: Any) -> None:
    link = Link(client, "w")
    link.ack_later("1")
    link.ack_later("2")
    link.release_later("news:cluster:leases:x.test", "token")
    import redis

    with pytest.raises(redis.RedisError):
        link.call("tick", keys=[], args=[])  # a script error: nothing was settled
    assert link.settle() == ["1,2", "news:cluster:leases:x.test\ttoken\n"]
    assert link.settle() == ["", ""]


def test_the_lua_scripts_ship_with_the_package() -> None:
    import tomllib
    from importlib import resources
    from pathlib import Path

    folder = resources.files("newscrawl.cluster") / "scripts"
    files = {entry.name for entry in folder.iterdir() if entry.name.endswith(".lua")}
    assert files == {f"{name}.lua" for name in (*SCRIPTS, "lib")}
    for name in SCRIPTS:
        assert "redis.call" in script(name)
    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    data = tomllib.loads(pyproject.read_text())
    assert (
        "cluster/scripts/*.lua"
        in data["tool"]["setuptools"]["package-data"]["newscrawl"]
    )


def test_the_admin_commands_load_no_scrapy() -> None:
    import subprocess
    import sys

    code = (
        "import sys, newscrawl.cluster.admin\n"
        "print(sorted(m for m in sys.modules"
        " if m.split('.')[0] in ('scrapy', 'twisted', 'scrapy_redis')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    )
    assert out.stdout.strip() == "[]"


def _settings(**cmdline: Any) -> Any:
    from scrapy.settings import Settings

    from newscrawl import settings as project

    settings = Settings()
    settings.setmodule(project, priority="project")
    settings.update(cmdline, priority="cmdline")
    return settings


def test_the_addon_does_nothing_without_a_cluster() -> None:
    from newscrawl.cluster import Cluster

    settings = _settings()
    before = settings.copy_to_dict()
    Cluster().update_settings(settings)
    assert settings.copy_to_dict() == before


def test_the_addon_installs_the_cluster_and_its_download_handler() -> None:
    from scrapy.utils.misc import load_object

    from newscrawl.cluster import (
        ClaimPipeline,
        Cluster,
        ClusterDownloadHandler,
        ClusterIdle,
        Scheduler,
    )

    settings = _settings(NEWSCRAWL_CLUSTER="redis://127.0.0.1:1/0")
    Cluster().update_settings(settings)
    assert load_object(settings["SCHEDULER"]) is Scheduler
    assert settings["REDIS_URL"] == "redis://127.0.0.1:1/0"
    assert settings["DUPEFILTER_CLASS"] == "scrapy_redis.dupefilter.RFPDupeFilter"
    extensions = {load_object(k): v for k, v in settings["EXTENSIONS"].items()}
    assert extensions[ClusterIdle] == 600
    pipelines = {load_object(k): v for k, v in settings["ITEM_PIPELINES"].items()}
    assert pipelines[ClaimPipeline] == max(pipelines.values())
    handlers = settings["DOWNLOAD_HANDLERS"]
    for scheme in ("http", "https"):
        assert load_object(handlers[scheme]) is ClusterDownloadHandler
    # One worker a core: no extraction thread, unless asked for with -s.
    assert settings.getbool("NEWSCRAWL_EXTRACT_THREAD") is False
    settings = _settings(
        NEWSCRAWL_CLUSTER="redis://127.0.0.1:1/0", NEWSCRAWL_EXTRACT_THREAD="1"
    )
    Cluster().update_settings(settings)
    assert settings.getbool("NEWSCRAWL_EXTRACT_THREAD") is True


def test_the_addon_leaves_a_download_handler_of_another_kind() -> None:
    from newscrawl.cluster import Cluster

    other = "scrapy.core.downloader.handlers.http11.HTTP11DownloadHandler"
    settings = _settings(
        NEWSCRAWL_CLUSTER="redis://127.0.0.1:1/0",
        DOWNLOAD_HANDLERS={"http": other},
    )
    Cluster().update_settings(settings)
    assert settings["DOWNLOAD_HANDLERS"]["http"] == other
    assert "https" not in settings["DOWNLOAD_HANDLERS"]
