"""A generated news site of N articles for state, kill and health tests."""

from __future__ import annotations

from pathlib import Path

PARAGRAPH = (
    "<p>The harbour authority said on {day} that article {n} describes a change to"
    " the ferry timetable, and residents were invited to comment before the board"
    " votes on the plan at its next public meeting in the town hall.</p>"
)


def article_html(n: int, *, dated: bool = True, version: int = 1) -> str:
    date = f"2026-03-{1 + n % 28:02d}T08:{n % 60:02d}:00-05:00"
    meta = f'<meta property="article:published_time" content="{date}">' if dated else ""
    time_el = f'<time datetime="{date}">{date[:10]}</time>' if dated else ""
    body = "".join(
        PARAGRAPH.format(day=f"day {p}", n=n) for p in range(6 + version - 1)
    )
    return (
        f'<html lang="en"><head><title>Story {n} | Courier</title>'
        f'<meta property="og:type" content="article">{meta}'
        f'<meta name="author" content="Reporter {n % 7}"></head>'
        f"<body><article><h1>Harbour story number {n}</h1>{time_el}"
        f"<p>By Reporter {n % 7}</p>{body}</article></body></html>"
    )


def article_path(n: int) -> str:
    return f"/news/harbour-story-number-{n}-for-the-record"


def build_site(root: Path, count: int, *, dated: bool = True, version: int = 1) -> None:
    """Write ``count`` articles and a front page listing them all."""
    (root / "news").mkdir(parents=True, exist_ok=True)
    links = []
    for n in range(count):
        path = article_path(n)
        (root / f"{path.lstrip('/')}.html").write_text(
            article_html(n, dated=dated, version=version), "utf-8"
        )
        links.append(f'<li><a href="{path}">Story {n}</a></li>')
    (root / "index.html").write_text(
        '<html><head><meta property="og:type" content="website"></head><body><ul>'
        + "".join(links)
        + "</ul></body></html>",
        "utf-8",
    )
    (root / "robots.txt").write_text("User-agent: *\nAllow: /\n", "utf-8")
