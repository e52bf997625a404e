"""Two ``scrapy crawl news`` workers share one Redis frontier and crawl a site once.

Each worker is a real ``scrapy crawl`` process with its own feed and state
directory; both are pointed at the same private ``redis-server`` with the
cluster addon (:mod:`newscrawl.cluster`) and the same seed. Together they must
export every article of the fault server's index exactly once, fetch each once,
and both exit 0 by themselves once the shared frontier is drained.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections import Counter
from typing import IO, TYPE_CHECKING, Any

import pytest

from .faultserver import FaultServer, article_path
from .redisserver import REDIS_SERVER, redis_server
from .test_hostile import FAST, ROOT

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

ARTICLES = 40
#: Seconds a worker waits on a drained cluster before closing.
IDLE = 2
#: A polite delay between a worker's requests to the site: it is what a cluster
#: speeds up, and it keeps a local server from being drained by the first worker
#: before the second takes part (a worker exporting nothing exits 4, see below).
DELAY = "0.2"
#: Each worker must finish by itself well within this.
TIMEOUT = 120


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    pytest.importorskip(
        "scrapy_redis",
        reason="scrapy-redis is not installed (pip install 'scrapy-redis==0.9.1')",
    )
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


def worker(
    out: Path, seed: str, redis_url: str, log: IO[bytes], **extra: str
) -> subprocess.Popen[bytes]:
    """Start one cluster worker writing its feed and state under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    settings = {
        **FAST,
        "NEWSCRAWL_STATE_DIR": str(out / "state"),
        "FEEDS": json.dumps(
            {str(out / "feeds" / "%(time)s.jsonl"): {"format": "jsonlines"}}
        ),
        "ADDONS": json.dumps({"newscrawl.cluster.Cluster": 0}),
        "NEWSCRAWL_CLUSTER": redis_url,
        "NEWSCRAWL_CLUSTER_IDLE": str(IDLE),
        "DOWNLOAD_DELAY": DELAY,
        **extra,
    }
    args = [sys.executable, "-m", "scrapy", "crawl", "news"]
    args += ["-a", f"url={seed}", "-a", "depth=1"]
    for name, value in settings.items():
        args += ["-s", f"{name}={value}"]
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "tests"), str(ROOT)])
    return subprocess.Popen(
        args,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )


def run_cluster(
    tmp_path: Path, server: FaultServer, redis_url: str, workers: int, **extra: str
) -> tuple[list[int], list[dict[str, Any]], float]:
    """Run ``workers`` workers at once; their exit codes, items and wall time."""
    seed = f"{server.url}/index/ok?n={ARTICLES}"
    codes: list[int] = []
    with contextlib.ExitStack() as stack:
        for i in range(workers):
            (tmp_path / f"w{i}").mkdir()
        log_files = [
            stack.enter_context((tmp_path / f"w{i}" / "log.txt").open("wb"))
            for i in range(workers)
        ]
        started = time.monotonic()
        procs = [
            worker(tmp_path / f"w{i}", seed, redis_url, log_files[i], **extra)
            for i in range(workers)
        ]
        try:
            codes = [proc.wait(timeout=TIMEOUT) for proc in procs]
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
    elapsed = time.monotonic() - started
    items = [
        json.loads(line)
        for i in range(workers)
        for feed in sorted((tmp_path / f"w{i}" / "feeds").glob("*.jsonl"))
        for line in feed.read_text("utf-8").splitlines()
    ]
    return codes, items, elapsed


def logs(tmp_path: Path) -> str:
    return "\n".join(
        f"--- {log}\n{log.read_text(errors='replace')[-4000:]}"
        for log in sorted(tmp_path.glob("w*/log.txt"))
    )


@pytest.mark.parametrize("state", ["sqlite", "redis"])
def test_two_workers_crawl_each_article_once(
    tmp_path: Path, redis_url: str, state: str
) -> None:
    import redis

    with redis.Redis.from_url(redis_url) as client:
        client.flushdb()
    # Local SQLite states (one per worker), or the crawl state shared in Redis too.
    extra = {"NEWSCRAWL_STATE": redis_url if state == "redis" else "sqlite"}
    with FaultServer() as server:
        codes, items, elapsed = run_cluster(tmp_path, server, redis_url, 2, **extra)
        fetched = Counter(path for path in server.log.paths() if "-story-" in path)
    assert codes == [0, 0], logs(tmp_path)
    wanted = {f"{server.url}{article_path('ok', i)}" for i in range(ARTICLES)}
    urls = Counter(item["url"] for item in items)
    assert set(urls) == wanted, logs(tmp_path)
    assert max(urls.values()) == 1, [u for u, n in urls.items() if n > 1]
    assert fetched == {article_path("ok", i): 1 for i in range(ARTICLES)}
    # Both took part: the work was shared, not done by one while the other idled.
    # (A worker that exported nothing would also exit 4, "no articles".)
    per_worker = [
        sum(
            1
            for feed in (tmp_path / f"w{i}" / "feeds").glob("*.jsonl")
            for _ in feed.read_text("utf-8").splitlines()
        )
        for i in range(2)
    ]
    assert all(per_worker), (per_worker, logs(tmp_path))
    assert elapsed < TIMEOUT
