"""What every newscrawl spider shares: validated arguments, counters, error handling."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import scrapy
from scrapy.spidermiddlewares.httperror import HttpError

if TYPE_CHECKING:
    from twisted.python.failure import Failure

#: Request meta key: link hops taken from a start point.
HOPS = "newscrawl_hops"
#: Failures that mean the page is gone, not that the fetch went wrong.
GONE = frozenset({"http_404", "http_410"})


class NewscrawlSpider(scrapy.Spider):
    """A spider whose ``-a`` arguments are a params dataclass, checked up front."""

    #: A class with ``from_spider_kwargs(**kwargs)`` that raises ``ArgumentError``.
    params_class: ClassVar[Any]

    @classmethod
    def check_arguments(cls, **kwargs: Any) -> Any:
        """Validate ``-a`` arguments; raise ``ArgumentError`` naming a bad one."""
        # Underscore arguments come from tools (scrapyd's _job), not from users.
        return cls.params_class.from_spider_kwargs(
            **{k: v for k, v in kwargs.items() if not k.startswith("_")}
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Validate first: a bad argument must stop the run before any request.
        self.params = self.check_arguments(**kwargs)
        super().__init__(
            *args, **{k: v for k, v in kwargs.items() if k.startswith("_")}
        )

    def _count(self, key: str, value: int = 1) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(f"newscrawl/{key}", value)

    def resume_requests(self) -> list[scrapy.Request]:
        """Requests a killed or stopped run left pending in the crawl state."""
        from newscrawl.persistence import state_of  # noqa: PLC0415

        state = state_of(self)
        if state is None:
            return []
        requests = []
        for pending in state.pending():
            callback = getattr(self, pending.callback, None)
            if callback is None:
                continue
            requests.append(
                scrapy.Request(
                    pending.url,
                    callback=callback,
                    errback=self.on_error,
                    meta={HOPS: pending.hops},
                    priority=pending.priority,
                )
            )
        if requests:
            self._count("state/resumed", len(requests))
            self.logger.info("Resuming %d pending requests", len(requests))
        return requests

    def on_error(self, failure: Failure) -> None:
        """Count and log a failed request by kind (HTTP status or exception).

        A page that is gone (404, 410) is recorded in the crawl state so later
        runs know; any other failure leaves the URL pending for the next run.
        """
        from newscrawl.persistence import state_of  # noqa: PLC0415

        request = getattr(failure, "request", None)
        url = request.url if request is not None else "?"
        if isinstance(failure.value, HttpError):
            reason = f"http_{failure.value.response.status}"
        else:
            reason = type(failure.value).__name__
        self._count(f"request_failed/{reason}")
        self.logger.warning("Request failed (%s): %s", reason, url)
        state = state_of(self)
        if state is not None and request is not None and reason in GONE:
            state.fail(url, reason)
