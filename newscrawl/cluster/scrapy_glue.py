"""Every place the cluster reaches into Scrapy's or scrapy-redis's internals.

The cluster needs four things that neither library offers as a public API. They
are all here, each in one function, so that an upgrade has one file to read;
``tests/test_cluster_glue.py`` checks each attribute and signature used below
against the installed versions (and runs a crawl through them), and fails when
Scrapy or scrapy-redis change under us (pyproject.toml pins the Scrapy minor).

- **The end of a request** (:func:`on_request_finished`). Scrapy has no signal
  for "request fully handled": downloaded, its callback's output through the
  pipelines and its new requests scheduled. The engine's private slot
  (``ExecutionEngine._slot``, a ``scrapy.core.engine._Slot``) calls its
  ``remove_request(request)`` at exactly that moment, for every request taken
  from the scheduler, redirects and failures included: it is wrapped.
- **Waking the engine** (:func:`wake_engine`). The engine looks at the scheduler
  every 5 seconds (its heartbeat) or when a download ends; other workers fill
  the shared queue meanwhile. ``_slot.nextcall.schedule()`` asks for a look now.
- **A downloader slot's delay** (:func:`download_delay`). ``engine.downloader``,
  its ``slots`` dict and a slot's ``delay`` are not underscored, but not a
  documented API either.
- **Serialising requests** (:func:`encode_request`, :func:`decode_request`).
  scrapy-redis's queues keep their (de)serialisation in the private
  ``_encode_request``/``_decode_request``; the cluster's Lua scripts move queue
  entries themselves, in the queue's own format.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from collections.abc import Callable

    from scrapy import Request
    from scrapy.crawler import Crawler


def _engine_slot(crawler: Crawler) -> Any:
    """The engine's ``_slot`` (``None`` before the spider opens or after it closes)."""
    return getattr(crawler.engine, "_slot", None)


def on_request_finished(crawler: Crawler, callback: Callable[[Request], None]) -> None:
    """Call ``callback(request)`` when the engine is done with each request.

    Installed once the engine's slot exists (the scheduler's ``open``); the
    callback runs after the engine's own bookkeeping, even if that raised.
    """
    slot = _engine_slot(crawler)
    if slot is None:
        raise RuntimeError("the engine has no slot: cannot acknowledge requests")
    remove = slot.remove_request

    def remove_request(request: Request) -> None:
        try:
            remove(request)
        finally:
            callback(request)

    slot.remove_request = remove_request


def wake_engine(crawler: Crawler) -> None:
    """Have the engine look at its scheduler now, not at its next heartbeat."""
    slot = _engine_slot(crawler)
    if slot is not None:
        slot.nextcall.schedule()


def download_delay(crawler: Crawler, request: Request) -> float:
    """The delay of the downloader slot ``request`` goes through (0 if none yet).

    It holds ``DOWNLOAD_DELAY``, AutoThrottle's adjustments and robots.txt
    ``Crawl-delay``.
    """
    downloader: Any = getattr(crawler.engine, "downloader", None)
    if downloader is None:
        return 0.0
    key = request.meta.get("download_slot") or urlsplit(request.url).hostname
    slot = downloader.slots.get(key)
    return float(slot.delay) if slot is not None else 0.0


def encode_request(queue: Any, request: Request) -> bytes | str:
    """``request`` as the scrapy-redis ``queue`` stores it (its serializer's output)."""
    encoded: bytes | str = queue._encode_request(request)
    return encoded


def decode_request(queue: Any, data: bytes | str) -> Request:
    """The request a scrapy-redis ``queue`` entry holds."""
    request: Request = queue._decode_request(data)
    return request
