"""Atomic file feed storage: write ``<name>.part``, rename when the feed is complete.

Scrapy's ``FileFeedStorage`` writes straight to the final path, so a consumer (or a
cron job's next step) can read a half-written file. Here the final name appears
only once the run has closed the feed, after an ``fsync``; a leftover ``.part``
file is an unfinished run, or a run still writing it.

Several processes (cluster workers) may write feeds to one directory at once, so
a ``.part`` is created exclusively, under the next free name if two runs picked
the same one, and its writer holds an exclusive ``flock`` on it until the final
rename: recovery (:func:`newscrawl.state.recovery.recover_parts`) takes over only
files whose lock is free, i.e. whose writer has closed them or died (the kernel
drops the lock even on ``kill -9``).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import secrets
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


def part_of(path: Path) -> Path:
    return path.with_name(path.name + PART_SUFFIX)


def unique_path(path: Path) -> Path:
    """``path`` or, if taken, ``<stem>-2<suffix>``, ``-3`` ... (runs in one second)."""
    candidate, n = path, 1
    # The .part first: a writer renames it to the final name, so a name seen free
    # in this order was not finalised between the two checks.
    while part_of(candidate).exists() or candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
    return candidate


def try_lock(fd: int) -> bool:
    """Take the exclusive ``flock`` on ``fd`` if no other open file holds it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def is_open_as(fd: int, path: Path) -> bool:
    """Whether ``path`` still names the file open as ``fd`` (not renamed away)."""
    try:
        named = path.stat()
    except FileNotFoundError:
        return False
    opened = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)


def create_locked(part: Path, *, replace_stale: bool = False) -> int:
    """Create ``part`` and return its descriptor, already under an exclusive lock.

    Raises :class:`FileExistsError` if ``part`` exists, unless ``replace_stale``
    and no live process holds it (an overwriting feed discards a dead run's
    file); one a live process holds raises :class:`BlockingIOError`.
    """
    # Created and locked under a temporary name, then hard-linked to its name:
    # created there with O_EXCL, it would be unlocked for an instant, and a
    # starting run's recovery could take it for a dead run's file.
    tmp = part.with_name(f".newscrawl-{os.getpid()}-{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        try_lock(fd)  # no one else knows the name yet: never refused
        _link(tmp, part, replace_stale=replace_stale)
    except OSError as exc:
        os.close(fd)
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP):
            raise
        # No hard links on this file system: created in place after all.
        return _create_in_place(part, replace_stale=replace_stale)
    except BaseException:
        os.close(fd)
        raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return fd


def _link(tmp: Path, part: Path, *, replace_stale: bool) -> None:
    while True:
        try:
            os.link(tmp, part)
        except FileExistsError:
            if not replace_stale:
                raise
        else:
            return
        old = _lock_stale(part)
        if old is None:
            continue  # finalised or recovered meanwhile: the name is free again
        try:
            # Under the dead run's lock, so no recovery takes it meanwhile.
            tmp.replace(part)
            return
        finally:
            os.close(old)


def _lock_stale(part: Path) -> int | None:
    """``part`` opened and locked, or ``None`` if it is gone; held: an error."""
    try:
        fd = os.open(part, os.O_RDONLY)
    except FileNotFoundError:
        return None
    if not try_lock(fd):
        os.close(fd)
        raise BlockingIOError(
            errno.EWOULDBLOCK, "being written by another process", str(part)
        )
    if not is_open_as(fd, part):
        os.close(fd)
        return None
    return fd


def _create_in_place(part: Path, *, replace_stale: bool) -> int:
    flags = os.O_WRONLY | os.O_CREAT | (0 if replace_stale else os.O_EXCL)
    while True:
        fd = os.open(part, flags, 0o666)
        if not try_lock(fd):
            os.close(fd)
            if not replace_stale:
                # A recovery took it in the unlocked instant: it is not ours now.
                raise FileExistsError(errno.EEXIST, "taken", str(part))
            raise BlockingIOError(
                errno.EWOULDBLOCK, "being written by another process", str(part)
            )
        if is_open_as(fd, part):
            os.ftruncate(fd, 0)
            return fd
        os.close(fd)


class AtomicFileFeedStorage(FileFeedStorage):
    """A ``file://`` storage that never exposes a partial file under its final name."""

    def __init__(self, uri: str, *, feed_options: dict[str, Any] | None = None) -> None:
        super().__init__(uri, feed_options=feed_options)
        self.final_path: Path = Path(self.path)

    def open(self, spider: Spider) -> IO[bytes]:
        self.final_path.parent.mkdir(parents=True, exist_ok=True)
        if self.write_mode == "wb":
            fd = create_locked(part_of(self.final_path), replace_stale=True)
        else:
            # Appending to an existing finished file would mix two runs in one file.
            base = self.final_path
            while True:
                self.final_path = unique_path(base)
                try:
                    fd = create_locked(part_of(self.final_path))
                    break
                except FileExistsError:
                    continue  # another process took the name after unique_path
        # The lock lives as long as this descriptor: the one written through.
        return GuardedFile(os.fdopen(fd, "wb"))  # type: ignore[return-value]

    def store(self, file: IO[bytes]) -> None:
        part = part_of(self.final_path)
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
        try:
            # Renamed while still locked: once unlocked under the .part name, a
            # starting run's recovery could take it over.
            part.replace(self.final_path)
            # The rename is durable only once the directory entry is on disk.
            dir_fd = os.open(self.final_path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        finally:
            file.close()
