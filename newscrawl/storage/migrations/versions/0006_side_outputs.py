"""What could not be written as it was, kept so that nothing fetched is lost.

* ``articles.exact_values`` and ``article_revisions.exact_values``: the exact values of the fields a
  backend cannot hold (a lone surrogate in any text, NUL in PostgreSQL text, a time outside years 1 to
  9999 in UTC or UTC+8), as ASCII-only JSON; the columns themselves hold a stand-in (docs/schema.md).
* ``missing_outputs``: the post files and WARC records a run could not write (a full disk, a folder it
  may not write to), which later runs write until they exist.

Revision ID: 0006_side_outputs
Revises: 0005_revisions
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from newscrawl.storage.types import AwareDateTime

revision: str = "0006_side_outputs"
down_revision: str | Sequence[str] | None = "0005_revisions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A nullable column is added in place on both backends (no table copy on SQLite).
    op.add_column("articles", sa.Column("exact_values", sa.Text(), nullable=True))
    op.add_column("article_revisions", sa.Column("exact_values", sa.Text(), nullable=True))
    op.create_table(
        "missing_outputs",
        sa.Column("article_id", sa.Text(), nullable=False),
        sa.Column("output", sa.String(16), nullable=False),
        sa.Column("since", AwareDateTime(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("article_id", "output", name="pk_missing_outputs"),
    )


def downgrade() -> None:
    op.drop_table("missing_outputs")
    # In place on both backends (SQLite 3.35+): a batch copy of `articles` would break the jekyll_posts view.
    op.execute("ALTER TABLE article_revisions DROP COLUMN exact_values")
    op.execute("ALTER TABLE articles DROP COLUMN exact_values")
