"""An index on (published_at, article_id): the dedupe's candidates without visiting the rows.

For each new article the dedupe pipeline asks for the ids of the posts published within 12 hours of it
(``Archive.published_near``). With ``published_at`` alone indexed, the database visits every one of those
rows for its id, and a row holds a whole page; with the id in the index it answers from the index.
``ix_articles_published_at`` stays (docs/schema.md: indexes are never removed).

Revision ID: 0004_published_near
Revises: 0003_story_sketches
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004_published_near"
down_revision: str | Sequence[str] | None = "0003_story_sketches"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_articles_published_at_article_id", "articles", ["published_at", "article_id"])


def downgrade() -> None:
    op.drop_index("ix_articles_published_at_article_id", table_name="articles")
