"""Articles per publication day and category, kept as articles are written (docs/schema.md,
``article_counts``): ``newscrawl stats`` sums these few thousand rows instead of counting every article,
which took over a second at a million articles.

A ``Tally`` collects what one write transaction changes (a new article adds one to its day and category,
a revision that moves either moves its one) and ``Tally.write`` applies it before that transaction
commits, the keys in one global order. On PostgreSQL each key is first claimed with a transaction-scoped
advisory lock of its own namespace, so two writers adding to the same count take turns and cannot
deadlock (every writer takes its article locks first, then these, each set in order); on SQLite the
write transaction is the only writer. ``rebuild_counts`` counts every article anew (migration 0011).
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, delete, func, insert, literal_column, select, text, update

from newscrawl.storage.migrate import ADVISORY_LOCK_NAMESPACE
from newscrawl.storage.models import ArticleCountRow, ArticleRow
from newscrawl.storage.types import to_site_time

COUNTS: Table = cast(Table, ArticleCountRow.__table__)
_ARTICLES: Table = cast(Table, ArticleRow.__table__)
#: The advisory locks of counts ("nd"): apart from the articles' ("nc"), whose keys span every 32-bit value.
COUNTS_LOCK_NAMESPACE = ADVISORY_LOCK_NAMESPACE + 1

Key = tuple[str | None, str | None]


def publication_day(published_at: datetime | None) -> str | None:
    """The day ``articles.published_at`` falls on in UTC+8, as ``day_expression`` reads it from a row."""
    return None if published_at is None else to_site_time(published_at).date().isoformat()


def day_expression(dialect: str) -> Any:
    """``articles.published_at`` as its day in the site's time zone, YYYY-MM-DD, in SQL."""
    if dialect == "postgresql":
        # timezone(zone, t) is AT TIME ZONE in function form (INTERVAL: ISO sign, east positive).
        site_time = func.timezone(literal_column("INTERVAL '+08:00'"), _ARTICLES.c.published_at)
        return func.to_char(site_time, "YYYY-MM-DD")
    # SQLite stores fixed-width +08:00 text (newscrawl.storage.types): the day is its first ten characters.
    return func.substr(_ARTICLES.c.published_at, 1, 10)


class Tally:
    """The changes one write transaction makes to ``article_counts``."""

    def __init__(self) -> None:
        self.changes: Counter[Key] = Counter()

    def add(self, values: Mapping[Any, Any], articles: int = 1) -> None:
        """Count ``articles`` more (or fewer) articles with the stored ``values`` of an ``articles`` row."""
        self.changes[(publication_day(values["published_at"]), values["category"])] += articles

    def move(self, old: Mapping[Any, Any], new: Mapping[Any, Any]) -> None:
        """An article stored anew with ``new`` instead of ``old``."""
        self.add(old, -1)
        self.add(new)

    def write(self, connection: Connection) -> None:
        """Apply the changes, in ``connection``'s transaction."""
        postgresql = connection.dialect.name == "postgresql"
        for (day, category), articles in sorted(self.changes.items(), key=_order):
            if not articles:
                continue
            if postgresql:
                connection.execute(text("SELECT pg_advisory_xact_lock(:namespace, :key)"),
                                   {"namespace": COUNTS_LOCK_NAMESPACE, "key": _lock_key(day, category)})
            key = {"the_day": day, "the_category": category}
            if not connection.execute(_update_statement(day is None, category is None),
                                      {**key, "delta": articles}).rowcount:
                connection.execute(insert(COUNTS), {"day": day, "category": category, "articles": articles})
            elif articles < 0:
                connection.execute(_delete_empty_statement(day is None, category is None), key)
        self.changes.clear()


def rebuild_counts(connection: Connection) -> int:
    """Count every article anew into ``article_counts``; returns how many rows it holds."""
    day = day_expression(connection.dialect.name)
    connection.execute(delete(COUNTS))
    category = _ARTICLES.c.category
    connection.execute(insert(COUNTS).from_select(
        ["day", "category", "articles"],
        select(day, category, func.count()).select_from(_ARTICLES).group_by(day, category)))
    return int(connection.execute(select(func.count()).select_from(COUNTS)).scalar_one())


def total_articles(connection: Connection) -> int:
    """How many articles are archived."""
    return int(connection.execute(select(func.coalesce(func.sum(COUNTS.c.articles), 0))).scalar_one())


def read_counts(connection: Connection) -> tuple[dict[str | None, int], dict[str | None, int]]:
    """({category: articles}, {day: articles}), ordered as ``newscrawl stats`` shows them."""
    articles = func.sum(COUNTS.c.articles)
    category, day = COUNTS.c.category, COUNTS.c.day
    per_category = connection.execute(
        select(category, articles).group_by(category).order_by(category.asc().nulls_last())).all()
    per_day = connection.execute(select(day, articles).group_by(day).order_by(day)).all()
    return {name: int(n) for name, n in per_category}, {name: int(n) for name, n in per_day}


def _order(item: tuple[Key, int]) -> tuple[bool, str, bool, str]:
    (day, category), _ = item
    return (day is None, day or "", category is None, category or "")


def _lock_key(day: str | None, category: str | None) -> int:
    # A stable signed 32-bit key; a collision only makes two counts' writers take turns.
    return zlib.crc32(repr((day, category)).encode()) - (1 << 31)


def _matches(day_is_null: bool, category_is_null: bool) -> Any:
    # `= NULL` matches nothing and IS NOT DISTINCT FROM uses no index on PostgreSQL: one form per case.
    day = COUNTS.c.day.is_(None) if day_is_null else COUNTS.c.day == bindparam("the_day")
    category = COUNTS.c.category.is_(None) if category_is_null else COUNTS.c.category == bindparam("the_category")
    return day & category


@lru_cache(maxsize=4)
def _update_statement(day_is_null: bool, category_is_null: bool) -> Any:
    return (update(COUNTS).where(_matches(day_is_null, category_is_null))
            .values(articles=COUNTS.c.articles + bindparam("delta")))


@lru_cache(maxsize=4)
def _delete_empty_statement(day_is_null: bool, category_is_null: bool) -> Any:
    return delete(COUNTS).where(_matches(day_is_null, category_is_null)).where(COUNTS.c.articles == 0)
