"""The archive's totals for ``newscrawl stats`` and its metrics (docs/cli.md, docs/operations.md): articles,
revisions, stories, per category and per day, and the size on disk."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, literal_column, select, text

from newscrawl.storage.articles import ArticleStore
from newscrawl.storage.runs import RunLog
from newscrawl.storage.sql import ARTICLES, REVISIONS


class Statistics(ArticleStore, RunLog):
    """The ``Archive``'s totals (with its article count and latest runs)."""

    def stats(self, recent_runs: int = 10) -> dict[str, Any]:
        """Counts for ``newscrawl stats``, JSON-ready: ``articles``, ``revisions``, ``stories``,
        ``per_category`` {category: articles} (None for uncategorised), ``per_day`` {YYYY-MM-DD in UTC+8:
        articles} (None for undated), ``runs`` (the latest ``recent_runs``, newest first)."""
        day = self._day_expression()
        with self.reading(), self._read() as connection:
            total = self.count_articles()
            revisions = connection.execute(select(func.count()).select_from(REVISIONS)).scalar_one()
            stories = connection.execute(select(func.count(ARTICLES.c.story_id.distinct()))).scalar_one()
            category = ARTICLES.c.category
            per_category = connection.execute(
                select(category, func.count()).group_by(category).order_by(category.asc().nulls_last())
            ).all()
            per_day = connection.execute(
                select(day, func.count()).select_from(ARTICLES).group_by(day).order_by(day)
            ).all()
        return {
            "articles": int(total),
            "revisions": int(revisions),
            "stories": int(stories),
            "per_category": {category: int(n) for category, n in per_category},
            "per_day": {day_text: int(n) for day_text, n in per_day},
            "runs": [run.as_json() for run in self.runs(recent_runs)],
        }

    def _day_expression(self) -> Any:
        # The publication day in the site's time zone. SQLite stores +08:00 text, so the day is its
        # first ten characters; PostgreSQL must be told which zone (INTERVAL: ISO sign, east positive).
        if self.dialect == "postgresql":
            # timezone(zone, t) is AT TIME ZONE in function form.
            site_time = func.timezone(literal_column("INTERVAL '+08:00'"), ARTICLES.c.published_at)
            return func.to_char(site_time, "YYYY-MM-DD")
        return func.substr(ARTICLES.c.published_at, 1, 10)

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
