"""An ``Article`` → a Jekyll post file in the finews site's own layout, and back (see docs/parsing.md).

``render_post`` writes what the site's post files hold (INTERFACE.md, "The Jekyll post layout")::

    ---
    layout: post
    title: "<title>"
    date: <YYYY-MM-DD HH:MM:SS> +0800
    categories: <category slug>
    tags: <tags>
    ---
    <article html>

    <share url>

    <footer markdown>

with no newline after the last line, as the site's files end. The article html is the origin's HTML when
the origin answered (it is the post file's text byte for byte), else the mirror's HTML, written back in
the post's Markdown form when that form is certain to render the same page. ``post_filename`` refuses
names that could leave the export folder. Pure: no Scrapy, no file writes.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

from newscrawl.items import Article

SITE_TZ = timezone(timedelta(hours=8), "UTC+08:00")
SITE_OFFSET = "+0800"

# Characters a post name may not hold: path separators, NUL and other controls, white space (Jekyll would
# put it in the URL), and the characters Windows refuses, so an export folder can be copied anywhere.
_UNSAFE_NAME_CHARS = re.compile(r"[/\\\x00-\x1f\x7f\s:*?\"<>|]")
_MAX_NAME = 200

# YAML 1.1 (Psych, which Jekyll uses) reads these plain scalars as booleans or null, not as strings.
_YAML_KEYWORDS = frozenset({
    "y", "n", "yes", "no", "on", "off", "true", "false", "null", "~", "",
})
# A plain scalar that Psych reads back as the same string: starts with a letter (any script), or with digits
# followed by a letter (e.g. "21shijijingjibaodao"); no YAML indicators or quotes; no outer white space.
_PLAIN_SCALAR = re.compile(r"[0-9]*[^\W\d_][^:#\"'\\\x00-\x1f\x7f\x85\u2028\u2029\ufeff]*(?<!\s)")
# Characters YAML double-quoted scalars must escape: the quote, the backslash, non-printable characters and
# the YAML 1.1 line breaks (NEL, LS, PS), which a reader would fold into spaces.
_YAML_ESCAPE = re.compile(r"[\"\\\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]")
_YAML_NAMED_ESCAPES = {
    "\\": "\\\\", '"': '\\"', "\x00": "\\0", "\x07": "\\a", "\x08": "\\b", "\t": "\\t", "\n": "\\n",
    "\x0b": "\\v", "\x0c": "\\f", "\r": "\\r", "\x1b": "\\e", "\x85": "\\N", "\u2028": "\\L", "\u2029": "\\P",
}
_YAML_UNESCAPES = {
    "0": "\x00", "a": "\x07", "b": "\x08", "t": "\t", "\t": "\t", "n": "\n", "v": "\x0b", "f": "\x0c",
    "r": "\r", "e": "\x1b", " ": " ", '"': '"', "/": "/", "\\": "\\", "N": "\x85", "_": "\xa0",
    "L": "\u2028", "P": "\u2029",
}
_YAML_ESCAPE_SEQUENCE = re.compile(r"\\(x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)", re.S)
_SURROGATE = re.compile(r"[\ud800-\udfff]")

# Liquid markup in the body would be run by Jekyll; the page must show the HTML we hold, as it is.
_LIQUID = re.compile(r"\{[{%]")
# The mirror's plain digest paragraph (kramdown's rendering of a Markdown paragraph) and leading "> " line.
_SIMPLE_PARAGRAPH = re.compile(r"\A<p>(?P<text>[^<>\n]*)</p>\Z")
# Escaped angle brackets that kramdown reads back as the same literal text: not followed by a letter, "/",
# "!", "?" or "$" (which could start a tag, comment, processing instruction or math) and, for ">", not first.
_BARE_ANGLE = re.compile(r"&lt;(?![A-Za-z/!?$])|(?<=.)&gt;")
_LEADING_BLOCKQUOTE = re.compile(
    r"\A<blockquote>\s*<p>(?P<text>[^<>\n]*)</p>\s*</blockquote>(?P<rest>.*)\Z", re.S
)
# Text kramdown would turn into markup or typography (emphasis, code, links, smart quotes, dashes, ellipses,
# HTML, math, tables, IAL); such a paragraph is kept as HTML, which kramdown passes through unchanged.
_MARKDOWN_ACTIVE = re.compile(r"[\\`*_{}\[\]<>#|\"'~^$]|--|\.\.\.|\s\Z|\A\s|  ")
_MARKDOWN_BLOCK_START = re.compile(r"\A(?:[-+*:=>]|\d+[.)](?:\s|\Z))")
# Share links are one autolink line "<http…>": characters that would end or break that line are escaped.
_AUTOLINK_UNSAFE = re.compile(r"[\s<>\x00-\x1f\x7f]")
# The back-link footer lines: Markdown links whose text starts with 返回, joined by ｜ or on their own lines.
_FOOTER_LINE = re.compile(r"\A(?:\[返回[^\]\n]*\]\([^)\n]*\)[｜|]?)+\Z")
_AUTOLINK_LINE = re.compile(r"\A<(?P<url>https?://[^>\s]*)>\Z")


class UnsafePostName(ValueError):
    """The article's id or date cannot make a post file name that stays inside the export folder."""


