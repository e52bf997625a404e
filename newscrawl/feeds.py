"""Atomic file feed storage: write ``<name>.part``, rename when the feed is complete.

Scrapy's ``FileFeedStorage`` writes straight to the final path, so a consumer (or a
cron job's next step) can read a half-written file. Here the final name appears
only once the run has closed the feed, after an ``fsync``; a leftover ``.part``
file is always an unfinished run.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from scrapy.extensions.feedexport import FileFeedStorage

if TYPE_CHECKING:
    from scrapy import Spider

PART_SUFFIX = ".part"


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
        return target.with_name(target.name + PART_SUFFIX).open("wb")

    def store(self, file: IO[bytes]) -> None:
        file.flush()
        os.fsync(file.fileno())
        file.close()
        part = self.final_path.with_name(self.final_path.name + PART_SUFFIX)
        part.replace(self.final_path)
        # The rename is durable only once the directory entry is on disk.
        dir_fd = os.open(self.final_path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
