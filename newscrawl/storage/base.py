"""What every part of the ``Archive`` builds on: its engine and its read transactions (docs/architecture.md,
"The storage API")."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.engine import Connection

from newscrawl.storage.engine import READ_ONLY
from newscrawl.storage.pending import PendingWrites


class ArchiveBase:
    """An engine whose schema is at head, and the read transaction its reads share."""

    def __init__(self, engine: Engine) -> None:
        """Wrap an engine whose schema is at head; use ``Archive.open`` unless you made the engine."""
        self._engine = engine
        # The read transaction of an open ``reading()`` block, which every read inside it shares.
        self._reading: Connection | None = None
        # The write transaction of an open ``batch()`` block, which the import's reads and writes share.
        self._batch: Connection | None = None
        # The rows the open ``batch()`` writes when it ends (``newscrawl.storage.pending``).
        self._pending: PendingWrites | None = None

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._engine.dialect.name

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Run the reads inside this block in one read transaction instead of one each.

        For a caller that asks several questions at once (the dedupe, per article): one BEGIN and COMMIT,
        and one pool checkout, instead of one per question; on SQLite the answers also come from one
        snapshot. Writes inside the block still run in their own transactions. Not for a block that
        awaits: another task's reads would join the transaction. Nested blocks share the outer one.
        """
        if self._reading is not None:
            yield
            return
        with self._read() as connection:
            self._reading = connection
            try:
                yield
            finally:
                self._reading = None

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Run the import's writes (``upsert_imported``, ``rename_story``, ``add_seen_commits``) and every
        read inside this block in one write transaction: all of them are stored, or none.

        For ``newscrawl import``, which stores thousands of posts: one BEGIN and COMMIT (on SQLite one
        fsync) for many posts instead of one each; the reads see the block's own writes. On SQLite the
        block holds the write lock until it ends: keep it short (a few hundred posts).
        """
        if self._batch is not None or self._reading is not None:
            raise RuntimeError("a batch cannot be nested in a batch or a reading block")
        with self._engine.begin() as connection:
            self._batch = self._reading = connection
            self._pending = PendingWrites()
            try:
                yield
                self._pending.write(connection)
            finally:
                self._batch = self._reading = self._pending = None

    @contextmanager
    def _write_articles(self) -> Iterator[tuple[Connection, PendingWrites]]:
        """A write transaction (``_write``'s) and the rows it writes before it commits: the open
        ``batch()``'s, which writes them when it ends, else its own."""
        with self._write() as connection:
            if self._pending is not None:
                yield connection, self._pending
                return
            pending = PendingWrites()
            yield connection, pending
            pending.write(connection)

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A write transaction: the open ``batch()``'s, else one of its own."""
        if self._batch is not None:
            yield self._batch
            return
        with self._engine.begin() as connection:
            yield connection

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """A read transaction: one consistent snapshot, and on SQLite no write lock."""
        if self._reading is not None:
            yield self._reading
            return
        with self._engine.connect() as connection:
            connection.execution_options(**{READ_ONLY: True})
            with connection.begin():
                yield connection
