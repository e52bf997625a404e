"""Recovery of the feeds an unfinished run left: complete lines kept and marked.

At the start of a run, leftover ``.part`` feeds are recovered: their complete
lines are kept and marked written in the crawl state, a torn last line is cut,
and the file is renamed to its final name (with a report saying
``"finish_reason": "recovered"``). Lines flushed but not yet committed are
therefore neither lost nor crawled again.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any

from newscrawl.feeds import PART_SUFFIX, is_open_as, try_lock

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from newscrawl.state import CrawlState

logger = logging.getLogger(__name__)


def feed_dirs(crawler: Crawler, spider_name: str) -> list[tuple[Path, re.Pattern[str]]]:
    """Where the crawl's file feeds are written, and the names of their parts."""
    return feed_dirs_from(crawler.settings.getdict("FEEDS"), spider_name)


def feed_dirs_from(
    feeds: dict[Any, Any], spider_name: str
) -> list[tuple[Path, re.Pattern[str]]]:
    """Each ``file`` feed's directory, with the names of its ``.part`` files."""
    found = []
    for uri in feeds:
        path = str(uri).removeprefix("file://")
        if "://" in path:
            continue
        template = Path(path.replace("%(name)s", spider_name))
        found.append((template.parent, part_pattern(template.name)))
    return found


def part_pattern(name: str) -> re.Pattern[str]:
    """The ``.part`` names a feed named by the template ``name`` can leave.

    The feed storage writes ``<name>.part`` and, when two runs pick one name,
    ``<stem>-2<suffix>.part`` (:func:`newscrawl.feeds.unique_path`).

    >>> pattern = part_pattern("%(time)s.jsonl")
    >>> bool(pattern.match("2026-12-07T23-55-37+00-00.jsonl.part"))
    True
    >>> bool(pattern.match("2026-12-07T23-55-37+00-00-2.jsonl.part"))
    True
    >>> bool(pattern.match("notes.txt.part")), bool(part_pattern("items.jsonl").match("x.jsonl.part"))
    (False, False)
    """  # noqa: E501
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    regex = ""
    for piece in re.split(r"(%\(\w+\)[sd])", stem):
        if piece.startswith("%("):
            regex += r"\d+" if piece.endswith("d") else r"[^/]+?"
        else:
            regex += re.escape(piece)
    ending = re.escape(f".{suffix}" if dot else "") + re.escape(PART_SUFFIX)
    return re.compile(f"{regex}(?:-\\d+)?{ending}\\Z")


#: The parts of newscrawl's default feed (``output/<spider>/<UTC time>.jsonl``).
DEFAULT_PART = part_pattern("%(time)s.jsonl")


def recover_parts(
    directory: Path,
    state: CrawlState | None,
    pattern: re.Pattern[str] = DEFAULT_PART,
) -> list[dict[str, Any]]:
    """Finalise the ``.part`` feeds an unfinished run left in ``directory``.

    Only the crawler's own unfinished feeds: regular files named by ``pattern``
    (the feed's template). Anything else, a symlink included, is left
    byte-for-byte. A ``.part`` whose ``flock`` a live process holds (a concurrent
    worker still writing it, or another run recovering it) is skipped.
    """
    recovered = []
    for part in sorted(directory.glob(f"*{PART_SUFFIX}")):
        if not pattern.match(part.name):
            continue  # another program's file: never ours to cut
        final = part.with_name(part.name.removesuffix(PART_SUFFIX))
        try:
            # O_NOFOLLOW: a symlink named like a feed is not followed out of
            # the folder (it fails with ELOOP and is left alone).
            fd = os.open(part, os.O_RDWR | os.O_NOFOLLOW)
        except FileNotFoundError:
            continue  # finalised by its writer since the listing
        except OSError as exc:
            logger.warning("Not recovering %s: %s", part, exc.strerror or exc)
            continue
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            continue
        fh = os.fdopen(fd, "r+b")
        with fh:  # closing it drops the lock, after the rename
            if not try_lock(fh.fileno()):
                logger.info("Skipping %s: locked by a running process", part)
                continue
            if not is_open_as(fh.fileno(), part):
                continue  # finalised or recovered between the open and the lock
            data = fh.read()
            keep = data[: data.rfind(b"\n") + 1]  # a torn last line is cut
            items = 0
            for line in keep.splitlines():
                try:
                    item = json.loads(line)
                except ValueError:
                    continue
                items += 1
                if state is not None and isinstance(item, dict) and item.get("url"):
                    state.mark_written(
                        item["url"],
                        str(item.get("content_hash") or "0" * 16),
                        int(item.get("revision") or 1),
                        minutes_of(item.get("modified")),
                    )
            fh.truncate(len(keep))
            fh.flush()
            os.fsync(fh.fileno())
            if state is not None:
                state.commit()  # the marks first: then the file may take its final name
            part.replace(final)
        report = final.with_name(final.stem + ".report.json")
        report.write_text(
            json.dumps(
                {
                    "finish_reason": "recovered",
                    "items": items,
                    "feeds": [{"path": str(final), "items": items}],
                },
                indent=2,
            )
            + "\n",
            encoding="utf-8",
        )
        logger.warning("Recovered %s items from unfinished feed %s", items, final)
        recovered.append({"path": str(final), "items": items})
    return recovered


def minutes_of(value: Any) -> int | None:
    if not isinstance(value, str):
        return None
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return int(when.timestamp() // 60)
