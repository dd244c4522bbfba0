"""What makes a new revision of an archived article: the one place that decides (docs/reliability.md).

Every field the site or the origin shows is content: title, published_at, category, tags, publisher,
summary, source, share_url, footer_md, body_html, body_text (derived from body_html) and origin_html. A
change in any of them is a new revision, and the previous version is kept in ``article_revisions``.
``content_hash`` is the sha256 of those fields after the one normalisation below, and it is the only
content hash the archive stores (``articles.content_hash``): storage compares it, the dedupe's
``same_content`` rule compares it, a migration recomputes it (0005_revisions).

Ignored, because the mirror's Jekyll build re-flows it without anything a reader sees changing:

* every field: Unicode form (compared in NFC) and white space at either end;
* title, category, tags, publisher, source, share_url: a run of white space counts as one space;
* body_html, origin_html, footer_md: a run of white space that holds a line break is dropped (kramdown
  writes one block per line and moves line breaks; between Chinese characters a line break is no space),
  any other run counts as one space;
* summary, body_text: all white space (the text of the HTML above, one line per block; the same re-flow
  moves its line breaks).

Not content (no revision): ``origin_status`` (why the origin gave no text), the crawl's validators
(``etag``, ``last_modified``), the dedupe's findings (``story_id``, ``simhash``) and ``flags``.

The origin's text comes from a second request that may fail while the mirror's page is unchanged, so a
sighting without an origin text says nothing about it: ``with_known_origin`` keeps the archived text
for the comparison (and the archive), and a text learnt for the first time fills in the archive's gap
without a revision (there is no earlier text to keep).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import unicodedata
from collections.abc import Callable
from datetime import datetime

from newscrawl.config import SITE_TZ
from newscrawl.items import Article

_SPACES = re.compile(r"\s+")
_LINE_BREAK = re.compile(r"[\n\r\f\v\x1c-\x1e\x85\u2028\u2029]")


def _nfc(text: str | None) -> str:
    return unicodedata.normalize("NFC", text or "").strip()


def fold(text: str | None) -> str:
    """A run of white space counts as one space."""
    return _SPACES.sub(" ", _nfc(text))


def squeeze(text: str | None) -> str:
    """White space counts for nothing."""
    return _SPACES.sub("", _nfc(text))


def reflowed(text: str | None) -> str:
    """A run of white space holding a line break counts for nothing, any other run as one space."""
    return _SPACES.sub(lambda run: "" if _LINE_BREAK.search(run.group()) else " ", _nfc(text))


def _published(article: Article) -> str:
    moment = article.published_at
    if not isinstance(moment, datetime):
        return ""
    if moment.tzinfo is None:
        return moment.isoformat()
    try:
        return moment.astimezone(SITE_TZ).isoformat()
    except OverflowError:  # no UTC+8 form (year 10000 there): its own offset
        return moment.isoformat()


#: Each content field and how it is compared.
CONTENT_FIELDS: dict[str, Callable[[Article], str]] = {
    "title": lambda a: fold(a.title),
    "published_at": _published,
    "category": lambda a: fold(a.category),
    "tags": lambda a: fold(a.tags),
    "publisher": lambda a: fold(a.publisher),
    "summary": lambda a: squeeze(a.summary),
    "source": lambda a: fold(a.source),
    "share_url": lambda a: fold(a.share_url),
    "footer_md": lambda a: reflowed(a.footer_md),
    "body_html": lambda a: reflowed(a.body_html),
    "body_text": lambda a: squeeze(a.body_text),
    "origin_html": lambda a: reflowed(a.origin_html),
}


def content_hash(article: Article) -> str:
    """sha256 (hex) of the content fields as compared (see the module docstring); missing fields are empty."""
    fields = {name: compared(article) for name, compared in CONTENT_FIELDS.items()}
    payload = json.dumps(fields, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()


def changed_fields(old: Article, new: Article) -> list[str]:
    """The content fields in which ``new`` differs from ``old`` (for messages and tests)."""
    return [name for name, compared in CONTENT_FIELDS.items() if compared(old) != compared(new)]


def with_known_origin(new: Article, old: Article) -> Article:
    """``new`` with what the archive knows of the origin when this sighting brought no origin text.

    When the share link is the same and ``new`` has no origin text (its request failed, was not made, or
    was not kept), the archived text and status stay. Otherwise ``new`` as it is: a text it brings is the
    origin's answer now, and a new share link is another origin article.
    """
    if new.origin_status == "ok" or (new.share_url or None) != (old.share_url or None):
        return new
    status = old.origin_status if old.origin_status == "ok" or new.origin_status is None else new.origin_status
    if (new.origin_html, new.origin_status) == (old.origin_html, status):
        return new
    return dataclasses.replace(new, origin_html=old.origin_html, origin_status=status, content_hash=None,
                               flags=list(new.flags))


def is_revision(old: Article, old_hash: str, new: Article, new_hash: str) -> bool:
    """Whether ``new`` (after ``with_known_origin``) is a new revision of the archived ``old``.

    A differing hash is, except when the only difference is an origin text learnt for the first time.
    """
    if new_hash == old_hash:
        return False
    if old.origin_html is None and new.origin_html is not None:
        return content_hash(dataclasses.replace(new, origin_html=None)) != old_hash
    return True
