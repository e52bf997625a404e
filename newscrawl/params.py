"""Spider arguments (``-a name=value``): validated once, then planned.

A bad value raises :class:`ArgumentError` naming the argument, so the run stops at
start with a clear message instead of crawling with a half-understood request.
:func:`plan` turns validated arguments into what the spider does: its start
points, its follow rules and the settings the arguments imply. The ``crawl``
command validates before the crawler starts; the spider reuses that result
(:data:`VALIDATED`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self
from urllib.parse import urlsplit

from newscrawl.follow import MAX_URL_LENGTH, FollowRules, host_of, site_of

if TYPE_CHECKING:
    from collections.abc import Mapping

#: Crawler attribute holding the spider arguments the ``crawl`` command validated.
VALIDATED = "newscrawl_arguments"


class ArgumentError(ValueError):
    """A spider argument has a bad value; the message names the argument."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"argument {name!r}: {message}")
        self.name = name


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a start point, or ``None`` when it can.

    >>> url_problem("https://example.org/a") is None
    True
    >>> url_problem("http://example.org:99999/")
    'port out of range'
    >>> url_problem("http://user:secret@example.org/")
    'credentials in the URL'
    >>> url_problem("http://[::1/")
    'malformed: Invalid IPv6 URL'
    """
    try:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return "not an absolute http(s) URL"
        parts.port  # noqa: B018 - raises on a port out of range
    except ValueError as exc:
        text = str(exc)
        return "port out of range" if "Port" in text else f"malformed: {text}"
    if parts.username is not None or parts.password is not None:
        # Sent in the clear to every redirect target; never a seed.
        return "credentials in the URL"
    if len(url) > MAX_URL_LENGTH:
        return f"longer than {MAX_URL_LENGTH} characters"
    return None


def _urls(name: str, value: str | list[str]) -> list[str]:
    """Absolute http(s) URLs: a comma-separated string, or a list (one each)."""
    if isinstance(value, str):
        value = value.split(",")
    urls = [u.strip() for u in value if u.strip()]
    for url in urls:
        problem = url_problem(url)
        if problem:
            shown = url if len(url) <= 120 else url[:120] + "..."
            raise ArgumentError(name, f"{problem}: {shown!r}")
    return urls


def _urls_file(name: str, value: str) -> tuple[list[str], list[str]]:
    """The good URLs of a file (one per line), and a line for each bad one.

    A bad line is skipped with its line number and reason; the others are all
    crawled. A file that cannot be read or decoded stops the run.
    """
    path = Path(value)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ArgumentError(name, f"cannot read {value!r}: {exc.strerror}") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ArgumentError(name, f"{value!r} line {line}: not UTF-8") from None
    urls: list[str] = []
    skipped: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        url = raw.strip()
        if not url or url.startswith("#"):
            continue
        # One URL per line: a URL may contain commas (``/leak,3412544.html``).
        problem = url_problem(url)
        if problem:
            shown = url if len(url) <= 120 else url[:120] + "..."
            skipped.append(f"{value} line {number}: {problem}: {shown!r}")
        else:
            urls.append(url)
    if not urls:
        detail = f" ({skipped[0]})" if skipped else ""
        raise ArgumentError(name, f"{value!r} holds no usable URL{detail}")
    return urls, skipped


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


def _replay(kwargs: Mapping[str, Any]) -> tuple[str, ...]:
    """``replay=PATH[,PATH...]``: WARC files or directories that must exist."""
    value = kwargs.get("replay")
    if not value:
        return ()
    paths = [p.strip() for p in str(value).split(",") if p.strip()]
    for path in paths:
        if not Path(path).exists():
            raise ArgumentError("replay", f"no such file or directory: {path!r}")
    return tuple(paths)


def _check_known(known: frozenset[str], kwargs: Mapping[str, Any]) -> None:
    unknown = set(kwargs) - known
    if unknown:
        raise ArgumentError(
            min(unknown), f"unknown argument (known: {', '.join(sorted(known))})"
        )


def _start_urls(kwargs: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """Start URLs from ``url`` and ``urls_file``, and the file's skipped lines."""
    urls: list[str] = []
    skipped: list[str] = []
    if kwargs.get("url") is not None:
        urls += _urls("url", str(kwargs["url"]))
        if not urls:
            raise ArgumentError("url", "no URL given")
    if kwargs.get("urls_file") is not None:
        listed, skipped = _urls_file("urls_file", str(kwargs["urls_file"]))
        urls += listed
    return urls, skipped


