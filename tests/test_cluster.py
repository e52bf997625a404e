"""Cluster workers (``scrapy crawl news`` processes) share one Redis frontier.

Each worker is a real ``scrapy crawl`` process pointed at the same private
``redis-server`` (:mod:`newscrawl.cluster`) and the fault server of
:mod:`tests.faultserver`, which logs every request with its arrival time, the
requesting worker (its User-Agent) and the concurrency per host. The tests check
the guarantees the README gives: every article exported once across workers,
none lost when a worker is killed, seeds and late workers picked up within a
second, workers leaving by themselves after the idle grace, per-host limits held
by the cluster as a whole, and a dead-letter record of final failures.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

import pytest

from .faultserver import FaultServer, article_path
from .redisserver import private_redis
from .test_hostile import FAST, ROOT

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

ARTICLES = 40
#: Seconds a worker waits on a drained cluster before closing.
IDLE = 2
#: A polite delay between a worker's requests to the site: it is what a cluster
#: speeds up, and it keeps a local server from being drained by the first worker
#: before the second takes part.
DELAY = "0.2"
#: Each worker must finish by itself well within this.
TIMEOUT = 120
#: Log lines start with the time as seconds since the epoch (to the microsecond).
LOG_FORMAT = "%(created)f [%(name)s] %(levelname)s: %(message)s"


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from private_redis(tmp_path_factory, "redis", "scrapy_redis")


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[Any]:
    import redis

    with redis.Redis.from_url(redis_url) as client:
        client.flushdb()
        yield client


@dataclass
class Worker:
    """One running cluster worker, its log and when it exited."""

    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]
    exited_at: float | None = None
    _waiter: threading.Thread | None = field(default=None, repr=False)

    def start_waiting(self) -> None:
        def wait() -> None:
            self.proc.wait()
            self.exited_at = time.monotonic()

        self._waiter = threading.Thread(target=wait, daemon=True)
        self._waiter.start()

    def wait(self, timeout: float = TIMEOUT) -> int:
        assert self._waiter is not None
        self._waiter.join(timeout)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"worker {self.name} did not finish:\n{self.log()}")
        return int(self.proc.returncode)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def logged_at(self, pattern: str) -> float | None:
        """When (monotonic clock) the worker first logged ``pattern``."""
        offset = time.time() - time.monotonic()
        for line in self.log().splitlines():
            if re.search(pattern, line):
                created = line.split(" ", 1)[0]
                with contextlib.suppress(ValueError):
                    return float(created) - offset
        return None

    def cluster_id(self) -> str:
        found = re.search(r"Cluster worker (\S+) joined", self.log())
        assert found, self.log()
        return found.group(1)


def start_worker(
    out: Path,
    name: str,
    redis_url: str,
    *,
    urls: list[str] | None = None,
    proxy: str | None = None,
    **extra: str,
) -> Worker:
    """Start a cluster worker writing its feed under ``out/feeds`` (may be shared).

    Its User-Agent is ``worker-<name>`` so that the server can tell who asked.
    """
    (out / "feeds").mkdir(parents=True, exist_ok=True)
    settings = {
        **FAST,
        "NEWSCRAWL_STATE_DIR": str(out / f"state-{name}"),
        "FEEDS": json.dumps(
            {str(out / "feeds" / "%(time)s.jsonl"): {"format": "jsonlines"}}
        ),
        "ADDONS": json.dumps({"newscrawl.cluster.Cluster": 0}),
        "NEWSCRAWL_CLUSTER": redis_url,
        "NEWSCRAWL_STATE": redis_url,
        "NEWSCRAWL_CLUSTER_IDLE": str(IDLE),
        "DOWNLOAD_DELAY": DELAY,
        "USER_AGENT": f"worker-{name}",
        "LOG_FORMAT": LOG_FORMAT,
        **extra,
    }
    args = [sys.executable, "-m", "scrapy", "crawl", "news", "-a", "depth=1"]
    if urls:
        args += ["-a", "url=" + ",".join(urls)]
    for key, value in settings.items():
        args += ["-s", f"{key}={value}"]
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "tests"), str(ROOT)])
    if proxy:
        env["http_proxy"] = proxy
    log_path = out / f"log-{name}.txt"
    log_file = log_path.open("wb")
    proc = subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log_file
    )
    worker = Worker(name, proc, log_path, log_file)
    worker.start_waiting()
    return worker


@contextlib.contextmanager
def workers_cleaned_up(workers: list[Worker]) -> Iterator[list[Worker]]:
    try:
        yield workers
    finally:
        for worker in workers:
            if worker.proc.poll() is None:
                worker.proc.kill()
                worker.proc.wait()
            worker.log_file.close()


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    """Poll ``condition`` until it is true; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    pytest.fail(f"timed out waiting for {what}")


