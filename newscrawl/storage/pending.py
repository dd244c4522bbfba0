"""Rows an article write makes that nothing reads back before its transaction ends, written at its end.

A transaction that stores articles (one crawled item, or an import batch of a few hundred post files)
collects the changes to ``article_counts``, the ``story_sketches`` rows, the ``imported_posts`` rows and,
on SQLite, the FTS5 rows of ``search_fts``, and writes them once it has stored every article: one
statement per table instead of one per article. On SQLite this also keeps FTS5 cheap: FTS5 writes its
in-memory index data to disk at every statement savepoint, so a document inserted between two article
inserts became a segment of its own (0.3 ms a post, most of an import's store; docs/performance.md).

Nothing inside the transaction reads these rows back: the story linker holds the sketches of the posts it
has just met (and derives one from the article's text when it has not), and the search index is only
queried by other transactions. ``search_documents`` (its ``doc_id`` is allocated from the rows before it)
and the articles themselves are written at once.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection

from newscrawl.storage.near import NearIndex
from newscrawl.storage.search_index import FTS_TABLE
from newscrawl.storage.sql import IMPORTED, SKETCHES, id_chunks, upsert_statement
from newscrawl.storage.summary import Tally


class PendingWrites:
    """The deferred rows of one write transaction (see the module's docstring); ``write`` them before it
    commits."""

    def __init__(self) -> None:
        self.tally = Tally()
        #: article_id → its ``story_sketches`` row, or None when its sketch is to be deleted.
        self.sketches: dict[str, dict[str, Any] | None] = {}
        #: article_id → its ``imported_posts`` row.
        self.posts: dict[str, dict[str, Any]] = {}
        #: doc_id → the FTS5 tokens of a document added in this transaction (SQLite).
        self.documents: dict[int, str] = {}
        #: The publication times a batch has read (``published_near``), kept in step with its writes.
        self.near = NearIndex()

    def write(self, connection: Connection) -> None:
        """Write and forget the collected rows, in ``connection``'s transaction."""
        dialect = connection.dialect.name
        self.tally.write(connection)
        gone = [article_id for article_id, row in self.sketches.items() if row is None]
        for chunk in id_chunks(gone):
            connection.execute(SKETCHES.delete().where(SKETCHES.c.article_id.in_(bindparam("ids", expanding=True))),
                               {"ids": chunk})
        _upsert_all(connection, dialect, SKETCHES, [row for row in self.sketches.values() if row is not None])
        _upsert_all(connection, dialect, IMPORTED, list(self.posts.values()))
        if self.documents:
            connection.execute(text(f"INSERT INTO {FTS_TABLE} (rowid, bigrams) VALUES (:doc_id, :tokens)"),
                               [{"doc_id": doc_id, "tokens": tokens} for doc_id, tokens in self.documents.items()])
        self.sketches.clear()
        self.posts.clear()
        self.documents.clear()


def _upsert_all(connection: Connection, dialect: str, table: Any, rows: list[dict[str, Any]]) -> None:
    if rows:
        statement = upsert_statement(dialect, table, tuple(rows[0]), ("article_id",), ())
        connection.execute(statement, rows)
