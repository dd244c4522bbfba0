"""Search by character bigrams, so that every query length is an index look-up (docs/search.md).

Replaces the trigram indexes of 0002, which could not answer a two-character term (most Chinese words)
without scanning every article. One search document per article, keyed by ``doc_id`` (publication time,
then a sequence number: newest first is the index's own order):

* both backends: ``search_documents`` (``doc_id``, ``article_id``), deleted with its article;
* SQLite: the contentless FTS5 table ``search_fts`` (``detail=none``) over the bigram tokens, written by
  newscrawl with each article (no SQL function makes bigrams, so no trigger can);
* PostgreSQL: the ``tsvector`` column ``search_documents.bigrams`` and its GIN index.

The index of the articles already archived is built here, in pages of 2,000, logging its progress
(``newscrawl -v db upgrade`` shows it). The trigram objects of 0002 are dropped: no code reads them.

Revision ID: 0009_bigram_search
Revises: 0008_import
Create Date: 2026-12-06
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from alembic import op

from newscrawl.storage.search_index import TOKEN_CHARACTERS, rebuild_index

revision: str = "0009_bigram_search"
down_revision: str | Sequence[str] | None = "0008_import"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Named for what it reports: Alembic loads this file under a module name of its own.
logger = logging.getLogger("newscrawl.storage.migrations")

_TOKENIZE = "ascii tokenchars '" + TOKEN_CHARACTERS.replace("'", "''") + "'"
_SQLITE_UP = [
    """
    CREATE TABLE search_documents (
        doc_id INTEGER NOT NULL PRIMARY KEY,
        article_id TEXT NOT NULL REFERENCES articles (article_id) ON DELETE CASCADE,
        CONSTRAINT uq_search_documents_article_id UNIQUE (article_id)
    )
    """,
    "CREATE VIRTUAL TABLE search_fts USING fts5(bigrams, content='', detail=none, tokenize='"
    + _TOKENIZE.replace("'", "''") + "')",
    # IF EXISTS: a batch migration that recreated `articles` before this one took 0002's triggers with it.
    "DROP TRIGGER IF EXISTS articles_fts_after_update",
    "DROP TRIGGER IF EXISTS articles_fts_after_delete",
    "DROP TRIGGER IF EXISTS articles_fts_after_insert",
    "DROP TABLE IF EXISTS articles_fts",
]
_POSTGRES_UP = [
    """
    CREATE TABLE search_documents (
        doc_id BIGINT NOT NULL PRIMARY KEY,
        article_id TEXT NOT NULL REFERENCES articles (article_id) ON DELETE CASCADE,
        bigrams TSVECTOR NOT NULL,
        CONSTRAINT uq_search_documents_article_id UNIQUE (article_id)
    )
    """,
    "DROP INDEX IF EXISTS ix_articles_title_trgm",
    "DROP INDEX IF EXISTS ix_articles_summary_trgm",
    "DROP INDEX IF EXISTS ix_articles_body_text_trgm",
]
#: The GIN index is built after the rows are in: one sorted build instead of a million insertions.
_POSTGRES_INDEX = "CREATE INDEX ix_search_documents_bigrams ON search_documents USING gin (bigrams)"

# 0002's objects, for the way down.
_SQLITE_DOWN = [
    "DROP TABLE search_fts",
    "DROP TABLE search_documents",
    """
    CREATE VIRTUAL TABLE articles_fts USING fts5(
        title, summary, body_text,
        content="articles", content_rowid="rowid", tokenize="trigram"
    )
    """,
    """
    CREATE TRIGGER articles_fts_after_insert AFTER INSERT ON articles BEGIN
        INSERT INTO articles_fts (rowid, title, summary, body_text)
        VALUES (new.rowid, new.title, new.summary, new.body_text);
    END
    """,
    """
    CREATE TRIGGER articles_fts_after_delete AFTER DELETE ON articles BEGIN
        INSERT INTO articles_fts (articles_fts, rowid, title, summary, body_text)
        VALUES ('delete', old.rowid, old.title, old.summary, old.body_text);
    END
    """,
    """
    CREATE TRIGGER articles_fts_after_update AFTER UPDATE OF title, summary, body_text ON articles BEGIN
        INSERT INTO articles_fts (articles_fts, rowid, title, summary, body_text)
        VALUES ('delete', old.rowid, old.title, old.summary, old.body_text);
        INSERT INTO articles_fts (rowid, title, summary, body_text)
        VALUES (new.rowid, new.title, new.summary, new.body_text);
    END
    """,
    "INSERT INTO articles_fts (articles_fts) VALUES ('rebuild')",
]
_POSTGRES_DOWN = [
    "DROP TABLE search_documents",
    *(f"CREATE INDEX ix_articles_{column}_trgm ON articles USING gin ({column} gin_trgm_ops)"
      for column in ("title", "summary", "body_text")),
]


def upgrade() -> None:
    connection = op.get_bind()
    postgres = connection.dialect.name == "postgresql"
    for statement in _POSTGRES_UP if postgres else _SQLITE_UP:
        op.execute(statement)
    started = time.monotonic()
    reported = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if done == total or now - reported[0] >= 10:
            reported[0] = now
            logger.info("search index: %d of %d articles indexed (%.0f s)", done, total, now - started)

    indexed = rebuild_index(connection, progress)
    if postgres:
        op.execute(_POSTGRES_INDEX)
    logger.info("search index built: %d articles in %.1f s", indexed, time.monotonic() - started)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in _POSTGRES_DOWN if postgres else _SQLITE_DOWN:
        op.execute(statement)
