"""Typed, validated spider arguments (``-a name=value``).

A bad value raises :class:`ArgumentError` naming the argument, so the run stops at
start with a clear message instead of crawling with a half-understood request.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

from newscrawl.sites.euronews import EDITIONS, edition_code


class ArgumentError(ValueError):
    """A spider argument has a bad value; the message names the argument."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"argument {name!r}: {message}")
        self.name = name


def _urls(name: str, value: str | list[str]) -> list[str]:
    """Absolute http(s) URLs: a comma-separated string, or a list (one each)."""
    if isinstance(value, str):
        value = value.split(",")
    urls = [u.strip() for u in value if u.strip()]
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ArgumentError(name, f"not an absolute http(s) URL: {url!r}")
    return urls


def _urls_file(name: str, value: str) -> list[str]:
    path = Path(value)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ArgumentError(name, f"cannot read {value!r}: {exc.strerror}") from exc
    urls = [
        ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")
    ]
    if not urls:
        raise ArgumentError(name, f"{value!r} holds no URL")
    # One URL per line: a URL may contain commas (``/leak,3412544.html``).
    return _urls(name, urls)


def _bool(name: str, value: object) -> bool:
    """A yes/no argument: ``1/true/yes`` or ``0/false/no`` (absent: no)."""
    if value is None:
        return False
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ArgumentError(name, f"not yes or no: {value!r}")


def _replay(kwargs: dict[str, Any]) -> tuple[str, ...]:
    """``replay=PATH[,PATH...]``: WARC files or directories that must exist."""
    value = kwargs.get("replay")
    if not value:
        return ()
    paths = [p.strip() for p in str(value).split(",") if p.strip()]
    for path in paths:
        if not Path(path).exists():
            raise ArgumentError("replay", f"no such file or directory: {path!r}")
    return tuple(paths)


def _check_known(known: frozenset[str], kwargs: dict[str, Any]) -> None:
    unknown = set(kwargs) - known
    if unknown:
        raise ArgumentError(
            min(unknown), f"unknown argument (known: {', '.join(sorted(known))})"
        )


def _start_urls(kwargs: dict[str, Any]) -> list[str]:
    """URLs from ``url`` (comma-separated) and ``urls_file`` (one per line)."""
    urls: list[str] = []
    if kwargs.get("url") is not None:
        urls += _urls("url", str(kwargs["url"]))
        if not urls:
            raise ArgumentError("url", "no URL given")
    if kwargs.get("urls_file") is not None:
        urls += _urls_file("urls_file", str(kwargs["urls_file"]))
    return urls


def _since(kwargs: dict[str, Any]) -> str | None:
    """``since=YYYY-MM-DD`` (or any ISO 8601 date) as an ISO date."""
    value = kwargs.get("since")
    if value is None:
        return None
    import datetime as dt  # noqa: PLC0415

    try:
        return dt.date.fromisoformat(str(value).strip()[:10]).isoformat()
    except ValueError:
        raise ArgumentError("since", f"not a date (YYYY-MM-DD): {value!r}") from None


def _int(name: str, value: Any, low: int, high: int) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ArgumentError(name, f"not a whole number: {value!r}") from None
    if not low <= number <= high:
        raise ArgumentError(name, f"{number} is outside {low}..{high}")
    return number


def _editions(name: str, value: str) -> tuple[str, ...]:
    if value.strip().lower() in ("", "all"):
        return tuple(EDITIONS)
    codes = []
    for raw in value.split(","):
        code = edition_code(raw)
        if code is None:
            known = ", ".join(EDITIONS)
            raise ArgumentError(
                name, f"unknown edition {raw.strip()!r} (known: {known})"
            )
        if code not in codes:
            codes.append(code)
    return tuple(codes)


