"""Articles per publication day and category, kept with the articles (docs/schema.md, ``article_counts``),
so that ``newscrawl stats`` reads a few thousand rows instead of counting every article.

The counts of the articles already archived are taken here, in one pass over ``articles`` (3-4 s at a
million articles), logged (``newscrawl -v db upgrade`` shows it); from then on the archive keeps them
in the transaction of every write (newscrawl.storage.summary).

Revision ID: 0011_summary
Revises: 0010_search_pg
Create Date: 2026-12-06
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from newscrawl.storage.summary import rebuild_counts

revision: str = "0011_summary"
down_revision: str | Sequence[str] | None = "0010_search_pg"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Named for what it reports: Alembic loads this file under a module name of its own.
logger = logging.getLogger("newscrawl.storage.migrations")


def upgrade() -> None:
    op.create_table(
        "article_counts",
        sa.Column("count_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("day", sa.String(10), nullable=True),
        sa.Column("category", sa.Text(), nullable=True),
        sa.Column("articles", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("count_id", name="pk_article_counts"),
    )
    op.create_index("ix_article_counts_day_category", "article_counts", ["day", "category"], unique=True)
    started = time.monotonic()
    logger.info("article_counts: counting the archived articles per publication day and category")
    rows = rebuild_counts(op.get_bind())
    logger.info("article_counts: %d days and categories counted in %.1f s", rows, time.monotonic() - started)


def downgrade() -> None:
    op.drop_index("ix_article_counts_day_category", table_name="article_counts")
    op.drop_table("article_counts")
