"""The archive's totals for ``newscrawl stats`` and its metrics (docs/cli.md, docs/operations.md): articles,
revisions, stories, per category and per day, and the size on disk."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, text

from newscrawl.storage.articles import ArticleStore
from newscrawl.storage.runs import RunLog
from newscrawl.storage.sql import ARTICLES, REVISIONS
from newscrawl.storage.summary import read_counts


class Statistics(ArticleStore, RunLog):
    """The ``Archive``'s totals (with its article count and latest runs)."""

    def stats(self, recent_runs: int = 10) -> dict[str, Any]:
        """Counts for ``newscrawl stats``, JSON-ready: ``articles``, ``revisions``, ``stories``,
        ``per_category`` {category: articles} (None for uncategorised), ``per_day`` {YYYY-MM-DD in UTC+8:
        articles} (None for undated), ``runs`` (the latest ``recent_runs``, newest first)."""
        # Index look-ups and the few thousand rows of article_counts: no read grows with the articles
        # but the story count, which reads the index entries of the articles that are in a story.
        story = ARTICLES.c.story_id
        with self.reading(), self._read() as connection:
            total = self.count_articles()
            per_category, per_day = read_counts(connection)
            revisions = connection.execute(select(func.count()).select_from(REVISIONS)).scalar_one()
            stories = connection.execute(select(func.count(story.distinct())).where(story.is_not(None))).scalar_one()
        return {
            "articles": total,
            "revisions": int(revisions),
            "stories": int(stories),
            "per_category": per_category,
            "per_day": per_day,
            "runs": [run.as_json() for run in self.runs(recent_runs)],
        }

    def size(self) -> tuple[int, int | None]:
        """(articles archived, bytes the database takes on disk or None when it cannot say)."""
        with self.reading(), self._read() as connection:
            articles = self.count_articles()
            if self.dialect == "postgresql":
                size = connection.execute(text("SELECT pg_database_size(current_database())")).scalar()
            else:
                pages = connection.exec_driver_sql("PRAGMA page_count").scalar()
                page_size = connection.exec_driver_sql("PRAGMA page_size").scalar()
                size = int(pages) * int(page_size) if pages is not None and page_size is not None else None
        return articles, int(size) if size is not None else None