@dataclass(frozen=True)
class EuronewsParams:
    """Arguments of the ``euronews`` spider."""

    #: Explicit start URLs (articles, or listing pages whose articles are crawled).
    urls: tuple[str, ...] = ()
    #: Editions whose front pages seed the crawl when no URL is given.
    editions: tuple[str, ...] = tuple(EDITIONS)
    #: How many "You might also like" hops to follow from a start article.
    related_depth: int = 2

    #: Articles published before this date (ISO) are not exported.
    since: str | None = None
    #: Where the editions' articles come from: ``front`` pages, ``latest`` (the
    #: latest-news sitemaps and RSS feeds, for scheduled runs) or ``sitemaps``
    #: (the full article sitemaps, for a backfill).
    discover: str = "front"
    #: WARC files or directories to serve the crawl from instead of the network.
    replay: tuple[str, ...] = ()

    #: Every argument, with the line ``scrapy crawl euronews -h`` shows for it.
    HELP: ClassVar[dict[str, str]] = {
        "url": "start URLs, comma-separated: an article is extracted, any other"
        " page is read as a listing and its articles are crawled",
        "urls_file": "a file of start URLs, one per line (# starts a comment)",
        "editions": "editions whose front pages seed the crawl when no URL is"
        " given: language codes (en,fr,de...) or host prefixes, or all"
        " (default: all)",
        "related_depth": '"You might also like" hops from a start article,'
        " 0..20 (default: 2)",
        "since": "YYYY-MM-DD: articles published earlier are not exported",
        "discover": "front (default), latest (latest-news sitemaps and RSS"
        " feeds, for cron) or sitemaps (full article sitemaps, a backfill)",
        "replay": "WARC files or directories (comma-separated) to serve the"
        " crawl from instead of the network",
    }
    KNOWN = frozenset(HELP)
    DISCOVER = ("front", "latest", "sitemaps")

    @classmethod
    def from_spider_kwargs(cls, **kwargs: Any) -> EuronewsParams:
        _check_known(cls.KNOWN, kwargs)
        urls = _start_urls(kwargs)
        editions = tuple(EDITIONS)
        if kwargs.get("editions") is not None:
            if urls:
                raise ArgumentError(
                    "editions", "give either URLs or editions, not both"
                )
            editions = _editions("editions", str(kwargs["editions"]))
        depth = 2
        if kwargs.get("related_depth") is not None:
            depth = _int("related_depth", kwargs["related_depth"], 0, 20)
        discover = str(kwargs.get("discover") or "front").strip().lower()
        if discover not in cls.DISCOVER:
            raise ArgumentError(
                "discover", f"{discover!r} is not one of {', '.join(cls.DISCOVER)}"
            )
        return cls(
            urls=tuple(dict.fromkeys(urls)),
            editions=editions,
            related_depth=depth,
            since=_since(kwargs),
            discover=discover,
            replay=_replay(kwargs),
        )


@dataclass(frozen=True)
class NewsParams:
    """Arguments of the generic ``news`` spider."""

    #: Start pages: articles, front or section pages.
    urls: tuple[str, ...] = ()
    #: RSS/Atom feeds whose items are crawled.
    feeds: tuple[str, ...] = ()
    #: Sitemaps (indexes and Google News sitemaps too) whose URLs are crawled.
    sitemaps: tuple[str, ...] = ()
    #: Link hops from a start point: 1 = the articles it lists or links.
    depth: int = 1
    #: Site profile to use whatever the host (e.g. ``euronews`` for a local copy).
    site: str | None = None

    #: Articles published before this date (ISO) are neither fetched nor exported.
    since: str | None = None
    #: WARC files or directories to serve the crawl from instead of the network.
    replay: tuple[str, ...] = ()
    #: The start URLs are articles: export them whatever the page test says.
    seeds_are_articles: bool = False

    #: A cluster worker may start with no seeds: ``newscrawl seed`` gives them.
    CLUSTER_SEEDS = True

    #: Every argument, with the line ``scrapy crawl news -h`` shows for it.
    HELP: ClassVar[dict[str, str]] = {
        "url": "start pages, comma-separated: articles, front or section pages",
        "urls_file": "a file of start pages, one per line (# starts a comment)",
        "feed": "RSS or Atom feeds, comma-separated; their items are crawled",
        "sitemap": "sitemaps, sitemap indexes or Google News sitemaps, comma-separated",
        "depth": "link hops from a start point, 0..10: 1 = the articles a page,"
        " feed or sitemap lists (default: 1)",
        "site": "use this site profile whatever the host (e.g. euronews)",
        "since": "YYYY-MM-DD: older articles are neither fetched nor exported",
        "replay": "WARC files or directories (comma-separated) to serve the"
        " crawl from instead of the network",
        "seeds_are_articles": "1: export every start URL whatever the page"
        " test says (default: 0)",
    }
    KNOWN = frozenset(HELP)

    @classmethod
    def from_spider_kwargs(cls, **kwargs: Any) -> NewsParams:
        cluster = bool(kwargs.pop("_cluster", False))
        _check_known(cls.KNOWN, kwargs)
        urls = _start_urls(kwargs)
        feeds = _urls("feed", str(kwargs["feed"])) if kwargs.get("feed") else []
        sitemaps = (
            _urls("sitemap", str(kwargs["sitemap"])) if kwargs.get("sitemap") else []
        )
        if not (urls or feeds or sitemaps or cluster):
            raise ArgumentError(
                "url", "give at least one of url, urls_file, feed, sitemap"
            )
        depth = 1
        if kwargs.get("depth") is not None:
            depth = _int("depth", kwargs["depth"], 0, 10)
        site = kwargs.get("site")
        if site is not None:
            from newscrawl.sites import REGISTRY  # noqa: PLC0415

            if site not in REGISTRY:
                known = ", ".join(sorted(REGISTRY))
                raise ArgumentError("site", f"unknown site {site!r} (known: {known})")
        return cls(
            urls=tuple(dict.fromkeys(urls)),
            feeds=tuple(dict.fromkeys(feeds)),
            sitemaps=tuple(dict.fromkeys(sitemaps)),
            depth=depth,
            site=site,
            since=_since(kwargs),
            replay=_replay(kwargs),
            seeds_are_articles=_bool(
                "seeds_are_articles", kwargs.get("seeds_are_articles")
            ),
        )
