"""Readable plain text from article HTML fragments (see docs/parsing.md, "body_text").

Paragraph-like elements become lines; runs of white space inside a line become one space. Comments and
processing instructions carry no text (the mirror's eastmoney bodies have ``<!-- EM_StockImg_Start -->``).
"""

from __future__ import annotations

import html
import re

from lxml import etree  # type: ignore[import-untyped]  # no stubs; see docs/parsing.md
from lxml import html as lxml_html

# Elements after which a reader expects a line break.
BLOCK_TAGS = frozenset({
    "p", "div", "blockquote", "center", "br", "li", "ul", "ol", "table", "tr", "h1", "h2", "h3", "h4", "h5",
    "h6", "pre", "section", "article", "figure", "figcaption", "hr",
})
# Text of these elements is not article text.
SKIP_TAGS = frozenset({"script", "style", "template"})
_SPACES = re.compile(r"[ \t\r\f\v\u3000\xa0]+")
_TAG = re.compile(r"<[^>]*>")
# Article HTML that is paragraphs of plain text, as kramdown writes a digest: no markup or entity, and no NUL
# or lone surrogate (which lxml changes). Its text is the paragraphs' own, one after the other, without lxml.
_PLAIN_PARAGRAPHS = re.compile(r"(?:\s*<p>[^<>&\x00\ud800-\udfff]*</p>)+\s*")
_PARAGRAPH_TAG = re.compile(r"</?p>")


def html_to_text(fragment: str) -> str:
    """The text of an HTML fragment: one line per block, inner white space folded, no empty lines."""
    if not fragment or not fragment.strip():
        return ""
    if _PLAIN_PARAGRAPHS.fullmatch(fragment):
        return _fold(_PARAGRAPH_TAG.sub("\n", fragment))
    try:
        elements = lxml_html.fragments_fromstring(fragment)
    except (etree.ParserError, ValueError, TypeError):
        # lxml refuses some fragments (e.g. only a comment or NUL bytes): fall back to dropping tags.
        return _fold(html.unescape(_TAG.sub("\n", fragment)))
    parts: list[str] = []
    for element in elements:
        if isinstance(element, str):
            parts.append(element)
        else:
            _walk(element, parts)
    return _fold("".join(parts))


def _walk(element: etree._Element, parts: list[str]) -> None:
    tag = element.tag if isinstance(element.tag, str) else ""
    if tag.lower() not in SKIP_TAGS and tag:
        if element.text:
            parts.append(element.text)
        for child in element:
            _walk(child, parts)
        if tag.lower() in BLOCK_TAGS:
            parts.append("\n")
    if element.tail:
        parts.append(element.tail)


def _fold(text: str) -> str:
    lines = (_SPACES.sub(" ", line).strip() for line in text.replace("\r", "\n").split("\n"))
    return "\n".join(line for line in lines if line)


def inner_text(fragment: str) -> str:
    """The text of an inline fragment on one line (white space folded), e.g. a summary paragraph."""
    return " ".join(html_to_text(fragment).split("\n")).strip()


# The control characters that make bytes binary for Scrapy's binary_is_text (all below 32 but NUL, tab, LF
# and CR), found by one regex search instead of its Python loop over every byte (0.3 ms an article page).
_CONTROL_BYTES = re.compile(rb"[\x01-\x08\x0b\x0c\x0e-\x1f]")


def looks_like_text(data: bytes) -> bool:
    """Whether ``data`` has no control characters: ``scrapy.utils.python.binary_is_text``, at C speed."""
    return _CONTROL_BYTES.search(data) is None
