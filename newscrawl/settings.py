"""Scrapy settings for newscrawl: polite defaults, atomic JSONL feeds, our pipelines.

Custom settings are prefixed ``NEWSCRAWL_``. Override any of them per run with
``-s NAME=VALUE``.
"""

from __future__ import annotations

import os

from newscrawl import __version__

BOT_NAME = "newscrawl"

SPIDER_MODULES = ["newscrawl.spiders"]
NEWSPIDER_MODULE = "newscrawl.spiders"
# Our `crawl` validates spider arguments before the crawler starts.
COMMANDS_MODULE = "newscrawl.commands"

ADDONS: dict[str, int] = {}

# How operators of the sites we crawl can reach whoever runs this crawler.
NEWSCRAWL_CONTACT = os.environ.get(
    "NEWSCRAWL_CONTACT", "https://github.com/newscrawl/newscrawl"
)

# Identify ourselves; a site owner must be able to tell who is crawling.
USER_AGENT = f"newscrawl/{__version__} (+{NEWSCRAWL_CONTACT})"

# Obey robots.txt rules
ROBOTSTXT_OBEY = True

# Politeness: few parallel requests per site, AutoThrottle adapts to its latency.
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 1.0
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 2.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0

# A stuck request must not hold a cron run for minutes.
DOWNLOAD_TIMEOUT = 30
RETRY_TIMES = 2
# Cron safety net: no run lasts more than six hours.
CLOSESPIDER_TIMEOUT = 6 * 3600

COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False

ITEM_PIPELINES = {
    "newscrawl.pipelines.ValidateArticlePipeline": 100,
    "newscrawl.pipelines.DedupPipeline": 200,
}

EXTENSIONS = {
    "newscrawl.extensions.CrawlReport": 500,
}

LOG_FORMATTER = "newscrawl.logformatter.NewscrawlLogFormatter"
LOG_LEVEL = "INFO"

# Output: one JSONL file per run, written as .part and renamed when complete.
FEED_STORAGES = {
    "": "newscrawl.feeds.AtomicFileFeedStorage",
    "file": "newscrawl.feeds.AtomicFileFeedStorage",
}
FEED_EXPORT_ENCODING = "utf-8"
FEEDS = {
    "output/%(name)s/%(time)s.jsonl": {
        "format": "jsonlines",
        "encoding": "utf-8",
        "store_empty": True,
        "item_classes": ["newscrawl.items.ArticleItem"],
    },
}
