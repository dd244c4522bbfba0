"""Links of the mirror's listing pages and Atom feed, unresolved (see docs/parsing.md, "Listings").

The home page, ``/emnews/`` and ``/category/<slug>.html`` are ``<ul>`` lists of ``<a href>``; ``feed.xml``
is Atom, whose entries carry ``<link href>`` and an ``<id>`` (the post URL without ``.html``). Article pages
link back to their category page and the home page. The spider resolves and classifies what comes back.
HTML pages are read by one scan of the text for ``<a>`` tags, which reads what lxml's HTML parser does
(docs/parsing.md says where the two differ).
"""

from __future__ import annotations

import re
from html import unescape
from html.entities import html5 as _NAMED_REFERENCES

from newscrawl.parsers import xpaths


def parse_listing_links(body: str, url: str) -> list[str]:
    """Raw hrefs of a listing page or of the Atom feed, in document order, without duplicates."""
    if not isinstance(body, str) or not body.strip():
        return []
    is_xml_url = isinstance(url, str) and url.split("?", 1)[0].endswith(".xml")
    if xpaths.ATOM_MARKER.search(body[:4096]) or is_xml_url:
        return _unique(_feed_links(body))
    return _unique(_anchor_hrefs(body))


def parse_article_links(html: str) -> list[str]:
    """Raw hrefs found on an article page: its back links (category page, home) and any in the body."""
    if not isinstance(html, str) or not html.strip():
        return []
    return _unique(_anchor_hrefs(html))


def _feed_links(body: str) -> list[str]:
    # Regex, not an XML parser: a feed cut short by a failed download still yields its first entries.
    found = [(m.start(), m.group("href")) for m in xpaths.FEED_LINK_HREF.finditer(body)]
    found += [(m.start(), m.group("id")) for m in xpaths.FEED_ID.finditer(body)]
    return [unescape(value).strip() for _, value in sorted(found) if value.strip()]


def _anchor_hrefs(body: str) -> list[str]:
    # One scan of the text instead of an lxml tree: the crawl reads every article page for its links, and
    # building a tree only to ask it for //a/@href cost 155-176 µs a page inside a crawl (the scan: 52-55;
    # docs/performance.md). It reads what lxml's HTML parser reads (tests/test_listing.py holds it to lxml
    # on every fixture page and on crafted cases): no tag inside a comment or a raw-text element, the first
    # href of a tag, character references decoded as in an attribute value. NUL bytes are dropped, as they
    # were before lxml.
    if "\x00" in body:
        body = body.replace("\x00", "")
    hrefs = []
    for tag in _ANCHOR_SCAN.finditer(body):
        attributes = tag.group("attributes")
        if attributes is None:
            continue  # a comment or a raw-text element, skipped whole
        for attribute in _ATTRIBUTE.finditer(attributes):
            if attribute.group("name").lower() == "href":
                value = attribute.group("value") or ""
                if value[:1] in ('"', "'"):
                    value = value[1:-1]
                href = _attribute_value(value).strip()
                if href:
                    hrefs.append(href)
                break
    return hrefs


# Comments, raw-text elements (whose content lxml, like a browser, reads as text, never as tags) and <a>
# start tags, in document order. A comment or raw-text element left open runs to the end of the page. An
# <a> tag's unquoted part stops at the next "<", so no pattern scans further than the next tag or quote:
# linear time on any page (tests/test_listing.py).
_ANCHOR_SCAN = re.compile(
    r"<(?:!--.*?(?:-->|\Z)"
    r"|!\[CDATA\[.*?(?:\]\]>|\Z)"  # read as text by lxml, as in XML
    r"|[!?][^>]*(?:>|\Z)"  # a doctype, and what HTML reads as a comment up to the next ">" (<?php …>)
    r"|(?P<raw>script|style|title|textarea|xmp|iframe|noembed|noframes)(?=[\s/>]).*?(?:</(?P=raw)\s*>|\Z)"
    r"|plaintext(?=[\s/>]).*"
    r"|a(?=[\s/>])(?P<attributes>(?:\"[^\"]*\"|'[^']*'|[^'\"<>])*)>)",
    re.I | re.S,
)
# One attribute of a start tag: its name, and its value with its quotes (None when it has no value).
_ATTRIBUTE = re.compile(r"""[\s/]*(?P<name>[^\s/>"'=][^\s/>"'=]*)(?:\s*=\s*(?P<value>"[^"]*"|'[^']*'|[^\s>"']*))?""")
# Character references: numeric, or named (``&amp;``; a few old names also without the semicolon).
_CHARACTER_REFERENCE = re.compile(r"&(?:#[0-9]+;?|#[xX][0-9a-fA-F]+;?|(?P<name>[A-Za-z][A-Za-z0-9]*)(?P<semicolon>;?))")


def _attribute_value(value: str) -> str:
    return _CHARACTER_REFERENCE.sub(_decode_reference, value) if "&" in value else value


def _decode_reference(match: re.Match[str]) -> str:
    # HTML's rule for attribute values: a named reference without its semicolon counts only when the whole
    # name is one of the old names that may omit it and no "=" follows ("a?x=1&copy=2" stays as written).
    name, reference = match.group("name"), match.group(0)
    if name is not None and not match.group("semicolon"):
        following = match.string[match.end():match.end() + 1]
        if name not in _NAMED_REFERENCES or following == "=":
            return reference
    return unescape(reference)


def _unique(hrefs: list[str]) -> list[str]:
    return list(dict.fromkeys(hrefs))
