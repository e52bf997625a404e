"""The last pipeline: an article is exported by one worker of the cluster only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Self

from itemadapter import ItemAdapter
from scrapy.exceptions import NotConfigured

from newscrawl import defaults
from newscrawl.cluster.scheduler import cluster_of
from newscrawl.pipelines import CountingPipeline
from newscrawl.state import key_of

if TYPE_CHECKING:
    from scrapy.crawler import Crawler


class ClaimPipeline(CountingPipeline):
    """Exports an article only if no worker of the cluster has exported it yet.

    It claims the article's URL keys and content hash in Redis, atomically and
    in the worker's name; the claim is made final once the line is written and
    flushed (:meth:`newscrawl.cluster.idle.ClusterIdle.item_scraped`).
    """

    def __init__(self, crawler: Crawler) -> None:
        assert crawler.stats is not None
        super().__init__(crawler.stats)
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        if not defaults.get(crawler.settings, "NEWSCRAWL_CLUSTER"):
            raise NotConfigured  # off: silent (a reason would be logged as a warning)
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        scheduler = cluster_of(self.crawler)
        if scheduler is None:
            return item
        adapter = ItemAdapter(item)
        url = adapter.get("url") or ""
        # 8 bytes a member (the state's 64-bit keys), not the URL: claims cost
        # Redis memory for every article of the run.
        keys = sorted(
            {
                key_of(u).to_bytes(8, "big", signed=True)
                for u in (adapter.get("canonical_url"), url)
                if u
            }
        )
        digest = adapter.get("content_hash") or ""
        packed = bytes.fromhex(digest[:16]) if digest else b""
        verdict = scheduler.claim(url, keys, packed)
        if verdict:
            raise self.drop(verdict, url, "exported by the cluster already")
        return item
