"""Every field the site or the origin shows makes a revision: ``content_hash`` recomputed.

Until now ``content_hash`` covered title, date, summary, body text, source and share link only, so a
changed tag, category, publisher, markup, footer or origin text was counted unchanged and lost. The hash
is now newscrawl.revisions' (docs/reliability.md, "What is a revision"), over every content field; this
migration recomputes it from each stored row, in ``articles`` and ``article_revisions``, so that the first
crawl after the upgrade compares like with like and reports an unchanged site as unchanged. The columns
and their meaning stay: no reader's query changes.

Downgrading leaves the new hashes: the older code then sees each article as changed once, on its next
sighting, and stores it again as a revision (nothing is lost).

Revision ID: 0005_revisions
Revises: 0004_published_near
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from newscrawl.items import Article
from newscrawl.revisions import content_hash
from newscrawl.storage.types import AwareDateTime

revision: str = "0005_revisions"
down_revision: str | Sequence[str] | None = "0004_published_near"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 1000
_FIELDS = ("title", "category", "tags", "publisher", "summary", "source", "share_url", "footer_md",
           "body_html", "body_text", "origin_html")


def _table(name: str, *keys: sa.ColumnClause[Any]) -> sa.TableClause:
    return sa.table(name, *keys, sa.column("published_at", AwareDateTime()),
                    *(sa.column(field, sa.Text()) for field in _FIELDS), sa.column("content_hash", sa.Text()))


def _rehash(table: sa.TableClause, keys: tuple[str, ...]) -> None:
    connection = op.get_bind()
    key_columns = [table.c[name] for name in keys]
    after: tuple[Any, ...] | None = None
    while True:
        statement = sa.select(*key_columns, table.c.published_at, *(table.c[f] for f in _FIELDS),
                              table.c.content_hash).order_by(*key_columns).limit(_BATCH)
        if after is not None:
            statement = statement.where(sa.tuple_(*key_columns) > sa.tuple_(*after))
        rows = connection.execute(statement).mappings().all()
        if not rows:
            return
        updates = []
        for row in rows:
            article = Article(article_id="", url="", published_at=row["published_at"],
                              **{f: row[f] for f in _FIELDS})
            new_hash = content_hash(article)
            if new_hash != row["content_hash"]:
                updates.append({**{f"key_{k}": row[k] for k in keys}, "new_hash": new_hash})
        if updates:
            condition = sa.and_(*(table.c[k] == sa.bindparam(f"key_{k}") for k in keys))
            connection.execute(table.update().where(condition).values(content_hash=sa.bindparam("new_hash")),
                               updates)
        after = tuple(rows[-1][k] for k in keys)


def upgrade() -> None:
    _rehash(_table("articles", sa.column("article_id", sa.Text())), ("article_id",))
    _rehash(_table("article_revisions", sa.column("article_id", sa.Text()), sa.column("revision", sa.Integer())),
            ("article_id", "revision"))


def downgrade() -> None:
    pass  # see the module docstring: the older code stores each article once more as a revision
