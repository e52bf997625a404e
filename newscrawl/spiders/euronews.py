"""The ``euronews`` spider: edition front pages or given URLs, then related links.

It only routes requests: extraction lives in :mod:`newscrawl.extract`. Start points
are ``-a url=`` / ``-a urls_file=`` (articles, or listing pages whose article links
are crawled) or else the front page of each edition in ``-a editions=``. From every
article it follows the "You might also like" links to ``-a related_depth`` hops,
only to article URLs on an allowed host.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import scrapy
from scrapy.http import TextResponse

from newscrawl.extract import utc_now
from newscrawl.params import EuronewsParams
from newscrawl.processors import absolute_url
from newscrawl.sites.euronews import EDITIONS, V1, is_article_url
from newscrawl.spiders.base import HOPS, NewscrawlSpider
from newscrawl.worker import analyse_page, in_worker, links

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable

    from scrapy.http import Response


class EuronewsSpider(NewscrawlSpider):
    """Crawl Euronews articles in every language edition."""

    name = "euronews"
    site = "euronews"

    params_class = EuronewsParams
    params: EuronewsParams

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.allowed_hosts = self._allowed_hosts()
        self.allowed_domains = sorted(
            {
                *V1.domains,
                *(h for h in self.allowed_hosts if not h.endswith(V1.domains)),
            }
        )

    def _allowed_hosts(self) -> frozenset[str]:
        # Hosts of explicit start URLs are allowed too: that is how the offline
        # demo and the tests crawl a local copy of the site on 127.0.0.1.
        hosts = {urlsplit(u).hostname or "" for u in self.params.urls}
        return frozenset(h for h in hosts if h)

    def is_allowed(self, url: str) -> bool:
        host = urlsplit(url).hostname or ""
        if host in self.allowed_hosts:
            return True
        return any(host == d or host.endswith(f".{d}") for d in V1.domains)

    def allow_urls(self, urls: Iterable[str]) -> None:
        # Only for links: Scrapy's offsite filter still knows only the hosts of
        # the worker's own start URLs and euronews.com.
        self.allowed_hosts = self.allowed_hosts | {
            h for u in urls if (h := urlsplit(u).hostname)
        }

    def page_request(self, url: str) -> scrapy.Request:
        # dont_filter stays False: a start page reached again through a related
        # link must not be fetched twice.
        if is_article_url(url):
            return scrapy.Request(
                url, callback=self.parse_article, errback=self.on_error, meta={HOPS: 0}
            )
        return scrapy.Request(url, callback=self.parse_listing, errback=self.on_error)

    def entry_rejected(self, url: str) -> str | None:
        return None if is_article_url(url) else "not_article"

    def entry_callback(self, response: Response) -> AsyncIterator[Any]:
        return self.parse_article(response)

    def discovery_requests(self) -> list[scrapy.Request]:
        """Sitemaps and feeds of each edition (``-a discover=latest|sitemaps``)."""
        requests = []
        for code in self.params.editions:
            host = EDITIONS[code]
            if self.params.discover == "latest":
                sitemap = f"https://{host}/sitemaps/{code}/latest-news.xml"
                feed = f"https://{host}/rss"
                requests.append(self.listing_request(feed, self.parse_feed))
            else:
                sitemap = f"https://{host}/sitemaps/{code}/articles.xml"
            requests.append(self.listing_request(sitemap, self.parse_sitemap))
        return requests

    def start_urls_(self) -> list[str]:
        if self.params.urls:
            return list(self.params.urls)
        return [f"https://{EDITIONS[code]}/" for code in self.params.editions]

    async def start(self) -> AsyncIterator[Any]:
        for request in self.resume_requests():
            yield request
        if not self.params.urls and self.params.discover != "front":
            for request in self.discovery_requests():
                yield request
            return
        for url in self.start_urls_():
            yield self.page_request(url)

    async def parse_listing(self, response: scrapy.http.Response) -> AsyncIterator[Any]:
        """Crawl the article links a front or section page lists."""
        if not isinstance(response, TextResponse):
            self.fail_page(response, "not_html")
            return
        self._count("pages/listing")
        hrefs = await in_worker(links, response, self.max_links)
        if len(hrefs) > self.max_links:
            self._count("links/page/capped")
        for href in hrefs[: self.max_links]:
            url = absolute_url(href, response.url)
            if url is None or not self._follow_ok(url, "listing"):
                continue
            yield scrapy.Request(
                url, callback=self.parse_article, errback=self.on_error, meta={HOPS: 0}
            )

    def _follow_ok(self, url: str, source: str) -> bool:
        if not self.is_allowed(url):
            self._count(f"links/{source}/offsite")
            return False
        if not is_article_url(url):
            self._count(f"links/{source}/not_article")
            return False
        return not self.trapped(url, source)

    async def parse_article(self, response: scrapy.http.Response) -> AsyncIterator[Any]:
        if self.unusable(response):
            return
        assert isinstance(response, TextResponse)
        page = await in_worker(
            analyse_page,
            response,
            site=self.site,
            fetched_at=utc_now(),
            verdict=False,
            max_links=0,
        )
        assert self.crawler.stats is not None
        page.stats.merge_into(self.crawler.stats)
        item = page.item
        if item is None:
            self.fail_page(response, "no_body", page.repaired or "")
            return
        yield item
        hops = int(response.meta.get(HOPS, 0))
        if hops >= self.params.related_depth:
            return
        for link in item.related:
            url = link["url"]
            if url is None or not self._follow_ok(url, "related"):
                continue
            yield scrapy.Request(
                url,
                callback=self.parse_article,
                errback=self.on_error,
                meta={HOPS: hops + 1},
            )
