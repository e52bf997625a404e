"""Hostile servers and pages: every fault of the fault server, each URL accounted for.

One crawl of the ``news`` spider (a real ``scrapy crawl`` process) requests one URL
per fault; each test row then checks that fault's outcome: an exported item, or a
failure with its reason in the stats, the run report and the crawl state (final,
or pending for the next run). Separate crawls cover what needs its own setup:
several hosts through the server as a proxy (cool-down, private redirects,
Crawl-delay), bombs and memory, and duplicates under AMP and tracking URLs.
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from newscrawl.state.sqlite import SQLiteState

from .faultserver import FaultServer, article_path, bomb

ROOT = Path(__file__).resolve().parent.parent

#: Small timeouts and backoffs: the faults are the same, the test is fast.
FAST = {
    "DOWNLOAD_TIMEOUT": "2",
    "NEWSCRAWL_BACKOFF_BASE": "0.05",
    "NEWSCRAWL_BACKOFF_MAX": "0.2",
    "NEWSCRAWL_HOST_MAX_FAILURES": "1000",
    "AUTOTHROTTLE_ENABLED": "0",
    "DOWNLOAD_DELAY": "0",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "8",
    "LOG_LEVEL": "INFO",
}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Run:
    """One finished crawl: its exit code, report, items, state and log."""

    def __init__(self, out: Path, result: subprocess.CompletedProcess[str]) -> None:
        self.out = out
        self.returncode = result.returncode
        self.log = result.stderr
        reports = sorted((out / "feeds").glob("*.report.json"))
        self.report = json.loads(reports[-1].read_text()) if reports else {}
        self.items = [
            json.loads(line)
            for feed in sorted((out / "feeds").glob("*.jsonl"))
            for line in feed.read_text("utf-8").splitlines()
        ]

    def urls(self) -> set[str]:
        return {item["url"] for item in self.items}

    def state(self, spider: str = "news") -> SQLiteState:
        return SQLiteState(self.out / "state" / f"{spider}.sqlite")


def crawl_args(
    out: Path,
    urls: list[str],
    settings: dict[str, str],
    *,
    spider: str = "news",
    depth: int | None = 0,
    spider_args: dict[str, str] | None = None,
) -> list[str]:
    """The ``scrapy crawl`` command line of a crawl of ``urls`` into ``out``.

    ``out`` gets the seeds file, the crawl state (``state/``) and the feed and run
    report (``feeds/``).
    """
    out.mkdir(parents=True, exist_ok=True)
    seeds = out / "seeds.txt"
    seeds.write_text("\n".join(urls) + "\n")
    options = {
        "NEWSCRAWL_STATE_DIR": str(out / "state"),
        "FEEDS": json.dumps(
            {str(out / "feeds" / "%(time)s.jsonl"): {"format": "jsonlines"}}
        ),
        **settings,
    }
    args = [sys.executable, "-m", "scrapy", "crawl", spider]
    args += ["-a", f"urls_file={seeds}"]
    if depth is not None:
        args += ["-a", f"depth={depth}"]
    for name, value in (spider_args or {}).items():
        args += ["-a", f"{name}={value}"]
    for name, value in options.items():
        args += ["-s", f"{name}={value}"]
    return args


def crawl(
    out: Path,
    urls: list[str],
    settings: dict[str, str] | None = None,
    *,
    proxy: str | None = None,
    depth: int | None = 0,
    timeout: float = 240,
    spider: str = "news",
    spider_args: dict[str, str] | None = None,
) -> Run:
    args = crawl_args(
        out,
        urls,
        {**FAST, **(settings or {})},
        spider=spider,
        depth=depth,
        spider_args=spider_args,
    )
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "tests"), str(ROOT)])
    if proxy:
        env["http_proxy"] = proxy
    result = subprocess.run(
        args,
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Run(out, result)


# fault -> (expected outcome, final?) ; "item" means exported.
TABLE: dict[str, tuple[str, bool]] = {
    "ok": ("item", False),
    "slow": ("item", False),
    "silent": ("timeout", False),
    "headers-silence": ("timeout", False),
    "trickle": ("timeout", False),
    "short-cl": ("data_loss", False),
    "chunk-cut": ("data_loss", False),
    "reset": ("connection_lost", False),
    "garbage-status": ("protocol_error", False),
    "garbage-headers": ("protocol_error", False),
    "status-500": ("http_500", False),
    "status-502": ("http_502", False),
    "status-503": ("http_503", False),
    "flaky": ("item", False),
    "ratelimit": ("item", False),
    "status-404": ("http_404", True),
    "status-410": ("http_410", True),
    "redirect-loop": ("redirect_loop", True),
    "redirect-pingpong": ("redirect_loop", True),
    "meta-refresh-loop": ("redirect_loop", True),
    "redirect-offsite": ("redirect_offsite", True),
    "redirect-ok": ("item", False),
    "empty": ("empty_body", False),
    "pdf": ("not_html", True),
    "image": ("not_html", True),
    "no-ctype": ("item", False),
    "no-ctype-pdf": ("not_html", True),
    "huge": ("too_large", True),
    "huge-nocl": ("too_large", True),
    "bomb-gzip": ("too_large", True),
    "bomb-gzip-nocl": ("too_large", True),
    "bomb-deflate": ("too_large", True),
    "bomb-br": ("too_large", True),
    "bomb-zstd": ("too_large", True),
    "wrong-encoding": ("bad_content_encoding", True),
    "gzip": ("item", False),
    "bad-utf8": ("item", False),
    "cp1252-lying": ("item", False),
    "win1256": ("item", False),
    "shift-jis": ("item", False),
    "tagsoup": ("item", False),
    "deep": ("item", False),
}
EXTRA = {
    "robots": ("robots_disallowed", True),
    "refused": ("connection_refused", False),
}


@pytest.fixture(scope="module")
def faults():
    for kind in ("gzip", "deflate", "br", "zstd"):
        bomb(kind)  # built before the crawl: building one takes longer than a timeout
    with FaultServer() as server:
        server.hold_seconds = 6
        server.retry_after = 1
        yield server


@pytest.fixture(scope="module")
def table_run(faults, tmp_path_factory):
    urls = {fault: faults.url + article_path(fault) for fault in TABLE}
    urls["robots"] = faults.url + "/private" + article_path("ok")
    urls["refused"] = f"http://127.0.0.1:{closed_port()}" + article_path("ok")
    run = crawl(tmp_path_factory.mktemp("table"), list(urls.values()))
    return run, urls


def test_the_crawl_finishes_and_every_line_is_valid(table_run):
    run, _ = table_run
    assert run.returncode == 0, run.log[-3000:]
    assert run.report["finish_reason"] == "finished"
    feeds = list((run.out / "feeds").glob("*.jsonl"))
    assert feeds
    assert not list((run.out / "feeds").glob("*.part"))
    for feed in feeds:
        for line in feed.read_text("utf-8").splitlines():
            assert isinstance(json.loads(line), dict)


@pytest.mark.parametrize("fault", [*TABLE, *EXTRA])
def test_fault_outcome(table_run, fault):
    run, urls = table_run
    url = urls[fault]
    outcome, final = {**TABLE, **EXTRA}[fault]
    state = run.state()
    try:
        record = state.failure(url)
        pending = {p.url for p in state.pending()}
        seen = state.seen(url)
    finally:
        state.close()
    if outcome == "item":
        exported = url.replace("redirect-ok-story-", "ok-story-r")
        assert exported in run.urls(), run.log[-3000:]
        assert record is None
        assert url not in pending
        assert seen is not None or fault == "redirect-ok"
        return
    assert url not in run.urls()
    assert run.report["request_failed"].get(outcome, 0) >= 1, run.report[
        "request_failed"
    ]
    assert record is not None, f"{fault}: no failure recorded"
    assert record.reason == outcome
    # Exactly one outcome: a final failure leaves the frontier, a transient one
    # stays pending for the next run.
    assert record.final is final
    assert (url in pending) is (not final)


def test_every_url_is_accounted_for_exactly_once(table_run):
    run, urls = table_run
    state = run.state()
    try:
        pending = {p.url for p in state.pending()}
        outcomes = {}
        for fault, url in urls.items():
            record = state.failure(url)
            exported = url.replace("redirect-ok-story-", "ok-story-r") in run.urls()
            kinds = [
                exported,
                record is not None and record.final,
                url in pending,
            ]
            outcomes[fault] = kinds
    finally:
        state.close()
    assert {f: k for f, k in outcomes.items() if sum(k) != 1} == {}


def test_retry_after_is_honoured(table_run, faults):
    times = faults.log.times(prefix=article_path("ratelimit"))
    assert len(times) == 2
    assert times[1] - times[0] >= faults.retry_after * 0.95


def test_server_errors_are_retried_then_recorded(table_run, faults):
    _run, _ = table_run
    # RETRY_TIMES = 2: three attempts, then a transient failure.
    assert len(faults.log.times(prefix=article_path("status-503"))) == 3
    assert len(faults.log.times(prefix=article_path("flaky"))) == 3
    # No retry where it is pointless: a protocol error, a refused content type.
    assert len(faults.log.times(prefix=article_path("garbage-status"))) == 1
    assert len(faults.log.times(prefix=article_path("pdf"))) == 1


def test_text_survives_lying_charsets_and_bad_markup(table_run):
    run, urls = table_run
    by_url = {item["url"]: item for item in run.items}
    titles = {
        "bad-utf8": "Caf\u00e9 cr\u00e8me returns to the high street",
        "cp1252-lying": "L\u2019\u00e9t\u00e9 \u00e0 Montr\u00e9al: \u201cd\u00e9j\u00e0 vu\u201d",
        "win1256": "\u0627\u0644\u0645\u062c\u0644\u0633 \u064a\u0648\u0627\u0641\u0642"
        " \u0639\u0644\u0649 \u0627\u0644\u062e\u0637\u0629",
        "shift-jis": "\u8b70\u4f1a\u304c\u8a08\u753b\u3092\u627f\u8a8d\u3057\u305f",
        "tagsoup": "Tag soup survives the parser",
        "deep": "Nested five thousand deep",
    }
    for fault, title in titles.items():
        item = by_url[urls[fault]]
        assert item["title"] == title, fault
        assert "Paragraph 3 of the report" in item["body"], fault
    assert run.report["repaired"].get("deep_nesting") == 1


def test_the_report_counts_failures_and_pending(table_run):
    run, _ = table_run
    transient = sum(1 for o, final in {**TABLE, **EXTRA}.values() if o != "item")
    assert run.report["pending"] == sum(
        1 for o, final in {**TABLE, **EXTRA}.values() if o != "item" and not final
    )
    # The ping-pong redirect fails two URLs: the seed and the one it bounces to.
    assert (
        sum(run.report["failed_final"].values())
        == transient - run.report["pending"] + 1
    )
    assert run.report["event_loop"]["max_stall_ms"] >= 0
    assert run.report["peak_rss_bytes"] > 0


def test_transient_failures_are_retried_by_later_runs_then_given_up(faults, tmp_path):
    url = faults.url + article_path("status-500", "again")
    for attempt in (1, 2, 3):
        run = crawl(tmp_path, [url], {"RETRY_TIMES": "0"})
        state = run.state()
        record = state.failure(url)
        pending = {p.url for p in state.pending()}
        state.close()
        assert record is not None
        assert record.attempts == attempt
        assert record.final is (attempt == 3)
        assert (url in pending) is (attempt < 3)
    # A fourth run does not request it at all.
    before = len(faults.log.times(prefix=article_path("status-500", "again")))
    crawl(tmp_path, [url], {"RETRY_TIMES": "0"})
    after = len(faults.log.times(prefix=article_path("status-500", "again")))
    assert after == before


def test_a_failing_host_is_cooled_down_while_others_go_on(faults, tmp_path):
    dead = [f"http://dead.test{article_path('reset', i)}" for i in range(12)]
    good = [f"http://good.test{article_path('ok', i)}" for i in range(12)]
    run = crawl(
        tmp_path,
        [u for pair in zip(dead, good, strict=True) for u in pair],
        {
            "NEWSCRAWL_HOST_MAX_FAILURES": "3",
            "RETRY_TIMES": "1",
            "CONCURRENT_REQUESTS_PER_DOMAIN": "2",
        },
        proxy=faults.proxy,
    )
    assert run.returncode == 0, run.log[-3000:]
    assert run.urls() == set(good)
    assert run.report["hosts"]["cooled_down"] == 1
    failed = run.report["request_failed"]
    assert failed["host_cooled_down"] >= 1
    assert failed["host_cooled_down"] + failed["connection_lost"] == len(dead)
    # The dead host was not hammered: three failures (and what was in flight
    # then, two at most), then nothing.
    assert len(faults.log.times(host="dead.test", prefix="/2026")) <= 6
    state = run.state()
    pending = {p.url for p in state.pending()}
    state.close()
    assert set(dead) <= pending  # all left for the next run


def test_redirect_from_public_to_private_address_is_refused(faults, tmp_path):
    url = f"http://public.test{article_path('redirect-private')}"
    run = crawl(tmp_path / "refused", [url], proxy=faults.proxy)
    assert run.report["request_failed"] == {"redirect_private": 1}
    # Allowed by the setting, the redirect is then judged as any other: the
    # loopback host is another site, so it is refused as off-site.
    run = crawl(
        tmp_path / "allowed",
        [url],
        {"NEWSCRAWL_ALLOW_PRIVATE": "1"},
        proxy=faults.proxy,
    )
    assert run.report["request_failed"] == {"redirect_offsite": 1}


def test_crawl_delay_from_robots_txt_is_enforced(faults, tmp_path):
    faults.robots["polite.test"] = "User-agent: *\nCrawl-delay: 1\n"
    urls = [f"http://polite.test{article_path('ok', i)}" for i in range(4)]
    run = crawl(
        tmp_path,
        urls,
        # AutoThrottle on, no delay of our own: the floor must hold against it.
        {"AUTOTHROTTLE_ENABLED": "1", "AUTOTHROTTLE_START_DELAY": "0"},
        proxy=faults.proxy,
    )
    assert run.urls() == set(urls)
    times = sorted(faults.log.times(host="polite.test", prefix="/2026"))
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(gaps) == 3
    assert min(gaps) >= 0.95, gaps


def test_bombs_and_huge_bodies_are_rejected_without_a_memory_spike(faults, tmp_path):
    baseline = crawl(tmp_path / "base", [faults.url + article_path("ok", "m")])
    bombs = [
        "bomb-gzip",
        "bomb-gzip-nocl",
        "bomb-deflate",
        "bomb-br",
        "bomb-zstd",
        "huge",
        "huge-nocl",
    ]
    run = crawl(tmp_path / "bombs", [faults.url + article_path(b, "m") for b in bombs])
    assert run.report["request_failed"] == {"too_large": len(bombs)}
    rise = run.report["peak_rss_bytes"] - baseline.report["peak_rss_bytes"]
    assert rise < 100 * 1024 * 1024, rise


def test_tracking_amp_and_canonical_variants_give_one_item(faults, tmp_path):
    # The utm page links to itself with utm_* parameters, /amp and ?amp=1; the
    # "canonical" page is a copy of ok-story-1 that says so.
    urls = [
        faults.url + article_path("utm", "v"),
        faults.url + article_path("ok", "1"),
        faults.url + article_path("canonical", "1"),
    ]
    run = crawl(tmp_path, urls, depth=1)
    # One item per article; the copy and the original (fetched in any order) are
    # one article, under its canonical URL.
    assert len(run.items) == 2
    assert {item["canonical_url"] for item in run.items} == set(urls[:2])
    variants = [
        p
        for p in faults.log.paths()
        if p.startswith(
            (article_path("utm", "v") + "?", article_path("utm", "v") + "/")
        )
    ]
    # The utm_* link is the page itself (tracking parameters are dropped from
    # links): never fetched. AMP variants fetched are dropped as duplicates, as
    # is the copy whose canonical link names ok-story-1.
    assert not any("utm_" in p for p in variants)
    dropped = run.report["dropped"]
    assert dropped.get("duplicate_url", 0) == len(variants) + 1, variants


def test_a_page_of_fifty_thousand_links_is_capped(faults, tmp_path):
    run = crawl(
        tmp_path,
        [faults.url + article_path("many-links")],
        {"NEWSCRAWL_MAX_LINKS_PER_PAGE": "30"},
        depth=1,
    )
    assert run.returncode == 0, run.log[-3000:]
    assert run.report["links_skipped"]["page/capped"] == 1
    # The page itself and the 30 links read from it.
    assert len(run.items) == 31
    assert run.report["repaired"]["links_pruned"] == 1


def test_crawler_traps_are_bounded(faults, tmp_path):
    # An endless relative-link path and an endless ?sort=N permutation, both
    # shaped like articles, with the deepest depth the spider allows.
    urls = [
        faults.url + article_path("loop") + "/",
        faults.url + article_path("sortloop", "t"),
    ]
    run = crawl(tmp_path, urls, depth=10)
    assert run.returncode == 0, run.log[-3000:]
    links = run.report["links_skipped"]
    assert links.get("page/trap_repeated_segments", 0) >= 1, links
    assert links.get("page/trap_query_permutations", 0) >= 1, links
    fetched = [p for p in faults.log.paths() if "loop" in p]
    assert len(fetched) <= 40, fetched


def test_retries_wait_for_a_growing_backoff(faults, tmp_path):
    url = f"http://backoff.test{article_path('flaky', 'b')}"
    run = crawl(
        tmp_path,
        [url],
        {"NEWSCRAWL_BACKOFF_BASE": "0.3", "NEWSCRAWL_BACKOFF_MAX": "5"},
        proxy=faults.proxy,
    )
    assert run.urls() == {url}
    times = faults.log.times(host="backoff.test", prefix="/2026")
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # 503, 503, then 200: each retry waited for the host's doubled backoff.
    assert len(gaps) == 2
    assert gaps[0] >= 0.3 * 0.95, gaps
    assert gaps[1] >= 0.6 * 0.95, gaps


def test_concurrency_per_site_is_bounded_by_default(faults, tmp_path):
    faults.slow_seconds = 0.3
    urls = [f"http://busy.test{article_path('slow', i)}" for i in range(8)]
    defaults = {"CONCURRENT_REQUESTS_PER_DOMAIN": "2", "DOWNLOAD_DELAY": "0"}
    run = crawl(tmp_path, urls, defaults, proxy=faults.proxy)
    assert run.urls() == set(urls)
    assert faults.log.max_active["busy.test"] == 2
