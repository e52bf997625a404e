"""Deprecated name of :mod:`newscrawl.state.extension` and its neighbours.

Kept so that settings naming ``newscrawl.persistence.CrawlStateExtension`` or
``newscrawl.persistence.FrontierMiddleware`` keep working; importing it warns.
"""

from __future__ import annotations

import warnings

from newscrawl.state.extension import (
    FAILED,
    CrawlStateExtension,
    open_state,
    origin_urls,
    record_failure,
    state_of,
)
from newscrawl.state.frontier import FrontierMiddleware
from newscrawl.state.recovery import feed_dirs, feed_dirs_from, recover_parts

warnings.warn(
    "newscrawl.persistence is deprecated: use newscrawl.state.extension,"
    " newscrawl.state.frontier and newscrawl.state.recovery",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = [
    "FAILED",
    "CrawlStateExtension",
    "FrontierMiddleware",
    "feed_dirs",
    "feed_dirs_from",
    "open_state",
    "origin_urls",
    "record_failure",
    "recover_parts",
    "state_of",
]
