"""The ``news`` spider: any news site, from pages, feeds or sitemaps.

Start points are ``-a url=`` (articles, front or section pages; with
``-a seeds_are_articles=1`` they are all exported as articles), ``-a feed=``
(RSS/Atom) and ``-a sitemap=`` (sitemaps, indexes, Google News sitemaps). From each
it requests the links that look like articles on the same site, up to ``-a depth``
hops, and exports the fetched pages that are articles by the page's own evidence.
Every link or page it passes over is counted under ``newscrawl/skipped/...`` or
``newscrawl/links/...`` with the reason.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import scrapy
from scrapy.http import TextResponse

from newscrawl.classify import url_rejected, url_verdict
from newscrawl.discovery import (
    looks_like_feed,
    looks_like_sitemap,
)
from newscrawl.extract import utc_now
from newscrawl.params import NewsParams
from newscrawl.processors import absolute_url
from newscrawl.spiders.base import HOPS, NewscrawlSpider
from newscrawl.worker import analyse_page, in_worker

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable, Iterator

    from scrapy.http import Response


@cache
def _tld_extract() -> Any:
    import tldextract  # noqa: PLC0415

    # No suffix-list download: the snapshot bundled with tldextract is enough.
    # Built once: building one takes ~0.1 s.
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


@cache
def site_of(host: str) -> str:
    """Registrable domain of ``host`` (``feeds.bbc.co.uk`` -> ``bbc.co.uk``)."""
    parts = _tld_extract()(host)
    return parts.top_domain_under_public_suffix or host


class NewsSpider(NewscrawlSpider):
    """Crawl any news site; per-site rules where a profile exists."""

    name = "news"

    params_class = NewsParams
    params: NewsParams

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        seeds = (*self.params.urls, *self.params.feeds, *self.params.sitemaps)
        self.allowed_sites: set[str] = set()
        self.allow_urls(seeds)

    def is_allowed(self, url: str) -> bool:
        return site_of(urlsplit(url).hostname or "") in self.allowed_sites

    def allow_urls(self, urls: Iterable[str]) -> None:
        self.allowed_sites |= {site_of(urlsplit(u).hostname or "") for u in urls}

    def page_request(self, url: str) -> scrapy.Request:
        return scrapy.Request(
            url, self.parse_page, errback=self.on_error, meta={HOPS: 0}
        )

    async def start(self) -> AsyncIterator[Any]:
        for request in self.resume_requests():
            yield request
        for url in self.params.feeds:
            yield self.listing_request(url, self.parse_feed)
        for url in self.params.sitemaps:
            yield self.listing_request(url, self.parse_sitemap)
        for url in self.params.urls:
            yield self.page_request(url)

    def entry_rejected(self, url: str) -> str | None:
        return url_rejected(url)

    def entry_callback(self, response: Response) -> AsyncIterator[Any]:
        return self.parse_page(response)

    async def parse_page(self, response: Response) -> AsyncIterator[Any]:
        if self.unusable(response):
            return
        assert isinstance(response, TextResponse)
        if looks_like_feed(response.body) or looks_like_sitemap(response.body):
            async for out in self.parse_sitemap(response):
                yield out
            return
        page = await in_worker(
            analyse_page,
            response,
            site=self.params.site,
            fetched_at=utc_now(),
            verdict=True,
            max_links=self.max_links,
        )
        assert self.crawler.stats is not None
        page.stats.merge_into(self.crawler.stats)
        verdict = page.verdict
        hops = int(response.meta.get(HOPS, 0))
        if page.item is None or verdict is None:
            self.fail_page(response, "no_body", page.repaired or "")
        elif verdict.ok or (hops == 0 and self.params.seeds_are_articles):
            # Validation still drops a seed without a title or body.
            yield page.item
        elif verdict.reason == "no_body" and page.claims_article:
            # An article by its own markup whose text we could not find: a
            # failure to see in the report, not a page to pass over.
            self.fail_page(response, "no_body")
        else:
            self._count(f"skipped/not_article/{verdict.reason}")
            self.logger.debug("Not an article (%s): %s", verdict.reason, response.url)
        if hops < self.params.depth:
            for out in self._follow(response.url, page.hrefs, hops + 1):
                yield out

    def _follow(self, base: str, hrefs: list[str], hops: int) -> Iterator[Any]:
        seen: set[str] = set()
        for href in hrefs:
            url = absolute_url(href, base)
            if url is None or url in seen:
                continue
            seen.add(url)
            if not self.is_allowed(url):
                self._count("links/page/offsite")
                continue
            verdict = url_verdict(url)
            if not verdict.ok:
                self._count(f"links/page/{verdict.reason.split(':')[0]}")
                continue
            if self.trapped(url, "page"):
                continue
            yield scrapy.Request(
                url, self.parse_page, errback=self.on_error, meta={HOPS: hops}
            )
