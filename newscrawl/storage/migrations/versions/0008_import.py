"""What ``newscrawl import`` keeps: each imported post file as written, the git commits already read, and
the kind of every run (docs/schema.md: ``imported_posts``, ``import_commits``, ``crawl_runs.kind``).

Revision ID: 0008_import
Revises: 0007_run_coverage
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from newscrawl.storage.types import AwareDateTime

revision: str = "0008_import"
down_revision: str | Sequence[str] | None = "0007_run_coverage"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("crawl_runs") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="crawl"))
    op.create_table(
        "imported_posts",
        sa.Column("article_id", sa.Text(), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("folder", sa.Text(), nullable=True),
        sa.Column("post_text", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.Text(), nullable=False),
        sa.Column("commit_id", sa.Text(), nullable=True),
        sa.Column("imported_at", AwareDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"], ["articles.article_id"],
            name="fk_imported_posts_article_id_articles", ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("article_id", name="pk_imported_posts"),
    )
    op.create_table(
        "import_commits",
        sa.Column("commit_id", sa.Text(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("imported_at", AwareDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("commit_id", name="pk_import_commits"),
    )


def downgrade() -> None:
    op.drop_table("import_commits")
    op.drop_table("imported_posts")
    with op.batch_alter_table("crawl_runs") as batch:
        batch.drop_column("kind")
