"""The archive's tables as SQLAlchemy declarative models: the schema that docs/schema.md documents.

These models are the code's picture of the newest schema revision; the migrations in ``migrations/versions``
are what actually creates it, and a test checks that the two agree. Readers outside newscrawl rely on the
names here (docs/schema.md says which of them are stable), so a column is never renamed or removed, only
added.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from newscrawl.storage.types import AwareDateTime, JSONDocument

#: Constraint and index names are spelled out so that migrations (and batch mode on SQLite, which
#: recreates tables) can name them, and so that they are the same on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

RUN_OUTCOMES = ("running", "ok", "degraded", "failed", "interrupted")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


#: Where each group of columns sits in its table (``sort_order``; the default, 0, is each table's key): the
#: column order is the schema's, which the migrations built and docs/schema.md lists.
_CONTENT, _STORY, _METADATA, _TIMES, _EXACT = 1, 2, 3, 4, 5


class ArticleContent:
    """The columns of an article's content and crawl metadata, shared by ``articles`` (its current version)
    and ``article_revisions`` (the earlier ones): what a revision keeps."""

    info_code: Mapped[str | None] = mapped_column(Text, sort_order=_CONTENT)
    url: Mapped[str] = mapped_column(Text, sort_order=_CONTENT)
    share_url: Mapped[str | None] = mapped_column(Text, sort_order=_CONTENT)
    category: Mapped[str | None] = mapped_column(Text, sort_order=_CONTENT)
    publisher: Mapped[str | None] = mapped_column(Text, sort_order=_CONTENT)
    title: Mapped[str | None] = mapped_column(Text, sort_order=_CONTENT)
    published_at: Mapped[datetime | None] = mapped_column(AwareDateTime, sort_order=_CONTENT)
    summary: Mapped[str | None] = mapped_column(Text, sort_order=_CONTENT)
    body_html: Mapped[str | None] = mapped_column(Text, sort_order=_CONTENT)
    body_text: Mapped[str | None] = mapped_column(Text, sort_order=_CONTENT)
    origin_html: Mapped[str | None] = mapped_column(Text, sort_order=_CONTENT)
    origin_status: Mapped[str | None] = mapped_column(Text, sort_order=_CONTENT)
    source: Mapped[str | None] = mapped_column(Text, sort_order=_CONTENT)
    tags: Mapped[str | None] = mapped_column(Text, sort_order=_CONTENT)
    footer_md: Mapped[str | None] = mapped_column(Text, sort_order=_CONTENT)
    content_hash: Mapped[str] = mapped_column(Text, sort_order=_CONTENT)
    simhash: Mapped[int | None] = mapped_column(BigInteger, sort_order=_CONTENT)
    flags: Mapped[list[str]] = mapped_column(JSONDocument, sort_order=_METADATA)
    etag: Mapped[str | None] = mapped_column(Text, sort_order=_METADATA)
    last_modified: Mapped[str | None] = mapped_column(Text, sort_order=_METADATA)
    # The exact values of the fields this backend could not hold as they were (revision 0006).
    exact_values: Mapped[str | None] = mapped_column(Text, sort_order=_EXACT)


class ArticleRow(ArticleContent, Base):
    """One row per article (a post of the mirror); its current version."""

    __tablename__ = "articles"
    __table_args__ = (
        UniqueConstraint("url"),
        *(Index(None, name) for name in ("info_code", "category", "published_at", "content_hash", "story_id")),
        # The dedupe's near-text candidates by publication time, answered from the index alone (revision 0004).
        Index(None, "published_at", "article_id"),
    )

    article_id: Mapped[str] = mapped_column(Text, primary_key=True)
    story_id: Mapped[str | None] = mapped_column(Text, sort_order=_STORY)
    first_seen_at: Mapped[datetime] = mapped_column(AwareDateTime, sort_order=_TIMES)
    last_seen_at: Mapped[datetime] = mapped_column(AwareDateTime, sort_order=_TIMES)
    changed_at: Mapped[datetime] = mapped_column(AwareDateTime, sort_order=_TIMES)
    revision: Mapped[int] = mapped_column(Integer, sort_order=_TIMES)


class ArticleRevisionRow(ArticleContent, Base):
    """An earlier version of an article whose content changed; the current one is in ``articles``."""

    __tablename__ = "article_revisions"

    article_id: Mapped[str] = mapped_column(
        Text, ForeignKey("articles.article_id", ondelete="CASCADE"), primary_key=True
    )
    revision: Mapped[int] = mapped_column(Integer, primary_key=True)
    seen_from: Mapped[datetime] = mapped_column(AwareDateTime, sort_order=_TIMES)
    seen_until: Mapped[datetime] = mapped_column(AwareDateTime, sort_order=_TIMES)
    replaced_at: Mapped[datetime] = mapped_column(AwareDateTime, sort_order=_TIMES)
    run_id: Mapped[int | None] = mapped_column(Integer, sort_order=_TIMES)


class StorySketchRow(Base):
    """What the dedupe pipeline compares of an article's text (newscrawl.stories.StorySketch).

    Derived data, written with the article's content by the store, so that no crawl has to read and
    re-shingle an archived post's text to compare it with a new one. Internal: its columns may change
    with ``version`` (rows of another version are ignored and derived again from ``articles``).
    """

    __tablename__ = "story_sketches"

    article_id: Mapped[str] = mapped_column(
        Text, ForeignKey("articles.article_id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer)
    length: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str | None] = mapped_column(Text)
    numbers: Mapped[str] = mapped_column(Text)
    simhash: Mapped[int] = mapped_column(BigInteger)
    size: Mapped[int] = mapped_column(Integer)
    folded: Mapped[int] = mapped_column(Integer)
    bits: Mapped[bytes] = mapped_column(LargeBinary)


class CrawlRunRow(Base):
    """One crawl run: when, how it ended, what it counted, with which settings."""

    __tablename__ = "crawl_runs"

    run_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    started_at: Mapped[datetime] = mapped_column(AwareDateTime, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(AwareDateTime)
    outcome: Mapped[str] = mapped_column(String(16))
    new: Mapped[int] = mapped_column(Integer)
    updated: Mapped[int] = mapped_column(Integer)
    unchanged: Mapped[int] = mapped_column(Integer)
    dropped: Mapped[int] = mapped_column(Integer)
    errors: Mapped[int] = mapped_column(Integer)
    counts: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    settings: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    site_url: Mapped[str | None] = mapped_column(Text)
    pid: Mapped[int | None] = mapped_column(Integer)
    hostname: Mapped[str | None] = mapped_column(Text)
    # Where the run's fields came from (newscrawl.coverage) and why it was degraded or failed (revision 0007).
    coverage: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    reasons: Mapped[list[str] | None] = mapped_column(JSONDocument)
    # What the run was (revision 0008): "crawl", or "import" (newscrawl import).
    kind: Mapped[str] = mapped_column(String(16), server_default="crawl")


class ImportedPostRow(Base):
    """The post file an imported article was read from, as written: what ``newscrawl export`` gives back
    byte for byte while the article's content is still the one imported (revision 0008)."""

    __tablename__ = "imported_posts"

    article_id: Mapped[str] = mapped_column(
        Text, ForeignKey("articles.article_id", ondelete="CASCADE"), primary_key=True
    )
    file_name: Mapped[str] = mapped_column(Text)
    folder: Mapped[str | None] = mapped_column(Text)
    post_text: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(Text)
    commit_id: Mapped[str | None] = mapped_column(Text)
    imported_at: Mapped[datetime] = mapped_column(AwareDateTime)


