"""``parse_article``: one rendered article page of the finews mirror → an ``Article`` (see docs/parsing.md).

A pure function: no Scrapy, no network, never raises. The article's own HTML is cut out of the page text
byte for byte (the export writes it back into a post file and Jekyll must render the same page), so the
structure of ``_layouts/post.html`` is matched on the raw text with the patterns of ``xpaths.py``; lxml reads
the metadata fallbacks and the text. Whatever is missing stays None and is named in ``Article.flags``.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime
from functools import lru_cache
from html import unescape
from typing import Any
from urllib.parse import unquote, urlsplit

from dateutil import parser as date_parser
from lxml import etree  # type: ignore[import-untyped]  # no stubs; see docs/parsing.md
from lxml import html as lxml_html

from newscrawl.config import SITE_TZ
from newscrawl.items import Article
from newscrawl.parsers import xpaths
from newscrawl.parsers.text import html_to_text, inner_text
from newscrawl.urls import SitePolicy, article_id_from_url

logger = logging.getLogger(__name__)


def parse_article(html: str, url: str) -> Article:
    """Parse a mirror article page; missing parts are None and flagged, nothing raises."""
    article = Article(article_id=_article_id(url), url=url)
    if not article.article_id:
        article.flags.append("no_article_id")
    if isinstance(html, bytes | bytearray):
        html = bytes(html).decode("utf-8", "replace")  # a caller that handed over the raw body
    try:
        _fill(article, html if isinstance(html, str) else "")
    except Exception:  # a parser bug must cost one article, not the crawl
        logger.exception("parse_article failed on %s", url)
        article.flags.append("parser_error")
    return article


def _article_id(url: str) -> str:
    try:
        found = article_id_from_url(url)
        if found:
            return found
        path = unquote(urlsplit(url).path)
    except (ValueError, TypeError, AttributeError):  # not a URL string at all
        return ""
    # Posts whose categories value has several words live deeper than ARTICLE_PATH's one segment.
    match = xpaths.POST_URL_PATH.match(path)
    return match.group("slug") if match else ""


def _category(url: str) -> str | None:
    try:
        path = unquote(urlsplit(url).path)
    except (ValueError, TypeError, AttributeError):
        return None
    match = xpaths.POST_URL_PATH.match(path)
    if not match or not match.group("categories"):
        return None  # a post without categories is published at /YYYY/MM/DD/<slug>.html
    # Jekyll made one path segment of each white-space separated word of the categories value.
    return " ".join(match.group("categories").split("/"))


def _fill(article: Article, page: str) -> None:
    page = page.replace("\x00", "")  # NUL bytes make lxml refuse the whole document
    article.category = _category(article.url)
    section = _between(page, xpaths.SECTION_OPEN, xpaths.SECTION_CLOSE)
    if section is None:
        article.flags.append("no_section")
    elif not section[1]:
        article.flags.append("truncated")
    section_text = section[0] if section else ""

    date_match = xpaths.DATE_LINE.search(section_text)
    article.published_at = _site_date(date_match.group("date")) if date_match else None
    if article.published_at is None:
        article.published_at = _metadata_date(_tree(page))
        article.flags.append("date_from_metadata" if article.published_at else "no_date")

    h1_open = xpaths.H1_OPEN.search(section_text)
    h1_close = xpaths.H1_CLOSE.search(section_text, h1_open.end()) if h1_open else None
    if h1_open is not None and h1_close is not None:
        # {{ page.title }} unescaped: the inner HTML is the front-matter title itself.
        article.title = section_text[h1_open.end():h1_close.start()] or None
        if article.title is None:
            article.flags.append("empty_title")
    else:
        article.title = _metadata_title(_tree(page))
        article.flags.append("title_from_metadata" if article.title else "no_title")

    tags_open = None
    for tags_open in xpaths.TAGS_OPEN.finditer(section_text):  # noqa: B007 - the last one is wanted
        pass
    tags_close = xpaths.SMALL_CLOSE.search(section_text, tags_open.end()) if tags_open else None
    if tags_open is not None and tags_close is not None:
        tags_html = section_text[tags_open.end():tags_close.start()]
        words = [unescape(m.group("tag")) for m in xpaths.TAG_ITEM.finditer(tags_html)]
        article.tags = " ".join(w for w in words if w) or None

    # The article part: after the title (or the date line), before the tags line.
    start = h1_close.end() if h1_close else (date_match.end() if date_match else 0)
    end = tags_open.start() if tags_open and tags_close else len(section_text)
    if section is None or start > end:
        return
    _split_article_part(article, section_text[start:end])


def _between(text: str, opening: re.Pattern[str], closing: re.Pattern[str]) -> tuple[str, bool] | None:
    """The text after the first ``opening`` up to the next ``closing``, and whether that was found."""
    found = opening.search(text)
    if found is None:
        return None
    close = closing.search(text, found.end())
    return (text[found.end():close.start()], True) if close else (text[found.end():], False)


def _last_paragraph(part: str, pattern: re.Pattern[str]) -> tuple[re.Match[str], str] | None:
    """``pattern`` matched on the whole last paragraph of ``part``, and the text before that paragraph."""
    trimmed = part.rstrip()
    begin = trimmed.rfind(xpaths.LAST_PARAGRAPH_START)
    if begin == -1:
        return None
    match = pattern.fullmatch(trimmed, begin)
    return (match, trimmed[:begin]) if match else None


def _split_article_part(article: Article, part: str) -> None:
    """Cut footer, share link and body apart, working back from the end (the body may hold links too)."""
    footer = _last_paragraph(part, xpaths.FOOTER_PARAGRAPH)
    if footer is not None:
        article.footer_md = _footer_markdown(footer[0].group("inner"))
        article.publisher = _publisher_from_footer(footer[0].group("inner"))
        part = footer[1]
    share = _last_paragraph(part, xpaths.SHARE_PARAGRAPH)
    if share is not None and _is_autolink(share[0].group("href"), share[0].group("text")):
        article.share_url = unescape(share[0].group("href"))
        article.info_code = SitePolicy.info_code(article.share_url)
        part = share[1]
    elif _last_paragraph(part, xpaths.EMPTY_SHARE_PARAGRAPH):
        # The post file has an empty link line "<>", a share link left empty: kept in body_html so the page
        # renders the same; the article's text ends before it (article_text).
        article.flags.append("empty_share_link")
    else:
        article.flags.append("no_share_link")
    if article.publisher is None and article.tags:
        # emnews posts without a footer: the tags value is "<publisher>新闻".
        article.publisher = article.tags.removesuffix("新闻") or article.tags

    # The layout's own line breaks and indentation around {{ content }} are not the article's.
    body_html = part.strip()
    article.body_html = body_html or None
    if not body_html:
        article.flags.append("empty_body")
        return
    article.body_text = article_text(body_html)
    summary = xpaths.SUMMARY_PARAGRAPH.search(body_html) or xpaths.SUMMARY_BLOCKQUOTE.search(body_html)
    if summary is not None:
        article.summary = inner_text(summary.group("summary")) or None
    source = xpaths.SOURCE.search(body_html)
    if source is not None:
        article.source = source.group("source").strip() or None


def article_text(body_html: str) -> str | None:
    """The article's text: ``body_html``'s text up to an empty share link paragraph (``<>``) that ends it.

    The post's ``<>`` line is the share link the site's generator left empty, not the article's words.
    Migration 0012 applies the same function to the articles archived before it.
    """
    empty_share = _last_paragraph(body_html, xpaths.EMPTY_SHARE_PARAGRAPH)
    return html_to_text(empty_share[1] if empty_share is not None else body_html) or None


def _is_autolink(href: str, text: str) -> bool:
    address = unescape(href)
    return address == unescape(text) and address.startswith(("http://", "https://"))


def _footer_markdown(inner: str) -> str:
    """The footer paragraph back in the post file's Markdown: each link as [text](href), separators kept."""
    markdown = xpaths.FOOTER_LINK.sub(
        lambda m: f"[{unescape(m.group('text'))}]({unescape(m.group('href'))})", inner.strip()
    )
    # kramdown keeps the line break of the two-line form; white space around it is not the author's.
    return "\n".join(line.strip() for line in markdown.split("\n"))


