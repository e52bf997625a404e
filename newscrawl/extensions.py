"""Deprecated name of :mod:`newscrawl.report` and :mod:`newscrawl.health`.

Kept so that settings naming ``newscrawl.extensions.CrawlReport`` and code
importing ``ExitCode`` from here keep working; importing it warns.
"""

from __future__ import annotations

import warnings

from newscrawl.health import ExitCode, health
from newscrawl.report import REPORT_SUFFIX, CrawlReport, build_report, summary_lines

warnings.warn(
    "newscrawl.extensions is deprecated: use newscrawl.report (CrawlReport) and"
    " newscrawl.health (ExitCode)",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = [
    "REPORT_SUFFIX",
    "CrawlReport",
    "ExitCode",
    "build_report",
    "health",
    "summary_lines",
]
