"""The one table of newscrawl's own settings (``NEWSCRAWL_*``): default and meaning.

Every ``NEWSCRAWL_*`` setting the code reads is declared here once, and read with
the accessors below, which take the default from this table: a default is never
restated where a setting is read. ``newscrawl/settings.py`` (the Scrapy settings
module) exposes the same values, so ``scrapy settings --get NAME`` shows them, and
``docs/operations.md`` lists them (a test keeps that list equal to this table).
Override any of them per run with ``-s NAME=VALUE``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings


class SettingError(ValueError):
    """A ``NEWSCRAWL_*`` setting has a bad value; the message names the setting."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"setting {name}: {message}")
        self.name = name


@dataclass(frozen=True)
class Setting:
    """A setting's default and a one-line meaning (the docs' table)."""

    default: Any
    help: str


TABLE: dict[str, Setting] = {
    # -- identity ---------------------------------------------------------------
    "NEWSCRAWL_CONTACT": Setting(
        os.environ.get("NEWSCRAWL_CONTACT", "https://github.com/newscrawl/newscrawl"),
        "how site operators reach whoever runs the crawler (in the User-Agent)",
    ),
    # -- hostile servers ----------------------------------------------------------
    "NEWSCRAWL_BACKOFF_BASE": Setting(
        2.0, "seconds before the next request to a failing host, doubled per failure"
    ),
    "NEWSCRAWL_BACKOFF_MAX": Setting(60.0, "the longest such backoff, in seconds"),
    "NEWSCRAWL_HOST_MAX_FAILURES": Setting(
        8, "failures in a row after which a host is left alone for the run"
    ),
    "NEWSCRAWL_RETRY_AFTER_MAX": Setting(
        120.0, "longest 429 Retry-After honoured in the run (seconds)"
    ),
    "NEWSCRAWL_CRAWL_DELAY_MAX": Setting(
        30.0, "longest robots.txt Crawl-delay honoured (seconds)"
    ),
    "NEWSCRAWL_MAX_ATTEMPTS": Setting(
        3, "runs in a row a URL may fail transiently before it is given up"
    ),
    "NEWSCRAWL_ALLOW_PRIVATE": Setting(
        False, "follow redirects from a public host to a private or loopback address"
    ),
    "NEWSCRAWL_MAX_LINKS_PER_PAGE": Setting(
        2000, "links read from one page (the rest are pruned and counted)"
    ),
    # -- archives -------------------------------------------------------------------
    "NEWSCRAWL_WARC": Setting("", "directory to record every response to as WARC"),
    "NEWSCRAWL_WARC_MAX_BYTES": Setting(
        1024 * 1024 * 1024, "size at which a WARC file is closed and the next begun"
    ),
    "NEWSCRAWL_REPLAY": Setting(
        [], "WARC files or directories to serve the crawl from (-a replay=...)"
    ),
    # -- crawl state ------------------------------------------------------------------
    "NEWSCRAWL_STATE": Setting("sqlite", "crawl state: sqlite, off, or a redis:// URL"),
    "NEWSCRAWL_STATE_DIR": Setting(
        "output/.state", "directory of the SQLite state and the run lock"
    ),
    "NEWSCRAWL_REVISIT_WINDOW": Setting(
        48, "hours after first sight during which a known article may be fetched again"
    ),
    "NEWSCRAWL_REVISIT_AFTER": Setting(
        60, "minutes after its last fetch before a young article is fetched again"
    ),
    # -- health -----------------------------------------------------------------------
    "NEWSCRAWL_COVERAGE_DROP": Setting(
        0.5, "a field's coverage below this share of its recent median is a problem"
    ),
    # -- the process ----------------------------------------------------------------
    "NEWSCRAWL_EXTRACT_THREAD": Setting(
        True, "extract pages on a worker thread (off in a cluster: one worker a core)"
    ),
    "NEWSCRAWL_LOOP_TRACE": Setting(
        False, "log the event loop thread's stack during a stall"
    ),
    # -- cluster ----------------------------------------------------------------------
    "NEWSCRAWL_CLUSTER": Setting(
        "", "Redis URL of a cluster: workers share one frontier and dupefilter"
    ),
    "NEWSCRAWL_CLUSTER_TTL": Setting(
        30.0, "seconds without a heartbeat after which a worker counts as dead"
    ),
    "NEWSCRAWL_CLUSTER_POLL": Setting(
        0.5, "seconds between a worker's looks at the shared queue and seeds"
    ),
    "NEWSCRAWL_CLUSTER_IDLE": Setting(
        5.0, "seconds an idle worker waits, with nothing queued, before it leaves"
    ),
}


def _shown(value: Any) -> str:
    if value in ("", [], None):
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, int) and value >= 1024 * 1024 and value % 1024 == 0:
        return f"{value // (1024 * 1024)} MiB"
    return str(value)


def markdown_table() -> str:
    """The table of every setting, as ``docs/operations.md`` shows it."""
    rows = ["| setting | default | meaning |", "| --- | --- | --- |"]
    for name, setting in TABLE.items():
        default = "the project URL" if name == "NEWSCRAWL_CONTACT" else None
        rows.append(
            f"| `{name}` | {default or _shown(setting.default)} | {setting.help} |"
        )
    return "\n".join(rows) + "\n"


def _declared(name: str) -> Setting:
    try:
        return TABLE[name]
    except KeyError:
        raise KeyError(f"{name} is not declared in newscrawl.defaults.TABLE") from None


def get(settings: BaseSettings, name: str) -> Any:
    """The value of ``name``, or its default from the table."""
    default = _declared(name).default
    value = settings.get(name)
    return default if value is None else value


def getint(settings: BaseSettings, name: str) -> int:
    return settings.getint(name, _declared(name).default)


def getfloat(settings: BaseSettings, name: str) -> float:
    return settings.getfloat(name, _declared(name).default)


def getbool(settings: BaseSettings, name: str) -> bool:
    return settings.getbool(name, _declared(name).default)


def getlist(settings: BaseSettings, name: str) -> list[Any]:
    return settings.getlist(name, _declared(name).default)


if __name__ == "__main__":
    print(markdown_table(), end="")  # noqa: T201 - regenerates the docs' table
