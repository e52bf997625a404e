"""The registry of site profiles: which rules serve which domain, in which version.

The registry is an explicit literal (no import-time scanning); duplicate keys or
domains are rejected at import, as fundus does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from newscrawl.sites import euronews

if TYPE_CHECKING:
    import datetime as dt

    from parsel import Selector

    from newscrawl.sites.base import SiteProfile

#: Site key -> its profile versions, oldest first.
REGISTRY: dict[str, tuple[type[SiteProfile], ...]] = {
    "euronews": euronews.VERSIONS,
}


def _check_registry() -> None:
    domains: dict[str, str] = {}
    for key, versions in REGISTRY.items():
        if not versions:
            raise ValueError(f"site {key!r} has no versions")
        for version in versions:
            if version.key != key:
                raise ValueError(f"{version.__name__} is registered under {key!r}")
        for domain in versions[-1].domains:
            if domain in domains:
                raise ValueError(
                    f"domain {domain!r} in both {domains[domain]!r} and {key!r}"
                )
            domains[domain] = key


_check_registry()


def site_for_url(url: str) -> str | None:
    """The key of the profile whose domains cover ``url``'s host, if any."""
    host = (urlsplit(url).hostname or "").lower()
    for key, versions in REGISTRY.items():
        for domain in versions[-1].domains:
            if host == domain or host.endswith(f".{domain}"):
                return key
    return None


def get_versions(key: str) -> tuple[type[SiteProfile], ...]:
    try:
        return REGISTRY[key]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise KeyError(f"unknown site {key!r}; known sites: {known}") from None


def choose_version(
    versions: tuple[type[SiteProfile], ...], page: Selector, fetched_on: dt.date
) -> tuple[type[SiteProfile], bool]:
    """Pick the version valid on ``fetched_on``; trust the page's markup over the date.

    Returns the version and whether the date's choice had to be overridden (a
    cached old page, or a layout change the calendar did not predict).
    """
    by_date = next(
        (v for v in versions if v.valid_until is None or fetched_on <= v.valid_until),
        versions[-1],
    )
    if by_date.matches_layout(page):
        return by_date, False
    for version in reversed(versions):
        if version is not by_date and version.matches_layout(page):
            return version, True
    return by_date, False
