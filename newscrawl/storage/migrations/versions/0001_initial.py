"""The archive's tables and the jekyll_posts view (docs/schema.md).

Revision ID: 0001_initial
Revises:
Create Date: 2024-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from newscrawl.storage.types import AwareDateTime, JSONDocument

revision: str = "0001_initial"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The view's content column joins the present parts of a post (article html, share link, footer) with a
# blank line, exactly as the post file does: each present part is prefixed with two newlines and the first
# two characters are cut. The article html is the origin's when the origin answered, else the mirror's.
_JEKYLL_POSTS_SQLITE = """
CREATE VIEW jekyll_posts AS
SELECT
    article_id,
    '_posts/' || COALESCE(substr(published_at, 1, 10), '') || '-' || article_id || '.md' AS path,
    'post' AS layout,
    title,
    substr(published_at, 1, 10) || ' ' || substr(published_at, 12, 8) || ' +0800' AS date,
    category AS categories,
    tags,
    substr(
        COALESCE(char(10) || char(10) || NULLIF(
            CASE WHEN origin_status = 'ok' AND origin_html IS NOT NULL THEN origin_html ELSE body_html END,
            ''), '')
        || COALESCE(char(10) || char(10) || '<' || NULLIF(share_url, '') || '>', '')
        || COALESCE(char(10) || char(10) || NULLIF(footer_md, ''), ''),
        3) AS content
FROM articles
"""

_JEKYLL_POSTS_POSTGRESQL = """
CREATE VIEW jekyll_posts AS
SELECT
    article_id,
    '_posts/' || COALESCE(to_char(published_at AT TIME ZONE INTERVAL '+08:00', 'YYYY-MM-DD'), '')
        || '-' || article_id || '.md' AS path,
    'post'::text AS layout,
    title,
    to_char(published_at AT TIME ZONE INTERVAL '+08:00', 'YYYY-MM-DD HH24:MI:SS') || ' +0800' AS date,
    category AS categories,
    tags,
    substr(
        COALESCE(chr(10) || chr(10) || NULLIF(
            CASE WHEN origin_status = 'ok' AND origin_html IS NOT NULL THEN origin_html ELSE body_html END,
            ''), '')
        || COALESCE(chr(10) || chr(10) || '<' || NULLIF(share_url, '') || '>', '')
        || COALESCE(chr(10) || chr(10) || NULLIF(footer_md, ''), ''),
        3) AS content
FROM articles
"""

# PostgreSQL would let an UPDATE through a simple view reach `articles`; the view is an interface for
# readers, so writes through it are refused outright.
_JEKYLL_POSTS_READ_ONLY_POSTGRESQL = [
    """
    CREATE FUNCTION jekyll_posts_read_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'jekyll_posts is a read-only view: newscrawl writes the articles table';
    END
    $$
    """,
    """
    CREATE TRIGGER jekyll_posts_read_only INSTEAD OF INSERT OR UPDATE OR DELETE ON jekyll_posts
    FOR EACH ROW EXECUTE FUNCTION jekyll_posts_read_only()
    """,
]


def _content_columns() -> list[sa.Column[object]]:
    """The columns an article and each of its earlier revisions both have."""
    return [
        sa.Column("info_code", sa.Text(), nullable=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("share_url", sa.Text(), nullable=True),
        sa.Column("category", sa.Text(), nullable=True),
        sa.Column("publisher", sa.Text(), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("published_at", AwareDateTime(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("body_html", sa.Text(), nullable=True),
        sa.Column("body_text", sa.Text(), nullable=True),
        sa.Column("origin_html", sa.Text(), nullable=True),
        sa.Column("origin_status", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("tags", sa.Text(), nullable=True),
        sa.Column("footer_md", sa.Text(), nullable=True),
        sa.Column("content_hash", sa.Text(), nullable=False),
        sa.Column("simhash", sa.BigInteger(), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "articles",
        sa.Column("article_id", sa.Text(), nullable=False),
        *_content_columns(),
        sa.Column("story_id", sa.Text(), nullable=True),
        sa.Column("flags", JSONDocument(), nullable=False),
        sa.Column("etag", sa.Text(), nullable=True),
        sa.Column("last_modified", sa.Text(), nullable=True),
        sa.Column("first_seen_at", AwareDateTime(), nullable=False),
        sa.Column("last_seen_at", AwareDateTime(), nullable=False),
        sa.Column("changed_at", AwareDateTime(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("article_id", name="pk_articles"),
        sa.UniqueConstraint("url", name="uq_articles_url"),
    )
    for column in ("info_code", "category", "published_at", "content_hash", "story_id"):
        op.create_index(f"ix_articles_{column}", "articles", [column])

    op.create_table(
        "article_revisions",
        sa.Column("article_id", sa.Text(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        *_content_columns(),
        sa.Column("flags", JSONDocument(), nullable=False),
        sa.Column("etag", sa.Text(), nullable=True),
        sa.Column("last_modified", sa.Text(), nullable=True),
        sa.Column("seen_from", AwareDateTime(), nullable=False),
        sa.Column("seen_until", AwareDateTime(), nullable=False),
        sa.Column("replaced_at", AwareDateTime(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["article_id"], ["articles.article_id"],
            name="fk_article_revisions_article_id_articles", ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("article_id", "revision", name="pk_article_revisions"),
    )

    op.create_table(
        "crawl_runs",
        sa.Column("run_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("started_at", AwareDateTime(), nullable=False),
        sa.Column("finished_at", AwareDateTime(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("new", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("dropped", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("counts", JSONDocument(), nullable=False),
        sa.Column("settings", JSONDocument(), nullable=False),
        sa.Column("site_url", sa.Text(), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("hostname", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("run_id", name="pk_crawl_runs"),
    )
    op.create_index("ix_crawl_runs_started_at", "crawl_runs", ["started_at"])

    op.create_table(
        "pages",
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("etag", sa.Text(), nullable=True),
        sa.Column("last_modified", sa.Text(), nullable=True),
        sa.Column("links", JSONDocument(), nullable=False),
        sa.Column("fetched_at", AwareDateTime(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("url", name="pk_pages"),
    )

    if op.get_bind().dialect.name == "postgresql":
        op.execute(_JEKYLL_POSTS_POSTGRESQL)
        for statement in _JEKYLL_POSTS_READ_ONLY_POSTGRESQL:
            op.execute(statement)
    else:
        # SQLite views cannot be written to at all.
        op.execute(_JEKYLL_POSTS_SQLITE)


def downgrade() -> None:
    op.execute("DROP VIEW jekyll_posts")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION jekyll_posts_read_only()")
    op.drop_table("pages")
    op.drop_table("crawl_runs")
    op.drop_table("article_revisions")
    op.drop_table("articles")
