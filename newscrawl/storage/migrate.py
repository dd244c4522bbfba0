"""Schema revisions: create or upgrade an archive with Alembic, configured from code (docs/schema.md).

The migration tree lives in ``migrations/`` inside the package, so an installed newscrawl can upgrade a
database with no alembic.ini. Two processes that upgrade one database at once are serialised (an advisory
lock on PostgreSQL, the write lock of ``BEGIN IMMEDIATE`` on SQLite): the second finds the work done.
"""

from __future__ import annotations

import ast
import logging
import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import URL, Connection

from newscrawl.storage.engine import READ_ONLY, create_archive_engine

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic is imported only to migrate: opening an archive at the current revision, which every command
# does, reads one row, and the head revision from the scripts' own text (Alembic and its tree cost ~85 ms of
# CPU a start, a sixth of `newscrawl stats`).
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
logger = logging.getLogger(__name__)

#: Alembic's bookkeeping table: one row, the database's revision.
VERSION_TABLE = "alembic_version"
#: First key of every advisory lock newscrawl takes on PostgreSQL ("nc"); the second names what is locked.
ADVISORY_LOCK_NAMESPACE = 0x6E63
_MIGRATION_LOCK = 0


class ArchiveError(Exception):
    """The archive cannot be used as it is; the message says what to do."""


class SchemaOutOfDate(ArchiveError):
    """The database's schema is older than this code's (or missing): run ``newscrawl db upgrade``."""


class ArchiveMissing(ArchiveError):
    """There is no database at the URL (a SQLite file that does not exist), and the caller would not create one."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"there is no archive database at {path} ({path.absolute()})")
        self.path = path


class SchemaTooNew(ArchiveError):
    """The database was migrated by a newer newscrawl than this one."""


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration for the archive's migration tree, bound to ``connection`` if given."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


#: A script's ``revision`` or ``down_revision`` assignment, as Alembic's template writes it.
_REVISION_LINE = re.compile(r"^(revision|down_revision)\b[^=]*=(.*)$", re.MULTILINE)


@lru_cache(maxsize=1)
def script_revisions() -> dict[str, tuple[str, ...]]:
    """Every migration script's revision and the revisions it follows, read from the scripts' own
    ``revision`` and ``down_revision`` lines without loading them or Alembic (tests/test_migrations.py
    checks that Alembic reads the same tree)."""
    tree: dict[str, tuple[str, ...]] = {}
    for path in sorted((MIGRATIONS_DIR / "versions").glob("[0-9]*.py")):
        values = {name: ast.literal_eval(value.strip())
                  for name, value in _REVISION_LINE.findall(path.read_text(encoding="utf-8"))}
        down = values.get("down_revision")
        tree[values["revision"]] = (down,) if isinstance(down, str) else tuple(down or ())
    return tree


def head_revision() -> str:
    """The newest schema revision this code knows: the one no migration script follows."""
    tree = script_revisions()
    followed = {down for downs in tree.values() for down in downs}
    heads = sorted(set(tree) - followed)
    if len(heads) != 1:
        raise ArchiveError(f"the migration tree has {len(heads)} heads ({', '.join(heads)}), not one")
    return heads[0]


def known_revisions() -> set[str]:
    """Every schema revision this code knows."""
    return set(script_revisions())


def current_revision(db: str | URL | Engine) -> str | None:
    """The schema revision the database is at; None for a database newscrawl never migrated."""
    engine, owned = _engine(db)
    try:
        with engine.connect() as connection:
            # Only reading: on SQLite this must not queue for the write lock behind a running crawl.
            connection.execution_options(**{READ_ONLY: True})
            return _revision(connection)
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


def check_schema(engine: Engine, where: str, upgrade: bool) -> None:
    """Check that the database of ``engine`` (named ``where`` in messages) is at this code's head revision.

    An empty database is created at head when ``upgrade`` is true; any other revision raises
    ``SchemaOutOfDate`` (older: run ``newscrawl db upgrade``), ``SchemaTooNew`` or ``ArchiveError``.
    """
    head = head_revision()
    current = current_revision(engine)
    if current is None and not is_empty(engine):
        # Tables but no revision: not a newscrawl archive, or another process (a second worker
        # started at the same moment) created the schema between the two reads. Its tables and its
        # revision are committed together, so the revision read again tells which.
        current = current_revision(engine)
        if current is None:
            raise ArchiveError(
                f"{where} has tables but no newscrawl schema revision: not a newscrawl archive"
            )
    if current == head:
        return
    if current is None:
        if not upgrade:
            raise SchemaOutOfDate(
                f"{where} holds no archive: if the URL is right and the archive is new, create it with "
                "`newscrawl db upgrade` (or its first crawl); if not, check the URL for a typo"
            )
        logger.info("creating the archive schema in %s (revision %s)", where, head)
        upgrade_database(engine)
        return
    if current in known_revisions():
        raise SchemaOutOfDate(
            f"the archive {where} is at schema revision {current}, this newscrawl needs {head}: "
            "run `newscrawl db upgrade`"
        )
    raise SchemaTooNew(
        f"the archive {where} is at schema revision {current}, which this newscrawl does not know: "
        "it was written by a newer version"
    )


def upgrade_database(db: str | URL | Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Create or migrate the archive's schema up to ``revision``: (the revision before, the one after)."""
    from alembic import command

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
                    before = _revision(connection)
                    command.upgrade(alembic_config(connection), revision)
                    if sqlite:
                        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                        if broken:
                            raise ArchiveError(f"migration left dangling foreign keys: {broken[:5]}")
                    return before, _revision(connection)
            finally:
                if sqlite:
                    _driver_execute(connection, "PRAGMA foreign_keys=ON")
    finally:
        if owned:
            engine.dispose()


def _revision(connection: Connection) -> str | None:
    # What Alembic's MigrationContext.get_current_revision reads, without loading Alembic.
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    if len(rows) > 1:
        raise ArchiveError(f"the archive records several schema revisions ({', '.join(sorted(rows))})")
    return rows[0] if rows else None


def _driver_execute(connection: Connection, sql: str) -> None:
    dbapi_connection: Any = connection.connection.dbapi_connection
    dbapi_connection.execute(sql)


def _engine(db: str | URL | Engine) -> tuple[Engine, bool]:
    if isinstance(db, Engine):
        return db, False
    return create_archive_engine(db), True
