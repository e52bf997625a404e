"""The registry of sites: which rules serve which domain, and how a site is crawled.

The registry is an explicit literal (no import-time scanning); duplicate keys or
domains are rejected at import, as fundus does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

from newscrawl.sites import euronews

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Iterable, Mapping

    from parsel import Selector

    from newscrawl.sites.base import SiteProfile

#: Site key -> its profile versions, oldest first.
REGISTRY: dict[str, tuple[type[SiteProfile], ...]] = {
    "euronews": euronews.VERSIONS,
}


class SiteCrawl(Protocol):
    """What a site module with a spider of its own knows about crawling the site."""

    @property
    def EDITIONS(self) -> Mapping[str, str]:  # noqa: N802 - a module constant
        """Edition code -> host."""

    def edition_code(self, value: str) -> str | None:
        """The edition code a user's name for an edition stands for, or ``None``."""

    def is_article_url(self, url: str) -> bool:
        """Whether ``url`` has the site's article shape."""

    def front_pages(self, editions: Iterable[str]) -> list[str]:
        """The front page of each edition."""

    def listings(self, editions: Iterable[str], discover: str) -> list[tuple[str, str]]:
        """``(kind, url)`` of each edition's feeds and sitemaps for ``discover``."""


#: Site key -> how it is crawled (the site module itself).
CRAWLS: dict[str, SiteCrawl] = {
    "euronews": euronews,
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
    for key in CRAWLS:
        if key not in REGISTRY:
            raise ValueError(f"site {key!r} has crawl rules but no profile")


_check_registry()


def site_for_url(url: str) -> str | None:
    """The key of the profile whose domains cover ``url``'s host, if any."""
    host = (urlsplit(url).hostname or "").lower()
    for key, versions in REGISTRY.items():
        for domain in versions[-1].domains:
            if host == domain or host.endswith(f".{domain}"):
                return key
    return None


def site_crawl(key: str) -> SiteCrawl:
    """How the site ``key`` is crawled."""
    try:
        return CRAWLS[key]
    except KeyError:
        known = ", ".join(sorted(CRAWLS))
        raise KeyError(f"no crawl rules for site {key!r}; known: {known}") from None


def site_domains(key: str) -> tuple[str, ...]:
    """The domains of the site ``key`` (its current profile's)."""
    return get_versions(key)[-1].domains


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
