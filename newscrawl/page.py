"""The one path a fetched page takes to an item: charset, repair, links, extraction.

:func:`process_page` is a pure function of what was fetched (body, headers, URL,
fetch time) and the site: no crawler, no network. The crawl's spiders (through
:func:`analyse_page`, on the extraction thread), replay, ``newscrawl extract``,
``newscrawl parse`` and the golden tests all go through it, so one page gives one
item whichever way it arrives.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from scrapy.http import HtmlResponse

from newscrawl import defaults

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from scrapy.http import Headers, TextResponse

    from newscrawl.classify import Verdict
    from newscrawl.items import ArticleItem

#: An element this deep means hostile markup; libxml2 stops at 2,048 and drops the
#: rest, and some text heuristics go quadratic long before.
MAX_DEPTH = 256
_DEPTH_PROBE = "/*" * MAX_DEPTH
#: Tags kept when such a page is flattened: the ones that carry an article.
_KEEP = (
    "html|head|title|meta|link|script|style|body|article|main|header|footer|h[1-6]"
    "|p|time|a|img|figure|figcaption|picture|source|br|ul|ol|li|blockquote"
)
_STRIP_TAGS = re.compile(rf"</?(?!(?:{_KEEP})\b)[a-zA-Z][^>]*>".encode())

#: Links read per page unless ``NEWSCRAWL_MAX_LINKS_PER_PAGE`` says otherwise.
MAX_LINKS_PER_PAGE: int = defaults.TABLE["NEWSCRAWL_MAX_LINKS_PER_PAGE"].default
#: Links kept in a page's tree for extraction (more are dropped before it).
MAX_ANCHORS = 5000


@dataclass
class LocalStats:
    """A stats collector for one page's work, merged into the crawl's later.

    Page work runs on the extraction thread; the crawl's stats are written only
    on the event loop thread, by :meth:`merge_into`.
    """

    values: Counter[str] = field(default_factory=Counter)

    def inc_value(self, key: str, count: int = 1, start: int = 0) -> None:
        self.values[key] += count

    def merge_into(self, stats: Any) -> None:
        for key, value in self.values.items():
            stats.inc_value(key, value)


@dataclass
class PageResult:
    """What one page gave: the item, the verdict, the links, and what was repaired."""

    item: ArticleItem | None
    verdict: Verdict | None
    hrefs: list[str]
    stats: LocalStats
    #: ``deep_nesting`` (flattened), or ``deep_nesting_failed`` (no item).
    repaired: str | None = None
    #: The page's markup says it is an article (JSON-LD type, og:type).
    claims_article: bool = False
    #: Why the item pipeline's validation drops the item (``missing_body``...),
    #: and its message.
    invalid: str | None = None
    invalid_message: str = ""


def process_page(
    body: bytes,
    *,
    url: str,
    headers: Headers | Mapping[str, Any] | Iterable[tuple[str, str]] | None = None,
    fetched_at: str | None = None,
    site: str | None = None,
    encoding: str | None = None,
    kind: type[TextResponse] = HtmlResponse,
    verdict: bool = False,
    max_links: int = 0,
) -> PageResult:
    """The whole per-page work, in order: charset, markup repair, links, extraction.

    - charset: ``encoding`` when already settled (a crawl's ``CharsetMiddleware``
      did it before the spider saw the page; ``parse --encoding``), otherwise
      settled here by the same rule (:func:`newscrawl.encoding.settle_encoding`);
    - a page nested ``MAX_DEPTH`` deep is flattened to its article-bearing tags,
      or gives no item when even that is too deep;
    - the first ``max_links`` link targets are listed (one more marks a cap), then
      links past ``MAX_ANCHORS`` are pruned from the tree;
    - the article is extracted with the profile of ``site`` (or of the URL) for
      ``fetched_at``, judged (``verdict``: is it an article page), and checked
      as the item pipeline checks it (``invalid``).

    ``kind`` is the response class Scrapy gave the page (XML pages parse as XML).
    """
    from newscrawl.encoding import settle_encoding  # noqa: PLC0415

    stats = LocalStats()
    response: TextResponse = kind(
        url=url,
        body=body,
        headers=headers,
        encoding=encoding,
    )
    if encoding is None:
        response, reason = settle_encoding(response)
        if reason is not None:
            stats.inc_value(f"newscrawl/charset/{reason}")
    return process_response(
        response,
        fetched_at=fetched_at,
        site=site,
        verdict=verdict,
        max_links=max_links,
        stats=stats,
        check=True,
    )


def process_response(
    response: TextResponse,
    *,
    fetched_at: str | None,
    site: str | None,
    verdict: bool,
    max_links: int,
    stats: LocalStats | None = None,
    check: bool = False,
) -> PageResult:
    """:func:`process_page` from markup repair on, for a settled encoding.

    The crawl enters here with the response Scrapy gave it, so the page is
    decoded and parsed once. ``check`` runs the pipeline's validation (in a
    crawl, the pipeline does it anyway).
    """
    from newscrawl.classify import page_verdict  # noqa: PLC0415
    from newscrawl.extract import extract, page_selector  # noqa: PLC0415
    from newscrawl.structured import StructuredData  # noqa: PLC0415

    stats = stats if stats is not None else LocalStats()
    # A broken <base href> makes response.selector raise; this one copes and
    # stays on the response for everything below.
    page_selector(response)
    repaired = None
    if too_deep(response):
        flat = flatten(response)
        repaired = "deep_nesting" if not too_deep(flat) else "deep_nesting_failed"
        stats.inc_value(f"newscrawl/repaired/{repaired}")
        if repaired == "deep_nesting_failed":
            return PageResult(None, None, [], stats, repaired)
        response = flat
    hrefs = links(response, max_links) if max_links > 0 else []
    if len(hrefs) > max_links:
        stats.inc_value("newscrawl/links/page/capped")
        hrefs = hrefs[:max_links]
    if prune_links(response):
        stats.inc_value("newscrawl/repaired/links_pruned")
    structured = StructuredData(response.selector)
    item = extract(
        response, site=site, stats=stats, fetched_at=fetched_at, structured=structured
    )
    page = (
        page_verdict(response.selector, structured, item, response.url)
        if verdict
        else None
    )
    og_type = (structured.meta("og:type") or [""])[0].strip().lower()
    claims = bool(structured.article) or og_type.startswith("article")
    result = PageResult(item, page, hrefs, stats, repaired, claims)
    if check:
        result.invalid, result.invalid_message = _rejection(item)
    return result


def analyse_page(
    response: TextResponse,
    *,
    site: str | None,
    fetched_at: str,
    verdict: bool,
    max_links: int,
) -> PageResult:
    """:func:`process_page` of a page the crawl fetched (on the extraction thread).

    The crawl's ``CharsetMiddleware`` has settled the encoding already, and the
    response is used as it is: decoded and parsed once.
    """
    return process_response(
        response,
        fetched_at=fetched_at,
        site=site,
        verdict=verdict,
        max_links=max_links,
    )


def _rejection(item: ArticleItem) -> tuple[str | None, str]:
    """``(reason, message)`` of the pipeline's validation drop, or ``(None, "")``."""
    from itemadapter import ItemAdapter  # noqa: PLC0415

    from newscrawl.schema import drop_reason  # noqa: PLC0415

    # The pipeline's own check; in a crawl the pipeline counts the drop.
    adapter = ItemAdapter(item)
    rejected = drop_reason(adapter.asdict())
    if rejected is None:
        return None, ""
    reason, detail = rejected
    url = adapter.get("url")
    return reason, f"{reason}: {url}{f' ({detail})' if detail else ''}"


