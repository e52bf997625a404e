"""Components that fail on purpose, loaded by crawls under test (``-s`` settings).

- :class:`FullDiskStorage`: the feed storage, but the disk fills up after
  ``NEWSCRAWL_TEST_DISK_BYTES`` bytes (writes then fail with ENOSPC, the last one
  half-written, as on a real full disk).
- :class:`BoomPipeline`: raises for items whose URL contains ``boom``.
"""

from __future__ import annotations

import errno
import os
from typing import IO, Any

from newscrawl.feeds import AtomicFileFeedStorage


class FullDiskFile:
    def __init__(self, raw: IO[bytes], limit: int) -> None:
        self.raw = raw
        self.left = limit

    def write(self, data: bytes) -> int:
        if len(data) > self.left:
            # A partial write, then no space: the line is torn.
            self.raw.write(data[: self.left])
            self.raw.flush()
            self.left = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.left -= len(data)
        return self.raw.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)


class FullDiskStorage(AtomicFileFeedStorage):
    def open(self, spider: Any) -> IO[bytes]:
        guarded: Any = super().open(spider)
        limit = int(os.environ["NEWSCRAWL_TEST_DISK_BYTES"])
        guarded.raw = FullDiskFile(guarded.raw, limit)
        return guarded  # type: ignore[no-any-return]


class BoomPipeline:
    def process_item(self, item: Any) -> Any:
        if "boom" in item.url:
            raise ValueError("boom")
        return item
