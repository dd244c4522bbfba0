"""Full-text search over articles that works for Chinese (docs/search.md).

SQLite: an FTS5 table ``articles_fts`` with the ``trigram`` tokenizer over title, summary and body_text,
external-content (``content="articles"``, so the text is stored once) and kept in step by triggers. The
double-quoted ``content="articles"`` is also how Datasette finds it. Existing rows are indexed by a rebuild.
PostgreSQL: ``pg_trgm`` GIN indexes on the same three columns, which serve ``ILIKE '%…%'``.

Revision ID: 0002_search
Revises: 0001_initial
Create Date: 2024-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002_search"
down_revision: str | Sequence[str] | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SEARCHED_COLUMNS = ("title", "summary", "body_text")

_SQLITE_UP = [
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
    # Only when searched text changes: re-sightings update last_seen_at on every crawl and must not
    # churn the index.
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

_SQLITE_DOWN = [
    "DROP TRIGGER articles_fts_after_update",
    "DROP TRIGGER articles_fts_after_delete",
    "DROP TRIGGER articles_fts_after_insert",
    "DROP TABLE articles_fts",
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # pg_trgm is a trusted extension (PostgreSQL 13+): the database owner may create it.
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for column in _SEARCHED_COLUMNS:
            op.execute(
                f"CREATE INDEX ix_articles_{column}_trgm ON articles USING gin ({column} gin_trgm_ops)"
            )
        return
    for statement in _SQLITE_UP:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for column in _SEARCHED_COLUMNS:
            op.execute(f"DROP INDEX ix_articles_{column}_trgm")
        return
    for statement in _SQLITE_DOWN:
        op.execute(statement)