def _publisher_from_footer(inner: str) -> str | None:
    for link in xpaths.FOOTER_LINK.finditer(inner):
        match = xpaths.PUBLISHER_BACK_LINK.match(unescape(link.group("text")).strip())
        if match and match.group(0) != xpaths.HOME_BACK_LINK:
            return match.group("publisher")
    return None


def _site_date(value: str) -> datetime | None:
    try:
        # datetime's own ISO reader reads the layout's "%Y-%m-%d %H:%M:%S" as dateutil does, at a thirtieth
        # of its cost; dateutil reads what it alone does (an hour 24, digits of other scripts).
        parsed = datetime.fromisoformat(value)
    except ValueError:
        try:
            parsed = date_parser.isoparse(value.replace(" ", "T", 1))
        except (ValueError, OverflowError):
            return None
    return parsed.replace(tzinfo=SITE_TZ) if parsed.tzinfo is None else _in_site_time(parsed)


def _offset_date(value: str) -> datetime | None:
    try:
        parsed = date_parser.isoparse(value.strip())
    except (ValueError, OverflowError):
        return None
    # Metadata dates carry their offset (+08:00); one without is site time like the date line.
    return parsed.replace(tzinfo=SITE_TZ) if parsed.tzinfo is None else _in_site_time(parsed)


