"""Small page builders for the heuristics tests (pages written here, never copied)."""

from __future__ import annotations

import json

from scrapy.http import HtmlResponse


def html_page(
    head: str = "", body: str = "", *, url: str, lang: str | None = "en"
) -> HtmlResponse:
    attr = f' lang="{lang}"' if lang else ""
    html = f"<html{attr}><head>{head}</head><body>{body}</body></html>"
    return HtmlResponse(url, body=html.encode(), encoding="utf-8")


def ld(node_type: str = "NewsArticle", **fields: str) -> str:
    node = {"@context": "https://schema.org", "@type": node_type, **fields}
    return f'<script type="application/ld+json">{json.dumps(node)}</script>'


def meta(prop: str, content: str) -> str:
    return f'<meta property="{prop}" content="{content}">'
