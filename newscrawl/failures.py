"""Failure reasons: one short code per way a request can fail, and what each means.

Every failed request is counted under ``newscrawl/request_failed/<code>``, listed
in the run report and recorded in the crawl state. A *final* failure (the page is
gone, off-site, not HTML, too large...) is never requested again; a *transient*
one (timeouts, resets, 5xx) stays pending and is retried by later runs until it
has failed ``NEWSCRAWL_MAX_ATTEMPTS`` runs in a row, then it becomes final.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
    StopDownload,
)
from scrapy.spidermiddlewares.httperror import HttpError

if TYPE_CHECKING:
    from scrapy import Request
    from twisted.python.failure import Failure

#: Request meta key where a component notes why it stopped a request.
REASON = "newscrawl_failure"

#: Failures that are a property of the URL: never requested again.
FINAL = frozenset(
    {
        "http_404",
        "http_410",
        "redirect_offsite",
        "redirect_private",
        "redirect_loop",
        "not_html",
        "too_large",
        "bad_content_encoding",
        "robots_disallowed",
        "crawl_trap",
    }
)
#: Pages found gone: the subset of FINAL the report calls "gone".
GONE = frozenset({"http_404", "http_410"})
#: Failures that say nothing about the URL: no attempt is counted against it.
NOT_ATTEMPTS = frozenset({"host_cooled_down", "shutdown"})
#: Transport failures worth retrying within the run (with backoff per host).
RETRYABLE = frozenset(
    {"timeout", "connection_refused", "connection_lost", "data_loss", "dns_error"}
)
#: Failures of the network, not of our code: one log line each, no traceback.
NETWORK = RETRYABLE | {"protocol_error"}


class RequestRefused(IgnoreRequest):
    """A request newscrawl decided not to fetch or not to finish, with its reason."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}{f': {detail}' if detail else ''}")


def _transport_reason(exc: BaseException) -> str:
    """The reason inside a Twisted ``ResponseFailed`` (reset, bad status line...)."""
    from twisted.internet.error import ConnectionDone, ConnectionLost  # noqa: PLC0415
    from twisted.web._newclient import ParseError  # noqa: PLC0415

    cause = exc.__cause__
    inner = getattr(cause, "reasons", None) or []
    for sub in inner:
        value = getattr(sub, "value", sub)
        if isinstance(value, (ParseError, ValueError)):
            return "protocol_error"
        if isinstance(value, (ConnectionLost, ConnectionDone)):
            return "connection_lost"
    return "connection_lost" if cause is None else "protocol_error"


def reason_of(value: BaseException, request: Request | None = None) -> str:
    """The reason code for an exception a request failed with."""
    if request is not None and request.meta.get(REASON):
        return str(request.meta[REASON])
    if isinstance(value, RequestRefused):
        return value.reason
    if isinstance(value, HttpError):
        return f"http_{value.response.status}"
    if isinstance(value, DownloadTimeoutError):
        return "timeout"
    if isinstance(value, DownloadConnectionRefusedError):
        return "connection_refused"
    if isinstance(value, CannotResolveHostError):
        return "dns_error"
    if isinstance(value, ResponseDataLossError):
        return "data_loss"
    if isinstance(value, DownloadFailedError):
        return _transport_reason(value)
    if isinstance(value, DownloadCancelledError):
        # Scrapy cancels a download that grows past DOWNLOAD_MAXSIZE.
        return "too_large"
    if isinstance(value, StopDownload):
        return "stopped"
    if isinstance(value, IgnoreRequest):
        text = str(value)
        if "DOWNLOAD_MAXSIZE" in text:
            return "too_large"  # a compression bomb, stopped while decompressing
        if "max redirections" in text:
            return "redirect_loop"
        if "robots.txt" in text:
            return "robots_disallowed"
        return "ignored"
    if isinstance(value, OSError) and "gzip" in type(value).__name__.lower():
        return "bad_content_encoding"
    if type(value).__name__ in {"BadGzipFile", "error", "BrotliError", "ZstdError"}:
        return "bad_content_encoding"
    from twisted.internet.error import (  # noqa: PLC0415
        ConnectError,
        ConnectionDone,
        ConnectionLost,
        TimeoutError,
    )

    if isinstance(value, TimeoutError):
        return "timeout"
    if isinstance(value, ConnectionLost | ConnectionDone):
        return "connection_lost"
    if isinstance(value, ConnectError):
        return "connection_refused"
    return type(value).__name__


def failure_reason(failure: Failure) -> str:
    """The reason code of an errback's ``failure``."""
    request: Any = getattr(failure, "request", None)
    value = failure.value
    assert value is not None
    return reason_of(value, request)


def is_final(reason: str) -> bool:
    return reason in FINAL
