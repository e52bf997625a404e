"""The ``news`` spider: any news site, from pages, feeds or sitemaps.

Start points are ``-a url=`` (articles, front or section pages; with
``-a seeds_are_articles=1`` they are all exported as articles), ``-a feed=``
(RSS/Atom) and ``-a sitemap=`` (sitemaps, indexes, Google News sitemaps). It
exports the fetched pages that are articles by the page's own evidence and offers
every page's links to the follow policy (:mod:`newscrawl.follow`: same site,
article-shaped, up to ``-a depth`` hops). Every link or page it passes over is
counted under ``newscrawl/skipped/...`` or ``newscrawl/links/...`` with the reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import scrapy
from scrapy.http import TextResponse

from newscrawl.discovery import looks_like_feed, looks_like_sitemap
from newscrawl.extract import utc_now
from newscrawl.extract_thread import in_worker
from newscrawl.follow import Links, hops_of
from newscrawl.page import analyse_page
from newscrawl.params import NewsParams
from newscrawl.spiders.base import NewscrawlSpider

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from scrapy.http import Response


class NewsSpider(NewscrawlSpider):
    """Crawl any news site; per-site rules where a profile exists."""

    name = "news"

    params_class = NewsParams
    params: NewsParams

    def page_request(self, url: str) -> scrapy.Request:
        return scrapy.Request(url, self.parse_page, errback=self.on_error)

    def article_request(self, url: str) -> scrapy.Request:
        return self.page_request(url)

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
            site=self.plan.site,
            fetched_at=utc_now(),
            verdict=True,
            max_links=self.max_links,
        )
        assert self.crawler.stats is not None
        page.stats.merge_into(self.crawler.stats)
        verdict = page.verdict
        if page.item is None or verdict is None:
            self.fail_page(response, "no_body", page.repaired or "")
        elif verdict.ok or (hops_of(response) == 0 and self.plan.seeds_are_articles):
            # Validation still drops a seed without a title or body.
            yield page.item
        elif verdict.reason == "no_body" and page.claims_article:
            # An article by its own markup whose text we could not find: a
            # failure to see in the report, not a page to pass over.
            self.fail_page(response, "no_body")
        else:
            self._count(f"skipped/not_article/{verdict.reason}")
            self.logger.debug("Not an article (%s): %s", verdict.reason, response.url)
        yield Links("page", response.url, self.page_request, urls=page.hrefs)
