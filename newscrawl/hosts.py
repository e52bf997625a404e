"""Per-host politeness under failure: backoff, cool-down, Retry-After, Crawl-delay.

* :class:`HostPolicy` (extension) keeps, per download slot (host), a delay floor
  that AutoThrottle may not go under: robots.txt ``Crawl-delay``, a 429's
  ``Retry-After``, and a backoff that doubles with each consecutive failure. A host
  failing ``NEWSCRAWL_HOST_MAX_FAILURES`` times in a row is cooled down for the rest
  of the run: its requests stay pending in the crawl state for the next run while
  other hosts go on.
* :class:`RetryPolicyMiddleware` replaces Scrapy's retry middleware: the same
  retry counting, but no retry of pointless failures (protocol errors, refused
  content), and each retry waits for the host's backoff.
* robots.txt ``Crawl-delay`` (and ``Request-rate``), which Scrapy parses but does
  not enforce, becomes the host's delay floor (on the ``robots_parsed`` signal).
"""

from __future__ import annotations

import email.utils
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Self

from scrapy import signals
from scrapy.downloadermiddlewares.retry import RetryMiddleware

from newscrawl import defaults
from newscrawl.failures import REASON, RETRYABLE, RequestRefused, reason_of

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.core.downloader import Slot
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.robotstxt import RobotParser

logger = logging.getLogger(__name__)

MIN_DELAY = 0.001


@dataclass
class Host:
    """What the crawl knows of one host's behaviour in this run."""

    failures: int = 0
    backoff: float = 0.0
    crawl_delay: float = 0.0
    not_before: float = 0.0
    cooled: bool = False
    #: The slot's jitter, put aside while a floor holds.
    jitter: float = 0.0

    def floor(self, now: float) -> float:
        wait = max(0.0, self.not_before - now)
        return max(self.backoff, self.crawl_delay, wait)


class HostPolicy:
    """Per-host delay floors and cool-down (an extension; one per crawl)."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        settings = crawler.settings
        self.base = defaults.getfloat(settings, "NEWSCRAWL_BACKOFF_BASE")
        self.max_backoff = defaults.getfloat(settings, "NEWSCRAWL_BACKOFF_MAX")
        self.max_failures = defaults.getint(settings, "NEWSCRAWL_HOST_MAX_FAILURES")
        self.max_retry_after = defaults.getfloat(settings, "NEWSCRAWL_RETRY_AFTER_MAX")
        self.max_crawl_delay = defaults.getfloat(settings, "NEWSCRAWL_CRAWL_DELAY_MAX")
        self.base_delay = settings.getfloat("DOWNLOAD_DELAY")
        self.hosts: dict[str, Host] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        ext = cls(crawler)
        # Connected after AutoThrottle's handler (extensions load in order), so the
        # floor is applied after AutoThrottle has moved the delay.
        crawler.signals.connect(ext._apply_signal, signal=signals.response_downloaded)
        crawler.signals.connect(
            ext._apply_signal, signal=signals.request_reached_downloader
        )
        crawler.signals.connect(ext.robots_parsed, signal=signals.robots_parsed)
        return ext

    @staticmethod
    def of(crawler: Crawler) -> HostPolicy:
        policy = crawler.get_extension(HostPolicy)
        if policy is None:  # pragma: no cover - the settings enable it
            raise RuntimeError("newscrawl.hosts.HostPolicy is not enabled")
        return policy

    def _stats(self, key: str, value: int = 1) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(f"newscrawl/hosts/{key}", value)

    def key(self, request: Request) -> str:
        assert self.crawler.engine is not None
        return str(self.crawler.engine.downloader.get_slot_key(request))

    def host(self, request: Request) -> Host:
        return self.hosts.setdefault(self.key(request), Host())

    def _slot(self, key: str) -> Slot | None:
        assert self.crawler.engine is not None
        return self.crawler.engine.downloader.slots.get(key)

    def _apply(self, key: str) -> None:
        slot = self._slot(key)
        if slot is None:
            return
        # With a zero delay, Scrapy 2.19's downloader starts every queued request
        # of a slot at once (it counts a transfer only once its coroutine runs), so
        # CONCURRENT_REQUESTS_PER_DOMAIN is not enforced. Any positive delay takes
        # the one-at-a-time path, where it is.
        slot.delay = max(slot.delay, MIN_DELAY)
        host = self.hosts.get(key)
        if host is None:
            return
        floor = host.floor(time.monotonic())
        slot.delay = max(slot.delay, floor)
        if floor > 0 and slot.jitter:
            # A jittered delay may be half the floor: a backoff, a Retry-After or
            # a Crawl-delay is a minimum. The jitter comes back with the floor gone.
            host.jitter, slot.jitter = slot.jitter, 0.0
        elif floor == 0 and host.jitter:
            slot.jitter, host.jitter = host.jitter, 0.0

    def _apply_signal(self, request: Request, **kwargs: Any) -> None:
        self._apply(self.key(request))

    def cooled(self, request: Request) -> bool:
        host = self.hosts.get(self.key(request))
        return host is not None and host.cooled

    def succeeded(self, request: Request) -> None:
        key = self.key(request)
        host = self.hosts.get(key)
        if host is not None and (host.failures or host.backoff):
            host.failures = 0
            host.backoff = 0.0
            # Back to the normal pace (AutoThrottle, if on, adapts it from there).
            slot = self._slot(key)
            if slot is not None:
                slot.delay = max(self.base_delay, host.floor(time.monotonic()))

    def failed(self, request: Request) -> None:
        """A failed attempt: double the host's backoff; cool it down at the limit."""
        key = self.key(request)
        host = self.hosts.setdefault(key, Host())
        host.failures += 1
        host.backoff = min(self.base * 2 ** (host.failures - 1), self.max_backoff)
        self._apply(key)
        if host.failures >= self.max_failures and not host.cooled:
            host.cooled = True
            self._stats("cooled_down")
            logger.warning(
                "Host %s failed %d times in a row: cooled down for this run; its"
                " requests stay pending for the next run",
                key,
                host.failures,
            )

    def retry_after(self, request: Request, seconds: float) -> bool:
        """Slow the host down for ``seconds``; False when that is beyond the cap."""
        key = self.key(request)
        host = self.hosts.setdefault(key, Host())
        self._stats("rate_limited")
        if seconds > self.max_retry_after:
            return False
        host.not_before = max(host.not_before, time.monotonic() + seconds)
        self._apply(key)
        return True

    def robots_parsed(self, robotparser: RobotParser, request: Request) -> None:
        settings = self.crawler.settings
        agent = settings.get("ROBOTSTXT_USER_AGENT") or settings.get("USER_AGENT")
        delay = crawl_delay(robotparser, agent or "*")
        if delay:
            logger.info(
                "robots.txt of %s: Crawl-delay %.1f s", self.key(request), delay
            )
            self.set_crawl_delay(self.key(request), delay)

    def set_crawl_delay(self, key: str, seconds: float) -> None:
        host = self.hosts.setdefault(key, Host())
        host.crawl_delay = min(seconds, self.max_crawl_delay)
        assert self.crawler.stats is not None
        self.crawler.stats.set_value(f"newscrawl/hosts/crawl_delay/{key}", seconds)
        self._apply(key)


