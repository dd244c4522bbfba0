"""The origin's text API answer (``GetNewsText.do?id=<infoCode>``) → article HTML (see docs/parsing.md).

The answer is JSON ``{"text": "<html>"}`` (some versions say ``content``). The HTML is the post's article
part byte for byte, so it is returned exactly as the JSON string holds it: no stripping, no re-encoding.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

OriginStatus = Literal["ok", "invalid_json", "no_text", "empty_text"]
# Keys that hold the article HTML, in priority order.
TEXT_KEYS = ("text", "content")


@dataclass(frozen=True)
class OriginText:
    """What an origin answer held: the article HTML (None unless status is "ok") and a status word."""

    html: str | None
    status: OriginStatus


def parse_origin_text(body: bytes) -> OriginText:
    """Decode a text API answer; never raises."""
    try:
        # utf-8-sig: a BOM in front of the JSON is an encoding mark, not part of the document.
        data = json.loads(bytes(body).decode("utf-8-sig"))
    except (ValueError, TypeError, RecursionError):
        return OriginText(None, "invalid_json")
    if not isinstance(data, dict):
        return OriginText(None, "no_text")
    for key in TEXT_KEYS:
        value = data.get(key)
        if isinstance(value, str):
            if not value.strip():
                return OriginText(None, "empty_text")
            return OriginText(value, "ok")
    return OriginText(None, "no_text")
