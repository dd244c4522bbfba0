"""Articles and their revisions: the ``Archive``'s writes of posts and its reads of them (docs/schema.md,
``articles`` and ``article_revisions``).

Every write is one short transaction, so a process killed at any instant leaves either all of it or none.
Two writers may work on one archive at once (two crawls, a crawl and ``newscrawl reparse``). On SQLite a
write transaction takes the database's write lock first (``BEGIN IMMEDIATE``), so writers take turns; on
PostgreSQL each write first takes a transaction-scoped advisory lock per article, so the read-compare-write
of an upsert is never interleaved with another writer's on the same article. In both cases the insert
itself is an ``INSERT … ON CONFLICT DO UPDATE``, which can neither duplicate a row nor fail on a conflict.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import bindparam, case, select, text, update
from sqlalchemy.engine import Connection

from newscrawl.items import Article, PostFile
from newscrawl.revisions import changed_fields, is_revision, with_known_origin
from newscrawl.storage import search as search_module
from newscrawl.storage.base import ArchiveBase
from newscrawl.storage.migrate import ADVISORY_LOCK_NAMESPACE
from newscrawl.storage.models import CONTENT_COLUMNS
from newscrawl.storage.pending import PendingWrites
from newscrawl.storage.rows import article_from_row, article_values, storage_flags
from newscrawl.storage.sql import ARTICLES, IMPORTED, REVISIONS, id_chunks, insert_new, upsert
from newscrawl.storage.stories import sketch_row
from newscrawl.storage.summary import total_articles
from newscrawl.storage.types import AwareDateTime, to_site_time

logger = logging.getLogger(__name__)

UpsertOutcome = Literal["new", "updated", "unchanged"]

#: PostFile's fields and the imported_posts columns that hold them.
_POST_COLUMNS = {"file_name": "file_name", "text": "post_text", "folder": "folder", "commit": "commit_id",
                 "content_hash": "content_hash"}


@dataclass(frozen=True)
class KnownArticle:
    """What a conditional request for an archived article needs."""

    article_id: str
    url: str
    etag: str | None
    last_modified: str | None
    content_hash: str
    last_seen_at: datetime
    # Whether the origin's text was settled (e.g. "ok") or worth asking again; see Article.origin_status.
    origin_status: str | None
    # Fresh posts are re-checked even when their listings did not change (the mirror may still edit them).
    published_at: datetime | None


@dataclass(frozen=True)
class ArticleRevision:
    """An earlier version of an article, and when it was current."""

    revision: int
    article: Article
    seen_from: datetime
    seen_until: datetime
    replaced_at: datetime
    run_id: int | None


class ArticleStore(ArchiveBase):
    """The ``Archive``'s articles: storing them (with revisions and imported post files) and reading them."""

    def upsert_article(self, article: Article, seen_at: datetime, run_id: int | None = None) -> UpsertOutcome:
        """Store ``article`` as seen at ``seen_at``: "new", "updated" (content changed) or "unchanged".

        An update keeps the previous version in ``article_revisions`` and bumps ``revision``;
        ``last_seen_at`` always moves forward, ``first_seen_at`` never changes. One transaction.
        """
        return self.upsert_articles([article], seen_at, run_id)[0]

    def upsert_articles(
        self, articles: Sequence[Article], seen_at: datetime, run_id: int | None = None
    ) -> list[UpsertOutcome]:
        """``upsert_article`` for many articles in one transaction; the outcomes in the same order."""
        if not articles:
            return []
        seen_at = to_site_time(seen_at)
        with self._write_articles() as (connection, pending):
            _lock_articles(connection, [article.article_id for article in articles])
            return [_store(connection, article, seen_at, run_id, pending) for article in articles]

    def upsert_imported(self, article: Article, seen_at: datetime, run_id: int | None = None) -> UpsertOutcome:
        """``upsert_article`` and, in the same transaction, the post file it was read from
        (``article.post_file``, recorded with the content hash the archive holds afterwards;
        newscrawl import, docs/import.md)."""
        post = article.post_file
        if post is None:
            raise ValueError(f"article {article.article_id} was not read from a post file")
        seen_at = to_site_time(seen_at)
        with self._write_articles() as (connection, pending):
            _lock_articles(connection, [article.article_id])
            outcome = _store(connection, article, seen_at, run_id, pending)
            # What the row holds now (an unchanged article keeps the hash it had; a new one is the article).
            stored_hash = article.content_hash if outcome == "new" and article.content_hash else connection.execute(
                select(ARTICLES.c.content_hash).where(ARTICLES.c.article_id == article.article_id)
            ).scalar_one()
            values = {"article_id": article.article_id, "file_name": post.file_name, "folder": post.folder,
                      "post_text": post.text, "content_hash": stored_hash, "commit_id": post.commit,
                      "imported_at": seen_at}
            pending.posts[article.article_id] = values
        post.content_hash = stored_hash
        return outcome

    def storage_flags(self, article: Article) -> list[str]:
        """The flags storing ``article`` adds on this backend: ``unstorable_text`` (a text held a character
        the backend cannot), ``date_out_of_range`` (docs/schema.md, "Values a backend cannot hold")."""
        return storage_flags(article, self.dialect)

    def mark_seen_many(self, article_ids: Sequence[str], seen_at: datetime) -> int:
        """Move ``last_seen_at`` of archived, unchanged articles, in one transaction; returns how many are
        archived."""
        seen = bindparam("seen_at", to_site_time(seen_at), type_=AwareDateTime())
        # Never backwards: a late writer with an older sighting leaves the newer one in place.
        later = case((ARTICLES.c.last_seen_at < seen, seen), else_=ARTICLES.c.last_seen_at)
        updated = 0
        with self._engine.begin() as connection:
            for chunk in id_chunks(article_ids):
                result = connection.execute(
                    update(ARTICLES).where(ARTICLES.c.article_id.in_(chunk)).values(last_seen_at=later)
                )
                updated += result.rowcount
        return updated

    def get_article(self, article_id: str) -> Article | None:
        """The current version of an archived article."""
        with self._read() as connection:
            row = connection.execute(
                select(ARTICLES).where(ARTICLES.c.article_id == article_id)
            ).mappings().first()
        return article_from_row(row) if row is not None else None

    def revisions(self, article_id: str) -> list[ArticleRevision]:
        """The earlier versions of an article, oldest first (the current one is ``get_article``)."""
        with self._read() as connection:
            rows = connection.execute(
                select(REVISIONS).where(REVISIONS.c.article_id == article_id).order_by(REVISIONS.c.revision)
            ).mappings().all()
        return [
            ArticleRevision(
                revision=row["revision"], article=article_from_row(row), seen_from=row["seen_from"],
                seen_until=row["seen_until"], replaced_at=row["replaced_at"], run_id=row["run_id"],
            )
            for row in rows
        ]

    def count_articles(self) -> int:
        """How many articles are archived (the sum of ``article_counts``: no count of a million rows)."""
        with self._read() as connection:
            return total_articles(connection)

    def known_articles(self, urls: Iterable[str]) -> dict[str, KnownArticle]:
        """Validators and content hash of those of ``urls`` that are archived, for conditional requests,
        keyed by ``url``: index look-ups, one statement per 500 URLs (a crawl asks for the articles each
        page links)."""
        found: dict[str, KnownArticle] = {}
        with self._read() as connection:
            for chunk in id_chunks(sorted(set(urls))):
                rows = connection.execute(_KNOWN_SELECT, {"urls": chunk})
                found.update((row.url, KnownArticle(*row)) for row in rows)
        return found

    def iter_articles(
        self, since: datetime | None = None, until: datetime | None = None, category: str | None = None
    ) -> Iterator[Article]:
        """Archived articles, current versions, by publication time (undated last), then id.

        ``since`` is inclusive and ``until`` exclusive; both compare ``published_at``, so undated
        articles come only when neither is given. Rows are streamed: consume the iterator promptly.
        """
        # The post file of an imported article comes with it: the export writes it back as it was.
        post_columns = (IMPORTED.c[column].label(f"post_{name}") for name, column in _POST_COLUMNS.items())
        statement = select(ARTICLES, *post_columns)
        statement = statement.outerjoin(IMPORTED, IMPORTED.c.article_id == ARTICLES.c.article_id)
        if since is not None:
            statement = statement.where(ARTICLES.c.published_at >= since)
        if until is not None:
            statement = statement.where(ARTICLES.c.published_at < until)
        if category is not None:
            statement = statement.where(ARTICLES.c.category == category)
        statement = statement.order_by(ARTICLES.c.published_at.asc().nulls_last(), ARTICLES.c.article_id)
        with self._read() as connection:
            for row in connection.execution_options(yield_per=200).execute(statement).mappings():
                article = article_from_row(row)
                if row["post_file_name"] is not None:
                    article.post_file = PostFile(**{name: row[f"post_{name}"] for name in _POST_COLUMNS})
                yield article

    def newest_urls(self, limit: int = 2) -> list[str]:
        """The URLs of the ``limit`` latest published articles (from the index on ``published_at``)."""
        with self._read() as connection:
            return list(connection.execute(
                select(ARTICLES.c.url).where(ARTICLES.c.published_at.is_not(None))
                .order_by(ARTICLES.c.published_at.desc()).limit(limit)
            ).scalars())


