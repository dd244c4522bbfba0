"""Reading a post file back into its parts: what the tests compare ``newscrawl.jekyll.render_post``'s files by."""

from __future__ import annotations

import re
from typing import Any

import yaml

_LOADER: Any = getattr(yaml, "CBaseLoader", yaml.BaseLoader)
# The back-link footer lines: Markdown links whose text starts with 返回, joined by ｜ or on their own lines.
_FOOTER_LINE = re.compile(r"\A(?:\[返回[^\]\n]*\]\([^)\n]*\)[｜|]?)+\Z")
_AUTOLINK_LINE = re.compile(r"\A<(?P<url>https?://[^>\s]*)>\Z")


def parse_post(text: str) -> dict[str, str | None]:
    """Read a post file back: its front-matter fields, ``body``, ``share_url`` and ``footer_md``.

    The front matter is read by PyYAML as plain strings, as written (no YAML types: the date stays its
    text); a value that is not one string, or front matter YAML cannot read, is left out. A file that does
    not start with ``---`` has no front matter, as for Jekyll.
    """
    fields: dict[str, str | None] = {}
    content = text
    if text.startswith("---\n"):
        end = text.find("\n---\n", 3)
        if end == -1 and text.endswith("\n---"):
            end = len(text) - 4
        if end != -1:
            fields.update(_front_matter(text[4:end]))
            content = text[end + 5:]
    if content.startswith("{::nomarkdown}\n"):
        stop = content.find("\n{:/nomarkdown}\n")
        if stop != -1:
            markup = content[len("{::nomarkdown}\n"):stop].replace("{&#58;/", "{:/")
            content = markup + "\n" + content[stop + len("\n{:/nomarkdown}\n"):]
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


def _front_matter(block: str) -> dict[str, str]:
    try:
        data = yaml.load(block, Loader=_LOADER)  # BaseLoader: strings, lists, maps only
    except yaml.YAMLError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(key): value for key, value in data.items() if isinstance(value, str)}
