"""The extraction thread: page work off the event loop, its warm-up, its switch.

Extraction takes ~15-30 ms on a normal page but seconds on a hostile one (a page of
50,000 links, markup nested thousands deep). Run on the reactor thread, that stops
every download for as long. Callbacks therefore hand the CPU-bound part
(:func:`newscrawl.page.analyse_page`, feed and sitemap parsing, replay reads) to
one worker thread and await it: the event loop keeps downloading meanwhile (Python
switches threads every few milliseconds). One thread is enough: the GIL would not
let a second one run faster, and it keeps pages in arrival order.

``NEWSCRAWL_EXTRACT_THREAD`` (default on) turns the thread off: page work then
runs on the event loop. Cluster workers (:mod:`newscrawl.cluster`) do that by
default: they run one per core, and two processes of two busy threads each on
two cores fight over their GILs (on this project's 2-core machine, two threaded
workers fetched 1.0-1.3x the pages of one, two inline workers 1.6-2.0x).
"""

from __future__ import annotations

import asyncio
import gc
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TYPE_CHECKING, Any, Self, TypeVar

from scrapy import signals

from newscrawl import defaults

if TYPE_CHECKING:
    from collections.abc import Callable

    from scrapy.crawler import Crawler

T = TypeVar("T")

_executor: ThreadPoolExecutor | None = None
#: Page work runs on the event loop, not the thread (``NEWSCRAWL_EXTRACT_THREAD``).
_inline = False


def use_thread(enabled: bool) -> None:
    """Run page work on the extraction thread (the default) or on the event loop."""
    global _inline  # noqa: PLW0603 - one setting per process, set at spider open
    _inline = not enabled


def executor() -> ThreadPoolExecutor:
    global _executor  # noqa: PLW0603 - one worker thread per process, made on demand
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="newscrawl")
    return _executor


async def in_worker(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run ``fn`` on the extraction thread and await its result on the event loop."""
    if _inline:
        return fn(*args, **kwargs)
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(executor(), partial(fn, *args, **kwargs))


def warm_up() -> None:
    """Import and initialise the extraction stack once, before downloads start.

    First use imports trafilatura, charset_normalizer and friends (~0.5 s); done
    here at spider open, it does not stall downloads already in flight. What it
    built is then frozen out of the garbage collector: stalls of a few hundred ms
    in a long crawl were full collections walking every object of those libraries
    (dateparser's language data, trafilatura, lxml...).
    """
    from newscrawl.page import process_page  # noqa: PLC0415

    page = (
        b"<html><head><title>t</title></head><body><article><p>"
        + b"A warm-up paragraph of text. " * 20
        + b"</p></article></body></html>"
    )
    process_page(
        page,
        url="http://warm.up/2026/01/01/a-b-c",
        fetched_at="2026-01-01T00:00:00+00:00",
        verdict=True,
        max_links=1,
    )
    gc.collect()
    gc.freeze()


class ExtractionSetup:
    """Extension: at spider open, choose thread or loop and warm extraction up.

    First-use imports then happen before any download is in flight.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        ext = cls(crawler)
        crawler.signals.connect(ext.opened, signal=signals.spider_opened)
        return ext

    def opened(self) -> None:
        use_thread(defaults.getbool(self.crawler.settings, "NEWSCRAWL_EXTRACT_THREAD"))
        warm_up()