def post_filename(article: Article) -> str:
    """``<YYYY-MM-DD>-<article_id>.md``, the date in the site's time zone (UTC+8)."""
    article_id = article.article_id
    if not isinstance(article_id, str) or not article_id:
        raise UnsafePostName("article has no article_id")
    if (_UNSAFE_NAME_CHARS.search(article_id) or ".." in article_id or article_id.startswith((".", "-"))
            or len(article_id) > _MAX_NAME or _SURROGATE.search(article_id)):
        raise UnsafePostName(f"unsafe article_id for a post file name: {article_id!r}")
    if not isinstance(article.published_at, datetime):
        raise UnsafePostName(f"article {article_id} has no published_at: a post file name needs a date")
    day = _site_time(article.published_at)
    return f"{day.year:04d}-{day.month:02d}-{day.day:02d}-{article_id}.md"


def article_markup(article: Article) -> str:
    """The post's article part: the origin's HTML when it answered, else the mirror's, in its post form."""
    if article.origin_status == "ok" and isinstance(article.origin_html, str):
        return article.origin_html
    return _post_form(article.body_html or "")


def render_post(article: Article) -> str:
    """The post file text for ``article``, in the site's layout (see the module docstring)."""
    if not isinstance(article.published_at, datetime):
        raise UnsafePostName(f"article {article.article_id} has no published_at: a post needs a date")
    markup = article_markup(article)
    lines = ["---", "layout: post", f"title: {yaml_quote(article.title or '')}",
             f"date: {_site_time(article.published_at).strftime('%Y-%m-%d %H:%M:%S')} {SITE_OFFSET}"]
    # No category: the line is left out, and Jekyll publishes the post at /YYYY/MM/DD/<id>.html as the
    # mirror did (such a post has no category segment in its URL).
    if article.category:
        lines.append(f"categories: {yaml_scalar(article.category)}")
    if article.tags:
        lines.append(f"tags: {yaml_scalar(article.tags)}")
    if _LIQUID.search(markup):
        lines.append("render_with_liquid: false")
    lines.append("---")
    text = "\n".join(lines) + "\n" + markup
    tail = [block for block in (_autolink(article.share_url), _footer(article.footer_md)) if block]
    if tail:
        return text + "\n\n" + "\n\n".join(tail)
    # A post with neither share link nor footer ends with a line break (the site-opening post does).
    return text if text.endswith("\n") else text + "\n"


def parse_post(text: str) -> dict[str, str | None]:
    """Read a post file back: its front-matter fields, ``body``, ``share_url`` and ``footer_md``.

    Front-matter values are strings as YAML reads them (double-quoted scalars unescaped); a file that does
    not start with ``---`` has no front matter, as for Jekyll.
    """
    fields: dict[str, str | None] = {}
    content = text
    if text.startswith("---\n"):
        end = text.find("\n---\n", 3)
        if end == -1 and text.endswith("\n---"):
            end = len(text) - 4
        if end != -1:
            for line in text[4:end].split("\n"):
                key, sep, value = line.partition(":")
                if sep and key.strip():
                    fields[key.strip()] = yaml_unquote(value.strip())
            content = text[end + 5:]
    blocks = content.split("\n\n")
    footer = share = None
    if len(blocks) > 1 and all(_FOOTER_LINE.match(line) for line in blocks[-1].split("\n")):
        footer = blocks.pop()
    if len(blocks) > 1 and _AUTOLINK_LINE.match(blocks[-1]):
        share = blocks.pop()[1:-1]
    body = "\n\n".join(blocks)
    if footer is None and share is None and body.endswith("\n"):
        body = body[:-1]
    fields.update({"body": body, "share_url": share, "footer_md": footer})
    return fields


