"""Deprecated name of :mod:`newscrawl.hosts` and :mod:`newscrawl.guards`.

Kept so that settings naming ``newscrawl.resilience.*`` components keep working;
importing it warns.
"""

from __future__ import annotations

import warnings

from newscrawl.guards import (
    LISTING,
    ContentGuard,
    RedirectGuardMiddleware,
    is_private_host,
    looks_binary,
)
from newscrawl.hosts import HostPolicy, RetryPolicyMiddleware, crawl_delay

warnings.warn(
    "newscrawl.resilience is deprecated: use newscrawl.hosts (HostPolicy,"
    " RetryPolicyMiddleware) and newscrawl.guards (RedirectGuardMiddleware,"
    " ContentGuard)",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = [
    "LISTING",
    "ContentGuard",
    "HostPolicy",
    "RedirectGuardMiddleware",
    "RetryPolicyMiddleware",
    "crawl_delay",
    "is_private_host",
    "looks_binary",
]
