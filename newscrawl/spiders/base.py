"""What every newscrawl spider shares: validated arguments, counters, error handling."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Self

import scrapy
from scrapy.http import TextResponse
from scrapy.utils.gz import gunzip, gzip_magic_number

from newscrawl.discovery import (
    MAX_SITEMAP_BYTES,
    Entry,
    looks_like_feed,
    looks_like_sitemap,
    parse_feed,
    parse_sitemap,
)
from newscrawl.failures import failure_reason
from newscrawl.processors import absolute_url
from newscrawl.resilience import LISTING, looks_binary
from newscrawl.traps import TrapGuard
from newscrawl.worker import MAX_LINKS_PER_PAGE, in_worker

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable, Iterator

    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from twisted.python.failure import Failure

#: Request meta key: link hops taken from a start point.
HOPS = "newscrawl_hops"


class NewscrawlSpider(scrapy.Spider):
    """A spider whose ``-a`` arguments are a params dataclass, checked up front."""

    #: A class with ``from_spider_kwargs(**kwargs)`` that raises ``ArgumentError``.
    params_class: ClassVar[Any]

    @classmethod
    def check_arguments(cls, **kwargs: Any) -> Any:
        """Validate ``-a`` arguments; raise ``ArgumentError`` naming a bad one.

        ``_cluster`` (set for cluster workers) lets a spider start without seeds
        of its own: they come from the cluster (``newscrawl seed``).
        """
        # Underscore arguments come from tools (scrapyd's _job), not from users.
        params = {k: v for k, v in kwargs.items() if not k.startswith("_")}
        if kwargs.get("_cluster") and getattr(cls.params_class, "CLUSTER_SEEDS", False):
            params["_cluster"] = True
        return cls.params_class.from_spider_kwargs(**params)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Validate first: a bad argument must stop the run before any request.
        self.params = self.check_arguments(**kwargs)
        super().__init__(
            *args, **{k: v for k, v in kwargs.items() if k.startswith("_")}
        )
        #: Endless calendars, pagination, query permutations, link loops: bounded.
        self.traps = TrapGuard()

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        if crawler.settings.get("NEWSCRAWL_CLUSTER"):
            kwargs.setdefault("_cluster", "1")
        spider = super().from_crawler(crawler, *args, **kwargs)
        replay = getattr(spider.params, "replay", ())
        if replay:
            # Offline: serve from the archives, with no politeness delays (the
            # settings are not frozen yet; -s on the command line still wins).
            for name, value in {
                "NEWSCRAWL_REPLAY": list(replay),
                "DOWNLOAD_DELAY": 0,
                "AUTOTHROTTLE_ENABLED": False,
                "CONCURRENT_REQUESTS_PER_DOMAIN": 16,
                "NEWSCRAWL_WARC": "",
            }.items():
                crawler.settings.set(name, value, priority="spider")
        return spider

    def trapped(self, url: str, source: str) -> bool:
        """Whether ``url`` looks like a crawler trap (then counted, not followed)."""
        reason = self.traps.rejected(url)
        if reason is None:
            return False
        self._count(f"links/{source}/{reason}")
        return True

    @property
    def max_links(self) -> int:
        """Links read per page (``NEWSCRAWL_MAX_LINKS_PER_PAGE``)."""
        return self.crawler.settings.getint(
            "NEWSCRAWL_MAX_LINKS_PER_PAGE", MAX_LINKS_PER_PAGE
        )

    def _count(self, key: str, value: int = 1) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(f"newscrawl/{key}", value)

    def resume_requests(self) -> list[scrapy.Request]:
        """Requests a killed or stopped run left pending in the crawl state."""
        from newscrawl.persistence import state_of  # noqa: PLC0415

        state = state_of(self)
        if state is None:
            return []
        requests = []
        for pending in state.pending():
            callback = getattr(self, pending.callback, None)
            if callback is None:
                continue
            requests.append(
                scrapy.Request(
                    pending.url,
                    callback=callback,
                    errback=self.on_error,
                    meta={HOPS: pending.hops},
                    priority=pending.priority,
                )
            )
        if requests:
            self._count("state/resumed", len(requests))
            self.logger.info("Resuming %d pending requests", len(requests))
        return requests

    def _entries_to_requests(
        self, entries: Iterable[Entry], source: str, base: str
    ) -> Iterator[Any]:
        # Newest first: when a run is cut short, it has the freshest news.
        ordered = sorted(entries, key=Entry.sort_key, reverse=True)
        for rank, entry in enumerate(ordered):
            # Sitemaps should list absolute URLs; some list paths.
            url = absolute_url(entry.url, base)
            if url is None:
                self._count(f"links/{source}/invalid")
                continue
            if not self.is_allowed(url):
                self._count(f"links/{source}/offsite")
                continue
            if entry.is_sitemap:
                yield self.listing_request(url, self.parse_sitemap)
                continue
            if (
                self.params.since
                and entry.published
                and entry.published[:10] < (self.params.since)
            ):
                self._count(f"links/{source}/too_old")
                continue
            rejected = self.entry_rejected(url)
            if rejected:
                self._count(f"links/{source}/{rejected.split(':')[0]}")
                continue
            if self.trapped(url, source):
                continue
            yield scrapy.Request(
                url,
                self.entry_callback,
                errback=self.on_error,
                meta={HOPS: 1},
                priority=max(0, 1000 - rank),
            )

    async def parse_feed(self, response: Response) -> AsyncIterator[Any]:
        body = response.body
        if looks_like_sitemap(body):
            async for out in self.parse_sitemap(response):
                yield out
            return
        # A feed can be megabytes: parsed on the worker thread, off the event loop.
        entries = await in_worker(parse_feed, body, response.url)
        self._count("discovery/feed_entries", len(entries))
        if not entries:
            self._count("skipped/empty_feed")
            self.logger.warning("No entries in feed %s", response.url)
        for out in self._entries_to_requests(entries, "feed", response.url):
            yield out

    async def parse_sitemap(self, response: Response) -> AsyncIterator[Any]:
        result = await in_worker(
            _read_listing, response.body, gzip_magic_number(response), response.url
        )
        if result is None:
            self._count("skipped/sitemap_too_large")
            self.fail_page(response, "too_large")
            return
        kind, entries = result
        if kind not in ("urlset", "sitemapindex", "feed"):
            self._count("skipped/not_sitemap")
            self.logger.warning("Not a sitemap: %s", response.url)
            return
        self._count("discovery/sitemap_entries", len(entries))
        for out in self._entries_to_requests(entries, "sitemap", response.url):
            yield out

    def listing_request(self, url: str, callback: Any) -> scrapy.Request:
        """A request for a sitemap or feed: allowed the sitemap protocol's 50 MB."""
        return scrapy.Request(
            url,
            callback,
            errback=self.on_error,
            meta={"download_maxsize": MAX_SITEMAP_BYTES, LISTING: True},
        )

    def is_allowed(self, url: str) -> bool:
        """Whether ``url`` is on the crawl's site(s); spiders define it."""
        raise NotImplementedError

    def page_request(self, url: str) -> scrapy.Request:
        """The request for a start page given by URL; spiders define it."""
        raise NotImplementedError

    def allow_urls(self, urls: Iterable[str]) -> None:
        """Bring the sites of ``urls`` (seeds given to the cluster) into scope."""

    def seed_requests(self, kind: str, url: str) -> list[scrapy.Request]:
        """The requests for a seed pushed to the cluster (``newscrawl seed``)."""
        if kind == "feed":
            return [self.listing_request(url, self.parse_feed)]
        if kind == "sitemap":
            return [self.listing_request(url, self.parse_sitemap)]
        return [self.page_request(url)]

    def entry_rejected(self, url: str) -> str | None:
        """Why a sitemap or feed entry is not requested, or ``None``."""
        return None

    def entry_callback(self, response: Response) -> AsyncIterator[Any]:
        """The callback for the pages sitemaps and feeds list."""
        raise NotImplementedError

    def on_error(self, failure: Failure) -> None:
        """Count, log and record a failed request by its reason code.

        Final failures (gone, off-site redirect, not HTML...) are never requested
        again; transient ones stay pending for later runs (see
        :mod:`newscrawl.failures`).
        """
        request = getattr(failure, "request", None)
        reason = failure_reason(failure)
        detail = getattr(failure.value, "detail", "")
        url = request.url if request is not None else "?"
        self._count(f"request_failed/{reason}")
        self.logger.warning(
            "Request failed (%s%s): %s", reason, f" -> {detail}" if detail else "", url
        )
        if request is not None:
            self._record_failure(request, reason, detail)

    def unusable(self, response: Response) -> bool:
        """Fail a fetched page that cannot be an HTML article (and say so)."""
        if not isinstance(response, TextResponse) or looks_binary(response.body):
            # No Content-Type, and the body sniffs as binary.
            self.fail_page(response, "not_html")
            return True
        if not response.body.strip():
            self.fail_page(response, "empty_body")
            return True
        return False

    def fail_page(self, response: Response, reason: str, detail: str = "") -> None:
        """A page fetched but unusable (empty, not HTML, no article body)."""
        self._count(f"request_failed/{reason}")
        self.logger.warning("Page failed (%s): %s", reason, response.url)
        if response.request is not None:
            self._record_failure(response.request, reason, detail)

    def _record_failure(
        self, request: scrapy.Request, reason: str, detail: str
    ) -> None:
        from newscrawl.persistence import record_failure  # noqa: PLC0415

        record_failure(self.crawler, request, reason, detail)


def _read_listing(
    body: bytes, gzipped: bool, url: str
) -> tuple[str, list[Entry]] | None:
    """Parse a sitemap (maybe gzipped) or a feed served as one; None if too large."""
    if gzipped:
        try:
            body = gunzip(body, max_size=MAX_SITEMAP_BYTES)
        except ValueError:
            return None
    if looks_like_feed(body):
        return "feed", parse_feed(body, url)
    return parse_sitemap(body)