class ImportCommitRow(Base):
    """A commit of a site source repository whose post files ``newscrawl import --git`` has read."""

    __tablename__ = "import_commits"

    commit_id: Mapped[str] = mapped_column(Text, primary_key=True)
    run_id: Mapped[int | None] = mapped_column(Integer)
    imported_at: Mapped[datetime] = mapped_column(AwareDateTime)


class PageRow(Base):
    """A listing page as last fetched: its HTTP validators and the links it held (replayed on a 304)."""

    __tablename__ = "pages"

    url: Mapped[str] = mapped_column(Text, primary_key=True)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    links: Mapped[list[str]] = mapped_column(JSONDocument)
    fetched_at: Mapped[datetime] = mapped_column(AwareDateTime)
    status: Mapped[int] = mapped_column(Integer)


class MissingOutputRow(Base):
    """A side output of an archived article that could not be written (revision 0006): its post file in
    NEWSCRAWL_POSTS_DIR, or its raw response in the WARC files. Later runs write it, then delete the row."""

    __tablename__ = "missing_outputs"

    article_id: Mapped[str] = mapped_column(Text, primary_key=True)
    output: Mapped[str] = mapped_column(String(16), primary_key=True)
    since: Mapped[datetime] = mapped_column(AwareDateTime)
    run_id: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(Text)



class ArticleCountRow(Base):
    """How many articles were published on a day (UTC+8) in a category (revision 0011): what ``newscrawl
    stats`` reads instead of counting every article. Kept by the archive in the transaction of every write
    of ``articles`` (newscrawl.storage.summary); NULL ``day`` or ``category`` as in ``articles``."""

    __tablename__ = "article_counts"
    __table_args__ = (Index(None, "day", "category", unique=True),)

    count_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    day: Mapped[str | None] = mapped_column(String(10))
    category: Mapped[str | None] = mapped_column(Text)
    articles: Mapped[int] = mapped_column(Integer)

#: The side outputs ``missing_outputs`` tracks: a post file, the article page's WARC record, the origin
#: answer's WARC record.
OUTPUTS = ("post", "warc_page", "warc_origin")

#: The columns that make up an article's content and its crawl metadata: what a revision keeps.
CONTENT_COLUMNS: tuple[str, ...] = tuple(ArticleContent.__annotations__)
