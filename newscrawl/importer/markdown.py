"""A post's Markdown → HTML as the site's Jekyll (kramdown 2, GFM input) renders it (see docs/import.md).

markdown-it-py parses (CommonMark, raw HTML on, typographer for kramdown's smart quotes and dashes); the
block layout is then written the way kramdown writes it, for the forms the site's post files use:

* top-level blocks are separated by a blank line (markdown-it writes one line break);
* a raw HTML block is cut into its top-level elements and comments, one per line, with the white space
  between them dropped (kramdown parses the HTML and writes each element on its own line);
* a ``> `` digest line is ``<blockquote>`` with its paragraph indented by two spaces.

Everything inside a paragraph or an element is left as markdown-it renders it: autolinks ``<http…>`` as
``<a href>``, ``[text](link)`` footers, a bare ``<`` or ``<>`` as ``&lt;``/``&gt;``. The share link and
footer paragraphs that end a post, in the site's own forms, are written here as markdown-it writes them
(``_site_tail``): they were two thirds of its time.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.rules_block import hr
from markdown_it.token import Token

# HTML tags that never have a closing tag: they do not open a level when the HTML block is cut apart.
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
                   "source", "track", "wbr"})
# One tag or comment of raw HTML, in document order.
_HTML_PART = re.compile(r"<!--.*?-->|<(?P<close>/)?(?P<name>[A-Za-z][A-Za-z0-9-]*)(?:\"[^\"]*\"|'[^']*'|[^'\">])*>",
                        re.S)


_TAG = re.compile(r"<[A-Za-z][^<>]*>")
_BARE_AMPERSAND = re.compile(r"&(?!#\d+;|#x[0-9A-Fa-f]+;|[A-Za-z][A-Za-z0-9]*;)")


# A link or autolink address of the forms the site's posts write ("//finews…/", "../emnews/", "http://…html"):
# ASCII that markdown-it's normalizeLink and normalizeLinkText (mdurl's parse and format, punycode, percent
# escapes) give back unchanged, so that _site_line may write it as it is.
_PLAIN_LINK = re.compile(
    r"(?:(?:https?:)?//(?![^/?#]{256})(?![^/?#]*\bxn--)[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*(?=[/?#]|\Z)"
    r"|(?![a-z0-9.+-]+:|//))[A-Za-z0-9;/?:@&=+$,_.!~*'()#-]*",
    re.I,
)


# The share link line and the back-link footer as the site's generator writes them: "<http…>", and
# "[返回…](address)" links joined by "｜" or a line break, with labels of letters, digits and CJK (nothing an
# inline rule reads) and addresses of _PLAIN_LINK without "(", ")", "&" or "\" (which a link destination reads).
_AUTOLINK_LINE = re.compile(r"<(https?://[^<>\s]*)>")
_FOOTER_LINK = re.compile(r"\[(返回[A-Za-z0-9\u0080-\U0010ffff]*)\]\(([^\s()<>&\\]+)\)")


def _site_line(line: str) -> str | None:
    """The HTML markdown-it writes for a share link or footer paragraph; None for any other paragraph (or an
    address its rules would change)."""
    autolink = _AUTOLINK_LINE.fullmatch(line)
    if autolink is not None:
        url = autolink.group(1)
        # A quote in the link's text would be made curly (_kramdown_quotes): such a line is left to the parser.
        if not _PLAIN_LINK.fullmatch(url) or "'" in url:
            return None
        return f'<p><a href="{escapeHtml(url)}">{escapeHtml(url)}</a></p>'
    html = "<p>"
    position = 0
    while True:
        link = _FOOTER_LINK.match(line, position)
        if link is None or not _PLAIN_LINK.fullmatch(link.group(2)):
            return None
        html += f'<a href="{escapeHtml(link.group(2))}">{link.group(1)}</a>'
        position = link.end()
        if position == len(line):
            return html + "</p>"
        if line[position] not in "｜\n":
            return None
        html += line[position]  # the "｜" between links, or the line break markdown-it keeps
        position += 1


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    # kramdown's typographic symbols: "…" quotes become curly, --- an em dash, -- an en dash, ... an ellipsis.
    parser = MarkdownIt("commonmark", {"html": True, "typographer": True})
    parser.enable(["replacements"])
    parser.core.ruler.push("kramdown_quotes", _kramdown_quotes)
    # kramdown has no setext headings over several lines of text, and a "---" line does not end its
    # paragraph (it stays text: an em dash); CommonMark's rules do both.
    parser.disable("lheading")
    parser.block.ruler.at("hr", hr, {"alt": ["reference", "blockquote", "list"]})
    return parser


# kramdown's smart-quote rules (parser/kramdown/smart_quotes.rb), in its order, on the character before a
# quote and the text after it. Ruby's \w and \s are ASCII-only, so a CJK character before a quote is a
# "closing" context: 说"好" gives 说”好”.
_QUOTE_PUNCT = set("!\"#$%'()*+,-./:;<=>?@[\\]^_`{|}~")
_QUOTE_NOT_CLOSING = set(" \\\t\r\n[{(-")
_ASCII_WORD = re.compile(r"[A-Za-z0-9_]")
_QUOTE_OR_GUILLEMET = re.compile(r"[\"']|<<|>>")
_QUOTES = {'"': ("\u201c", "\u201d"), "'": ("\u2018", "\u2019")}


def _kramdown_quote(quote: str, before: str, after: str) -> str:
    left, right = _QUOTES[quote]
    if after[:1] in ("_", "*") and len(after) > 1 and not after[1].isspace():
        return left
    if after[:1] in _QUOTE_PUNCT and not after.startswith(".."):
        return right
    if before in (" ", "\t", "\n") and _ASCII_WORD.match(after[:1]):
        return left
    if before and before not in _QUOTE_NOT_CLOSING:
        return right
    if not after or after[:1] in (" ", "\t", "\n") or (after[:1] == "s" and not _ASCII_WORD.match(after[1:2])):
        return right
    return left


def _kramdown_quotes(state: Any) -> None:
    for block in state.tokens:
        if block.type != "inline" or not block.children:
            continue
        before = ""
        children = block.children
        for position, token in enumerate(children):
            if token.type == "text" and not _QUOTE_OR_GUILLEMET.search(token.content):
                before = token.content[-1:] or before
            elif token.type == "text":
                text = token.content.replace("<<", "\u00ab").replace(">>", "\u00bb")
                # What follows the token in the source (e.g. the "_" of an emphasis), for the look-ahead.
                following = "".join(_source(later) for later in children[position + 1:position + 3])
                out = []
                for index, char in enumerate(text):
                    after = (text[index + 1:] + following)[:2]
                    out.append(_kramdown_quote(char, before, after) if char in _QUOTES else char)
                    before = out[-1]
                token.content = "".join(out)
            elif token.type in ("softbreak", "hardbreak"):
                before = "\n"
            elif token.content:
                before = token.content[-1]


def _source(token: Any) -> str:
    return str(token.markup if token.nesting else token.content)


def render_markdown(text: str) -> str:
    """The HTML kramdown writes for ``text`` (a post's content after its front matter), without outer
    white space."""
    parser = _parser()
    head, tail = _site_tail(text)
    if tail:
        html, last_end = _blocks(parser, parser.parse(head))
        # The share line starts a block of its own after the blank line unless a block before it runs on
        # over blank lines (an unclosed fence or comment, a list): such a block ends with the head.
        if last_end < head.count("\n"):
            return "\n\n".join([html, *tail] if html else tail)
    return _blocks(parser, parser.parse(text))[0]


def _blocks(parser: MarkdownIt, tokens: list[Token]) -> tuple[str, int]:
    """The HTML of the top-level blocks of ``tokens`` and the line after the last one (-1 for none)."""
    html = ""
    start = depth = 0
    previous_end: int | None = None
    last_end = -1
    for index, token in enumerate(tokens):
        depth += token.nesting
        if depth == 0:
            block = _block(parser, tokens[start:index + 1])
            begin, end = tokens[start].map or (0, 0)
            if block:
                # kramdown ends every block with a line break, and writes one more for blank lines between
                # blocks: blocks on adjacent lines (an <hr /> and a paragraph, an HTML comment and the HTML
                # after it) are one line break apart, blocks after a blank line two.
                joint = "\n" if previous_end is not None and begin <= previous_end else "\n\n"
                html = html + joint + block if html else block
                previous_end = end
            start, last_end = index + 1, end
    return html, last_end


# A post ends with its share link line and back-link footer, each after a blank line: when no block before
# them runs on over blank lines, they are paragraphs of their own, whose HTML is written here (_site_line)
# and joined as blocks after a blank line are. They were two thirds of the Markdown time of a post.
def _site_tail(text: str) -> tuple[str, list[str]]:
    """The text before the share link and footer paragraphs that end ``text``, and their HTML."""
    tail: list[str] = []
    end = len(text.rstrip("\n"))
    while len(tail) < 2:
        gap = text.rfind("\n\n", 0, end)
        html = _site_line(text[gap + 2:end]) if gap != -1 else None
        if html is None:
            break
        tail.insert(0, html)
        end = gap
    return text[:end + 2] if tail else text, tail


def _block(parser: MarkdownIt, tokens: list[Token]) -> str:
    first = tokens[0]
    if first.type == "html_block":
        return "\n".join(_html_parts(_escape_attribute_ampersands(first.content)))
    if first.type == "blockquote_open":
        # kramdown indents the children of a blockquote by two spaces and puts the tags on their own lines.
        inner: str = parser.renderer.render(tokens[1:-1], parser.options, {}).strip("\n")
        return "<blockquote>\n" + "\n".join("  " + line for line in inner.split("\n")) + "\n</blockquote>"
    html: str = parser.renderer.render(tokens, parser.options, {}).strip("\n")
    return html


def _escape_attribute_ampersands(html: str) -> str:
    # kramdown writes the tags it parsed back with "&" escaped in attribute values (an entity stays as is).
    return _TAG.sub(lambda tag: _BARE_AMPERSAND.sub("&amp;", tag.group(0)), html)


def _html_parts(html: str) -> list[str]:
    """The top-level elements, comments and text runs of a raw HTML block, each without outer white space."""
    parts: list[str] = []
    depth = 0
    start = 0
    position = 0
    for match in _HTML_PART.finditer(html):
        if depth == 0 and html[position:match.start()].strip():
            # Text between top-level elements stays with what follows it.
            pass
        name = (match.group("name") or "").lower()
        if match.group(0).startswith("<!--"):
            opens = closes = False
        elif match.group("close"):
            opens, closes = False, True
        else:
            opens = name not in _VOID and not match.group(0).endswith("/>")
            closes = False
        if depth == 0 and not html[start:match.start()].strip():
            start = match.start()
        if opens:
            depth += 1
        elif closes:
            depth = max(depth - 1, 0)
        position = match.end()
        if depth == 0 and not html[position:].startswith(("</",)):
            piece = html[start:position].strip()
            if piece:
                parts.append(piece)
            start = position
    rest = html[start:].strip()
    if rest:
        parts.append(rest)
    return parts