def _since(kwargs: Mapping[str, Any]) -> str | None:
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


@dataclass(frozen=True)
class Hops:
    """An argument giving the crawl's link hops (its ``max_hops``): name and range."""

    name: str
    default: int
    high: int

    def read(self, kwargs: Mapping[str, Any]) -> int:
        value = kwargs.get(self.name)
        if value is None:
            return self.default
        return _int(self.name, value, 0, self.high)

    def help(self, text: str) -> str:
        """``text`` with ``{range}`` and ``{default}`` filled in."""
        return text.format(range=f"0..{self.high}", default=self.default)


#: Euronews: "You might also like" hops from a start article.
RELATED_DEPTH = Hops("related_depth", default=2, high=20)
#: Any site: link hops from a start point.
DEPTH = Hops("depth", default=1, high=10)


def _editions(site: str, name: str, value: str) -> tuple[str, ...]:
    from newscrawl.sites import site_crawl  # noqa: PLC0415

    crawl = site_crawl(site)
    if value.strip().lower() in ("", "all"):
        return tuple(crawl.EDITIONS)
    codes = []
    for raw in value.split(","):
        code = crawl.edition_code(raw)
        if code is None:
            known = ", ".join(crawl.EDITIONS)
            raise ArgumentError(
                name, f"unknown edition {raw.strip()!r} (known: {known})"
            )
        if code not in codes:
            codes.append(code)
    return tuple(codes)


@dataclass(frozen=True)
class EuronewsParams:
    """Arguments of the ``euronews`` spider."""

    #: The site the spider crawls, with its rules.
    SITE: ClassVar[str] = "euronews"

    #: Explicit start URLs (articles, or listing pages whose articles are crawled).
    urls: tuple[str, ...] = ()
    #: Lines of ``urls_file`` skipped, each with its number and reason.
    skipped_lines: tuple[str, ...] = ()
    #: Editions whose front pages seed the crawl when no URL is given (validated:
    #: every edition unless some are named).
    editions: tuple[str, ...] = ()
    #: How many "You might also like" hops to follow from a start article.
    related_depth: int = RELATED_DEPTH.default

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
        "related_depth": RELATED_DEPTH.help(
            '"You might also like" hops from a start article, {range}'
            " (default: {default})"
        ),
        "since": "YYYY-MM-DD: articles published earlier are not exported",
        "discover": "front (default), latest (latest-news sitemaps and RSS"
        " feeds, for cron) or sitemaps (full article sitemaps, a backfill)",
        "replay": "WARC files or directories (comma-separated) to serve the"
        " crawl from instead of the network",
    }
    KNOWN = frozenset(HELP)
    DISCOVER = ("front", "latest", "sitemaps")

    @classmethod
    def from_spider_kwargs(cls, **kwargs: Any) -> Self:
        """:meth:`parse` for a crawl of its own (not a cluster worker)."""
        return cls.parse(kwargs)

    @classmethod
    def parse(cls, kwargs: Mapping[str, Any], *, cluster: bool = False) -> Self:
        """Validated arguments.

        ``cluster`` changes nothing: a Euronews crawl always has start points
        (the editions, when no URL is given).
        """
        _check_known(cls.KNOWN, kwargs)
        urls, skipped = _start_urls(kwargs)
        editions = _editions(cls.SITE, "editions", "all")
        if kwargs.get("editions") is not None:
            if urls:
                raise ArgumentError(
                    "editions", "give either URLs or editions, not both"
                )
            editions = _editions(cls.SITE, "editions", str(kwargs["editions"]))
        discover = str(kwargs.get("discover") or "front").strip().lower()
        if discover not in cls.DISCOVER:
            raise ArgumentError(
                "discover", f"{discover!r} is not one of {', '.join(cls.DISCOVER)}"
            )
        return cls(
            urls=tuple(dict.fromkeys(urls)),
            skipped_lines=tuple(skipped),
            editions=editions,
            related_depth=RELATED_DEPTH.read(kwargs),
            since=_since(kwargs),
            discover=discover,
            replay=_replay(kwargs),
        )