def yaml_quote(value: str) -> str:
    """``value`` as a YAML double-quoted scalar that Psych (Jekyll) reads back unchanged."""
    value = _SURROGATE.sub("\ufffd", value)  # lone surrogates cannot be written as UTF-8 at all
    return '"' + _YAML_ESCAPE.sub(_yaml_escape_char, value) + '"'


def yaml_scalar(value: str) -> str:
    """A plain scalar when YAML reads it back as the same string (the site's form), else double-quoted."""
    if _PLAIN_SCALAR.fullmatch(value) and value.lower() not in _YAML_KEYWORDS and ": " not in value:
        return value
    return yaml_quote(value)


def yaml_unquote(value: str) -> str:
    """The string a YAML scalar as written by ``yaml_quote`` / ``yaml_scalar`` stands for."""
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return _YAML_ESCAPE_SEQUENCE.sub(_yaml_unescape, value[1:-1])
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1].replace("''", "'")
    return value


def _yaml_escape_char(match: re.Match[str]) -> str:
    char = match.group(0)
    named = _YAML_NAMED_ESCAPES.get(char)
    if named:
        return named
    code = ord(char)
    return f"\\x{code:02X}" if code < 0x100 else f"\\u{code:04X}"


def _yaml_unescape(match: re.Match[str]) -> str:
    sequence = match.group(1)
    if sequence[0] in "xuU" and len(sequence) > 1:
        return chr(int(sequence[1:], 16))
    return _YAML_UNESCAPES.get(sequence, sequence)


def _site_time(moment: datetime) -> datetime:
    # A naive datetime is taken to be site time already (that is what the mirror's pages show).
    return moment if moment.tzinfo is None else moment.astimezone(SITE_TZ)


def _post_form(body_html: str) -> str:
    """The mirror's HTML written back as the post file had it, where that is certain to render the same.

    A digest post is Markdown paragraphs after a blank line; an emnews-full post starts with a "> " digest
    line. Anything else stays HTML, which kramdown passes through (white space between tags aside).
    """
    paragraphs = [_SIMPLE_PARAGRAPH.match(block) for block in body_html.split("\n\n")]
    texts = [m.group("text") for m in paragraphs if m is not None]
    if texts and len(texts) == len(paragraphs) and all(_markdown_safe(text) for text in texts):
        return "\n" + "\n\n".join(_markdown_text(text) for text in texts)
    quote_match = _LEADING_BLOCKQUOTE.match(body_html)
    if quote_match and _markdown_safe(quote_match.group("text")):
        rest = quote_match.group("rest").strip("\n")
        return "> " + _markdown_text(quote_match.group("text")) + ("\n\n" + rest if rest else "")
    if _MARKDOWN_BLOCK_START.match(body_html) or not body_html.startswith("<"):
        # Not HTML at the start (a fragment that lost its tags): keep kramdown from reading it as a list.
        return "<div>" + body_html + "</div>" if body_html else ""
    return body_html


def _markdown_text(text: str) -> str:
    # kramdown escapes a "<" or ">" that starts no tag; the post file had the bare character ("精度满足<1%").
    # The empty link line "<>" of VARIANTS.md is the same case.
    bare = _BARE_ANGLE.sub(lambda m: "<" if m.group(0) == "&lt;" else ">", text)
    # "<<" and ">>" are kramdown's typographic guillemets: those stay escaped.
    return text if "<<" in bare or ">>" in bare else bare


def _markdown_safe(text: str) -> bool:
    return bool(text) and not _MARKDOWN_ACTIVE.search(text) and not _MARKDOWN_BLOCK_START.match(text)


def _autolink(share_url: str | None) -> str | None:
    if not share_url:
        return None
    # Percent-escape what would end the <…> line early or start a new line (a hostile or broken link).
    return "<" + _AUTOLINK_UNSAFE.sub(lambda m: quote(m.group(0), safe=""), share_url) + ">"


def _footer(footer_md: str | None) -> str | None:
    if not footer_md or not footer_md.strip():
        return None
    # A blank line inside would end the footer block; the site's footers are one or two lines.
    return "\n".join(line for line in footer_md.split("\n") if line.strip())
