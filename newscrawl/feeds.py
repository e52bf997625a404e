"""Atomic file feed storage: write ``<name>.part``, rename when the feed is complete.

Scrapy's ``FileFeedStorage`` writes straight to the final path, so a consumer (or a
cron job's next step) can read a half-written file. Here the final name appears
only once the run has closed the feed, after an ``fsync``; a leftover ``.part``
file is always an unfinished run.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from scrapy.extensions.feedexport import FileFeedStorage

if TYPE_CHECKING:
    from scrapy import Spider

PART_SUFFIX = ".part"

logger = logging.getLogger(__name__)


class GuardedFile:
    """A feed file that remembers its first write error and refuses writes after.

    After a failed write (disk full) the file may end in a torn line; nothing may
    follow it, and the file must not get its final name: the next run's recovery
    cuts the torn line.
    """

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.error: OSError | None = None

    def write(self, data: bytes) -> int:
        if self.error is not None:
            raise self.error
        try:
            return self.raw.write(data)
        except OSError as exc:
            self.error = exc
            raise

    def flush(self) -> None:
        if self.error is not None:
            raise self.error
        try:
            self.raw.flush()
        except OSError as exc:
            self.error = exc
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)


def unique_path(path: Path) -> Path:
    """``path`` or, if taken, ``<stem>-2<suffix>``, ``-3`` ... (runs in one second)."""
    candidate, n = path, 1
    while (
        candidate.exists() or candidate.with_name(candidate.name + PART_SUFFIX).exists()
    ):
        n += 1
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
    return candidate


class AtomicFileFeedStorage(FileFeedStorage):
    """A ``file://`` storage that never exposes a partial file under its final name."""

    def __init__(self, uri: str, *, feed_options: dict[str, Any] | None = None) -> None:
        super().__init__(uri, feed_options=feed_options)
        self.final_path: Path = Path(self.path)

    def open(self, spider: Spider) -> IO[bytes]:
        self.final_path.parent.mkdir(parents=True, exist_ok=True)
        if self.write_mode == "wb":
            target = self.final_path
        else:
            # Appending to an existing finished file would mix two runs in one file.
            target = unique_path(self.final_path)
        self.final_path = target
        raw = target.with_name(target.name + PART_SUFFIX).open("wb")
        return GuardedFile(raw)  # type: ignore[return-value]

    def store(self, file: IO[bytes]) -> None:
        part = self.final_path.with_name(self.final_path.name + PART_SUFFIX)
        try:
            file.flush()
            os.fsync(file.fileno())
        except OSError as exc:
            logger.error(
                "Feed %s not finalised (%s): left as %s for the next run to recover",
                self.final_path,
                exc,
                part,
            )
            with contextlib.suppress(OSError):
                file.close()
            raise
        file.close()
        part.replace(self.final_path)
        # The rename is durable only once the directory entry is on disk.
        dir_fd = os.open(self.final_path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
