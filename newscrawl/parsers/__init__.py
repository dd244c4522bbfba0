"""Pure parsers for the finews mirror: article pages, listing pages and the feed, origin text answers.

No Scrapy here (see docs/parsing.md); the spider hands response text to these functions.
"""

from __future__ import annotations

from newscrawl.parsers.article import parse_article
from newscrawl.parsers.listing import parse_article_links, parse_listing_links
from newscrawl.parsers.origin import OriginText, parse_origin_text
from newscrawl.parsers.text import looks_like_text

__all__ = [
    "OriginText", "looks_like_text", "parse_article", "parse_article_links", "parse_listing_links", "parse_origin_text",
]
