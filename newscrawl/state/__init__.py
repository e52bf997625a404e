"""Persistent crawl state behind one small interface (SQLite or Redis).

What a crawl remembers across runs: the articles it has written (by URL key, with
their content hash, revision and dates), the frontier of requests still pending,
failures with their reasons, and each run's field coverage for health checks.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Protocol

from newscrawl.processors import url_key


class StateUnavailable(Exception):  # noqa: N818 - says what it is, as OSError does
    """The crawl state cannot be used (damaged, unreachable): the run must not start.

    A damaged state is never replaced by an empty one: the run would write every
    article it knows again. The message names the state and how to recover.
    """


def key_of(url: str) -> int:
    """A signed 64-bit key for ``url`` (tracking parameters and scheme ignored)."""
    digest = hashlib.sha1(url_key(url).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def hash64(content_hash: str) -> int:
    """The first 64 bits of a hex content hash, as a signed integer."""
    return int.from_bytes(bytes.fromhex(content_hash[:16]), "big", signed=True)


def hex64(value: int) -> str:
    return value.to_bytes(8, "big", signed=True).hex()


@dataclass(frozen=True)
class Seen:
    """What the state knows of an article it has written."""

    hash: int
    revision: int
    first_seen: int
    fetched: int
    modified: int | None


@dataclass(frozen=True)
class FailureRecord:
    """A URL's last failure: final ones are never requested again."""

    reason: str
    attempts: int
    final: bool
    detail: str = ""


@dataclass(frozen=True)
class Pending:
    """A request in the durable frontier."""

    url: str
    callback: str
    hops: int
    priority: int


class CrawlState(Protocol):
    """The store a crawl shares with its earlier (and, on Redis, parallel) runs."""

    def seen(self, url: str) -> Seen | None: ...

    def mark_written(
        self, url: str, content_hash: str, revision: int, modified: int | None
    ) -> None: ...

    def touch(self, url: str) -> None: ...

    def add_pending(self, requests: list[Pending]) -> None: ...

    def done(self, url: str) -> None: ...

    def pending(self) -> list[Pending]: ...

    def fail(
        self,
        url: str,
        reason: str,
        *,
        final: bool,
        detail: str = "",
        attempt: bool = True,
        max_attempts: int = 3,
    ) -> FailureRecord:
        """Record a failure; return the URL's failure record.

        It is final (the URL leaves the frontier for good) if ``final`` or once
        ``max_attempts`` runs in a row have failed it; otherwise the URL stays
        pending. ``attempt=False`` records it without counting an attempt.
        """
        ...

    def failure(self, url: str) -> FailureRecord | None: ...

    def failure_counts(self) -> dict[str, int]:
        """Final failures by reason, over all runs."""
        ...

    def pending_count(self) -> int: ...

    def record_run(self, site: str, items: int, coverage: dict[str, float]) -> None: ...

    def previous_runs(self, site: str, limit: int) -> list[dict[str, Any]]: ...

    def commit(self) -> None: ...

    def close(self) -> None: ...
