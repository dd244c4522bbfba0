"""The items newscrawl moves from spider to pipelines: plain dataclasses, no Scrapy import.

Parsers return ``Article``; the spider adds what only the crawl knows (the origin's answer) and yields it;
pipelines validate, normalise, dedupe, store and export it. ``ArticleSeen`` says that archived articles
were seen again unchanged (a 304 answer for the article page, or for a listing page that lists them), so
storage only moves ``last_seen_at``.
The columns these fields land in are documented in docs/schema.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class Article:
    """One article page of the mirror, as parsed; field meanings are those of docs/schema.md."""

    article_id: str
    url: str
    title: str | None = None
    published_at: datetime | None = None
    category: str | None = None
    tags: str | None = None
    publisher: str | None = None
    summary: str | None = None
    source: str | None = None
    share_url: str | None = None
    info_code: str | None = None
    body_html: str | None = None
    body_text: str | None = None
    # The back-link lines after the share link, as the post file wrote them in Markdown
    # (e.g. "[返回首页](../)"); None when the post has none. Needed to export each variant in its own form.
    footer_md: str | None = None
    # What the origin's text API answered for the share link: the article HTML byte for byte, and
    # a status word: "ok", "not_followed", "offsite", "http_<code>", "invalid_json", "no_text", "error".
    origin_html: str | None = None
    origin_status: str | None = None
    # Filled by pipelines (normalise / dedupe), never by parsers.
    content_hash: str | None = None
    story_id: str | None = None
    simhash: int | None = None
    # Crawl metadata: the HTTP validators of the article page, for conditional re-fetching.
    etag: str | None = None
    last_modified: str | None = None
    # Problems the parser noticed but could live with (e.g. "date_from_metadata"); stored for review.
    flags: list[str] = field(default_factory=list)
    # The post file an imported article was read from (newscrawl import); None for a crawled one.
    post_file: PostFile | None = None


@dataclass
class PostFile:
    """A post file of the site's source as written (docs/import.md): its name (``2022-02-14-NW….md``), the
    folder it was read from (``_posts``, ``old_post``), its text, and the git commit of that version.
    ``content_hash`` is the article's content hash when it was imported: while the archive still holds
    that content, ``newscrawl export`` writes ``text`` back as it is."""

    file_name: str
    text: str
    folder: str | None = None
    commit: str | None = None
    content_hash: str | None = None


@dataclass
class ArticleSeen:
    """Archived articles seen again, unchanged, as ``url`` says: an article page that answered 304 Not
    Modified (its one id), or a listing page that did (the ids of the posts it lists; one item a page, as
    an incremental run of an unchanged site is nothing but such sightings)."""

    article_ids: list[str]
    url: str
