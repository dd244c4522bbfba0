"""PostgreSQL search by period: each lexeme of ``search_documents.bigrams`` starts with its document's
period, so that a query looks up the newest periods first and stops (docs/search.md, "PostgreSQL").

A GIN index has no order of its own: a look-up reads every match, and an AND of bigrams that occur
together (a four-character word's three) was a bitmap of all their matches and a sort, 157 ms and more at
1,000,000 articles. With the period in the lexeme a look-up reads one period's matches (about 12 days).

The table is written anew in ``doc_id`` order (pages of 50,000 documents, progress logged: ``newscrawl -v
db upgrade`` shows it), so that a period's documents share heap pages, and its GIN index built after the
rows are in. The lexemes are rewritten in SQL from the ones stored (no article is read): a document
written by this version's newscrawl already has its prefix, which is replaced by the same one. SQLite's
index is unchanged.

Revision ID: 0010_search_pg
Revises: 0009_bigram_search
Create Date: 2026-12-06
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

from newscrawl.storage.search_index import PREFIX_PATTERN, postgres_lexemes_sql

revision: str = "0010_search_pg"
down_revision: str | Sequence[str] | None = "0009_bigram_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Named for what it reports: Alembic loads this file under a module name of its own.
logger = logging.getLogger("newscrawl.storage.migrations")

PAGE = 50_000
_CREATE = "CREATE TABLE {table} (doc_id BIGINT NOT NULL, article_id TEXT NOT NULL, bigrams TSVECTOR NOT NULL)"
_CONSTRAINTS = [
    "ALTER TABLE search_documents ADD CONSTRAINT search_documents_pkey PRIMARY KEY (doc_id)",
    "ALTER TABLE search_documents ADD CONSTRAINT uq_search_documents_article_id UNIQUE (article_id)",
    "ALTER TABLE search_documents ADD CONSTRAINT search_documents_article_id_fkey FOREIGN KEY (article_id) "
    "REFERENCES articles (article_id) ON DELETE CASCADE",
    # A GIN build sorts its entries in this memory: a million documents' in a few passes.
    "SET LOCAL maintenance_work_mem = '256MB'",
    "CREATE INDEX ix_search_documents_bigrams ON search_documents USING gin (bigrams)",
    # Planner statistics of the new lexemes.
    "ANALYZE search_documents",
]


def _rewrite(lexemes: str) -> None:
    """Copy search_documents in doc_id order, each row's bigrams made by the SQL ``lexemes`` (of
    ``doc_id`` and ``bigrams``), then put the copy in its place with the same constraints and index."""
    connection = op.get_bind()
    op.execute(_CREATE.format(table="search_documents_new"))
    total = int(connection.execute(text("SELECT count(*) FROM search_documents")).scalar_one())
    started = time.monotonic()
    reported, done, after = started, 0, -1
    page_end = text("SELECT doc_id FROM search_documents WHERE doc_id > :after ORDER BY doc_id OFFSET :skip LIMIT 1")
    copy = text(f"INSERT INTO search_documents_new (doc_id, article_id, bigrams) SELECT doc_id, article_id, {lexemes} "
                "FROM search_documents WHERE doc_id > :after AND doc_id <= :last ORDER BY doc_id")
    while done < total:
        last = connection.execute(page_end, {"after": after, "skip": PAGE - 1}).scalar()
        if last is None:
            last = connection.execute(text("SELECT max(doc_id) FROM search_documents")).scalar_one()
        done += connection.execute(copy, {"after": after, "last": last}).rowcount
        after = last
        now = time.monotonic()
        if done >= total or now - reported >= 10:
            reported = now
            logger.info("search index: %d of %d documents rewritten (%.0f s)", done, total, now - started)
    op.execute("DROP TABLE search_documents")
    op.execute("ALTER TABLE search_documents_new RENAME TO search_documents")
    # One statement each, without progress of their own: say what the next minutes are.
    logger.info("search index: building its keys and GIN index (%.0f s)", time.monotonic() - started)
    for statement in _CONSTRAINTS:
        op.execute(statement)
    logger.info("search index rebuilt: %d documents in %.1f s", done, time.monotonic() - started)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _rewrite(postgres_lexemes_sql("doc_id", "bigrams"))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _rewrite(f"array_to_tsvector(ARRAY(SELECT regexp_replace(lexeme, '{PREFIX_PATTERN}', '') "
                 "FROM unnest(tsvector_to_array(bigrams)) AS lexeme))")
