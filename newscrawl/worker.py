"""Page work off the event loop: parsing, repair, extraction and link lists.

Extraction takes ~15-30 ms on a normal page but seconds on a hostile one (a page of
50,000 links, markup nested thousands deep). Run on the reactor thread, that stops
every download for as long. Callbacks therefore hand the CPU-bound part to one
worker thread and await it: the event loop keeps downloading meanwhile (Python
switches threads every few milliseconds). One thread is enough: the GIL would not
let a second one run faster, and it keeps pages in arrival order.

Stats counted during the work go to a :class:`LocalStats` and are added to the
crawl's stats on the loop thread, so the stats dict is only written by one thread.

``NEWSCRAWL_EXTRACT_THREAD`` (default on) turns the thread off: page work then
runs on the event loop. Cluster workers (:mod:`newscrawl.cluster`) do that by
default: they run one per core, and two processes of two busy threads each on
two cores fight over their GILs (on this project's 2-core machine, two threaded
workers fetched 1.0-1.3x the pages of one, two inline workers 1.6-2.0x).
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable

    from scrapy.http import TextResponse

    from newscrawl.classify import Verdict
    from newscrawl.items import ArticleItem

T = TypeVar("T")

#: An element this deep means hostile markup; libxml2 stops at 2,048 and drops the
#: rest, and some text heuristics go quadratic long before.
MAX_DEPTH = 256
_DEPTH_PROBE = "/*" * MAX_DEPTH
#: Tags kept when such a page is flattened: the ones that carry an article.
_KEEP = (
    "html|head|title|meta|link|script|style|body|article|main|header|footer|h[1-6]"
    "|p|time|a|img|figure|figcaption|picture|source|br|ul|ol|li|blockquote"
)
_STRIP_TAGS = re.compile(rf"</?(?!(?:{_KEEP})\b)[a-zA-Z][^>]*>".encode())

#: Links read per page: a page with 50,000 links must not stall the crawl.
MAX_LINKS_PER_PAGE = 2000
#: Links kept in a page's tree for extraction (more are dropped before it).
MAX_ANCHORS = 5000

_executor: ThreadPoolExecutor | None = None
#: Page work runs on the event loop, not the thread (``NEWSCRAWL_EXTRACT_THREAD``).
_inline = False


def use_thread(enabled: bool) -> None:
    """Run page work on the worker thread (the default) or on the event loop."""
    global _inline  # noqa: PLW0603 - one setting per process, set at spider open
    _inline = not enabled


def executor() -> ThreadPoolExecutor:
    global _executor  # noqa: PLW0603 - one worker thread per process, made on demand
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="newscrawl")
    return _executor


async def in_worker(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run ``fn`` on the worker thread and await its result on the event loop."""
    if _inline:
        return fn(*args, **kwargs)
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(executor(), partial(fn, *args, **kwargs))


@dataclass
class LocalStats:
    """A stats collector for one piece of work, merged into the crawl's later."""

    values: Counter[str] = field(default_factory=Counter)

    def inc_value(self, key: str, count: int = 1, start: int = 0) -> None:
        self.values[key] += count

    def merge_into(self, stats: Any) -> None:
        for key, value in self.values.items():
            stats.inc_value(key, value)


def warm_up() -> None:
    """Import and initialise the extraction stack once, before downloads start.

    First use imports trafilatura, charset_normalizer and friends (~0.5 s); done
    here at spider open, it does not stall downloads already in flight.
    """
    from scrapy.http import HtmlResponse  # noqa: PLC0415

    import newscrawl.encoding  # noqa: F401, PLC0415

    page = (
        b"<html><head><title>t</title></head><body><article><p>"
        + b"A warm-up paragraph of text. " * 20
        + b"</p></article></body></html>"
    )
    response = HtmlResponse("http://warm.up/2026/01/01/a-b-c", body=page)
    analyse_page(
        response,
        site=None,
        fetched_at="2026-01-01T00:00:00+00:00",
        verdict=True,
        max_links=1,
    )


def too_deep(response: TextResponse) -> bool:
    """Whether the page nests elements at least ``MAX_DEPTH`` deep."""
    root = response.selector.root
    return bool(root.xpath(_DEPTH_PROBE)) if root is not None else False


def flatten(response: TextResponse) -> TextResponse:
    """The page with every tag but the article-bearing ones removed."""
    return response.replace(body=_STRIP_TAGS.sub(b" ", response.body))


@dataclass
class PageResult:
    """What the worker found on one page."""

    item: ArticleItem | None
    verdict: Verdict | None
    hrefs: list[str]
    stats: LocalStats
    repaired: str | None = None
    #: The page's markup says it is an article (JSON-LD type, og:type).
    claims_article: bool = False


def analyse_page(
    response: TextResponse,
    *,
    site: str | None,
    fetched_at: str,
    verdict: bool,
    max_links: int,
) -> PageResult:
    """Extract the article, judge the page and list its links (worker thread)."""
    from newscrawl.classify import page_verdict  # noqa: PLC0415
    from newscrawl.extract import extract, page_selector  # noqa: PLC0415
    from newscrawl.structured import StructuredData  # noqa: PLC0415

    stats = LocalStats()
    repaired = None
    # A broken <base href> makes response.selector raise; this one copes and
    # stays on the response for everything below.
    page_selector(response)
    if too_deep(response):
        flat = flatten(response)
        repaired = "deep_nesting" if not too_deep(flat) else "deep_nesting_failed"
        stats.inc_value(f"newscrawl/repaired/{repaired}")
        if repaired == "deep_nesting":
            response = flat
        else:
            return PageResult(None, None, [], stats, repaired)
    hrefs = links(response, max_links) if max_links > 0 else []
    if len(hrefs) > max_links:
        stats.inc_value("newscrawl/links/page/capped")
        hrefs = hrefs[:max_links]
    pruned = prune_links(response)
    if pruned:
        stats.inc_value("newscrawl/repaired/links_pruned")
    structured = StructuredData(response.selector)
    item = extract(
        response, site=site, stats=stats, fetched_at=fetched_at, structured=structured
    )
    page = (
        page_verdict(response.selector, structured, item, response.url)
        if verdict
        else None
    )
    og_type = (structured.meta("og:type") or [""])[0].strip().lower()
    claims = bool(structured.article) or og_type.startswith("article")
    return PageResult(item, page, hrefs, stats, repaired, claims)


def prune_links(response: TextResponse) -> int:
    """Remove the links beyond ``MAX_ANCHORS`` from the parsed page.

    A page with tens of thousands of links (a sitemap page, a link farm) makes the
    text heuristics slow and some of lxml's C calls hold the GIL for long; the
    links are followed from the list taken before, and their text is no article.
    """
    root = response.selector.root
    if root is None or root.xpath("count(//a)") <= MAX_ANCHORS:
        return 0
    extra = root.xpath(f"(//a)[position() > {MAX_ANCHORS}]")
    for anchor in extra:
        parent = anchor.getparent()
        if parent is not None:
            # With its tail: separators between links, not article text.
            parent.remove(anchor)
    return len(extra)


def links(response: TextResponse, limit: int) -> list[str]:
    """The first ``limit`` + 1 link targets of the page (one more shows a cap)."""
    return [
        str(h)
        for h in response.selector.xpath(
            f"(//a/@href)[position() <= {limit + 1}]"
        ).getall()
    ]
