"""WARC replay: a crawl's requests answered from archived responses, not the network.

The archives are read and indexed by :mod:`newscrawl.warc.index` (with the one
WARC reader, :mod:`newscrawl.warc.reader`); this module is the downloader
middleware that serves a crawl from that index.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import re
from typing import TYPE_CHECKING, Self
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.exceptions import NotConfigured, StopDownload
from scrapy.http import Headers, Response
from scrapy.responsetypes import responsetypes
from scrapy.settings.default_settings import DOWNLOAD_MAXSIZE

from newscrawl import defaults
from newscrawl.failures import RequestRefused
from newscrawl.warc.index import ArchiveIndex, ReplayedResponse
from newscrawl.warc.reader import archive_files

if TYPE_CHECKING:
    from pathlib import Path

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)


def replay_paths(value: object) -> list[str]:
    """The archive paths of a ``NEWSCRAWL_REPLAY`` value.

    A list of paths, or one string; either separated by commas or ``os.pathsep``
    (``defaults.getlist`` splits a string on commas only).

    >>> replay_paths("a.warc.gz, dir/")
    ['a.warc.gz', 'dir/']
    >>> replay_paths(None), replay_paths(["x.warc", " "])
    ([], ['x.warc'])
    >>> replay_paths(["a" + os.pathsep + "b"])
    ['a', 'b']
    """
    if not value:
        return []
    if isinstance(value, str):
        value = [value]
    elif not isinstance(value, list | tuple):
        raise TypeError(f"NEWSCRAWL_REPLAY: expected paths, got {value!r}")
    separators = re.compile(f"[,{re.escape(os.pathsep)}]")
    parts = [part for item in value for part in separators.split(str(item))]
    return [part.strip() for part in parts if part.strip()]


def replay_files(settings: BaseSettings) -> list[Path]:
    """The archives ``NEWSCRAWL_REPLAY`` names; none found is a setting error."""
    paths = replay_paths(defaults.getlist(settings, "NEWSCRAWL_REPLAY"))
    if not paths:
        return []
    try:
        files = archive_files(paths)
    except FileNotFoundError as exc:
        raise defaults.SettingError("NEWSCRAWL_REPLAY", str(exc)) from None
    if not files:
        raise defaults.SettingError(
            "NEWSCRAWL_REPLAY", f"no WARC files (*.warc, *.warc.gz) in {paths}"
        )
    return files


class ReplayMiddleware:
    """A downloader middleware answering every request from WARC archives.

    Enabled by ``NEWSCRAWL_REPLAY`` (paths of WARC files or directories). A URL
    the archives lack fails with reason ``not_in_archive`` (never the network);
    a missing ``/robots.txt`` is a 404, so robots rules do not block the replay.
    Replayed responses carry the flag ``replay``, and the ``headers_received``
    signal is sent for them as the downloader would.
    """

    def __init__(self, crawler: Crawler, files: list[Path]) -> None:
        self.crawler = crawler
        self.files = files
        self.max_bytes = crawler.settings.getint("DOWNLOAD_MAXSIZE", DOWNLOAD_MAXSIZE)
        self._index: ArchiveIndex | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        # Missing archives stop the crawl here rather than fail every request.
        files = replay_files(crawler.settings)
        if not files:
            raise NotConfigured  # off: silent (a reason would be logged as a warning)
        middleware = cls(crawler, files)
        crawler.signals.connect(middleware.spider_opened, signal=signals.spider_opened)
        return middleware

    def _stats(self, key: str, value: int = 1) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(f"newscrawl/replay/{key}", value)

    @property
    def index(self) -> ArchiveIndex:
        """The archive index, built on first use (a GB of WARC takes seconds)."""
        if self._index is None:
            index = ArchiveIndex(self.files, max_bytes=self.max_bytes)
            logger.info(
                "Replay: %d URLs indexed from %d WARC files in %.2f s%s",
                len(index),
                len(index.files),
                index.build_seconds,
                f" ({index.damaged_files} damaged)" if index.errors else "",
            )
            assert self.crawler.stats is not None
            self.crawler.stats.set_value("newscrawl/replay/urls_indexed", len(index))
            self.crawler.stats.set_value(
                "newscrawl/replay/damaged_files", index.damaged_files
            )
            self._index = index
        return self._index

    def spider_opened(self) -> None:
        _ = self.index

    async def process_request(self, request: Request) -> Response:
        # Reading and decompressing a record takes up to tens of milliseconds:
        # on the worker thread, off the event loop.
        from newscrawl.extract_thread import in_worker  # noqa: PLC0415

        maxsize = request.meta.get("download_maxsize", self.max_bytes)
        found = await in_worker(self.index.lookup, request.url, max_bytes=maxsize)
        return self.respond(request, found)

    def serve(self, request: Request) -> Response:
        """:meth:`process_request`, synchronously (for tools and tests)."""
        maxsize = request.meta.get("download_maxsize", self.max_bytes)
        return self.respond(request, self.index.lookup(request.url, max_bytes=maxsize))

    def respond(self, request: Request, found: ReplayedResponse | None) -> Response:
        """The response for ``request`` from the archive record ``found``."""
        if found is None:
            if urlsplit(request.url).path == "/robots.txt":
                self._stats("robots_missing")
                return Response(
                    request.url, status=404, flags=["replay"], request=request
                )
            self._stats("missing")
            raise RequestRefused("not_in_archive", request.url)
        if found.too_large:
            raise RequestRefused("too_large", request.url)
        headers = Headers(found.headers)
        body = b"" if request.method == "HEAD" else found.body
        flags = ["replay"]
        if self._stopped(request, headers, len(body)):
            body = b""
            flags.append("download_stopped")
        respcls = responsetypes.from_args(headers=headers, url=request.url, body=body)
        ip_address = None
        # An archive's typo in the address is no reason to refuse the page.
        with contextlib.suppress(ValueError):
            ip_address = ipaddress.ip_address((found.ip_address or "").strip())
        self._stats("served")
        if found.revisit:
            self._stats("revisits")
        return respcls(
            url=request.url,
            status=found.status,
            headers=headers,
            body=body,
            flags=flags,
            request=request,
            ip_address=ip_address,
            protocol=found.protocol,
        )

    def _stopped(self, request: Request, headers: Headers, size: int) -> bool:
        """Send ``headers_received`` as a download does; True if a handler stopped it.

        Handlers (newscrawl's ContentGuard) stop non-HTML pages at their headers;
        a replayed page must stop the same way: ``StopDownload(fail=True)`` fails
        the request (the stopped response attached), ``fail=False`` leaves it
        without body.
        """
        results = self.crawler.signals.send_catch_log(
            signal=signals.headers_received,
            headers=headers,
            body_length=size,
            request=request,
            spider=self.crawler.spider,
        )
        for _, result in results:
            stop = getattr(result, "value", None)
            if not isinstance(stop, StopDownload):
                continue
            if stop.fail:
                stop.response = Response(
                    request.url,
                    headers=headers,
                    flags=["replay", "download_stopped"],
                    request=request,
                )
                raise stop
            return True
        return False