def feed_urls(feeds: Path) -> Counter[str]:
    """URLs of every complete line of the finished and unfinished feeds."""
    urls: Counter[str] = Counter()
    for feed in sorted(feeds.glob("*.jsonl*")):
        if not feed.name.endswith((".jsonl", ".jsonl.part")):
            continue
        data = feed.read_bytes()
        for line in data[: data.rfind(b"\n") + 1].splitlines():
            urls[json.loads(line)["url"]] += 1
    return urls


def by_worker(server: FaultServer, name: str, prefix: str = "") -> list[dict[str, Any]]:
    with server.log.lock:
        return [
            r
            for r in server.log.requests
            if r["headers"].get("User-Agent") == f"worker-{name}"
            and r["path"].startswith(prefix)
        ]


def logs(workers: list[Worker]) -> str:
    return "\n".join(f"--- {w.name}\n{w.log()[-4000:]}" for w in workers)


@pytest.mark.parametrize("state", ["sqlite", "redis"])
def test_two_workers_crawl_each_article_once(
    tmp_path: Path, redis_url: str, redis_client: Any, state: str
) -> None:
    with FaultServer() as server:
        seed = f"{server.url}/index/ok?n={ARTICLES}"
        # Each worker's own SQLite state, or the crawl state shared in Redis too.
        extra = {"NEWSCRAWL_STATE": redis_url if state == "redis" else "sqlite"}
        workers = [
            start_worker(tmp_path, name, redis_url, urls=[seed], **extra)
            for name in "ab"
        ]
        with workers_cleaned_up(workers):
            codes = [w.wait() for w in workers]
        fetched = Counter(path for path in server.log.paths() if "-story-" in path)
        per_worker = {w.name: len(by_worker(server, w.name, "/2026")) for w in workers}
    assert codes == [0, 0], logs(workers)
    wanted = {f"{server.url}{article_path('ok', i)}" for i in range(ARTICLES)}
    urls = feed_urls(tmp_path / "feeds")
    assert set(urls) == wanted, logs(workers)
    assert max(urls.values()) == 1, [u for u, n in urls.items() if n > 1]
    assert fetched == {article_path("ok", i): 1 for i in range(ARTICLES)}
    # Both took part: the work was shared, not done by one while the other idled.
    assert all(per_worker.values()), (per_worker, logs(workers))
    # Both feeds were finalised (none left .part for the next run to recover).
    assert not list((tmp_path / "feeds").glob("*.part"))


def test_the_next_cluster_run_forgets_the_seen_set_and_asks_the_state(
    tmp_path: Path, redis_url: str, redis_client: Any
) -> None:
    """The dupefilter lives for one run; whether to refetch is the state's call."""
    with FaultServer() as server:
        seed = f"{server.url}/index/ok?n=10"
        runs = []
        for run in range(2):
            out = tmp_path / f"run{run}"
            workers = [start_worker(out, n, redis_url, urls=[seed]) for n in "ab"]
            with workers_cleaned_up(workers):
                runs.append([w.wait() for w in workers])
            # Each run leaves nothing of its seen-set behind.
            assert not redis_client.exists("news:dupefilter")
        index_fetches = server.log.paths().count("/index/ok?n=10")
        fetched = Counter(path for path in server.log.paths() if "-story-" in path)
    assert runs == [[0, 0], [0, 0]], logs(workers)
    # The second run fetched its seed again (a seen-set that never forgot would
    # have dropped it)...
    assert index_fetches == 2
    # ...and the shared state's revisit policy skipped the known articles:
    # nothing fetched or exported twice, and "nothing new" is healthy.
    assert set(fetched.values()) == {1}
    assert len(feed_urls(tmp_path / "run0" / "feeds")) == 10
    assert not feed_urls(tmp_path / "run1" / "feeds")


def test_a_killed_worker_loses_nothing(
    tmp_path: Path, redis_url: str, redis_client: Any
) -> None:
    from newscrawl.cluster import status

    articles = 60
    with FaultServer() as server:
        server.slow_seconds = 0.2
        seed = f"{server.url}/index/slow?n={articles}"
        settings = {"NEWSCRAWL_CLUSTER_TTL": "2", "DOWNLOAD_DELAY": "0"}
        victim = start_worker(tmp_path, "a", redis_url, urls=[seed], **settings)
        survivor = start_worker(tmp_path, "b", redis_url, urls=[seed], **settings)
        with workers_cleaned_up([victim, survivor]):
            # Mid-crawl: the victim has done some work and has requests in flight.
            wait_for(
                lambda: len(by_worker(server, "a", "/2026")) >= 10,
                "the first worker to fetch 10 articles",
            )
            in_flight = wait_for(
                lambda: (
                    status(redis_client, "news")["workers"]
                    .get(victim.cluster_id(), {})
                    .get("processing")
                ),
                "the first worker to hold requests",
            )
            victim.proc.send_signal(signal.SIGKILL)
            assert victim.wait() == -signal.SIGKILL
            assert survivor.wait() == 0, logs([victim, survivor])
        fetched = Counter(path for path in server.log.paths() if "-story-" in path)
    wanted = {f"{server.url}{article_path('slow', i)}" for i in range(articles)}
    # The union of both workers' output (the victim's unfinished .part feed
    # included: the next run recovers it) holds every article, once.
    urls = feed_urls(tmp_path / "feeds")
    assert set(urls) == wanted, logs([victim, survivor])
    assert max(urls.values()) == 1, [u for u, n in urls.items() if n > 1]
    # The victim's unacknowledged requests were put back: some pages were fetched
    # twice (at-least-once delivery), never more than it held.
    log = survivor.log()
    assert "requests of dead workers put back" in log, log
    refetched = sum(1 for n in fetched.values() if n > 1)
    assert refetched <= in_flight + 1
    assert max(fetched.values()) <= 2
    # Nothing left behind in Redis: the last worker cleared the run.
    assert status(redis_client, "news")["queued"] == 0
    assert not redis_client.exists("news:dupefilter")


