"""What every newscrawl spider shares: arguments, start points, listings, errors."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Protocol, Self

import scrapy
from scrapy.http import TextResponse
from scrapy.utils.gz import gunzip, gzip_magic_number

from newscrawl import defaults
from newscrawl.discovery import (
    MAX_SITEMAP_BYTES,
    Entry,
    looks_like_feed,
    looks_like_sitemap,
    parse_feed,
    parse_sitemap,
)
from newscrawl.extract_thread import in_worker
from newscrawl.failures import failure_reason
from newscrawl.follow import HOPS, FollowPolicy, Links
from newscrawl.guards import LISTING, looks_binary
from newscrawl.params import VALIDATED, plan, replay_settings

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable, Mapping

    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.settings import BaseSettings
    from twisted.python.failure import Failure

    from newscrawl.params import EuronewsParams, NewsParams, Plan


class Params(Protocol):
    """A spider's argument class (:mod:`newscrawl.params`)."""

    @classmethod
    def parse(
        cls, kwargs: Mapping[str, Any], *, cluster: bool = False
    ) -> EuronewsParams | NewsParams: ...


class NewscrawlSpider(scrapy.Spider):
    """A spider whose ``-a`` arguments are validated once, then planned.

    It yields pages' links as :class:`~newscrawl.follow.Links`; the follow policy
    (:mod:`newscrawl.follow`) decides which are requested.
    """

    #: The class of the spider's arguments.
    params_class: ClassVar[type[Params]]
    #: The validated arguments.
    params: Any
    #: What the spider does with them (:func:`newscrawl.params.plan`).
    plan: Plan
    #: What it follows.
    follow: FollowPolicy

    @classmethod
    def check_arguments(
        cls, settings: BaseSettings, kwargs: Mapping[str, Any]
    ) -> EuronewsParams | NewsParams:
        """Validate ``-a`` arguments; raise ``ArgumentError`` naming a bad one.

        A cluster worker (``NEWSCRAWL_CLUSTER``) may start without seeds of its
        own: they come from the cluster (``newscrawl seed``).
        """
        # Underscore arguments come from tools (scrapyd's _job), not from users.
        user = {k: v for k, v in kwargs.items() if not k.startswith("_")}
        cluster = bool(defaults.get(settings, "NEWSCRAWL_CLUSTER"))
        return cls.params_class.parse(user, cluster=cluster)

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        # Validated already by the crawl command, or (run from Python) here: a bad
        # argument stops the run before any request.
        params = getattr(crawler, VALIDATED, None) or cls.check_arguments(
            crawler.settings, kwargs
        )
        planned = plan(params)
        # One door to replay: -s NEWSCRAWL_REPLAY=... implies what -a replay=
        # does (no politeness delays offline, nothing recorded again).
        replay = tuple(defaults.getlist(crawler.settings, "NEWSCRAWL_REPLAY"))
        implied = {**replay_settings(replay), **planned.settings}
        for name, value in implied.items():
            # The settings are not frozen yet; -s on the command line still wins.
            crawler.settings.set(name, value, priority="spider")
        tools = {k: v for k, v in kwargs.items() if k.startswith("_")}
        spider = super().from_crawler(crawler, *args, **tools)
        spider.params = params
        spider.plan = planned
        spider.follow = FollowPolicy(planned.follow, crawler)
        return spider

    @property
    def max_links(self) -> int:
        """Links read per page (``NEWSCRAWL_MAX_LINKS_PER_PAGE``)."""
        return defaults.getint(self.crawler.settings, "NEWSCRAWL_MAX_LINKS_PER_PAGE")

    def _count(self, key: str, value: int = 1) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(f"newscrawl/{key}", value)

    def resume_requests(self) -> list[scrapy.Request]:
        """Requests a killed or stopped run left pending in the crawl state."""
        from newscrawl.state.extension import state_of  # noqa: PLC0415

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

    async def start(self) -> AsyncIterator[Any]:
        skipped = getattr(self.params, "skipped_lines", ())
        for line in skipped:
            # A bad line costs only itself: each is named, the rest are crawled.
            self.logger.warning("Skipped %s", line)
        if skipped:
            self._count("seeds/skipped", len(skipped))
        for request in self.resume_requests():
            yield request
        for kind, url in self.plan.starts:
            for request in self.seed_requests(kind, url):
                yield request

    def _listed(self, entries: list[Entry], source: str, base: str) -> Links:
        return Links(
            source,
            base,
            self.article_request,
            entries=entries,
            listing=self.sitemap_request,
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
        yield self._listed(entries, "feed", response.url)

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
        yield self._listed(entries, "sitemap", response.url)

    def listing_request(self, url: str, callback: Any) -> scrapy.Request:
        """A request for a sitemap or feed: allowed the sitemap protocol's 50 MB."""
        return scrapy.Request(
            url,
            callback,
            errback=self.on_error,
            meta={"download_maxsize": MAX_SITEMAP_BYTES, LISTING: True},
        )

    def sitemap_request(self, url: str) -> scrapy.Request:
        return self.listing_request(url, self.parse_sitemap)

    def is_allowed(self, url: str) -> bool:
        """Whether ``url`` is on the crawl's site(s)."""
        return self.follow.allows(url)

    def allow_urls(self, urls: Iterable[str]) -> None:
        """Bring the sites of ``urls`` (seeds given to the cluster) into scope."""
        self.follow.allow(urls)

    def page_request(self, url: str) -> scrapy.Request:
        """The request for a start page given by URL; spiders define it."""
        raise NotImplementedError

    def article_request(self, url: str) -> scrapy.Request:
        """The request for a page a link or an entry points to; spiders define it."""
        raise NotImplementedError

    def seed_requests(self, kind: str, url: str) -> list[scrapy.Request]:
        """The requests for a start point or a seed pushed to the cluster."""
        if kind == "feed":
            return [self.listing_request(url, self.parse_feed)]
        if kind == "sitemap":
            return [self.sitemap_request(url)]
        return [self.page_request(url)]

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
        from newscrawl.state.extension import record_failure  # noqa: PLC0415

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
