"""Run one crawl of a local site in this process and print its rate as JSON.

Used by ``benchmarks/crawl_rate.py``; a fresh process per run because Twisted's
reactor cannot be restarted.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.crawler import AsyncCrawlerProcess

from newscrawl import settings as project
from newscrawl.spiders.euronews import EuronewsSpider
from newscrawl.spiders.news import NewsSpider

ARTICLE = re.compile(r"^/(?:[a-z][a-z0-9-]*/)?\d{4}/\d{2}/\d{2}/[^/]+/?$")


class BareSpider(scrapy.Spider):
    """The baseline: same pages and links, no extraction, no pipelines."""

    name = "bare"

    def __init__(self, url: str = "", follow_all: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.start_url = url
        # Sites whose article URLs carry no date: follow every link on the listing.
        self.follow_all = bool(follow_all)

    async def start(self) -> Any:
        for url in self.start_url.split(","):
            yield scrapy.Request(url, callback=self.parse_listing)

    def parse_listing(self, response: Any) -> Any:
        for href in response.css("a::attr(href)").getall():
            url = response.urljoin(href).split("?")[0]
            if self.follow_all or ARTICLE.match(urlsplit(url).path):
                yield scrapy.Request(url, callback=self.parse_article)

    def parse_article(self, response: Any) -> Any:
        yield {"url": response.url, "title": response.css("h1::text").get()}
        for href in response.css(
            "#adb-article-you-might-also-like h3 a::attr(href)"
        ).getall():
            url = response.urljoin(href).split("?")[0]
            if ARTICLE.match(urlsplit(url).path) and "/video/" not in url:
                yield scrapy.Request(url, self.parse_article)


def main() -> None:
    which, url, depth = sys.argv[1], sys.argv[2], sys.argv[3]
    workdir = Path(sys.argv[4]) if len(sys.argv) > 4 else Path(tempfile.mkdtemp())
    out = workdir / "items.jsonl"
    settings = {k: getattr(project, k) for k in dir(project) if k.isupper()}
    settings.update(
        {
            "DOWNLOAD_DELAY": 0,
            "AUTOTHROTTLE_START_DELAY": 0,
            "LOG_LEVEL": "ERROR",
            "FEEDS": {str(out): {"format": "jsonlines"}},
        }
    )
    settings["NEWSCRAWL_STATE_DIR"] = str(workdir / ".state")
    if which.startswith("bare"):
        # The baseline keeps politeness (same concurrency, robots, AutoThrottle)
        # but none of our components.
        for key in (
            "ITEM_PIPELINES",
            "EXTENSIONS",
            "FEED_STORAGES",
            "LOG_FORMATTER",
            "SPIDER_MIDDLEWARES",
            "DOWNLOADER_MIDDLEWARES",
            "DOWNLOAD_HANDLERS",
        ):
            settings.pop(key, None)
    if which == "news-nostate":
        settings["NEWSCRAWL_STATE"] = "off"
    spiders = {"bare": BareSpider, "bare-all": BareSpider, "euronews": EuronewsSpider}
    process = AsyncCrawlerProcess(settings)
    crawler = process.create_crawler(
        spiders.get(which, EuronewsSpider if which == "newscrawl" else NewsSpider)
    )
    if which == "bare":
        process.crawl(crawler, url=url)
    elif which == "bare-all":
        process.crawl(crawler, url=url, follow_all="1")
    elif which in {"euronews", "newscrawl"}:
        process.crawl(crawler, url=url, related_depth=depth)
    else:
        process.crawl(crawler, url=url, depth=depth)
    process.start()
    stats = crawler.stats.get_stats() if crawler.stats else {}
    print(
        json.dumps(
            {
                "responses": stats.get("response_received_count", 0),
                "items": stats.get("item_scraped_count", 0),
                "seconds": stats.get("elapsed_time_seconds"),
                "max_rss": stats.get("memusage/max"),
            }
        )
    )


if __name__ == "__main__":
    main()
