"""Shared test fixtures: database URLs for every backend, the replica's location, small helpers.

Storage and crawl tests take the ``db_url`` fixture, which runs them on a fresh SQLite file and, when
``NEWSCRAWL_TEST_PG_URL`` is set (CI sets it), on a fresh schema of a real PostgreSQL server too.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED = ROOT.parent / "shared"
REPLICA = SHARED / "replica"
PG_URL = os.environ.get("NEWSCRAWL_TEST_PG_URL")

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def _fresh_pg_database(base_url: str) -> tuple[str, str]:
    """Create an empty database on the test server; returns (its URL, its name)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"nc_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(base_url).set(database=name).render_as_string(hide_password=False), name


def _drop_pg_database(base_url: str, name: str) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@contextmanager
def archive_url(backend: str, folder: Path) -> Iterator[str]:
    """The URL of an empty archive database on ``backend`` (one of ``BACKENDS``): a SQLite file in
    ``folder``, or a fresh PostgreSQL database, dropped afterwards (the test is skipped without one)."""
    if backend == "sqlite":
        yield f"sqlite:///{folder / 'archive.sqlite3'}"
        return
    if not PG_URL:
        pytest.skip("NEWSCRAWL_TEST_PG_URL is not set (CI sets it; see .ci/run)")
    url, name = _fresh_pg_database(PG_URL)
    try:
        yield url
    finally:
        _drop_pg_database(PG_URL, name)


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty archive database, once per backend."""
    with archive_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'archive.sqlite3'}"


requires_replica = pytest.mark.skipif(not REPLICA.is_dir(), reason="../shared/replica is not beside this checkout")
