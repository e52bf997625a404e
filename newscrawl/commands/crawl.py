"""``scrapy crawl`` for cron: argument checks, a run lock, a health exit code.

- A bad ``-a`` value is a one-line usage error naming the argument (exit code 2),
  not an asyncio traceback from inside the crawler.
- A second run of the same spider while one is active exits at once (75); the lock
  is an ``flock`` on ``<state dir>/<spider>.lock``, released by the kernel when its
  holder dies, so a crashed run's lock is simply taken over.
- In cluster mode (setting ``NEWSCRAWL_CLUSTER`` non-empty, see
  :mod:`newscrawl.cluster`) no run lock is taken: many workers of one crawl run at
  once by design, and Redis coordinates them. They may share an output directory
  (:mod:`newscrawl.feeds` creates and locks each ``.part`` exclusively) but not a
  SQLite state, which is not made for concurrent writers: give each worker its
  own ``NEWSCRAWL_STATE_DIR``, or use a Redis ``NEWSCRAWL_STATE``.
- An output or state directory that cannot be written is reported at once (73),
  before anything is crawled; so is a crawl state that cannot be used (damaged,
  or its Redis unreachable: 69).
- The exit code is the run's health as judged by the crawl report
  (:class:`newscrawl.health.ExitCode`); stock ``scrapy crawl`` exits 0 even
  when it exported nothing. The run ends with a short summary on stderr (what
  was new, known, failed and pending, the output file, the exit code and what it
  means).
- ``scrapy crawl -h`` lists every spider's ``-a`` arguments.
"""

from __future__ import annotations

import sys
import tempfile
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

from scrapy.commands import ScrapyHelpFormatter
from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.exceptions import UsageError

from newscrawl import defaults
from newscrawl.health import ExitCode
from newscrawl.lock import RunLock
from newscrawl.logformatter import install_log_filters
from newscrawl.params import VALIDATED, ArgumentError, EuronewsParams, NewsParams

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable

    from scrapy.settings import BaseSettings


def unwritable_output(settings: BaseSettings, spider: str) -> str | None:
    """Why the state or feed directories cannot be written to, or ``None``.

    Checked before the crawl: Scrapy would otherwise crawl for hours and only then
    fail to store the feed.
    """
    from newscrawl.state.recovery import feed_dirs_from  # noqa: PLC0415

    dirs = [Path(defaults.get(settings, "NEWSCRAWL_STATE_DIR"))]
    dirs += [folder for folder, _ in feed_dirs_from(settings.getdict("FEEDS"), spider)]
    for directory in dirs:
        try:
            directory.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=directory):
                pass
        except OSError as exc:
            return f"{directory}: {exc.strerror or exc}"
    return None


def run_lock(settings: BaseSettings, spider: str) -> RunLock | None:
    """The lock one run of ``spider`` must hold, or ``None`` in cluster mode."""
    if defaults.get(settings, "NEWSCRAWL_CLUSTER"):
        return None
    directory = Path(defaults.get(settings, "NEWSCRAWL_STATE_DIR"))
    return RunLock(directory / f"{spider}.lock")


class _HelpFormatter(ScrapyHelpFormatter):
    """Scrapy's help layout, but the argument list keeps its line breaks."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return "".join(indent + line for line in text.splitlines(keepends=True))


def spider_arguments_help() -> str:
    """The ``-a`` arguments of each spider, one line each, for ``crawl -h``."""
    lines = []
    for name, params in (("euronews", EuronewsParams), ("news", NewsParams)):
        lines.append(f"Arguments of the {name!r} spider (-a NAME=VALUE):")
        width = max(map(len, params.HELP))
        lines += [
            textwrap.fill(
                text,
                width=88,
                initial_indent=f"  {arg:<{width}}  ",
                subsequent_indent=" " * (width + 4),
            )
            for arg, text in params.HELP.items()
        ]
        lines.append("")
    return "\n".join(lines)


class Command(ScrapyCrawlCommand):
    """Scrapy's ``crawl``, plus early validation of ``-a`` spider arguments."""

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.formatter_class = _HelpFormatter
        parser.epilog = spider_arguments_help()

    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        super().process_options(args, opts)
        # Before the crawler process exists: it logs Scrapy's start-up listings.
        assert self.settings is not None
        install_log_filters(self.settings.get("LOG_LEVEL", "INFO"))

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.crawler_process is not None
        settings = self.crawler_process.settings
        from newscrawl.state.extension import state_kind  # noqa: PLC0415
        from newscrawl.warc.replay import replay_files  # noqa: PLC0415

        try:
            state_kind(settings)
            replay_files(settings)
        except defaults.SettingError as exc:
            raise UsageError(str(exc), print_help=False) from exc
        arguments = None
        if len(args) == 1:
            # Validated once, here: the spider takes this result (VALIDATED).
            spidercls = self.crawler_process.spider_loader.load(args[0])
            check: Callable[..., object] | None = getattr(
                spidercls, "check_arguments", None
            )
            if check is not None:
                try:
                    arguments = check(settings, opts.spargs)
                except ArgumentError as exc:
                    raise UsageError(str(exc), print_help=False) from exc
        unwritable = unwritable_output(settings, args[0])
        if unwritable:
            sys.stderr.write(f"cannot write the output: {unwritable}\n")
            self.exitcode = int(ExitCode.OUTPUT)
            return
        lock = run_lock(settings, args[0])
        if lock is not None and not lock.acquire():
            sys.stderr.write(
                f"another run of {args[0]!r} is active (pid {lock.holder() or '?'},"
                f" lock {lock.path}); exiting\n"
            )
            self.exitcode = int(ExitCode.LOCKED)
            return
        try:
            from newscrawl.state.extension import probe_state  # noqa: PLC0415

            cluster = defaults.get(settings, "NEWSCRAWL_CLUSTER")
            if cluster:
                from newscrawl.cluster.admin import unreachable  # noqa: PLC0415

                why = unreachable(str(cluster))
                if why:
                    sys.stderr.write(
                        f"cannot reach the cluster's Redis at {cluster}: {why}\n"
                    )
                    self.exitcode = int(ExitCode.COMPONENT)
                    return
            unusable = probe_state(settings, args[0])
            if unusable:
                # Refused before any request: a run without its state would write
                # every known article again.
                sys.stderr.write(f"cannot use the crawl state: {unusable}\n")
                self.exitcode = int(ExitCode.COMPONENT)
                return
            # Scrapy's own run(), keeping hold of the crawler to read its health.
            crawler = self._create_crawler(args[0])
            if arguments is not None:
                setattr(crawler, VALIDATED, arguments)
            self.crawler_process.crawl(crawler, **opts.spargs)
            self.crawler_process.start()
            if self.crawler_process.bootstrap_failed:
                self.exitcode = int(ExitCode.BOOTSTRAP)
            else:
                self.exitcode = getattr(crawler, "newscrawl_exit_code", 0)
                summary = getattr(crawler, "newscrawl_summary", None)
                if summary:
                    # On stderr with the log, but after Scrapy's closing lines
                    # and whatever the log level: the last thing a run says.
                    sys.stderr.write("\n".join(summary) + "\n")
        finally:
            if lock is not None:
                lock.release()
