"""Field coverage and the reasons for an outcome, kept with each crawl run (docs/schema.md).

``crawl_runs.coverage``: for each field, how many of the run's articles got it from the page's primary
rule, from a fallback, or not at all, and the origin's answers; ``crawl_runs.reasons``: one line per reason
a run was degraded or failed. Both null for runs recorded before this revision. The outcome column also
takes the new value ``degraded`` (a varchar(16) already, so no change of type).

Revision ID: 0007_run_coverage
Revises: 0006_side_outputs
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from newscrawl.storage.types import JSONDocument

revision: str = "0007_run_coverage"
down_revision: str | Sequence[str] | None = "0006_side_outputs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("crawl_runs") as batch:
        batch.add_column(sa.Column("coverage", JSONDocument(), nullable=True))
        batch.add_column(sa.Column("reasons", JSONDocument(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("crawl_runs") as batch:
        batch.drop_column("reasons")
        batch.drop_column("coverage")
