"""The follow policy: which links a crawl requests (hops, site, article shape, traps).

Spiders do not decide what to follow: a callback yields the links it found as a
:class:`Links` batch naming their source, and :class:`FollowMiddleware` (a spider
middleware, next to the spider) hands the batch to the spider's
:class:`FollowPolicy`, which turns each accepted link into a request and counts
each refused one under ``newscrawl/links/<source>/<reason>``. Checks, in order:

1. hops: a link found on a page (``page``, ``related``) is one hop more than the
   page, and none is taken from a page at the crawl's ``max_hops`` (``-a depth``,
   ``-a related_depth``). What a listing, feed or sitemap lists are the start
   points' own articles: always requested, at hop 0 (the articles a Euronews front
   or section page lists) or 1 (a feed's or sitemap's entries).
2. ``invalid``: a feed or sitemap entry that is no http(s) URL (on a page, such an
   href, ``mailto:`` or ``javascript:``, is no link and is not counted). A link
   repeated in one batch is taken once.
3. ``offsite``: off the crawl's :class:`Scope`.
4. (entries) a sitemap an index lists is requested as a sitemap; ``too_old``: an
   entry dated before ``-a since``.
5. the article shape: a site's own (``not_article``), or the generic one
   (:mod:`newscrawl.classify`): strict for links found on pages, lenient for the
   entries a publisher listed. The reason is the verdict's prefix (``segment``...).
6. traps (:mod:`newscrawl.traps`): ``trap_*``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Final, Self
from urllib.parse import urlsplit

from newscrawl.classify import url_rejected, url_verdict
from newscrawl.discovery import Entry
from newscrawl.processors import absolute_url
from newscrawl.traps import TrapGuard

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

#: Scrapy's URLLENGTH_LIMIT: a longer URL would be dropped by Scrapy unseen and
#: stay pending forever, so it is refused here (``too_long``) and as a seed.
MAX_URL_LENGTH: Final = 2083
#: Request meta key: link hops from a start point.
HOPS: Final = "newscrawl_hops"

#: Each source of links -> the hop its links are at: ``None`` for one more than
#: the page they were found on (and only below the crawl's ``max_hops``).
SOURCES: Final[dict[str, int | None]] = {
    # Any link on a page (the news spider).
    "page": None,
    # A site's links to related articles (Euronews "You might also like").
    "related": None,
    # The articles a front or section page lists: start articles (Euronews).
    "listing": 0,
    # The entries of a feed or a sitemap.
    "feed": 1,
    "sitemap": 1,
}


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


def host_of(url: str) -> str:
    """The lowercased host of ``url`` ("" if it has none or cannot be split)."""
    try:
        return urlsplit(url).hostname or ""
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return ""


@dataclass(frozen=True)
class FollowRules:
    """What one crawl follows, from its arguments (:func:`newscrawl.params.plan`)."""

    #: Link hops from a start point, at most (``-a depth``, ``-a related_depth``).
    max_hops: int
    #: Registrable domains the crawl stays on.
    sites: frozenset[str] = frozenset()
    #: Hosts allowed as they are (a site's copy on 127.0.0.1, named in ``-a url``).
    hosts: frozenset[str] = frozenset()
    #: Whether URLs brought in later (cluster seeds) allow their host only, not
    #: their registrable domain.
    by_host: bool = False
    #: The site whose own article URL shape links must have (``None``: generic).
    article_site: str | None = None
    #: Feed and sitemap entries published before this ISO date are not requested.
    since: str | None = None


class Scope:
    """The sites and hosts a crawl stays on; cluster seeds may widen it."""

    def __init__(self, rules: FollowRules) -> None:
        self.sites = set(rules.sites)
        self.hosts = set(rules.hosts)
        self.by_host = rules.by_host

    def allows(self, url: str) -> bool:
        host = host_of(url)
        return bool(host) and (host in self.hosts or site_of(host) in self.sites)

    def allow(self, urls: Iterable[str]) -> None:
        hosts = {h for u in urls if (h := host_of(u))}
        if self.by_host:
            self.hosts |= hosts
        else:
            self.sites |= {site_of(h) for h in hosts}


@dataclass(frozen=True, slots=True)
class Links:
    """Links one response offers to follow, and where they come from.

    ``urls`` are hrefs as found (resolved against ``base``); ``entries`` are a
    feed's or a sitemap's. ``request`` makes the request for an accepted link,
    ``listing`` the one for an entry that is itself a sitemap.
    """

    source: str
    base: str
    request: Callable[[str], Request]
    urls: Sequence[str] = ()
    entries: Sequence[Entry] = ()
    listing: Callable[[str], Request] | None = None


class FollowPolicy:
    """One crawl's follow decisions, with a count of every refusal by reason."""

    def __init__(self, rules: FollowRules, crawler: Crawler | None = None) -> None:
        self.rules = rules
        self.crawler = crawler
        self.scope = Scope(rules)
        #: Endless calendars, pagination, query permutations, link loops: bounded.
        self.traps = TrapGuard()
        self._article_url: Callable[[str], bool] | None = None
        if rules.article_site is not None:
            from newscrawl.sites import site_crawl  # noqa: PLC0415

            self._article_url = site_crawl(rules.article_site).is_article_url

    def allows(self, url: str) -> bool:
        """Whether ``url`` is on the crawl's sites."""
        return self.scope.allows(url)

    def allow(self, urls: Iterable[str]) -> None:
        """Bring the sites (or hosts) of ``urls`` into the crawl's scope."""
        self.scope.allow(urls)

    def requests(self, links: Links, hops: int) -> Iterator[Request]:
        """The requests for the links of a page at ``hops`` that are followed."""
        at = SOURCES[links.source]
        if at is None:
            if hops >= self.rules.max_hops:
                return
            at = hops + 1
        if links.entries:
            yield from self._entries(links, at)
            return
        seen: set[str] = set()
        for href in links.urls:
            url = absolute_url(href, links.base)
            if url is None or url in seen:
                continue
            seen.add(url)
            reason = (
                "too_long"
                if len(url) > MAX_URL_LENGTH
                else "offsite"
                if not self.scope.allows(url)
                else self._shape(url, listed=False) or self.traps.rejected(url)
            )
            if reason:
                self._count(links.source, reason)
                continue
            request = links.request(url)
            request.meta[HOPS] = at
            yield request

    def _entries(self, links: Links, at: int) -> Iterator[Request]:
        since = self.rules.since
        seen: set[str] = set()
        # Newest first: when a run is cut short, it has the freshest news.
        ordered = sorted(links.entries, key=Entry.sort_key, reverse=True)
        for rank, entry in enumerate(ordered):
            # Sitemaps should list absolute URLs; some list paths.
            url = absolute_url(entry.url, links.base)
            if url is None:
                self._count(links.source, "invalid")
                continue
            if url in seen:
                continue
            seen.add(url)
            if len(url) > MAX_URL_LENGTH:
                # Scrapy's URL-length filter would drop it later, unseen and
                # pending forever in the frontier.
                self._count(links.source, "too_long")
                continue
            if not self.scope.allows(url):
                self._count(links.source, "offsite")
                continue
            if entry.is_sitemap and links.listing is not None:
                yield links.listing(url)
                continue
            if since and entry.published and entry.published[:10] < since:
                self._count(links.source, "too_old")
                continue
            reason = self._shape(url, listed=True) or self.traps.rejected(url)
            if reason:
                self._count(links.source, reason)
                continue
            request = links.request(url)
            request.meta[HOPS] = at
            request.priority = max(0, 1000 - rank)
            yield request

    def _shape(self, url: str, *, listed: bool) -> str | None:
        """Why ``url`` is not an article to request, or ``None``.

        ``listed``: a feed or sitemap entry, which needs no article shape of the
        generic kind (the publisher listed it), only not to be a non-article.
        """
        if self._article_url is not None:
            return None if self._article_url(url) else "not_article"
        if listed:
            reason = url_rejected(url)
        else:
            verdict = url_verdict(url)
            reason = None if verdict.ok else verdict.reason
        return reason.split(":")[0] if reason else None

    def _count(self, source: str, reason: str) -> None:
        stats = self.crawler.stats if self.crawler is not None else None
        if stats is not None:
            stats.inc_value(f"newscrawl/links/{source}/{reason}")


def hops_of(response: Response | None) -> int:
    """Link hops from a start point to ``response`` (0 for a start point)."""
    request = response.request if response is not None else None
    return int(request.meta.get(HOPS, 0)) if request is not None else 0


class FollowMiddleware:
    """Hands each :class:`Links` batch a spider yields to the spider's policy."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def _follow(self, response: Response | None, out: Any) -> Iterable[Any]:
        policy = getattr(self.crawler.spider, "follow", None)
        if not isinstance(out, Links) or not isinstance(policy, FollowPolicy):
            return (out,)
        return policy.requests(out, hops_of(response))

    def process_spider_output(
        self, response: Response | None, result: Iterable[Any]
    ) -> Iterator[Any]:
        for out in result:
            yield from self._follow(response, out)

    async def process_spider_output_async(
        self, response: Response | None, result: AsyncIterator[Any]
    ) -> AsyncIterator[Any]:
        async for out in result:
            for followed in self._follow(response, out):
                yield followed
