"""The ``euronews`` spider: edition front pages or given URLs, then related links.

It only routes requests: extraction lives in :mod:`newscrawl.extract`, what is
crawled from which arguments in :mod:`newscrawl.params` and
:mod:`newscrawl.sites.euronews`, what is followed in :mod:`newscrawl.follow`. A
start URL with the article shape is an article; any other is a listing page, whose
article links are start articles. From every article it offers the "You might
also like" links, followed to ``-a related_depth`` hops.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import scrapy
from scrapy.http import TextResponse

from newscrawl.extract import utc_now
from newscrawl.extract_thread import in_worker
from newscrawl.follow import Links
from newscrawl.page import analyse_page, links
from newscrawl.params import EuronewsParams
from newscrawl.sites.euronews import is_article_url
from newscrawl.spiders.base import NewscrawlSpider

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from scrapy.http import Response


class EuronewsSpider(NewscrawlSpider):
    """Crawl Euronews articles in every language edition."""

    name = "euronews"

    params_class = EuronewsParams
    params: EuronewsParams

    def page_request(self, url: str) -> scrapy.Request:
        # dont_filter stays False: a start page reached again through a related
        # link must not be fetched twice.
        if is_article_url(url):
            return self.article_request(url)
        return scrapy.Request(url, callback=self.parse_listing, errback=self.on_error)

    def article_request(self, url: str) -> scrapy.Request:
        return scrapy.Request(url, callback=self.parse_article, errback=self.on_error)

    async def parse_listing(self, response: Response) -> AsyncIterator[Any]:
        """Offer the article links a front or section page lists."""
        if not isinstance(response, TextResponse):
            self.fail_page(response, "not_html")
            return
        self._count("pages/listing")
        limit = self.max_links
        hrefs = await in_worker(links, response, limit)
        if len(hrefs) > limit:
            self._count("links/page/capped")
        yield Links("listing", response.url, self.article_request, urls=hrefs[:limit])

    async def parse_article(self, response: Response) -> AsyncIterator[Any]:
        if self.unusable(response):
            return
        assert isinstance(response, TextResponse)
        page = await in_worker(
            analyse_page,
            response,
            site=self.plan.site,
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
        related = [link["url"] for link in item.related if link["url"]]
        yield Links("related", response.url, self.article_request, urls=related)