@dataclass(frozen=True)
class NewsParams:
    """Arguments of the generic ``news`` spider."""

    #: Start pages: articles, front or section pages.
    urls: tuple[str, ...] = ()
    #: Lines of ``urls_file`` skipped, each with its number and reason.
    skipped_lines: tuple[str, ...] = ()
    #: RSS/Atom feeds whose items are crawled.
    feeds: tuple[str, ...] = ()
    #: Sitemaps (indexes and Google News sitemaps too) whose URLs are crawled.
    sitemaps: tuple[str, ...] = ()
    #: Link hops from a start point: 1 = the articles it lists or links.
    depth: int = DEPTH.default
    #: Site profile to use whatever the host (e.g. ``euronews`` for a local copy).
    site: str | None = None

    #: Articles published before this date (ISO) are neither fetched nor exported.
    since: str | None = None
    #: WARC files or directories to serve the crawl from instead of the network.
    replay: tuple[str, ...] = ()
    #: The start URLs are articles: export them whatever the page test says.
    seeds_are_articles: bool = False

    #: Every argument, with the line ``scrapy crawl news -h`` shows for it.
    HELP: ClassVar[dict[str, str]] = {
        "url": "start pages, comma-separated: articles, front or section pages",
        "urls_file": "a file of start pages, one per line (# starts a comment)",
        "feed": "RSS or Atom feeds, comma-separated; their items are crawled",
        "sitemap": "sitemaps, sitemap indexes or Google News sitemaps, comma-separated",
        "depth": DEPTH.help(
            "link hops from a start point, {range}: 1 = the articles a page,"
            " feed or sitemap lists (default: {default})"
        ),
        "site": "use this site profile whatever the host (e.g. euronews)",
        "since": "YYYY-MM-DD: older articles are neither fetched nor exported",
        "replay": "WARC files or directories (comma-separated) to serve the"
        " crawl from instead of the network",
        "seeds_are_articles": "1: export every start URL whatever the page"
        " test says (default: 0)",
    }
    KNOWN = frozenset(HELP)

    @classmethod
    def from_spider_kwargs(cls, **kwargs: Any) -> Self:
        """:meth:`parse` for a crawl of its own (not a cluster worker)."""
        return cls.parse(kwargs)

    @classmethod
    def parse(cls, kwargs: Mapping[str, Any], *, cluster: bool = False) -> Self:
        """Validated arguments; a ``cluster`` worker may have no start point.

        Its seeds then come from the cluster (``newscrawl seed``).
        """
        _check_known(cls.KNOWN, kwargs)
        urls, skipped = _start_urls(kwargs)
        feeds = _urls("feed", str(kwargs["feed"])) if kwargs.get("feed") else []
        sitemaps = (
            _urls("sitemap", str(kwargs["sitemap"])) if kwargs.get("sitemap") else []
        )
        if not (urls or feeds or sitemaps or cluster):
            raise ArgumentError(
                "url", "give at least one of url, urls_file, feed, sitemap"
            )
        site = kwargs.get("site")
        if site is not None:
            from newscrawl.sites import REGISTRY  # noqa: PLC0415

            if site not in REGISTRY:
                known = ", ".join(sorted(REGISTRY))
                raise ArgumentError("site", f"unknown site {site!r} (known: {known})")
        return cls(
            urls=tuple(dict.fromkeys(urls)),
            skipped_lines=tuple(skipped),
            feeds=tuple(dict.fromkeys(feeds)),
            sitemaps=tuple(dict.fromkeys(sitemaps)),
            depth=DEPTH.read(kwargs),
            site=site,
            since=_since(kwargs),
            replay=_replay(kwargs),
            seeds_are_articles=_bool(
                "seeds_are_articles", kwargs.get("seeds_are_articles")
            ),
        )


