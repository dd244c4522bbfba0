"""An ``Article`` → a Jekyll post file in the finews site's own layout (see docs/parsing.md, docs/export.md).

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
the post's Markdown form when that form is certain to render the same page. PyYAML decides how each
front-matter value is written (``front_matter_line``); a post whose content Jekyll would run as Liquid
says ``render_with_liquid: false``; markup too deep or too large for kramdown is written in a form it does
not parse (``markup_excess``). ``post_name`` refuses names that could leave the export folder and gives a
marked name to ids no file system holds as they are. Pure: no Scrapy, no file writes.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import yaml
from yaml.nodes import MappingNode, ScalarNode

from newscrawl.config import SITE_TZ
from newscrawl.items import Article

# The offset a post file's date line carries: "+0800".
SITE_OFFSET = datetime(2000, 1, 1, tzinfo=SITE_TZ).strftime("%z")

# Characters a post name may not hold: path separators, NUL and other controls, white space (Jekyll would
# put it in the URL), and the characters Windows refuses, so an export folder can be copied anywhere.
_UNSAFE_NAME_CHARS = re.compile(r"[/\\\x00-\x1f\x7f-\x9f\s:*?\"<>|]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
# A file name holds 255 bytes on ext4, XFS, Btrfs, ZFS and APFS: "YYYY-MM-DD-" and ".md" leave 241 for the id.
NAME_BYTES = 255
_ID_BYTES = NAME_BYTES - len("YYYY-MM-DD-") - len(".md")
_DIGEST_CHARS = 10
# Names Windows keeps for devices; Jekyll writes the page as <id>.html, which Windows refuses for these.
_WINDOWS_DEVICE = re.compile(r"(?:CON|PRN|AUX|NUL|COM[0-9¹²³]|LPT[0-9¹²³])(?:\..*)?\Z", re.I)

# PyYAML writes the front-matter values. It is a YAML 1.1 emitter, as Jekyll's reader (Ruby's Psych, on
# libyaml) is a YAML 1.1 reader; it decides whether a value can stay plain and how a quoted one is escaped.
# Its C emitter is libyaml itself and 5 times faster than the pure-Python one (40 against 225 µs a title
# line, docs/export.md); the pure-Python one, used where PyYAML was built without libyaml, reads back the same.
_DUMPER_BASE: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class FrontMatterDumper(_DUMPER_BASE):  # type: ignore[misc]
    """PyYAML's safe dumper, told which plain scalars Psych reads as something other than a string.

    PyYAML resolves plain scalars by YAML 1.1's types in its own spellings; Psych (psych/scalar_scanner.rb,
    Ruby 3.1) reads more of them as non-strings: booleans and null in any letter case (``NuLL``, and
    ``yeſ`` by Unicode case folding), ``:word`` as a Symbol (which Jekyll's safe_load refuses: the post
    loses its whole front matter), dates with one-digit months (``2022-2-1``), base-60 numbers from 0
    (``0:30``), numbers with commas (``1,000``). A value ``PSYCH_NOT_A_STRING`` matches is never plain.
    """


# Psych's ScalarScanner#tokenize as one pattern: every plain scalar it may read as other than a string.
# Wider than Psych where that is simpler (every y/n, any d-d-d date): a value it matches is only quoted.
PSYCH_NOT_A_STRING = re.compile(r"""(?:
    (?i:y|n|yes|no|true|false|on|off|null|~)                            # booleans, null
  | -?[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}
      (?:(?:[Tt]|\s+)[0-9]{1,2}:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?
         (?:\s*(?:Z|[-+][0-9]{1,2}:?(?:[0-9][0-9])?))?)?               # Date, Time
  | [-+]?\.(?i:inf|nan)                                                 # floats by name
  | :.*                                                                 # Symbol
  | [-+]?[0-9][0-9_]*(?::[0-5]?[0-9]){1,2}(?:\.[0-9_]*)?                # base 60
  | [-+]?(?:[0-9][0-9_,]*)?\.[0-9]*(?:[eE][-+][0-9]+)?                  # float
  | [-+]?(?:0b[01_,]+|0[0-7_,]+|0|[1-9](?:[0-9]|,[0-9]|_[0-9])*|0x[0-9a-fA-F_,]+)  # int, bases 2, 8, 10, 16
  )\Z""", re.X)
FrontMatterDumper.add_implicit_resolver("tag:newscrawl,2026:psych-non-string", PSYCH_NOT_A_STRING, None)
_STR_TAG = "tag:yaml.org,2002:str"
_MAP_TAG = "tag:yaml.org,2002:map"
_YAML_BREAK = re.compile("[\n\r\x85\u2028\u2029]")  # YAML 1.1 line breaks
_NO_WRAP = 1 << 30  # one line per key, as the site writes them (PyYAML folds long values at 80 columns)

# Jekyll runs Liquid on a post's content when it holds "{%" or "{{" anywhere (Utils.has_liquid_construct?):
# the same test decides render_with_liquid: false, over everything after the front matter.
_LIQUID = re.compile(r"\{[{%]")
# kramdown parses HTML blocks recursively and the spans inside one block in quadratic time: 3,000 nested
# <div>s overflow Ruby's stack, 2,000 links in one paragraph take 10 s and 5,000 take 42 s, 20,000 do not
# end in 120 s (docs/export.md). The site's own posts have at most 94 elements.
MAX_MARKUP_ELEMENTS = 1000
MAX_MARKUP_DEPTH = 100
_START_TAG = re.compile(r"<[A-Za-z]")
_TAG = re.compile(r"<(/?)([A-Za-z][^\s/>]*)[^>]*>")
_VOID_ELEMENTS = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
                            "source", "track", "wbr", "keygen"})
# kramdown's block extension {::nomarkdown} … {:/nomarkdown} outputs its lines as they are, unparsed; a line
# "{:/…}" inside would end it early, so "{:/" is written "{&#58;/", which any HTML reader shows the same.
_NOMARKDOWN_STOP = re.compile(r"\{:/")
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
# Share links are one autolink line "<http…>": characters that would end or break that line are escaped, and
# "|", which would make kramdown read the line as a table row.
_AUTOLINK_UNSAFE = re.compile(r"[\s<>|\x00-\x1f\x7f]")


class UnsafePostName(ValueError):
    """The article's id or date cannot make a post file name that stays inside the export folder."""


