"""Generic main text and standfirst: trafilatura's extraction, cleaned and completed."""

from __future__ import annotations

import copy
import re
from typing import TYPE_CHECKING, Any

from lxml import etree

from newscrawl.processors import word_count

if TYPE_CHECKING:
    from newscrawl.heuristics import PageContext

#: The visible text is weighed against JSON-LD ``articleBody`` in the heuristic
#: itself; the structured layers only speak where the page shows no text at all.
ORDER_BODY = ("generic", "json-ld", "opengraph", "meta")
#: A standfirst found on the page opens the body (see ``extract._finish``); the
#: description of the structured layers is only a summary, not page text.
ORDER_SUMMARY = ("generic", "json-ld", "opengraph", "meta")

#: Below this, what trafilatura finds is page furniture ("By Euronews"), not a body.
MIN_BODY_WORDS = 20
#: A fast extraction shorter than this (in characters, so that CJK text counts
#: fairly) has latched onto a teaser or page furniture: the full extractor compares
#: it with its fallback algorithms, which the fast mode skips.
MIN_FAST_CHARS = 800
#: A paragraph this much made of one link's text is a "read also" teaser.
LINK_SHARE = 0.7
#: Longer paragraphs are prose that happens to contain a link.
MAX_TEASER_WORDS = 40
#: Lines above the text this short, with a date or time in them, are datelines.
MAX_DATELINE_WORDS = 12
#: Anchor texts shorter than this ("here", "Reuters") say nothing about a paragraph.
MIN_ANCHOR_CHARS = 15
#: JSON-LD ``articleBody`` replaces the visible text when it contains this share of
#: it and is this much longer: the page split its text and the extraction kept part.
LD_CONTAINS = 0.95
LD_LONGER = 1.3
#: Body chunks continuing the extracted one are searched up to this many levels up.
MAX_CHUNK_LEVELS = 5
#: A continuation chunk holds at least this many ``<p>`` and words.
MIN_CHUNK_PARAGRAPHS = 2
MIN_CHUNK_WORDS = 60
#: Descriptions shorter than this (in words) are too generic to look for.
MIN_LEAD_WORDS = 6
#: Characters of a text used to find it in the page.
PROBE_CHARS = 30

_WORD = re.compile(r"\w+")
#: A time of day or a numeric date: what sets a dateline apart from a heading.
_DATELINE = re.compile(r"\b\d{1,2} \d{2}\b|\b\d{1,2} \d{1,2} \d{2,4}\b|\d{4}年")
_STRING = etree.XPath("string()")
_BLOCKS = frozenset({"p", "div", "h2", "h3", "h4", "section", "header", "td"})
#: A standfirst is not inside these (teasers, menus, captions, headings).
_NOT_LEAD = frozenset(
    {"a", "nav", "footer", "aside", "figure", "figcaption", "li", "h1", "button"}
)
#: Continuation chunks are never inside these.
_NOT_BODY = frozenset({"aside", "nav", "footer", "header", "form", "a"})
_HIDDEN = "ancestor::script or ancestor::style or ancestor::noscript"
#: What lxml refuses in an XPath variable (controls, lone surrogates, U+FFFE/F),
#: though its HTML parser keeps them in the page's text.
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _norm(text: str | None) -> str:
    return " ".join(_WORD.findall(text or "")).casefold()


def _flat(text: str) -> str:
    return " ".join(text.split()).casefold()


def _text(element: Any) -> str:
    return " ".join(" ".join(element.itertext()).split())


def _grams(text: str, size: int = 4) -> set[tuple[str, ...]]:
    tokens = _WORD.findall(text.casefold())
    return {tuple(tokens[i : i + size]) for i in range(len(tokens) - size + 1)}


def _probe(text: str) -> str:
    return _NOT_XML.sub("", " ".join(text.split()))[:PROBE_CHARS]


def _find_text(root: Any, text: str) -> list[Any]:
    """Elements of the page whose own text contains the start of ``text``."""
    probe = _probe(text)
    if len(probe) < PROBE_CHARS // 2:
        return []
    nodes = root.xpath(
        f"//body//text()[contains(normalize-space(.), $p)][not({_HIDDEN})]", p=probe
    )
    return [node.getparent() for node in nodes if node.getparent() is not None]