def too_deep(response: TextResponse) -> bool:
    """Whether the page nests elements at least ``MAX_DEPTH`` deep."""
    root = response.selector.root
    return bool(root.xpath(_DEPTH_PROBE)) if root is not None else False


def flatten(response: TextResponse) -> TextResponse:
    """The page with every tag but the article-bearing ones removed."""
    return response.replace(body=_STRIP_TAGS.sub(b" ", response.body))


def prune_links(response: TextResponse) -> int:
    """Remove the links beyond ``MAX_ANCHORS`` from the parsed page.

    A page with tens of thousands of links (a sitemap page, a link farm) makes the
    text heuristics slow and some of lxml's C calls hold the GIL for long; the
    links are followed from the list taken before, and their text is no article.
    """
    root = response.selector.root
    if root is None or root.xpath("count(//a)") <= MAX_ANCHORS:
        return 0
    extra = root.xpath(f"(//a)[position() > {MAX_ANCHORS}]")
    for anchor in extra:
        parent = anchor.getparent()
        if parent is not None:
            # With its tail: separators between links, not article text.
            parent.remove(anchor)
    return len(extra)


def links(response: TextResponse, limit: int) -> list[str]:
    """The first ``limit`` + 1 link targets of the page (one more shows a cap)."""
    return [
        str(h)
        for h in response.selector.xpath(
            f"(//a/@href)[position() <= {limit + 1}]"
        ).getall()
    ]
