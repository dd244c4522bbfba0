"""The SQL every part of the archive shares: its table handles and the one upsert (docs/architecture.md,
"The storage API").

Statements are built once per shape and executed with each row as parameters: building a statement (and
its cache key) anew for every row was most of the cost of storing an article (docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from newscrawl.storage.models import (
    ArticleRevisionRow,
    ArticleRow,
    CrawlRunRow,
    ImportCommitRow,
    ImportedPostRow,
    MissingOutputRow,
    PageRow,
    StorySketchRow,
)
from newscrawl.storage.types import to_site_time

ARTICLES: Table = cast(Table, ArticleRow.__table__)
REVISIONS: Table = cast(Table, ArticleRevisionRow.__table__)
RUNS: Table = cast(Table, CrawlRunRow.__table__)
PAGES: Table = cast(Table, PageRow.__table__)
SKETCHES: Table = cast(Table, StorySketchRow.__table__)
MISSING: Table = cast(Table, MissingOutputRow.__table__)
IMPORTED: Table = cast(Table, ImportedPostRow.__table__)
IMPORT_COMMITS: Table = cast(Table, ImportCommitRow.__table__)


def upsert(
    connection: Connection,
    table: Table,
    values: Mapping[str, Any],
    key: Sequence[str],
    keep: Sequence[str] = (),
) -> None:
    """Insert a row, or on a key conflict overwrite it but for ``key`` and ``keep``: the one upsert."""
    statement = upsert_statement(connection.dialect.name, table, tuple(values), tuple(key), tuple(keep))
    connection.execute(statement, dict(values))


def insert_new(connection: Connection, table: Table, values: Mapping[str, Any], key: Sequence[str]) -> bool:
    """Insert a row unless its key exists; True if it was inserted.

    Told by RETURNING, not by the row count, which psycopg reports as -1 for this statement.
    """
    statement = _insert_new_statement(connection.dialect.name, table, tuple(key))
    return connection.execute(statement, dict(values)).first() is not None


@lru_cache(maxsize=8)
def _insert_new_statement(dialect: str, table: Table, key: tuple[str, ...]) -> Any:
    # The columns come from each execution's parameters: one statement a table serves every row shape.
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (insert(table).on_conflict_do_nothing(index_elements=list(key))
            .returning(*(table.c[name] for name in key)))


@lru_cache(maxsize=64)
def upsert_statement(dialect: str, table: Table, columns: tuple[str, ...], key: tuple[str, ...],
                     keep: tuple[str, ...]) -> Any:
    """The upsert of rows with ``columns`` (see ``upsert``), built once per shape."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table)
    replaced = {name: statement.excluded[name] for name in columns if name not in key and name not in keep}
    if replaced:
        return statement.on_conflict_do_update(index_elements=list(key), set_=replaced)
    return statement.on_conflict_do_nothing(index_elements=list(key))


def id_chunks(ids: Sequence[str], size: int = 500) -> Iterator[list[str]]:
    """``ids`` in lists of at most ``size``: each statement stays under SQLite's bound-parameter limit."""
    for start in range(0, len(ids), size):
        yield list(ids[start:start + size])


def now() -> datetime:
    """The current time in the site's time zone, as the archive stores it."""
    return to_site_time(datetime.now().astimezone())
