"""An empty share link line ``<>`` ends the article's text: ``body_text`` of the articles that have one.

A post file's empty link line ``<>`` is a share link the site's generator left empty (kramdown renders it
``<p>&lt;&gt;</p>``). The parser read it as the article's last words, so the archive's ``body_text`` of
such an article ended with ``<>``; it ends before that line (``newscrawl.parsers.article.article_text``,
docs/parsing.md). The site did not change, the archive had misread it: this migration corrects the
stored rows in place instead of letting the next crawl record a revision that never happened.

For every row of ``articles`` and ``article_revisions`` whose ``body_html`` ends with that paragraph,
``body_text`` is derived again from ``body_html`` (which keeps the paragraph, so the page rebuilds the
same), with ``content_hash`` and ``simhash``. For an article: its search document is rebuilt (``<>`` made
tokens of its own), its ``story_sketches`` row is deleted (derived data: the dedupe derives it again from
the text), and an ``imported_posts`` row that recorded the old hash records the new one, so the export
still gives the post file back as written. Story ids stay as they are.

Downgrading leaves the corrected rows: the older code then sees each such article as changed once, on
its next sighting, and stores the ``<>`` text again as a revision (nothing is lost).

Revision ID: 0012_import_fix
Revises: 0011_summary
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from newscrawl.items import Article
from newscrawl.parsers.article import article_text
from newscrawl.revisions import content_hash
from newscrawl.storage.search_index import INDEXED_COLUMNS, reindex_article
from newscrawl.storage.types import AwareDateTime
from newscrawl.stories import simhash

revision: str = "0012_import_fix"
down_revision: str | Sequence[str] | None = "0011_summary"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FIELDS = ("title", "category", "tags", "publisher", "summary", "source", "share_url", "footer_md",
           "body_html", "body_text", "origin_html")
# kramdown's rendering of the line: the only rows that can change (the parser's own test is exact).
_EMPTY_SHARE = "%&lt;&gt;%"


def _table(name: str, *keys: sa.ColumnClause[Any]) -> sa.TableClause:
    return sa.table(name, *keys, sa.column("published_at", AwareDateTime()),
                    *(sa.column(field, sa.Text()) for field in _FIELDS),
                    sa.column("content_hash", sa.Text()), sa.column("simhash", sa.BigInteger()))


def _corrected(row: Any) -> dict[str, Any] | None:
    """The row's corrected ``body_text``, ``content_hash`` and ``simhash``; None when it is right."""
    text = article_text(row["body_html"].strip())
    text = text.strip() if text is not None else None  # as normalise leaves it
    if text == row["body_text"]:
        return None
    article = Article(article_id="", url="", published_at=row["published_at"],
                      **{**{f: row[f] for f in _FIELDS}, "body_text": text})
    hashed = simhash(text or row["title"] or "")
    signed = hashed - (1 << 64) if hashed >= 1 << 63 else hashed
    return {"body_text": text, "content_hash": content_hash(article), "simhash": signed}


def _fix(table: sa.TableClause, keys: tuple[str, ...], *, current: bool) -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(*(table.c[k] for k in keys), table.c.published_at, *(table.c[f] for f in _FIELDS),
                  table.c.content_hash).where(table.c.body_html.like(_EMPTY_SHARE))
    ).mappings().all()
    where = sa.and_(*(table.c[k] == sa.bindparam(f"key_{k}") for k in keys))
    for row in rows:
        fixed = _corrected(row)
        if fixed is None:
            continue
        connection.execute(table.update().where(where).values(**{k: sa.bindparam(k) for k in fixed}),
                           {**fixed, **{f"key_{k}": row[k] for k in keys}})
        if not current:
            continue
        old = {name: row[name] for name in ("article_id", *INDEXED_COLUMNS)}
        reindex_article(connection, old, {**old, "body_text": fixed["body_text"]})
        connection.execute(sa.text("DELETE FROM story_sketches WHERE article_id = :id"), {"id": row["article_id"]})
        connection.execute(
            sa.text("UPDATE imported_posts SET content_hash = :new WHERE article_id = :id AND content_hash = :old"),
            {"new": fixed["content_hash"], "id": row["article_id"], "old": row["content_hash"]},
        )


def upgrade() -> None:
    _fix(_table("articles", sa.column("article_id", sa.Text())), ("article_id",), current=True)
    _fix(_table("article_revisions", sa.column("article_id", sa.Text()), sa.column("revision", sa.Integer())),
         ("article_id", "revision"), current=False)


def downgrade() -> None:
    pass  # see the module docstring: the older code stores each such article once more as a revision
