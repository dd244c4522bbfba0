"""The ``Archive`` repository: everything newscrawl stores or reads in the archive database.

Pipelines and the CLI use only this object (docs/architecture.md, "The storage API"); the tables it
writes are documented in docs/schema.md. It is made of one part per concern, each in its own module:
articles and their revisions (``articles``), stories (``stories``), runs and imported commits (``runs``),
listing pages and missing side outputs (``pages``), totals (``statistics``). This module opens it, checks
its schema revision and searches it. Every public method is one short transaction, so a process killed at
any instant leaves either all of a write or none of it (``articles`` says how two writers take turns).
"""

from __future__ import annotations

import time
from datetime import datetime

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError

from newscrawl.logredact import redact
from newscrawl.storage import search as search_module
from newscrawl.storage.engine import create_archive_engine, missing_database
from newscrawl.storage.migrate import ArchiveMissing, check_schema
from newscrawl.storage.pages import PageStore
from newscrawl.storage.search import SearchHit
from newscrawl.storage.statistics import Statistics
from newscrawl.storage.stories import StoryQueries

#: How long opening an archive waits for another process that holds a new SQLite file's lock.
OPEN_LOCKED_WAIT_S = 30.0


class Archive(Statistics, StoryQueries, PageStore):
    """The archive database: articles, their revisions, crawl runs and listing pages (docs/schema.md)."""

    @classmethod
    def open(cls, db_url: str | URL, *, upgrade: bool = True, must_exist: bool = False) -> Archive:
        """Connect to the archive at ``db_url``.

        A database with no tables is created at the newest schema revision when ``upgrade`` is true. A
        database at an older revision is never migrated behind the user's back: it raises
        ``SchemaOutOfDate``, whose message says to run ``newscrawl db upgrade`` (``upgrade_database``).
        With ``must_exist`` (the commands that only read) nothing is created: a SQLite file that is not
        there raises ``ArchiveMissing``, and neither its folder nor the file appears.
        """
        if must_exist:
            missing = missing_database(db_url)
            if missing is not None:
                raise ArchiveMissing(missing)
        engine = create_archive_engine(db_url, create=not must_exist)
        where = redact(make_url(db_url).render_as_string(hide_password=False))
        deadline = time.monotonic() + OPEN_LOCKED_WAIT_S
        while True:
            try:
                check_schema(engine, where, upgrade)
                return cls(engine)
            except OperationalError as error:
                # Another process opening the same new SQLite archive (a second worker started at the
                # same moment) may hold its lock while it switches the file to WAL or creates the schema.
                if "database is locked" not in str(error) or time.monotonic() > deadline:
                    engine.dispose()
                    raise
                time.sleep(0.1)
            except BaseException:
                engine.dispose()
                raise

    def close(self) -> None:
        """Release the connections; the object cannot be used afterwards."""
        self._engine.dispose()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def search(
        self, query: str, limit: int = 20, *, category: str | None = None, since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[SearchHit]:
        """Full-text search that works for Chinese; best first (docs/search.md). ``category`` keeps one
        category; ``since`` (inclusive) and ``until`` (exclusive) a range of publication times."""
        with self._read() as connection:
            return search_module.search(connection, query, limit, category=category, since=since, until=until)
