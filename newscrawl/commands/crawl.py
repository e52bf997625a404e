"""``scrapy crawl`` that checks the spider's arguments before anything starts.

Without it a bad ``-a`` value surfaces as an asyncio traceback from inside the
crawler; here it is a one-line usage error naming the argument (exit code 2).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.exceptions import UsageError

from newscrawl.params import ArgumentError

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable


class Command(ScrapyCrawlCommand):
    """Scrapy's ``crawl``, plus early validation of ``-a`` spider arguments."""

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) == 1 and self.crawler_process is not None:
            spidercls = self.crawler_process.spider_loader.load(args[0])
            check: Callable[..., object] | None = getattr(
                spidercls, "check_arguments", None
            )
            if check is not None:
                try:
                    check(**opts.spargs)
                except ArgumentError as exc:
                    raise UsageError(str(exc), print_help=False) from exc
        super().run(args, opts)