_KNOWN_SELECT = select(ARTICLES.c.article_id, ARTICLES.c.url, ARTICLES.c.etag, ARTICLES.c.last_modified,
                       ARTICLES.c.content_hash, ARTICLES.c.last_seen_at, ARTICLES.c.origin_status,
                       ARTICLES.c.published_at).where(ARTICLES.c.url.in_(bindparam("urls", expanding=True)))


def _lock_articles(connection: Connection, article_ids: Iterable[str]) -> None:
    # SQLite's BEGIN IMMEDIATE already made this the only writer. On PostgreSQL the locks are taken in
    # one global order (by key) so that two batches sharing articles cannot deadlock.
    if connection.dialect.name != "postgresql":
        return
    for key in sorted({_lock_key(article_id) for article_id in article_ids}):
        connection.execute(
            text("SELECT pg_advisory_xact_lock(:namespace, :key)"),
            {"namespace": ADVISORY_LOCK_NAMESPACE, "key": key},
        )


def _lock_key(article_id: str) -> int:
    # A stable signed 32-bit key (Python's hash() differs per process); a collision only makes two
    # articles' writers take turns.
    return zlib.crc32(article_id.encode()) - (1 << 31)


def _store(
    connection: Connection, article: Article, seen_at: datetime, run_id: int | None, pending: PendingWrites
) -> UpsertOutcome:
    values = article_values(article, connection.dialect.name)
    # Insert first: a crawl stores mostly new articles, and then this one statement is the whole upsert.
    first = {**values, "first_seen_at": seen_at, "last_seen_at": seen_at, "changed_at": seen_at, "revision": 1}
    documents = pending.documents if connection.dialect.name == "sqlite" else None
    if insert_new(connection, ARTICLES, first, key=("article_id",)):
        sketch = sketch_row(connection.dialect.name, article)
        if sketch is not None:
            pending.sketches[article.article_id] = sketch
        search_module.index_article(connection, values, documents)
        pending.tally.add(values)
        pending.near.stored(article.article_id, values["published_at"])
        return "new"
    old = connection.execute(
        select(ARTICLES).where(ARTICLES.c.article_id == article.article_id)
    ).mappings().one()
    last_seen_at = max(old["last_seen_at"], seen_at)
    # What is a revision is decided in newscrawl.revisions alone: this compares its hashes.
    archived = article_from_row(old)
    article = with_known_origin(article, archived)
    values = article_values(article, connection.dialect.name)
    if not is_revision(archived, old["content_hash"], article, values["content_hash"]):
        changes: dict[str, Any] = {"last_seen_at": last_seen_at}
        # Not content: validators, the dedupe pipeline's findings and the flags may change without a
        # revision, and so do an origin text learnt for the first time and the latest reason an origin
        # gave none.
        for name in ("etag", "last_modified", "story_id", "simhash"):
            if values[name] is not None and values[name] != old[name]:
                changes[name] = values[name]
        # exact_values follows origin_html when that is what an origin text held (docs/schema.md).
        for name in ("origin_status", "origin_html", "content_hash", "flags", "exact_values"):
            if values[name] != old[name]:
                changes[name] = values[name]
        connection.execute(
            update(ARTICLES).where(ARTICLES.c.article_id == article.article_id).values(changes)
        )
        return "unchanged"
    earlier = {name: old[name] for name in CONTENT_COLUMNS}
    earlier.update(
        article_id=article.article_id, revision=old["revision"], seen_from=old["changed_at"],
        seen_until=old["last_seen_at"], replaced_at=seen_at, run_id=run_id,
    )
    upsert(connection, REVISIONS, earlier, key=("article_id", "revision"), keep=tuple(earlier))
    if values["story_id"] is None:
        values["story_id"] = old["story_id"]
    values.update(
        first_seen_at=old["first_seen_at"], last_seen_at=last_seen_at, changed_at=seen_at,
        revision=old["revision"] + 1,
    )
    upsert(connection, ARTICLES, values, key=("article_id",), keep=("first_seen_at",))
    pending.tally.move(old, values)
    pending.sketches[article.article_id] = sketch_row(connection.dialect.name, article)
    search_module.reindex_article(connection, old, values, documents)
    pending.near.stored(article.article_id, values["published_at"])
    logger.debug("article %s changed (%s): revision %s", article.article_id,
                 ", ".join(changed_fields(archived, article)), values["revision"])
    return "updated"