@dataclass(frozen=True)
class PostName:
    """A post's file name; ``renamed`` says why it is not ``<YYYY-MM-DD>-<article_id>.md`` (else None)."""

    filename: str
    renamed: str | None = None


def post_name(article: Article) -> PostName:
    """``<YYYY-MM-DD>-<article_id>.md``, the date in the site's time zone (UTC+8), or its marked form.

    Refused (UnsafePostName): no id or date, and ids that could leave the folder or that a shell, Jekyll's
    URL or Windows would read otherwise (separators, ``..``, a leading dot or dash, controls, white space,
    ``: * ? " < > |``, lone surrogates). Marked, ``<date>-<visible id, shortened>-<10 hex of its SHA-256>.md``:
    an id longer than a file name holds (in UTF-8 bytes), one with invisible or bidirectional format
    characters (U+202E shows a name backwards), and Windows device names (``CON``, ``NUL``, ``COM1`` …).
    """
    article_id = article.article_id
    if not isinstance(article_id, str) or not article_id:
        raise UnsafePostName("article has no article_id")
    if (_UNSAFE_NAME_CHARS.search(article_id) or ".." in article_id or article_id.startswith((".", "-"))
            or _SURROGATE.search(article_id)):
        raise UnsafePostName(f"unsafe article_id for a post file name: {article_id!r}")
    if not isinstance(article.published_at, datetime):
        raise UnsafePostName(f"article {article_id} has no published_at: a post file name needs a date")
    day = _site_time(article.published_at)
    date = f"{day.year:04d}-{day.month:02d}-{day.day:02d}"
    renamed = _rename_reason(article_id)
    if renamed is None:
        return PostName(f"{date}-{article_id}.md")
    return PostName(marked_filename(date, article_id), renamed)


def post_filename(article: Article) -> str:
    """The file name of ``post_name``."""
    return post_name(article).filename


def marked_filename(date: str, article_id: str) -> str:
    """``<date>-<visible part of the id, cut to fit>-<10 hex of the id's SHA-256>.md``: one per id, any FS."""
    digest = hashlib.sha256(article_id.encode("utf-8")).hexdigest()[:_DIGEST_CHARS]
    visible = "".join(char for char in article_id if unicodedata.category(char) != "Cf")
    budget = _ID_BYTES - 1 - _DIGEST_CHARS
    shortened = visible.encode("utf-8")[:budget].decode("utf-8", "ignore")
    return f"{date}-{shortened}-{digest}.md"


def _rename_reason(article_id: str) -> str | None:
    size = len(article_id.encode("utf-8"))
    if size > _ID_BYTES:
        return f"the id is {size} bytes, more than a {NAME_BYTES}-byte file name holds"
    if any(unicodedata.category(char) == "Cf" for char in article_id):
        return "the id holds invisible or bidirectional format characters"
    if _WINDOWS_DEVICE.match(article_id):
        return "the id is a Windows device name"
    return None


def article_markup(article: Article) -> str:
    """The post's article part: the origin's HTML when it answered, else the mirror's, in its post form."""
    if article.origin_status == "ok" and isinstance(article.origin_html, str):
        return article.origin_html
    return _post_form(article.body_html or "")


