"""Engines for the archive: how newscrawl connects to SQLite and PostgreSQL (docs/schema.md, "Backends").

SQLite is set up for several writers (two crawls at once, a crawl and an export): WAL journal so readers
never block the writer, a busy timeout so a second writer waits instead of failing, write transactions
that take the write lock up front (``BEGIN IMMEDIATE``) so two writers cannot both read and then fail to
upgrade their lock, and foreign keys on. Durability against a killed process comes from SQLite's
transactions themselves: WAL with ``synchronous=NORMAL`` loses nothing that committed when the process
dies, only possibly the last transactions on a power cut.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url

from newscrawl.logredact import remember

#: How long a writer waits for another writer's lock before giving up, in seconds.
SQLITE_BUSY_TIMEOUT_S = 60.0

#: Execution option of a read-only connection: its transaction starts deferred (shared lock only).
READ_ONLY = "newscrawl_read_only"


def _json_serializer(value: Any) -> str:
    # Chinese text stays readable in the JSON columns (in Datasette, in psql) instead of \u escapes.
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def sqlite_file(url: URL) -> Path | None:
    """The file of a SQLite URL, or None for an in-memory database."""
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def database_file(db_url: str | URL) -> Path | None:
    """The local file of the archive at ``db_url``: a SQLite file; None for a server or an in-memory database."""
    url = make_url(db_url)
    return sqlite_file(url) if url.get_backend_name() == "sqlite" else None


def missing_database(db_url: str | URL) -> Path | None:
    """The SQLite file ``db_url`` names when that file does not exist; None when there is something to open."""
    path = database_file(db_url)
    if path is None or path.exists():
        return None
    return path


def create_archive_engine(db_url: str | URL, *, create: bool = True) -> Engine:
    """An engine for the archive at ``db_url``, set up for concurrent writers (see the module docstring).

    With ``create`` false nothing is created: no folder for a SQLite file, and its journal mode is left as
    it is (a reader needs no WAL switch), so opening an existing file to read it changes nothing.
    """
    # Before anything can fail with the URL in its message: its password is redacted wherever it appears.
    remember(db_url if isinstance(db_url, str) else db_url.render_as_string(hide_password=False))
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url, create)
    if url.get_backend_name() == "postgresql":
        engine = create_engine(url, pool_pre_ping=True, json_serializer=_json_serializer)

        @event.listens_for(engine, "connect")
        def _utc_session(dbapi_connection: Any, _record: Any) -> None:
            # psycopg hands timestamptz values back in the session's zone: in UTC every time the archive
            # stores (docs/schema.md, "Values a backend cannot hold") has a form Python can hold.
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SET TIME ZONE 'UTC'")
            dbapi_connection.commit()

        return engine
    raise ValueError(f"unsupported database {url.get_backend_name()!r}: use sqlite:/// or postgresql+psycopg://")


def _sqlite_engine(url: URL, create: bool = True) -> Engine:
    path = sqlite_file(url)
    if path is not None and create:
        # A relative path (the default sqlite:///data/newscrawl.sqlite3) is relative to the working
        # directory, as SQLite itself reads it; its folder is created on first use.
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        json_serializer=_json_serializer,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module (it would begin them lazily and
        # deferred); the "begin" listener below emits BEGIN itself.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # First: switching to WAL needs a lock another process may hold for a moment (two workers
            # opening one new archive at once), and only a busy timeout makes SQLite wait for it.
            cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
            if path is not None and create:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
