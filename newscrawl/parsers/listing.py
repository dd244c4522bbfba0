"""Links of the mirror's listing pages and Atom feed, unresolved (see docs/parsing.md, "Listings").

The home page, ``/emnews/`` and ``/category/<slug>.html`` are ``<ul>`` lists of ``<a href>``; ``feed.xml``
is Atom, whose entries carry ``<link href>`` and an ``<id>`` (the post URL without ``.html``). Article pages
link back to their category page and the home page. The spider resolves and classifies what comes back.
HTML pages are read by lxml's HTML parser, through parsel (Scrapy's selectors).
"""

from __future__ import annotations

from html import unescape

from parsel import Selector

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
    # lxml refuses a NUL byte in a string; a browser drops it.
    hrefs = Selector(text=body.replace("\x00", ""), type="html").xpath(xpaths.LINK_HREF_XPATH).getall()
    return [href.strip() for href in hrefs if href.strip()]


def _unique(hrefs: list[str]) -> list[str]:
    return list(dict.fromkeys(hrefs))