def _extract(page: PageContext, *, fast: bool, precise: bool = False) -> Any:
    import trafilatura  # noqa: PLC0415

    # Trafilatura prunes the tree it is given; the page's own tree is still needed.
    tree = copy.deepcopy(page.selector.root)
    # Comments are text nodes to trafilatura's tree walk, as they are not when it
    # parses the HTML itself (which costs more than this copy).
    etree.strip_elements(tree, etree.Comment, with_tail=False)
    doc = trafilatura.bare_extraction(
        tree,
        url=page.url,
        fast=fast,
        favor_precision=precise,
        include_comments=False,
        include_tables=True,
        with_metadata=False,
    )
    # Called with a tree and without metadata, trafilatura returns a Document.
    return getattr(doc, "body", None)


def _titles(page: PageContext) -> set[str]:
    # lxml directly: parsel wraps every result in a Selector, which costs more here.
    root = page.selector.root
    titles = [
        *root.xpath("//meta[@property='og:title' or @name='og:title']/@content"),
        root.xpath("string(//h1[1])"),
        root.xpath("string(//title[1])"),
    ]
    return {t for t in map(_norm, titles) if t}


def _headline(text: str, title: str) -> bool:
    if text == title:
        return True
    if len(text) > 20 and title.startswith(text):
        return True
    return len(title) > 20 and text.endswith(title) and len(text) < 2 * len(title)


def _drop_furniture(body: Any, page: PageContext) -> None:
    """Remove the headline and "read also" teasers trafilatura keeps."""
    titles = _titles(page)
    for element in list(body):
        text = _norm(_text(element))
        if not text:
            continue
        # The headline, maybe with a kicker before it, or its first part.
        if any(_headline(text, t) for t in titles):
            body.remove(element)
            continue
        if len(text.split()) <= MAX_DATELINE_WORDS and _DATELINE.search(text):
            body.remove(element)
            continue
        break
    for head in body.iterfind(".//head[@rend='h1']"):
        head.getparent().remove(head)
    # string() is evaluated in C: far cheaper than walking each link's text.
    anchors = sorted(
        {
            _flat(a)
            for a in map(_STRING, page.selector.root.iter("a"))
            if len(a) >= MIN_ANCHOR_CHARS
        },
        key=len,
        reverse=True,
    )
    for element in list(body.iter("p", "item", "head")):
        parent = element.getparent()
        text = _flat(_text(element))
        if parent is None or not text or len(text.split()) > MAX_TEASER_WORDS:
            continue
        longest = next((len(a) for a in anchors if a in text), 0)
        if longest >= LINK_SHARE * len(text):
            parent.remove(element)
    for lst in list(body.iter("list")):
        if lst.getparent() is not None and not _text(lst):
            lst.getparent().remove(lst)


def _article_body(page: PageContext, text: str) -> str:
    """JSON-LD ``articleBody`` where the visible text is only a part of it."""
    declared = page.structured.article.get("articleBody")
    if not isinstance(declared, str) or not text:
        return text
    shown, full = _grams(text), _grams(declared)
    if not shown or not full:
        return text
    contained = len(shown & full) >= LD_CONTAINS * len(shown)
    longer = word_count(declared) >= LD_LONGER * word_count(text)
    return declared if contained and longer else text


def _chunk_paragraphs(element: Any) -> list[str]:
    paragraphs = []
    for block in element.iter("p", "h2", "h3", "li", "blockquote"):
        if block.tag == "p" or not any(a.tag == "p" for a in block.iterancestors()):
            text = _text(block)
            if text:
                paragraphs.append(text)
    return paragraphs