def markup_excess(markup: str) -> str | None:
    """Why kramdown could not render ``markup`` in bounded time (too many elements, too deep), else None."""
    elements = len(_START_TAG.findall(markup))
    if elements > MAX_MARKUP_ELEMENTS:
        return f"{elements} elements, more than {MAX_MARKUP_ELEMENTS}"
    if elements > MAX_MARKUP_DEPTH:
        depth = _nesting_depth(markup)
        if depth > MAX_MARKUP_DEPTH:
            return f"nesting depth {depth}, more than {MAX_MARKUP_DEPTH}"
    return None


@dataclass(frozen=True)
class RenderedPost:
    """A post file's text; ``bounded`` says why its markup is in the unparsed form (else None)."""

    text: str
    bounded: str | None = None


def render_post(article: Article) -> str:
    """The post file text for ``article``, in the site's layout (see the module docstring)."""
    return render(article).text


def render(article: Article) -> RenderedPost:
    """``render_post``, and whether the markup had to be written in its bounded form."""
    if not isinstance(article.published_at, datetime):
        raise UnsafePostName(f"article {article.article_id} has no published_at: a post needs a date")
    markup = article_markup(article)
    bounded = markup_excess(markup)
    if bounded:
        # Unparsed by kramdown; the excerpt (the content up to the first blank line, rendered on its own)
        # would cut the block open, so the post has none.
        markup = "{::nomarkdown}\n" + _NOMARKDOWN_STOP.sub("{&#58;/", markup) + "\n{:/nomarkdown}\n"
    tail = [block for block in (_autolink(article.share_url), _footer(article.footer_md)) if block]
    lines = ["---", "layout: post", front_matter_line("title", article.title or "", double_quoted=True),
             f"date: {_site_time(article.published_at).strftime('%Y-%m-%d %H:%M:%S')} {SITE_OFFSET}"]
    # No category: the line is left out, and Jekyll publishes the post at /YYYY/MM/DD/<id>.html as the
    # mirror did (such a post has no category segment in its URL).
    if article.category:
        lines.append(front_matter_line("categories", article.category))
    if article.tags:
        lines.append(front_matter_line("tags", article.tags))
    if _LIQUID.search(markup) or any(_LIQUID.search(block) for block in tail):
        lines.append("render_with_liquid: false")
    if bounded:
        lines.append('excerpt_separator: ""')
    lines.append("---")
    text = "\n".join(lines) + "\n" + markup
    if tail:
        return RenderedPost(text + ("\n" if bounded else "\n\n") + "\n\n".join(tail), bounded)
    # A post with neither share link nor footer ends with a line break (the site-opening post does).
    return RenderedPost(text if text.endswith("\n") else text + "\n", bounded)


def front_matter_line(key: str, value: str, *, double_quoted: bool = False) -> str:
    """``key: value`` as PyYAML writes it for a YAML 1.1 reader that reads Psych's types, on one line.

    PyYAML chooses plain (the site's form for categories and tags) where Psych reads the same string back,
    else quoted and escaped; ``double_quoted`` (the site's form for titles) asks for double quotes. A value
    PyYAML would spread over several lines (single-quoted with a line break: its pure-Python emitter writes
    NEL, LS and PS there as they are, which a reader folds into spaces) is double-quoted, on one.
    Lone surrogates, which no UTF-8 file can hold, become U+FFFD.
    """
    value = _SURROGATE.sub("\ufffd", value)
    line = _dump_line(key, value, '"' if double_quoted else None)
    if _YAML_BREAK.search(line, 0, len(line) - 1):
        line = _dump_line(key, value, '"')
    return line[:-1]


@functools.lru_cache(maxsize=4096)  # categories and tags repeat across posts
def _dump_line(key: str, value: str, style: str | None) -> str:
    node = MappingNode(_MAP_TAG, [(ScalarNode(_STR_TAG, key), ScalarNode(_STR_TAG, value, style=style))])
    line: str = yaml.serialize(node, Dumper=FrontMatterDumper, allow_unicode=True, width=_NO_WRAP)
    return line


def _nesting_depth(markup: str) -> int:
    depth = deepest = 0
    for match in _TAG.finditer(markup):
        name = match.group(2).lower()
        if name in _VOID_ELEMENTS or match.group(0).endswith("/>"):
            continue
        if match.group(1):
            depth = max(depth - 1, 0)
        else:
            depth += 1
            deepest = max(deepest, depth)
    return deepest


def _site_time(moment: datetime) -> datetime:
    # A naive datetime is taken to be site time already (that is what the mirror's pages show).
    if moment.tzinfo is None:
        return moment
    try:
        return moment.astimezone(SITE_TZ)
    except OverflowError:  # no UTC+8 form (year 10000 there): its own wall clock
        return moment


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
