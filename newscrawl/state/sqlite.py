"""The SQLite crawl state: one file per spider under ``output/.state/``.

WAL mode with ``synchronous=NORMAL``: a committed transaction survives the process
being killed (only a power cut can lose the last ones). The seen table is a rowid
table keyed by a 64-bit URL hash holding integers only, about 40 bytes a URL on
disk; nothing of it is kept in memory.
"""

from __future__ import annotations

import json
import sqlite3
import time
from typing import TYPE_CHECKING, Any

from newscrawl.state import (
    FailureRecord,
    Pending,
    Seen,
    StateUnavailable,
    hash64,
    key_of,
)

if TYPE_CHECKING:
    from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS seen (
    key INTEGER PRIMARY KEY,      -- 64-bit hash of the URL key
    hash INTEGER NOT NULL,        -- first 64 bits of content_hash
    revision INTEGER NOT NULL,
    first_seen INTEGER NOT NULL,  -- minutes since the epoch
    fetched INTEGER NOT NULL,     -- minutes since the epoch
    modified INTEGER              -- minutes since the epoch, from the page
);
CREATE TABLE IF NOT EXISTS frontier (
    key INTEGER PRIMARY KEY,
    url TEXT NOT NULL,
    callback TEXT NOT NULL,
    hops INTEGER NOT NULL,
    priority INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS failures (
    key INTEGER PRIMARY KEY,
    url TEXT NOT NULL,
    reason TEXT NOT NULL,
    at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 1,
    final INTEGER NOT NULL DEFAULT 1,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    site TEXT NOT NULL,
    finished INTEGER NOT NULL,
    items INTEGER NOT NULL,
    coverage TEXT NOT NULL
);
"""


def now_minutes() -> int:
    return int(time.time() // 60)


#: The first bytes of every SQLite database file.
SQLITE_HEADER = b"SQLite format 3\x00"


def damaged(path: Path, why: str) -> StateUnavailable:
    return StateUnavailable(
        f"the crawl state {path} is damaged ({why}). Nothing was crawled. To start"
        f" afresh, move it away (mv {path} {path}.damaged; also its -wal and -shm"
        " files): the next run builds a new state and exports every article again"
    )


def _check_file(path: Path) -> None:
    """Refuse what is not an SQLite database: a directory, 0 bytes, a bad header."""
    if path.is_dir():
        raise damaged(path, "a directory, not a file")
    if not path.exists():
        return  # a first run: the state is created
    with path.open("rb") as fh:
        header = fh.read(len(SQLITE_HEADER))
    if not header:
        # SQLite would take an empty file for a new database and lose nothing
        # visible, but an empty state file is a state that was lost.
        raise damaged(path, "0 bytes")
    if header != SQLITE_HEADER:
        raise damaged(path, "not an SQLite database")


class SQLiteState:
    """:class:`newscrawl.state.CrawlState` on one SQLite file."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        _check_file(path)
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            if path.stat().st_size:
                # A cut-off or overwritten file can still open: its pages are
                # checked before anything is read or written (a second per GB).
                verdict = self.db.execute("PRAGMA quick_check").fetchone()[0]
                if verdict != "ok":
                    raise sqlite3.DatabaseError(verdict)
            self.db.executescript(SCHEMA)
            self._migrate()
            self.db.execute("BEGIN")
        except sqlite3.DatabaseError as exc:
            self.db.close()
            raise damaged(path, str(exc)) from exc

    def _migrate(self) -> None:
        # State files from before failure attempts were counted: every failure
        # recorded then was final (404/410).
        columns = {row[1] for row in self.db.execute("PRAGMA table_info(failures)")}
        for column, ddl in (
            ("attempts", "INTEGER NOT NULL DEFAULT 1"),
            ("final", "INTEGER NOT NULL DEFAULT 1"),
            ("detail", "TEXT NOT NULL DEFAULT ''"),
        ):
            if column not in columns:
                self.db.execute(f"ALTER TABLE failures ADD COLUMN {column} {ddl}")

    def seen(self, url: str) -> Seen | None:
        row = self.db.execute(
            "SELECT hash, revision, first_seen, fetched, modified"
            " FROM seen WHERE key=?",
            (key_of(url),),
        ).fetchone()
        return Seen(*row) if row else None

    def mark_written(
        self, url: str, content_hash: str, revision: int, modified: int | None
    ) -> None:
        key, now = key_of(url), now_minutes()
        self.db.execute(
            "INSERT INTO seen (key, hash, revision, first_seen, fetched, modified)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET"
            " hash=excluded.hash, revision=excluded.revision,"
            " fetched=excluded.fetched, modified=excluded.modified",
            (key, hash64(content_hash), revision, now, now, modified),
        )
        self.db.execute("DELETE FROM frontier WHERE key=?", (key,))
        self.db.execute("DELETE FROM failures WHERE key=?", (key,))

    def touch(self, url: str) -> None:
        self.db.execute(
            "UPDATE seen SET fetched=? WHERE key=?", (now_minutes(), key_of(url))
        )

    def add_pending(self, requests: list[Pending]) -> None:
        self.db.executemany(
            "INSERT OR IGNORE INTO frontier (key, url, callback, hops, priority)"
            " VALUES (?, ?, ?, ?, ?)",
            [(key_of(r.url), r.url, r.callback, r.hops, r.priority) for r in requests],
        )

    def done(self, url: str) -> None:
        key = key_of(url)
        self.db.execute("DELETE FROM frontier WHERE key=?", (key,))
        # A success ends a run of transient failures.
        self.db.execute("DELETE FROM failures WHERE key=? AND final=0", (key,))

    def pending(self) -> list[Pending]:
        rows = self.db.execute(
            "SELECT url, callback, hops, priority FROM frontier ORDER BY priority DESC"
        ).fetchall()
        return [Pending(*row) for row in rows]

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
        key = key_of(url)
        row = self.db.execute(
            "SELECT attempts FROM failures WHERE key=?", (key,)
        ).fetchone()
        attempts = (row[0] if row else 0) + (1 if attempt else 0)
        final = final or attempts >= max_attempts
        self.db.execute(
            "INSERT INTO failures (key, url, reason, at, attempts, final, detail)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET"
            " reason=excluded.reason, at=excluded.at, attempts=excluded.attempts,"
            " final=excluded.final, detail=excluded.detail",
            (key, url, reason, now_minutes(), attempts, int(final), detail),
        )
        if final:
            self.db.execute("DELETE FROM frontier WHERE key=?", (key,))
        return FailureRecord(reason, attempts, final, detail)

    def failure(self, url: str) -> FailureRecord | None:
        row = self.db.execute(
            "SELECT reason, attempts, final, detail FROM failures WHERE key=?",
            (key_of(url),),
        ).fetchone()
        if row is None:
            return None
        return FailureRecord(str(row[0]), int(row[1]), bool(row[2]), str(row[3]))

    def failure_counts(self) -> dict[str, int]:
        rows = self.db.execute(
            "SELECT reason, COUNT(*) FROM failures WHERE final GROUP BY reason"
        ).fetchall()
        return {str(reason): int(n) for reason, n in rows}

    def pending_count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM frontier").fetchone()[0])

    def record_run(self, site: str, items: int, coverage: dict[str, float]) -> None:
        self.db.execute(
            "INSERT INTO runs (site, finished, items, coverage) VALUES (?, ?, ?, ?)",
            (site, now_minutes(), items, json.dumps(coverage, sort_keys=True)),
        )

    def previous_runs(self, site: str, limit: int) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT items, coverage FROM runs WHERE site=? ORDER BY id DESC LIMIT ?",
            (site, limit),
        ).fetchall()
        return [{"items": items, "coverage": json.loads(cov)} for items, cov in rows]

    def commit(self) -> None:
        self.db.execute("COMMIT")
        self.db.execute("BEGIN")

    def close(self) -> None:
        self.db.execute("COMMIT")
        self.db.close()
