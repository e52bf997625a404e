"""Typed, validated spider arguments (``-a name=value``).

A bad value raises :class:`ArgumentError` naming the argument, so the run stops at
start with a clear message instead of crawling with a half-understood request.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from newscrawl.sites.euronews import EDITIONS, edition_code


class ArgumentError(ValueError):
    """A spider argument has a bad value; the message names the argument."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"argument {name!r}: {message}")
        self.name = name


def _urls(name: str, value: str) -> list[str]:
    urls = [u.strip() for u in value.split(",") if u.strip()]
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
    return _urls(name, ",".join(urls))


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

    KNOWN = frozenset({"url", "urls_file", "editions", "related_depth"})

    @classmethod
    def from_spider_kwargs(cls, **kwargs: Any) -> EuronewsParams:
        unknown = set(kwargs) - cls.KNOWN
        if unknown:
            name = min(unknown)
            raise ArgumentError(
                name, f"unknown argument (known: {', '.join(sorted(cls.KNOWN))})"
            )
        urls: list[str] = []
        if kwargs.get("url") is not None:
            urls += _urls("url", str(kwargs["url"]))
            if not urls:
                raise ArgumentError("url", "no URL given")
        if kwargs.get("urls_file") is not None:
            urls += _urls_file("urls_file", str(kwargs["urls_file"]))
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
        return cls(
            urls=tuple(dict.fromkeys(urls)), editions=editions, related_depth=depth
        )
