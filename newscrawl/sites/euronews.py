"""Euronews (www.euronews.com and its language editions): editions, URLs, crawl, rules.

Quirks (evidence in ``../shared/EURONEWS.md``):

- Two layouts: ``V1`` (2024, valid until 2025-11-24) with a NewsArticle JSON-LD and
  ``p.c-article-summary``; ``V1_1`` (late-2025 redesign) with no article JSON-LD,
  ``h2.c-article-summary`` and ``article:*`` metas in ``name=``.
- The page holds other articles (swipe placeholders, "Top stories" rails), so every
  visible rule is scoped to the first ``article.o-article-newsy``.
- Dates come as ``YYYY-MM-DD HH:MM:SS +01:00`` in ``date.available``; the visible
  "Updated" ``<time>`` holds a clock time only and is never used.
- ``eventId`` is shared by all language versions of a story (``story_id``);
  ``storyId`` is per language.
- hreflang links point to home pages when no translation exists; only article URLs
  count as translations.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from newscrawl.names import BYLINE_WITH
from newscrawl.processors import widest_src
from newscrawl.sites.base import SiteProfile, node_text, own_text

if TYPE_CHECKING:
    from collections.abc import Iterable

    from parsel import Selector

#: Edition code -> host. Codes are the BCP 47 language tags the pages declare.
EDITIONS: dict[str, str] = {
    "en": "www.euronews.com",
    "fr": "fr.euronews.com",
    "de": "de.euronews.com",
    "it": "it.euronews.com",
    "es": "es.euronews.com",
    "pt": "pt.euronews.com",
    "pl": "pl.euronews.com",
    "ru": "ru.euronews.com",
    "tr": "tr.euronews.com",
    "el": "gr.euronews.com",
    "hu": "hu.euronews.com",
    "fa": "parsi.euronews.com",
    "ar": "arabic.euronews.com",
}
#: Other names users give editions (the host prefix) -> edition code.
EDITION_ALIASES = {"www": "en", "gr": "el", "parsi": "fa", "arabic": "ar"}

#: ``/[section/]YYYY/MM/DD/slug``: the only URLs that are articles.
ARTICLE_PATH = re.compile(
    r"^/(?:(?P<section>[a-z][a-z0-9-]*)/)?\d{4}/\d{2}/\d{2}/[^/]+/?$"
)
#: First path segments that look like a section but are never articles.
NON_ARTICLE_SECTIONS = frozenset(
    {
        "video",
        "tag",
        "tags",
        "programs",
        "programmes",
        "program",
        "profiles",
        "profile",
        "profils",
        "live",
        "search",
        "embed",
        "rss",
        "sitemaps",
        "newsletters",
        "index.php",
    }
)
_COPYRIGHT_PREFIX = re.compile(
    r"^(?:copyright|©|tous droits réservés|todos los derechos reservados|"
    r"direitos de autor|diritti d'autore|alle rechte vorbehalten|"
    r"πνευματικά δικαιώματα|telif hakkı|minden jog fenntartva|"
    r"wszelkie prawa zastrzeżone|все права защищены)\s*[:©]?\s*",
    re.IGNORECASE,
)
_WITH_WORDS = frozenset(BYLINE_WITH)


def is_article_url(url: str) -> bool:
    """Whether ``url`` has the Euronews article shape.

    >>> is_article_url("https://www.euronews.com/my-europe/2024/04/30/some-slug")
    True
    >>> is_article_url("https://www.euronews.com/video/2024/04/30/some-slug")
    False
    >>> is_article_url("https://www.euronews.com/tag/sweden")
    False
    >>> is_article_url("http://[fr.euronews.com/2024/04/30/a-b")
    False
    """
    try:
        path = urlsplit(url).path
    except ValueError:  # e.g. an unclosed IPv6 bracket in a page's link
        return False
    m = ARTICLE_PATH.match(path)
    return m is not None and (m.group("section") or "") not in NON_ARTICLE_SECTIONS


def edition_code(value: str) -> str | None:
    """Edition code for a language tag or host prefix (``gr`` -> ``el``)."""
    code = EDITION_ALIASES.get(value.strip().lower(), value.strip().lower())
    return code if code in EDITIONS else None


def front_pages(editions: Iterable[str]) -> list[str]:
    """The front page of each edition.

    >>> front_pages(["en", "el"])
    ['https://www.euronews.com/', 'https://gr.euronews.com/']
    """
    return [f"https://{EDITIONS[code]}/" for code in editions]


def listings(editions: Iterable[str], discover: str) -> list[tuple[str, str]]:
    """``(kind, url)`` of each edition's feeds and sitemaps, in crawl order.

    ``latest``: the RSS feed and the latest-news sitemap (for scheduled runs);
    ``sitemaps``: the full article sitemap (a backfill). Front pages are
    :func:`front_pages`.

    >>> for kind, url in listings(["el"], "latest"):
    ...     print(kind, url)
    feed https://gr.euronews.com/rss
    sitemap https://gr.euronews.com/sitemaps/el/latest-news.xml
    >>> listings(["en"], "sitemaps")
    [('sitemap', 'https://www.euronews.com/sitemaps/en/articles.xml')]
    """
    found: list[tuple[str, str]] = []
    for code in editions:
        host = EDITIONS[code]
        if discover == "latest":
            found.append(("feed", f"https://{host}/rss"))
            found.append(("sitemap", f"https://{host}/sitemaps/{code}/latest-news.xml"))
        else:
            found.append(("sitemap", f"https://{host}/sitemaps/{code}/articles.xml"))
    return found


def strip_copyright(text: str) -> str:
    """Drop the localised "Copyright" label in front of a credit.

    >>> strip_copyright("Tous droits réservés Euronews")
    'Euronews'
    """
    return _COPYRIGHT_PREFIX.sub("", text.strip()).strip()


class V1(SiteProfile):
    """The 2024 layout (NewsArticle JSON-LD, ``p.c-article-summary``)."""

    key = "euronews"
    domains = ("euronews.com",)
    version = "V1"
    valid_until: ClassVar[dt.date | None] = dt.date(2025, 11, 24)
    scope_css = (
        "div.jsArticleFirst article.o-article-newsy",
        "div.o-article-newsy__main",
    )

    # Head metadata lives outside the article scope.
    page_fields = frozenset(
        {"published", "modified", "section", "story_id", "language", "canonical_url"}
    )
    single_fields = frozenset({"summary"})
    title_css = ("h1.c-article-redesign-title",)
    title_prefix_css = "[class*='c-article-title__prefix']"
    summary_css: tuple[str, ...] = ("p.c-article-summary",)
    byline_css = (".c-article-contributors:not(.c-article-contributors-supplementary)",)
    byline_extra_css = (".c-article-contributors-supplementary",)
    authors_meta_css: tuple[str, ...] = ()
    authors_css = (
        ".c-article-contributors:not(.c-article-contributors-supplementary)",
    )
    published_css: tuple[str, ...] = (
        "meta[name='date.available']::attr(content)",
        "meta[name='article:published_time']::attr(content)",
    )
    modified_css: tuple[str, ...] = (
        "meta[name='date.modified']::attr(content)",
        "meta[name='article:modified_time']::attr(content)",
    )
    section_css = ("meta[name='article:vertical']::attr(content)",)
    tags_css: tuple[str, ...] = ("#adb-article-tags a.c-article-tags__item",)
    story_id_css = ("meta[name='eventId']::attr(content)",)
    language_css = ("html::attr(lang)",)
    canonical_url_css = ("link[rel='canonical']::attr(href)",)
    main_image_css = (".c-article-image-video img.c-article-media__img",)
    caption_text_css = ".c-article-caption__text"
    caption_credit_css = ".c-article-caption__credit"
    image_copyright_css = ".c-article-image-copyright"
    inline_image_css = (".c-article-content .widget--type-image",)
    body_css = (
        (
            "div.c-article-content > p, div.c-article-content > h2,"
            " div.c-article-content > h3"
        ),
    )
    related_css: tuple[str, ...] = (
        "#adb-article-you-might-also-like .c-article-you-might-also-like__item h3",
    )
    translations_css: tuple[str, ...] = ("link[rel='alternate'][hreflang][href]",)

    @classmethod
    def matches_layout(cls, page: Selector) -> bool:
        return bool(page.css("p.c-article-summary, time.c-article-publication-date"))

    def extract_title(self) -> list[Any]:
        return [
            node_text(h, exclude=self.title_prefix_css)
            for h in self.first("title", self.title_css)[:1]
        ]

    def extract_byline(self) -> list[Any]:
        parts = [node_text(n) for n in self.first("byline", self.byline_css)[:1]]
        parts += [node_text(n) for n in self.first("byline", self.byline_extra_css)[:1]]
        text = " ".join(p for p in parts if p)
        return [text] if text else []

    def extract_authors(self) -> list[Any]:
        if self.authors_meta_css:
            names = self.first("authors", self.authors_meta_css, page=True).getall()
            if names:
                return names
        for block in self.first("authors", self.authors_css)[:1]:
            return self._named_before_with(block)
        return []

    @staticmethod
    def _named_before_with(block: Selector) -> list[str]:
        """Names in ``<a>``/``<b>`` before "with"/"mit"/"avec" (agencies follow it)."""
        names: list[str] = []
        for node in block.xpath("./node()"):
            if isinstance(node.root, str):
                words = set(re.findall(r"\w+", node.root.casefold()))
                if names and words & _WITH_WORDS:
                    break
                continue
            name = node_text(node)
            if name:
                names.append(name)
        return names

    def extract_images(self) -> list[Any]:
        images = [
            self._main_image(img)
            for img in self.first("images", self.main_image_css)[:1]
        ]
        for widget in self.first("images", self.inline_image_css):
            for img in widget.css("img")[:1]:
                caption = widget.css(".widget__captionText")
                credit = widget.css(".widget__captionCredit")
                alt = img.attrib.get("alt")
                images.append(
                    {
                        "url": self._image_url(img),
                        "caption": node_text(caption[0]) if caption else alt,
                        "credit": node_text(credit[0]) if credit else None,
                    }
                )
        return images

    @staticmethod
    def _image_url(img: Selector) -> str | None:
        return widest_src(img.attrib.get("srcset")) or img.attrib.get("src")

    def _main_image(self, img: Selector) -> dict[str, Any]:
        box = self.root.css(".c-article-image-video")
        # The caption span also holds the credit in child spans: own text only.
        caption = "".join(own_text(c) for c in box.css(self.caption_text_css)[:1])
        credit = " ".join(node_text(c) for c in box.css(self.caption_credit_css)[:1])
        if not credit:
            block = self.root.css(self.image_copyright_css)
            credit = strip_copyright(node_text(block[0])) if block else ""
        return {
            "url": self._image_url(img),
            "caption": caption or img.attrib.get("alt"),
            "credit": credit or None,
        }

    def extract_body(self) -> list[Any]:
        return [node_text(n) for n in self.first("body", self.body_css)]

    def extract_related(self) -> list[Any]:
        links = []
        for h3 in self.first("related", self.related_css):
            href = h3.xpath("(.//a/@href | ancestor::a[1]/@href)[1]").get()
            if href:
                links.append({"url": href, "title": node_text(h3)})
        return links

    def extract_translations(self) -> list[Any]:
        pairs = []
        for link in self.first("translations", self.translations_css, page=True):
            href = link.attrib.get("href", "")
            if is_article_url(href):
                pairs.append((link.attrib.get("hreflang", ""), href))
        return pairs


class V1_1(V1):  # noqa: N801 - fundus' version naming
    """The late-2025 redesign (no article JSON-LD, ``h2.c-article-summary``)."""

    version = "V1_1"
    summary_css = ("h2.c-article-summary",)
    authors_meta_css = ("meta[name='article:author']::attr(content)",)
    tags_css = ("#adb-article-tags a.c-cta", "#adb-article-tags a")
    related_css = (
        "#adb-article-you-might-also-like .c-article-you-might-also-like__item h3",
        "#adb-article-you-might-also-like article.the-media-object h3",
    )
    translations_css = (
        "link[rel='alternate'][hreflang][href]",
        "#adb-header-language-switcher a[hreflang][href]",
    )

    @classmethod
    def matches_layout(cls, page: Selector) -> bool:
        return bool(page.css("h2.c-article-summary, div.c-article-publication-date"))


#: Versions oldest first; the engine picks by fetch date, then checks the markup.
VERSIONS: tuple[type[SiteProfile], ...] = (V1, V1_1)