def _continuation(page: PageContext, text: str) -> list[str]:
    """Paragraphs of the chunks that continue the extracted one.

    CMSes that interleave ads cut the body into sibling containers of one class;
    trafilatura keeps the first. Later containers of the same tag and class, at
    the same depth and under a close common ancestor, are the rest of the text.
    """
    paragraphs = [p for p in text.split("\n") if len(p.split()) >= 8]
    if not paragraphs:
        return []
    found = _find_text(page.selector.root, paragraphs[-1])
    if not found:
        return []
    container = found[0].getparent()
    while container is not None and not container.get("class"):
        container = container.getparent()
    if container is None or container.tag in {"body", "html"}:
        return []
    ancestors = list(container.iterancestors())
    close = ancestors[:MAX_CHUNK_LEVELS]
    have = _norm(text)
    extra: list[str] = []
    after = False
    # Document order, so the chunks after the container come after it. Not an XPath
    # query: a tag or class from the page may hold what XPath cannot ("[", controls).
    tag, css_class = container.tag, container.get("class")
    for chunk in page.selector.root.iter():
        if chunk.tag != tag or chunk.get("class") != css_class:
            continue
        if chunk is container:
            after = True
            continue
        if not after:
            continue
        chunk_ancestors = list(chunk.iterancestors())
        if (
            len(chunk_ancestors) != len(ancestors)
            or not any(a in chunk_ancestors for a in close)
            or any(a.tag in _NOT_BODY for a in chunk_ancestors)
            or len(chunk.findall(".//p")) < MIN_CHUNK_PARAGRAPHS
        ):
            continue
        new = _chunk_paragraphs(chunk)
        if sum(len(p.split()) for p in new) < MIN_CHUNK_WORDS:
            continue
        extra.extend(p for p in new if _norm(p)[:60] not in have)
    return extra


def main_text(page: PageContext) -> str | None:
    """The article text, one paragraph per line."""
    try:
        return _main_text(page)
    except RecursionError:
        # Trafilatura walks the tree recursively: markup nested thousands of levels
        # deep (broken or hostile) has no main text it can read.
        return None


def _main_text(page: PageContext) -> str | None:
    from trafilatura.xml import xmltotxt  # noqa: PLC0415

    body = _extract(page, fast=True)
    if body is None or len(_text(body)) < MIN_FAST_CHARS:
        # Precision, because on a page with no article text at all the short
        # result is furniture ("Share this article", captions) a body must not be.
        body = _extract(page, fast=False, precise=True)
    if body is None:
        return None
    _drop_furniture(body, page)
    text = _article_body(page, xmltotxt(body, False))
    extra = _continuation(page, text)
    if extra:
        text = "\n".join([text, *extra])
    return text or None


def candidates_body(page: PageContext) -> list[str]:
    text = page.main_text
    if not text or word_count(text) < MIN_BODY_WORDS:
        return []
    return [p for p in text.split("\n") if p.strip()]


def _is_lead(element: Any, description: str) -> bool:
    text, wanted = _norm(_text(element)), _norm(description).rstrip(". ")
    words, wanted_words = len(text.split()), len(wanted.split())
    # Descriptions are often the standfirst cut short, or the standfirst plus a bit.
    starts = text.startswith(wanted[: max(20, len(wanted) - 5)])
    if starts and words <= 1.5 * wanted_words + 5:
        return True
    return wanted.startswith(text) and words >= 0.7 * wanted_words


def _lead(page: PageContext) -> str | None:
    """The standfirst: the page's description, shown above the article text."""
    text = page.main_text
    shown = [p for p in (text or "").split("\n") if len(p.split()) > 5]
    structured = page.structured
    descriptions = dict.fromkeys(
        d
        for d in (
            structured.article.get("description"),
            *page.selector.root.xpath(
                "//meta[@property='og:description' or @name='og:description'"
                " or @name='description']/@content"
            ),
        )
        if isinstance(d, str) and len(_norm(d).split()) >= MIN_LEAD_WORDS
    )
    for description in descriptions:
        # The text after the standfirst: its first paragraph, unless that is it.
        first = next((p for p in shown if _probe(p) != _probe(description)), None)
        for node in _find_text(page.selector.root, description):
            element = node
            while element is not None and element.tag not in _BLOCKS:
                element = element.getparent()
            if element is None or element.tag in _NOT_LEAD:
                continue
            if any(a.tag in _NOT_LEAD for a in element.iterancestors()):
                continue
            if not _is_lead(element, description):
                continue
            # A site blurb in the footer matches too; a standfirst precedes the text.
            if first and not element.xpath(
                "following::text()[contains(normalize-space(.), $p)]", p=_probe(first)
            ):
                continue
            return _text(element)
    return None


def candidates_summary(page: PageContext) -> list[str]:
    lead = _lead(page)
    return [lead] if lead else []
