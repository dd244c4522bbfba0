"""Schema revisions: create or upgrade an archive with Alembic, configured from code (docs/schema.md).

The migration tree lives in ``migrations/`` inside the package, so an installed newscrawl can upgrade a
database with no alembic.ini. Two processes that upgrade one database at once are serialised (an advisory
lock on PostgreSQL, the write lock of ``BEGIN IMMEDIATE`` on SQLite): the second finds the work done.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import URL, Connection

from newscrawl.storage.engine import READ_ONLY, create_archive_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
#: First key of every advisory lock newscrawl takes on PostgreSQL ("nc"); the second names what is locked.
ADVISORY_LOCK_NAMESPACE = 0x6E63
_MIGRATION_LOCK = 0


class ArchiveError(Exception):
    """The archive cannot be used as it is; the message says what to do."""


class SchemaOutOfDate(ArchiveError):
    """The database's schema is older than this code's (or missing): run ``newscrawl db upgrade``."""


class SchemaTooNew(ArchiveError):
    """The database was migrated by a newer newscrawl than this one."""


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration for the archive's migration tree, bound to ``connection`` if given."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest schema revision this code knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the tree ships with the package
        raise ArchiveError("the newscrawl migration tree has no revisions")
    return head


def known_revisions() -> set[str]:
    return {script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


def current_revision(db: str | URL | Engine) -> str | None:
    """The schema revision the database is at; None for a database newscrawl never migrated."""
    engine, owned = _engine(db)
    try:
        with engine.connect() as connection:
            # Only reading: on SQLite this must not queue for the write lock behind a running crawl.
            connection.execution_options(**{READ_ONLY: True})
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        if owned:
            engine.dispose()


def is_empty(db: str | URL | Engine) -> bool:
    """True when the database holds no table at all (a new file or a new PostgreSQL database)."""
    engine, owned = _engine(db)
    try:
        with engine.connect() as connection:
            connection.execution_options(**{READ_ONLY: True})
            return not inspect(connection).get_table_names()
    finally:
        if owned:
            engine.dispose()


def upgrade_database(db: str | URL | Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Create or migrate the archive's schema up to ``revision``: (the revision before, the one after)."""
    engine, owned = _engine(db)
    try:
        with engine.connect() as connection:
            sqlite = connection.dialect.name == "sqlite"
            if sqlite:
                # Batch migrations recreate tables; with foreign keys on, dropping the old `articles`
                # would cascade into `article_revisions`. The pragma only works outside a transaction,
                # so it goes straight to the driver (SQLAlchemy would open one first).
                _driver_execute(connection, "PRAGMA foreign_keys=OFF")
            try:
                with connection.begin():
                    if connection.dialect.name == "postgresql":
                        connection.execute(
                            text("SELECT pg_advisory_xact_lock(:namespace, :key)"),
                            {"namespace": ADVISORY_LOCK_NAMESPACE, "key": _MIGRATION_LOCK},
                        )
                    before = MigrationContext.configure(connection).get_current_revision()
                    command.upgrade(alembic_config(connection), revision)
                    if sqlite:
                        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                        if broken:
                            raise ArchiveError(f"migration left dangling foreign keys: {broken[:5]}")
                    return before, MigrationContext.configure(connection).get_current_revision()
            finally:
                if sqlite:
                    _driver_execute(connection, "PRAGMA foreign_keys=ON")
    finally:
        if owned:
            engine.dispose()


def _driver_execute(connection: Connection, sql: str) -> None:
    dbapi_connection: Any = connection.connection.dbapi_connection
    dbapi_connection.execute(sql)


def _engine(db: str | URL | Engine) -> tuple[Engine, bool]:
    if isinstance(db, Engine):
        return db, False
    return create_archive_engine(db), True
