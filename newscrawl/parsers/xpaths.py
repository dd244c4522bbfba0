"""Selectors and patterns for the finews mirror's pages, in priority order (see docs/parsing.md).

The mirror is a Jekyll site: every article page is ``_layouts/post.html`` inside ``_layouts/default.html``.
The article's own HTML must be cut out of the page byte for byte (it is written back into a post file), so
the page structure is matched with patterns on the raw text; lxml is only used for text and metadata.
Each constant is used by ``article.py`` / ``listing.py``; every special case names the page quirk it handles.
"""

from __future__ import annotations

import re

# The content area of default.html; everything the post layout writes lives inside it. Opening and closing
# tags are searched for one after the other (never one lazy ".*?" pattern, which is quadratic on a page of
# many unclosed tags); a truncated download has no closing tag, and then the rest of the page is taken.
SECTION_OPEN = re.compile(r"<section>", re.I)
SECTION_CLOSE = re.compile(r"</section>", re.I)

# post.html's date line: "%Y-%m-%d %H:%M:%S" in the site's time zone (UTC+8), without an offset.
DATE_LINE = re.compile(
    r"<small>\s*\(GMT\+8,\s*Asia/Shanghai,\s*CST\)\s*"
    r"(?P<date>\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2})?)\s*</small>",
    re.I,
)
# post.html writes {{ page.title }} unescaped into the first <h1> of the section: its inner text is the
# title exactly as Jekyll read it from the front matter.
H1_OPEN = re.compile(r"<h1>", re.I)
H1_CLOSE = re.compile(r"</h1>", re.I)
# post.html's tags line: {{ page.tags | join: "</em> - <em>" }}; Jekyll split the front-matter string on
# white space, so several <em> are the words of one tags value.
# The last one counts (an article could quote such a line); its end is searched for separately.
TAGS_OPEN = re.compile(r"<small>\s*tags:\s*", re.I)
SMALL_CLOSE = re.compile(r"</small>", re.I)
TAG_ITEM = re.compile(r"<em>(?P<tag>[^<]*)</em>", re.I)

# The article part ends with paragraphs that are not the article's; each is the text from the last "<p>"
# (kramdown writes tags in lower case and these paragraphs hold no nested <p>), matched whole:
LAST_PARAGRAPH_START = "<p>"
# kramdown's rendering of the post file's autolink line "<http…>": a paragraph whose only child is a link
# whose text is its own address.
SHARE_PARAGRAPH = re.compile(r"<p>\s*<a href=\"(?P<href>[^\"]*)\">(?P<text>[^<]*)</a>\s*</p>", re.I)
# The back-link footer: links whose text starts with 返回 ("back to"), joined by ｜ on one line or by a
# line break (the two-line Markdown form), e.g. [返回东财滚动新闻](../emnews/)\n[返回首页](../).
FOOTER_PARAGRAPH = re.compile(
    r"<p>\s*(?P<inner>(?:<a href=\"[^\"]*\">返回[^<]*</a>\s*(?:[｜|]\s*)?)+)</p>", re.I
)
FOOTER_LINK = re.compile(r"<a href=\"(?P<href>[^\"]*)\">(?P<text>[^<]*)</a>", re.I)
# A back link "返回<publisher>新闻" names the category's publisher; 返回首页 (home) does not.
PUBLISHER_BACK_LINK = re.compile(r"^返回(?P<publisher>.+?)新闻$")
HOME_BACK_LINK = "返回首页"
# An empty link line "<>" in the post file (VARIANTS.md: "Empty link <>"), rendered as literal text.
EMPTY_SHARE_PARAGRAPH = re.compile(r"<p>\s*&lt;&gt;\s*</p>", re.I)

# The summary: a leading <p><strong>摘要：</strong>…</p> (publisher posts) …
SUMMARY_PARAGRAPH = re.compile(
    r"\A\s*<p>\s*<strong>\s*摘要[：:]\s*</strong>(?P<summary>.*?)</p>", re.S | re.I
)
# … or the leading "> digest" line of emnews-full posts, which kramdown renders as a blockquote.
SUMMARY_BLOCKQUOTE = re.compile(r"\A\s*<blockquote>\s*(?P<summary>.*?)</blockquote>", re.S | re.I)
# The publisher's credit line: （文章来源：X）, usually in <p class="em_media">.
SOURCE = re.compile(r"（文章来源：(?P<source>[^）]{1,500})）")

# Metadata fallbacks, written by default.html and jekyll-seo-tag, in priority order.
OG_TITLE_XPATHS = (
    # default.html's own meta, {{ page.title }} unescaped: breaks (cut short) when the title has a '"'.
    "//meta[@property='og:title']/@content",
    "//meta[@property='twitter:title']/@content",
)
# jekyll-seo-tag's <title> is "<title> | <site title>", HTML-escaped.
HTML_TITLE_XPATH = "//title/text()"
SITE_TITLE_SUFFIX = " | 金融消息"
PUBLISHED_TIME_XPATHS = ("//meta[@property='article:published_time']/@content",)
JSON_LD_XPATH = "//script[@type='application/ld+json']/text()"
JSON_LD_HEADLINE = "headline"
JSON_LD_DATE = "datePublished"

# A Jekyll post URL: /<categories…>/YYYY/MM/DD/<slug>.html. Jekyll splits a categories value on white
# space and makes one path segment of each word, so there can be several segments (or none).
POST_URL_PATH = re.compile(
    r"^/(?:(?P<categories>.+?)/)?(?P<y>\d{4})/(?P<m>\d{2})/(?P<d>\d{2})/(?P<slug>[^/]+)\.html$"
)

# Listing pages: every <a href> (home, /emnews/, /category/<slug>.html); and the Atom feed: <link href>
# and <id> of the feed and of each entry.
LINK_HREF_XPATH = "//a/@href"
FEED_LINK_HREF = re.compile(r"<link\b[^>]*?\bhref=\"(?P<href>[^\"]*)\"", re.I)
FEED_ID = re.compile(r"<id>(?P<id>[^<]*)</id>", re.I)
ATOM_MARKER = re.compile(r"<feed\b[^>]*xmlns=\"http://www\.w3\.org/2005/Atom\"", re.I)
