"""The cluster's uses of Scrapy's and scrapy-redis's internals still hold.

:mod:`newscrawl.cluster.scrapy_glue` is the one place where the cluster reaches
into them. These tests fail when an upgrade changes what it relies on: first the
names and signatures, then a real in-process crawl (``data:`` URLs, no network)
through each glue function.
"""

from __future__ import annotations

import inspect
from typing import Any, ClassVar

from scrapy import Request, Spider, signals
from scrapy.core.downloader import Downloader, Slot
from scrapy.core.engine import ExecutionEngine, _Slot
from scrapy.core.scheduler import Scheduler
from scrapy.utils.defer import deferred_f_from_coro_f
from scrapy.utils.reactor import CallLaterOnce
from scrapy.utils.test import get_crawler
from scrapy_redis.queue import Base, FifoQueue, PriorityQueue

from newscrawl.cluster import scrapy_glue

DELAY = 0.25


def parameters(function: Any) -> list[str]:
    return list(inspect.signature(function).parameters)


def test_the_engine_slot_is_what_the_glue_expects() -> None:
    # ExecutionEngine._slot is a _Slot once the spider is open; its
    # remove_request(request) is called when the engine is done with a request.
    assert "self._slot" in inspect.getsource(ExecutionEngine.__init__)
    assert parameters(_Slot.remove_request) == ["self", "request"]
    assert "_slot.remove_request(request)" in inspect.getsource(ExecutionEngine)
    slot = _Slot(
        close_if_idle=True, nextcall=CallLaterOnce(lambda: None), scheduler=None
    )
    assert callable(slot.nextcall.schedule)
    assert slot.closing is None
    # cluster_of relies on this public property (new in Scrapy 2.19).
    assert isinstance(ExecutionEngine.scheduler, property)


def test_the_downloader_slots_are_what_the_glue_expects() -> None:
    assert "self.slots" in inspect.getsource(Downloader.__init__)
    assert "delay" in parameters(Slot.__init__)
    assert Slot(1, DELAY, 0).delay == DELAY
    assert Downloader.DOWNLOAD_SLOT == "download_slot"


def test_scrapy_redis_queues_encode_and_decode_requests() -> None:
    assert parameters(Base._encode_request) == ["self", "request"]
    assert parameters(Base._decode_request) == ["self", "encoded_request"]
    spider = Spider(name="glue")
    request = Request("https://example.com/a", priority=3, meta={"x": 1})
    for queue_cls in (FifoQueue, PriorityQueue):
        queue = queue_cls(server=None, spider=spider, key="%(spider)s:requests")
        data = scrapy_glue.encode_request(queue, request)
        again = scrapy_glue.decode_request(queue, data)
        assert (again.url, again.priority, again.meta) == (request.url, 3, {"x": 1})


class RecordingScheduler(Scheduler):
    """Scrapy's scheduler, told through the glue when each request is done."""

    events: ClassVar[list[tuple[str, str]]] = []

    @classmethod
    def from_crawler(cls, crawler: Any) -> Any:
        scheduler = super().from_crawler(crawler)
        scheduler.glue_crawler = crawler
        return scheduler

    def open(self, spider: Spider) -> Any:
        result = super().open(spider)
        scrapy_glue.on_request_finished(self.glue_crawler, self.finished)
        return result

    def finished(self, request: Request) -> None:
        self.events.append(("finished", request.url))


class GlueSpider(Spider):
    name = "glue"
    delays: ClassVar[list[float]] = []

    async def start(self) -> Any:
        yield Request("data:,one", meta={"download_slot": "glue"})

    def parse(self, response: Any) -> Any:
        assert self.crawler is not None
        scrapy_glue.wake_engine(self.crawler)
        self.delays.append(scrapy_glue.download_delay(self.crawler, response.request))
        if response.url == "data:,one":
            yield Request("data:,two", meta={"download_slot": "glue"})
        yield {"url": response.url}


@deferred_f_from_coro_f
async def test_a_crawl_through_the_glue() -> None:
    RecordingScheduler.events.clear()
    GlueSpider.delays.clear()
    crawler = get_crawler(
        GlueSpider,
        {
            "SCHEDULER": f"{__name__}.RecordingScheduler",
            "DOWNLOAD_DELAY": DELAY,
            "LOG_LEVEL": "WARNING",
        },
    )
    events = RecordingScheduler.events

    def scraped(item: Any) -> None:
        events.append(("item", item["url"]))

    def scheduled(request: Request) -> None:
        events.append(("scheduled", request.url))

    crawler.signals.connect(scraped, signal=signals.item_scraped)
    crawler.signals.connect(scheduled, signal=signals.request_scheduled)
    await crawler.crawl_async()
    assert crawler.stats is not None
    assert crawler.stats.get_value("finish_reason") == "finished"
    # Each request is reported once, after its callback's items went through
    # the pipelines and its new requests were scheduled.
    assert events == [
        ("scheduled", "data:,one"),
        ("scheduled", "data:,two"),
        ("item", "data:,one"),
        ("finished", "data:,one"),
        ("item", "data:,two"),
        ("finished", "data:,two"),
    ]
    # The downloader slot the requests went through holds the delay.
    assert GlueSpider.delays == [DELAY, DELAY]
