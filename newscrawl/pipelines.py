"""Item pipelines: validate the contract, then drop duplicates within a run.

Both count every drop under ``newscrawl/dropped/<reason>``; the log formatter
(:mod:`newscrawl.logformatter`) logs each drop once, with URL and reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Self

from itemadapter import ItemAdapter
from scrapy.exceptions import DropItem

from newscrawl.processors import url_key
from newscrawl.schema import drop_reason

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from newscrawl.extract import Stats


class ArticleDropped(DropItem):
    """An article that must not be exported, with a machine-readable reason."""

    def __init__(self, reason: str, url: str | None, detail: str = "") -> None:
        self.reason = reason
        self.url = url
        super().__init__(f"{reason}: {url}{f' ({detail})' if detail else ''}")


class CountingPipeline:
    """A pipeline that counts its drops by reason (``newscrawl/dropped/<reason>``)."""

    def __init__(self, stats: Stats) -> None:
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        assert crawler.stats is not None
        return cls(crawler.stats)

    def drop(self, reason: str, url: str | None, detail: str = "") -> ArticleDropped:
        self.stats.inc_value(f"newscrawl/dropped/{reason}")
        return ArticleDropped(reason, url, detail)


class ValidateArticlePipeline(CountingPipeline):
    """Drop items without ``url``, ``title`` or ``body``, or that break the schema.

    Every exported line therefore validates against ``article.schema.json``.
    """

    def process_item(self, item: Any) -> Any:
        adapter = ItemAdapter(item)
        rejected = drop_reason(adapter.asdict())
        if rejected is not None:
            raise self.drop(rejected[0], adapter.get("url"), rejected[1])
        return item


class DedupPipeline(CountingPipeline):
    """Drop a second article with the same canonical URL or the same content hash.

    The URL key ignores scheme, tracking parameters and a trailing slash, so
    ``http://x/a?utm_source=y`` and ``https://x/a/`` are one article.
    """

    def __init__(self, stats: Stats) -> None:
        super().__init__(stats)
        self.seen_urls: set[str] = set()
        self.seen_hashes: set[str] = set()

    def process_item(self, item: Any) -> Any:
        adapter = ItemAdapter(item)
        url = adapter.get("url")
        keys = {url_key(u) for u in (adapter.get("canonical_url"), url) if u}
        if keys & self.seen_urls:
            raise self.drop("duplicate_url", url)
        digest = adapter.get("content_hash")
        if digest and digest in self.seen_hashes:
            raise self.drop("duplicate_content", url)
        self.seen_urls |= keys
        if digest:
            self.seen_hashes.add(digest)
        return item


class RevisionPipeline(CountingPipeline):
    """Against the crawl state: drop unchanged articles, number changed ones.

    An article written in an earlier run comes out again only when its content
    hash changed, as ``revision`` n+1 with ``previous_hash``. With ``-a since=``,
    articles published before that date are dropped as ``too_old``.
    """

    def __init__(self, stats: Stats, crawler: Crawler | None = None) -> None:
        super().__init__(stats)
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        assert crawler.stats is not None
        return cls(crawler.stats, crawler)

    def process_item(self, item: Any) -> Any:
        adapter = ItemAdapter(item)
        url = adapter.get("url")
        spider = self.crawler.spider if self.crawler is not None else None
        since = getattr(getattr(spider, "params", None), "since", None)
        published = adapter.get("published")
        if since and published and published[:10] < since:
            raise self.drop("too_old", url, f"published {published[:10]}")
        from newscrawl.state import hash64, hex64  # noqa: PLC0415
        from newscrawl.state.extension import state_of, state_unavailable  # noqa: PLC0415

        if self.crawler is not None and state_unavailable(self.crawler):
            # Without its state the run cannot tell known articles from new ones:
            # nothing is exported rather than everything again.
            raise self.drop("state_unavailable", url)
        state = state_of(spider) if spider is not None else None
        if state is None or not url:
            return item
        seen = state.seen(url)
        digest = adapter.get("content_hash")
        if seen is None or not digest:
            return item
        if seen.hash == hash64(digest):
            raise self.drop("unchanged", url)
        adapter["revision"] = seen.revision + 1
        adapter["previous_hash"] = hex64(seen.hash)
        self.stats.inc_value("newscrawl/revisions")
        return item
