"""Each article's dedupe sketch, kept beside it (docs/schema.md, ``story_sketches``).

The dedupe pipeline compares a new post with the posts published within hours of it on a small sketch of
each text. Kept in the archive, a sketch is derived once, when the post is stored, instead of again by
every crawl process that meets the post's neighbours. Existing articles get none here: their sketches are
derived from their text when a crawl first needs them, as before.

Revision ID: 0003_story_sketches
Revises: 0002_search
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_story_sketches"
down_revision: str | Sequence[str] | None = "0002_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "story_sketches",
        sa.Column("article_id", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("length", sa.Integer(), nullable=False),
        sa.Column("digest", sa.Text(), nullable=True),
        sa.Column("numbers", sa.Text(), nullable=False),
        sa.Column("simhash", sa.BigInteger(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("folded", sa.Integer(), nullable=False),
        sa.Column("bits", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"], ["articles.article_id"],
            name="fk_story_sketches_article_id_articles", ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("article_id", name="pk_story_sketches"),
    )


def downgrade() -> None:
    op.drop_table("story_sketches")