def _in_site_time(moment: datetime) -> datetime:
    # A date at the edge of the calendar (9999-12-31T23:00-05:00) has no UTC+8 form: kept in its own offset.
    try:
        return moment.astimezone(SITE_TZ)
    except OverflowError:
        return moment


@lru_cache(maxsize=1)
def _tree(page: str) -> etree._Element | None:
    # Parsed only for the metadata fallbacks (a page without date line or title), at most once a page.
    if not page.strip():
        return None
    try:
        return lxml_html.document_fromstring(page)
    except (etree.ParserError, ValueError, TypeError):
        return None


def _xpath_strings(tree: etree._Element | None, query: str) -> list[str]:
    if tree is None:
        return []
    try:
        found = tree.xpath(query)
    except etree.XPathError:
        return []
    return [str(value) for value in found] if isinstance(found, list) else []


def _json_ld(tree: etree._Element | None) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    for text in _xpath_strings(tree, xpaths.JSON_LD_XPATH):
        try:
            data = json.loads(text)
        except ValueError:
            continue
        if isinstance(data, dict):
            objects.append(data)
    return objects


def _metadata_title(tree: etree._Element | None) -> str | None:
    for query in xpaths.OG_TITLE_XPATHS:
        for value in _xpath_strings(tree, query):
            if value.strip():
                return value
    for data in _json_ld(tree):
        headline = data.get(xpaths.JSON_LD_HEADLINE)
        if isinstance(headline, str) and headline.strip():
            return headline
    for value in _xpath_strings(tree, xpaths.HTML_TITLE_XPATH):
        title = value.removesuffix(xpaths.SITE_TITLE_SUFFIX)
        if title.strip() and title != value:
            return title
    return None


def _metadata_date(tree: etree._Element | None) -> datetime | None:
    for query in xpaths.PUBLISHED_TIME_XPATHS:
        for value in _xpath_strings(tree, query):
            parsed = _offset_date(value)
            if parsed is not None:
                return parsed
    for data in _json_ld(tree):
        published = data.get(xpaths.JSON_LD_DATE)
        if isinstance(published, str):
            parsed = _offset_date(published)
            if parsed is not None:
                return parsed
    return None
