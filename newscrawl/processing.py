"""The one path from a fetched page to an archivable ``Article``: plain functions, no Scrapy.

The spider and the Scrapy pipelines call these, and so does ``newscrawl reparse`` (newscrawl/reparse.py),
so an archive rebuilt from the raw pages is the crawl's own (docs/pipelines.md):

1. ``read_article_page``: an article page's text → ``Article``, with what the page was (``empty_page``,
   ``not_html``) and a low-confidence encoding guess (``encoding_guessed``) among its flags;
2. ``origin_answer``: the origin text API's answer → (``origin_status``, ``origin_html``);
3. ``problem``: why an article cannot be archived (the validate pipeline drops it), or None;
4. ``normalise``: one form for every field, and the fingerprints (``content_hash``, ``simhash``);
5. story linking: ``newscrawl.linking.StoryLinker`` (it reads the archive).
"""

from __future__ import annotations

import contextlib

from newscrawl.config import SITE_TZ
from newscrawl.encoding import GUESSED_FLAG
from newscrawl.items import Article
from newscrawl.parsers import looks_like_text, parse_article, parse_origin_text
from newscrawl.revisions import content_hash
from newscrawl.stories import simhash

#: Flags that are routine on the real site and need nobody's attention: older emnews posts have no share
#: link, one real post has an empty one ("<>").
ROUTINE_FLAGS = frozenset({"no_share_link", "empty_share_link"})
#: Text fields that lose surrounding white space (and nothing else: the export gives the page back).
TEXT_FIELDS = ("title", "category", "tags", "publisher", "summary", "source", "share_url", "info_code")
#: Encodings whose text is full of bytes that look like control characters (a BOM or a charset says so).
_WIDE_ENCODINGS = ("utf-16", "utf-32")


def read_article_page(url: str, body: bytes, text: str, *, encoding: str | None = None,
                      encoding_guessed: bool = False) -> Article:
    """The article on a page: ``text`` is ``body`` decoded (in ``encoding``, which the crawl decided)."""
    article = parse_article(text, url)
    # What the page was, when it was no article page at all: the validate step names the drop so.
    if not body.strip():
        article.flags.append("empty_page")
    elif not _looks_like_text(body, text, encoding):
        article.flags.append("not_html")
    if encoding_guessed:
        article.flags.append(GUESSED_FLAG)
    return article


def _looks_like_text(body: bytes, text: str, encoding: str | None) -> bool:
    if encoding is not None and encoding.lower().replace("_", "-").startswith(_WIDE_ENCODINGS):
        # UTF-16 bytes of Chinese text hold control bytes: judge the characters instead.
        return looks_like_text(text[:5000].encode("utf-8", "replace"))
    return looks_like_text(body[:5000])


def origin_answer(status: int, body: bytes) -> tuple[str, str | None]:
    """(``origin_status``, ``origin_html``) of the origin text API's answer (see Article.origin_status)."""
    if status != 200:
        return f"http_{status}", None
    answer = parse_origin_text(body)
    return answer.status, answer.html


def problem(article: Article) -> str | None:
    """The reason an article cannot be archived, or None."""
    if not article.article_id:
        return "missing_article_id"
    complete = bool((article.title or "").strip()) and article.published_at is not None \
        and article.body_html is not None
    if not complete:
        # What the page was explains the drop better than the first field it lacks.
        for flag in ("empty_page", "not_html", "no_section"):
            if flag in article.flags:
                return flag
    if not (article.title or "").strip():
        return "missing_title"
    if article.published_at is None:
        return "missing_date"
    if article.published_at.tzinfo is None:
        return "naive_date"
    if article.body_html is None:
        return "missing_body"
    return None


def notable_flags(article: Article) -> list[str]:
    """The article's flags that are worth a warning (not ROUTINE_FLAGS)."""
    return [flag for flag in article.flags if flag not in ROUTINE_FLAGS]


def normalise(article: Article) -> Article:
    """Times in the site's zone (UTC+8), text fields stripped, ``content_hash`` and ``simhash`` set."""
    for name in TEXT_FIELDS:
        value = getattr(article, name)
        if isinstance(value, str):
            setattr(article, name, value.strip() or None)
    if article.body_text is not None:
        article.body_text = article.body_text.strip()
    if article.published_at is not None and article.published_at.tzinfo is not None:
        # A time with no UTC+8 form (year 10000 there) keeps its own offset; storage keeps it exactly.
        with contextlib.suppress(OverflowError):
            article.published_at = article.published_at.astimezone(SITE_TZ)
    article.content_hash = content_hash(article)
    article.simhash = simhash(article.body_text or article.title or "")
    return article