@dataclass(frozen=True)
class Plan:
    """What a spider does, from its validated arguments alone (see :func:`plan`)."""

    #: Start points in crawl order, as ``(kind, url)``: kind ``url`` (a page),
    #: ``feed`` or ``sitemap``, as the seeds a cluster is given.
    starts: tuple[tuple[str, str], ...]
    #: What the crawl follows from them.
    follow: FollowRules
    #: The site profile to extract with whatever the host (``None``: by host).
    site: str | None = None
    #: Export the start pages whatever the page test says.
    seeds_are_articles: bool = False
    #: Settings the arguments imply, set at "spider" priority (``-s`` still wins).
    settings: Mapping[str, Any] = field(default_factory=dict)


def replay_settings(replay: tuple[str, ...]) -> dict[str, Any]:
    """The settings ``-a replay=`` implies: archives instead of the network.

    Offline, there is no one to be polite to: no delays, no throttle, more
    requests in parallel. (Nothing is recorded again: the WARC recorder turns
    itself off while replaying.)
    """
    if not replay:
        return {}
    return {
        "NEWSCRAWL_REPLAY": list(replay),
        "DOWNLOAD_DELAY": 0,
        "AUTOTHROTTLE_ENABLED": False,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 16,
    }


def plan(params: EuronewsParams | NewsParams) -> Plan:
    """What a spider with these validated arguments does (pure: no I/O).

    Both hop arguments become the follow rules' ``max_hops``: ``related_depth``
    (Euronews, from a start article) and ``depth`` (any site, from a start point).
    """
    if isinstance(params, EuronewsParams):
        return _site_plan(params)
    starts = (
        *(("feed", url) for url in params.feeds),
        *(("sitemap", url) for url in params.sitemaps),
        *(("url", url) for url in params.urls),
    )
    return Plan(
        starts=starts,
        follow=FollowRules(
            max_hops=params.depth,
            # The registrable domains of the start points.
            sites=frozenset(site_of(h) for _, url in starts if (h := host_of(url))),
            since=params.since,
        ),
        site=params.site,
        seeds_are_articles=params.seeds_are_articles,
        settings=replay_settings(params.replay),
    )


def _site_plan(params: EuronewsParams) -> Plan:
    from newscrawl.sites import site_crawl, site_domains  # noqa: PLC0415

    crawl = site_crawl(params.SITE)
    starts: list[tuple[str, str]]
    if params.urls:
        starts = [("url", url) for url in params.urls]
    elif params.discover == "front":
        starts = [("url", url) for url in crawl.front_pages(params.editions)]
    else:
        starts = crawl.listings(params.editions, params.discover)
    return Plan(
        starts=tuple(starts),
        follow=FollowRules(
            max_hops=params.related_depth,
            # The site's hosts, and the hosts of explicit start URLs: that is
            # how the offline demo and the tests crawl a local copy.
            sites=frozenset(site_of(d) for d in site_domains(params.SITE)),
            hosts=frozenset(h for url in params.urls if (h := host_of(url))),
            by_host=True,
            article_site=params.SITE,
            since=params.since,
        ),
        site=params.SITE,
        settings=replay_settings(params.replay),
    )