def parse_retry_after(
    value: bytes | str | None, now: float | None = None
) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date).

    >>> parse_retry_after(b"120")
    120.0
    >>> parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480.0 - 60)
    60.0
    >>> parse_retry_after("soon") is None
    True
    """
    if value is None:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


class RetryPolicyMiddleware(RetryMiddleware):
    """Scrapy's retries, with backoff per host, Retry-After and cool-down."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler.settings)
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    @property
    def policy(self) -> HostPolicy:
        return HostPolicy.of(self.crawler)

    def process_request(self, request: Request) -> None:
        if self.policy.cooled(request):
            raise RequestRefused("host_cooled_down", self.policy.key(request))

    def process_response(  # type: ignore[override]
        self, request: Request, response: Response
    ) -> Request | Response:
        policy = self.policy
        status = response.status
        if status < 400 or status in (404, 410):
            policy.succeeded(request)
            return response
        if request.meta.get("dont_retry", False):
            return response
        if status == 429:
            wait = parse_retry_after(response.headers.get(b"Retry-After"))
            if wait is None:
                policy.failed(request)
            elif not policy.retry_after(request, wait):
                request.meta[REASON] = "rate_limited"
                return response
            return self._retry(request, "429 Too Many Requests") or response
        if status in self.retry_http_codes:
            policy.failed(request)
            if policy.cooled(request):
                return response
            return self._retry(request, f"{status}") or response
        return response

    def process_exception(  # type: ignore[override]
        self, request: Request, exception: Exception
    ) -> Request | Response | None:
        reason = reason_of(exception, request)
        if reason in ("protocol_error", *RETRYABLE):
            self.policy.failed(request)
        if (
            reason not in RETRYABLE
            or request.meta.get("dont_retry", False)
            or self.policy.cooled(request)
        ):
            return None
        return self._retry(request, exception)


def crawl_delay(parser: RobotParser, useragent: str | bytes) -> float | None:
    """The ``Crawl-delay`` (or ``Request-rate`` as a delay) robots.txt sets for us."""
    rp = getattr(parser, "rp", None)
    if rp is None or not hasattr(rp, "crawl_delay"):
        return None
    agent = useragent.decode() if isinstance(useragent, bytes) else useragent
    delay = rp.crawl_delay(agent)
    rate = rp.request_rate(agent) if hasattr(rp, "request_rate") else None
    values = [float(delay)] if delay else []
    if rate is not None and rate.requests:
        values.append(rate.seconds / rate.requests)
    return max(values) if values else None