def test_seeds_and_late_workers_start_within_a_second(
    tmp_path: Path, redis_url: str, redis_client: Any
) -> None:
    from newscrawl.cli import main
    from newscrawl.cluster import status

    articles = 80
    with FaultServer() as server:
        server.slow_seconds = 0.2
        settings = {
            "NEWSCRAWL_CLUSTER_IDLE": "3",
            "CONCURRENT_REQUESTS_PER_DOMAIN": "2",
        }
        # No seeds of its own: it waits for the cluster's.
        first = start_worker(tmp_path, "a", redis_url, **settings)
        workers = [first]
        with workers_cleaned_up(workers):
            wait_for(lambda: first.logged_at("Cluster worker .* joined"), "a join")
            gone = f"{server.url}{article_path('status-404', 1)}"
            code = main(
                [
                    "seed",
                    redis_url,
                    "--url",
                    f"{server.url}/index/slow?n={articles}",
                    "--url",
                    gone,
                ]
            )
            pushed = time.monotonic()
            assert code == 0
            first_request = wait_for(
                lambda: [t for t in server.log.times() if t >= pushed],
                "a request after the seeds were pushed",
            )[0]
            # A worker started late, while the crawl runs, in the same directory.
            wait_for(lambda: len(by_worker(server, "a", "/2026")) >= 5, "five articles")
            late = start_worker(tmp_path, "b", redis_url, **settings)
            workers.append(late)
            codes = [w.wait() for w in workers]
            joined = late.logged_at("Cluster worker .* joined")
            late_requests = by_worker(server, "b")
        last_request = max(server.log.times())
        dead = status(redis_client, "news")["dead"]
    assert codes == [0, 0], logs(workers)
    assert first_request - pushed < 1.0
    assert joined is not None
    assert late_requests, logs(workers)
    assert late_requests[0]["at"] - joined < 1.0
    # Each left by itself once the cluster had been drained for the grace.
    for worker in workers:
        assert worker.exited_at is not None
        assert worker.exited_at - last_request >= 3.0 * 0.9
    urls = feed_urls(tmp_path / "feeds")
    wanted = {f"{server.url}{article_path('slow', i)}" for i in range(articles)}
    assert set(urls) == wanted
    assert max(urls.values()) == 1
    # The page that failed for good is in the dead-letter record, with its reason.
    assert dead[gone]["reason"] == "http_404", dead


def test_per_host_limits_hold_for_the_cluster(
    tmp_path: Path, redis_url: str, redis_client: Any
) -> None:
    with FaultServer() as server:
        server.slow_seconds = 0.3
        server.robots["polite.test"] = "User-agent: *\nCrawl-delay: 1\n"
        seeds = ["http://busy.test/index/slow?n=24", "http://polite.test/index/ok?n=5"]
        settings = {
            "CONCURRENT_REQUESTS_PER_DOMAIN": "2",
            # A worker takes no more from the shared queue than it can start: the
            # first to start must not hold the whole site while the other waits.
            "CONCURRENT_REQUESTS": "3",
            "DOWNLOAD_DELAY": "0",
        }
        workers = [
            start_worker(
                tmp_path, name, redis_url, urls=seeds, proxy=server.proxy, **settings
            )
            for name in "ab"
        ]
        with workers_cleaned_up(workers):
            codes = [w.wait() for w in workers]
        busy = {w.name: len(by_worker(server, w.name, "/2026")) for w in workers}
        polite = sorted(server.log.times(host="polite.test", prefix="/2026"))
        max_active = server.log.max_active["busy.test"]
        seen = [
            f"{r['at']:.3f} {r['headers'].get('User-Agent')} {r['path']}"
            for r in server.log.requests
            if r["host"] == "busy.test"
        ]
    assert codes == [0, 0], logs(workers)
    assert len(feed_urls(tmp_path / "feeds")) == 29
    # Two workers, each allowed 2 at once: 2 at once for the cluster, not 4.
    assert all(busy.values()), busy
    assert max_active == 2, seen
    # robots.txt's Crawl-delay spaces the cluster's requests, not each worker's.
    gaps = [b - a for a, b in itertools.pairwise(polite)]
    assert len(gaps) == 4
    assert min(gaps) >= 0.95, gaps
