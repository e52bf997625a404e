"""Guards on what a download may become: redirects and content types.

* :class:`RedirectGuardMiddleware` looks at a redirect (HTTP or meta refresh) before
  Scrapy follows it: loops, other sites and private addresses are refused with a
  reason instead of vanishing.
* :class:`ContentGuard` stops a download at its headers when an article URL answers
  with a PDF, an image or another non-HTML type.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urljoin, urlsplit

from scrapy import signals
from scrapy.exceptions import StopDownload
from scrapy.http import HtmlResponse

from newscrawl import defaults
from newscrawl.failures import REASON, RequestRefused

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Headers, Response

logger = logging.getLogger(__name__)

#: Request meta key: a sitemap or feed request (any content type is fine).
LISTING = "newscrawl_listing"


def is_private_host(host: str | None) -> bool:
    """Whether ``host`` is a loopback, private, link-local or reserved address.

    >>> [is_private_host(h) for h in ("127.0.0.1", "10.1.2.3", "localhost", "::1")]
    [True, True, True, True]
    >>> [is_private_host(h) for h in ("93.184.216.34", "example.com", None)]
    [False, False, False]
    """
    if not host:
        return False
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_unspecified
        or ip.is_multicast
    )


class RedirectGuardMiddleware:
    """Refuse redirect loops, redirects off the crawl's sites and to private hosts.

    It sits before Scrapy's redirect middlewares (``process_response`` runs from
    the downloader outwards), so a refused redirect never reaches them; the
    request's errback gets a :class:`RequestRefused` with the reason and target.
    Redirects from one private host to another (a local test site) are fine;
    ``NEWSCRAWL_ALLOW_PRIVATE`` allows redirects from public to private hosts.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.allow_private = defaults.getbool(
            crawler.settings, "NEWSCRAWL_ALLOW_PRIVATE"
        )
        self.meta_refresh = crawler.settings.getbool("METAREFRESH_ENABLED", True)
        self.max_delay = crawler.settings.getint("METAREFRESH_MAXDELAY", 100)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def _target(self, request: Request, response: Response) -> str | None:
        if 300 <= response.status < 400 and response.status != 304:
            location = response.headers.get(b"Location")
            if location:
                return urljoin(request.url, location.decode("latin-1").strip())
            return None
        if self.meta_refresh and isinstance(response, HtmlResponse):
            from scrapy.utils.response import get_meta_refresh  # noqa: PLC0415

            interval, url = get_meta_refresh(response)
            if url and interval is not None and interval < self.max_delay:
                return url
        return None

    def process_response(self, request: Request, response: Response) -> Response:
        if request.meta.get("dont_redirect"):
            return response
        target = self._target(request, response)
        if target is None:
            return response
        reason = self.refusal(request, target)
        if reason is not None:
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value(f"newscrawl/redirect/{reason}")
            raise RequestRefused(reason, target)
        return response

    def refusal(self, request: Request, target: str) -> str | None:
        """Why a redirect from ``request`` to ``target`` must not be followed."""
        chain = [*request.meta.get("redirect_urls", ()), request.url]
        if target.split("#", maxsplit=1)[0] in {u.split("#")[0] for u in chain}:
            return "redirect_loop"
        source_host = urlsplit(chain[0]).hostname
        if (
            not self.allow_private
            and is_private_host(urlsplit(target).hostname)
            and not is_private_host(source_host)
        ):
            return "redirect_private"
        spider = self.crawler.spider
        allowed = getattr(spider, "is_allowed", None)
        if allowed is not None and not allowed(target):
            return "redirect_offsite"
        return None


#: Content types that are never an article page.
BINARY_MAJOR = frozenset({b"image", b"video", b"audio", b"font", b"model"})
BINARY_APPLICATION = frozenset(
    {
        b"pdf",
        b"zip",
        b"x-zip-compressed",
        b"msword",
        b"x-rar-compressed",
        b"x-7z-compressed",
        b"postscript",
        b"x-shockwave-flash",
        b"wasm",
        b"epub+zip",
        b"x-tar",
    }
)


def is_binary_type(content_type: bytes | None) -> bool:
    """Whether a Content-Type header names a type no article page has.

    >>> is_binary_type(b"application/pdf"), is_binary_type(b"image/jpeg; q=1")
    (True, True)
    >>> is_binary_type(b"text/html; charset=utf-8"), is_binary_type(None)
    (False, False)
    >>> is_binary_type(b"application/vnd.ms-excel"), is_binary_type(b"application/xml")
    (True, False)
    """
    if not content_type:
        return False
    mime = content_type.split(b";")[0].strip().lower()
    major, _, minor = mime.partition(b"/")
    if major in BINARY_MAJOR:
        return True
    return major == b"application" and (
        minor in BINARY_APPLICATION or minor.startswith(b"vnd.")
    )


#: Magic numbers of binary files seen at article URLs served without a type.
BINARY_MAGIC = (
    b"%PDF-",
    b"\x89PNG",
    b"GIF8",
    b"\xff\xd8\xff",
    b"PK\x03\x04",
    b"\x1f\x8b",
)


def looks_binary(body: bytes) -> bool:
    r"""Whether a body sniffs as a binary file (Scrapy reads a PDF as text).

    >>> looks_binary(b"%PDF-1.7 ..."), looks_binary(b"<html>caf\xc3\xa9</html>")
    (True, False)
    """
    head = body[:1024].lstrip()
    return head.startswith(BINARY_MAGIC) or b"\x00" in head


class ContentGuard:
    """Stops a page download at its headers when its type is not a web page."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        ext = cls(crawler)
        crawler.signals.connect(ext.headers_received, signal=signals.headers_received)
        return ext

    def headers_received(
        self, headers: Headers, body_length: int, request: Request, **kwargs: Any
    ) -> None:
        if request.meta.get(LISTING):
            return  # sitemaps and feeds come as XML, gzip or octet-stream
        content_type = headers.get(b"Content-Type")
        if is_binary_type(content_type):
            request.meta[REASON] = "not_html"
            assert content_type is not None
            logger.info(
                "Stopped %s at its headers: %s",
                request.url,
                content_type.decode("latin-1"),
            )
            raise StopDownload(fail=True)
