"""Scrapy settings for newscrawl: polite defaults, atomic JSONL feeds, our pipelines.

newscrawl's own settings (``NEWSCRAWL_*``) are declared in :mod:`newscrawl.defaults`
and exposed here. Override any setting per run with ``-s NAME=VALUE``.
"""

from __future__ import annotations

from newscrawl import __version__
from newscrawl.defaults import TABLE

BOT_NAME = "newscrawl"

SPIDER_MODULES = ["newscrawl.spiders"]
NEWSPIDER_MODULE = "newscrawl.spiders"
# Our `crawl` validates spider arguments before the crawler starts.
COMMANDS_MODULE = "newscrawl.commands"

# Inert unless NEWSCRAWL_CLUSTER=redis://... is set (workers sharing a frontier).
ADDONS = {"newscrawl.cluster.Cluster": 0}

# newscrawl's own settings (NEWSCRAWL_*), declared with their meaning in one
# table; here so that Scrapy's settings (and `scrapy settings --get`) show them.
globals().update({name: setting.default for name, setting in TABLE.items()})

# Identify ourselves; a site owner must be able to tell who is crawling.
USER_AGENT = f"newscrawl/{__version__} (+{TABLE['NEWSCRAWL_CONTACT'].default})"

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

# A news page is well under a few MiB; anything larger (or a compression bomb,
# checked while decompressing) is cancelled and counted. Sitemaps and feeds get
# the sitemap protocol's 50 MB per request.
DOWNLOAD_MAXSIZE = 10 * 1024 * 1024
DOWNLOAD_WARNSIZE = 2 * 1024 * 1024

# A stuck request must not hold a cron run for minutes. Scrapy's timeout is a
# wall-clock cap on the whole attempt (connect, headers and body), so a body
# trickled byte by byte is cut too.
DOWNLOAD_TIMEOUT = 30
# Retries of transient failures (timeouts, resets, 5xx, 429), each after the
# host's backoff (NEWSCRAWL_BACKOFF_*, see newscrawl.defaults).
RETRY_TIMES = 2
REDIRECT_MAX_TIMES = 5

DOWNLOAD_HANDLERS = {
    "http": "newscrawl.download.AbortableHTTPDownloadHandler",
    "https": "newscrawl.download.AbortableHTTPDownloadHandler",
}
DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "newscrawl.hosts.RetryPolicyMiddleware": 550,
    # Before the redirect middlewares (600, 580) see a redirect.
    "newscrawl.guards.RedirectGuardMiddleware": 650,
    # After decompression (590), before meta refresh (580) reads the text.
    "newscrawl.encoding.CharsetMiddleware": 585,
    # Next to the downloader: replay answers instead of it; the recorder sees the
    # request as sent and the response as received.
    "newscrawl.warc.replay.ReplayMiddleware": 940,
    "newscrawl.warc.record.WarcRecorder": 950,
}
# Cron safety net: no run lasts more than six hours.
CLOSESPIDER_TIMEOUT = 6 * 3600

# Scrapy's default resolver looks up IPv4 only: an IPv6 literal or an IPv6-only
# host failed as a DNS error. This one resolves both (the whole attempt stays
# bounded by DOWNLOAD_TIMEOUT, which this resolver does not shorten: DNS_TIMEOUT
# is ignored).
DNS_RESOLVER = "scrapy.resolver.CachingHostnameResolver"

COOKIES_ENABLED = False
# No remote control of a crawl: neither the telnet console nor Scrapy's HTTP
# control endpoint (on by default in Scrapy 2.19) is opened.
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False

ITEM_PIPELINES = {
    "newscrawl.pipelines.ValidateArticlePipeline": 100,
    "newscrawl.pipelines.DedupPipeline": 200,
    "newscrawl.pipelines.RevisionPipeline": 300,
}

EXTENSIONS = {
    # After AutoThrottle (0): it re-applies the delay floors AutoThrottle lowers.
    "newscrawl.hosts.HostPolicy": 100,
    "newscrawl.guards.ContentGuard": 110,
    # Before the loop monitor: the warm-up is not a stall.
    "newscrawl.extract_thread.ExtractionSetup": 115,
    "newscrawl.loopmonitor.LoopMonitor": 120,
    "newscrawl.state.extension.CrawlStateExtension": 400,
    "newscrawl.report.CrawlReport": 500,
}

SPIDER_MIDDLEWARES = {
    # Next to the spider: the links it yields become requests or counted
    # refusals (the follow policy: hops, site, article shape, traps).
    "newscrawl.follow.FollowMiddleware": 975,
    # Then the durable frontier: it sees the requests that are followed.
    "newscrawl.state.frontier.FrontierMiddleware": 950,
}

LOG_FORMATTER = "newscrawl.logformatter.NewscrawlLogFormatter"
LOG_LEVEL = "INFO"
# The run report holds every stat; the end of a run prints a short summary
# instead of Scrapy's 100-line stats dump (-s STATS_DUMP=True brings it back).
STATS_DUMP = False
# A URL given up after its retries is logged once, as "Request failed (reason)",
# by the spider's errback; Scrapy's own "Gave up retrying" line would repeat it.
RETRY_GIVE_UP_LOG_LEVEL = "DEBUG"

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
        "item_classes": ["newscrawl.items.ArticleItem"],
        # An empty run writes no file here (a 15-minute cron made 96 empty files
        # a day), only its report. Feeds given with -o/-O keep Scrapy's default:
        # an empty -O items.json is overwritten with [], not left stale.
        "store_empty": False,
    },
}
