"""Column types whose stored form differs per backend but whose Python value does not (docs/schema.md).

``AwareDateTime`` is the archive's only datetime type. On PostgreSQL it is ``timestamptz``. SQLite has no
datetime type, so there it is ISO 8601 text in the site's own offset, ``+08:00``, always at microsecond
precision (``2022-02-14T15:11:07.000000+08:00``, 32 characters): every value has the same width and the
same offset, so comparing the text compares the times, and ``ORDER BY`` / ``BETWEEN`` / indexes on these
columns are correct without any function. Both backends hand back aware datetimes in UTC+8.

What a backend cannot hold is kept losslessly beside it (docs/schema.md, "Values a backend cannot hold"):
``unstorable_characters`` finds the characters a backend's text cannot hold (lone surrogates on both,
NUL on PostgreSQL), ``storable_datetime`` tells a time both backends can hold (one whose instant has a
UTC and a UTC+8 form within years 1 to 9999), and ``exact_json`` / ``from_exact_json`` are the ASCII-only
JSON form in which the exact values are stored instead.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from newscrawl.config import SITE_TZ

SQLITE_DATETIME_WIDTH = 32
#: Characters no backend's text holds: lone surrogates (UTF-8, which both use, cannot encode them). JSON
#: text may carry them as ``\ud800`` escapes, so an origin answer can.
_SURROGATES = re.compile("[\ud800-\udfff]")
#: PostgreSQL text cannot hold NUL either; SQLite can.
_POSTGRES_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
#: What an unstorable character becomes in the column itself (the exact text is kept beside it).
REPLACEMENT = "\ufffd"


def unstorable_characters(dialect: str) -> re.Pattern[str]:
    """The characters the text columns of ``dialect`` cannot hold."""
    return _POSTGRES_UNSTORABLE if dialect == "postgresql" else _SURROGATES


#: The first and last instants both backends hold (see ``storable_datetime``).
STORABLE_EARLIEST = datetime(1, 1, 1, tzinfo=UTC).astimezone(SITE_TZ)
STORABLE_LATEST = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=SITE_TZ)


def storable_datetime(value: datetime) -> bool:
    """Whether both backends can store ``value`` and give it back: its instant has a UTC form (what
    PostgreSQL's driver reads) and a UTC+8 form (what the archive answers in) within years 1 to 9999."""
    try:
        value.astimezone(UTC)
        value.astimezone(SITE_TZ)
    except (OverflowError, ValueError):
        return False
    return True


def exact_json(values: dict[str, Any]) -> str:
    """``values`` as ASCII-only JSON: lone surrogates and NUL as JSON escapes, datetimes in ISO 8601
    with their own offset. Any backend's text column holds it, and ``from_exact_json`` gives them back."""
    return json.dumps({name: value.isoformat() if isinstance(value, datetime) else value
                       for name, value in values.items()}, ensure_ascii=True, sort_keys=True)


def from_exact_json(text: str, datetime_fields: frozenset[str]) -> dict[str, Any]:
    """The values ``exact_json`` stored; the ``datetime_fields`` among them as aware datetimes."""
    values: dict[str, Any] = json.loads(text)
    return {name: datetime.fromisoformat(value) if name in datetime_fields and isinstance(value, str) else value
            for name, value in values.items()}


def to_site_time(value: datetime) -> datetime:
    """``value`` as the same instant in UTC+8; a naive datetime is refused, never guessed."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: the archive stores time-zone aware datetimes only")
    return value.astimezone(SITE_TZ)


def sqlite_datetime_text(value: datetime) -> str:
    """The fixed-width text form of ``value`` on SQLite (see the module docstring)."""
    # isoformat writes four-digit years (0001, not 1 as strftime's %Y does) and the ISO 8601 extended
    # offset (+08:00), which SQLite's own date functions and Datasette understand.
    text = to_site_time(value).isoformat(timespec="microseconds")
    if len(text) != SQLITE_DATETIME_WIDTH:
        raise ValueError(f"datetime {value!r} is out of the range the archive stores")
    return text


class AwareDateTime(TypeDecorator[datetime]):
    """A time-zone aware datetime: ``timestamptz`` on PostgreSQL, fixed-width ISO 8601 text on SQLite."""

    impl = String(SQLITE_DATETIME_WIDTH)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.TIMESTAMP(timezone=True))
        return dialect.type_descriptor(String(SQLITE_DATETIME_WIDTH))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if dialect.name == "postgresql":
            return to_site_time(value)
        return sqlite_datetime_text(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, datetime):
            # psycopg answers in the session's TimeZone; the archive answers in the site's.
            return to_site_time(value)
        return to_site_time(datetime.fromisoformat(value))


class JSONDocument(TypeDecorator[Any]):
    """A JSON value: ``jsonb`` on PostgreSQL (indexable, compact), JSON text on SQLite."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.JSONB())
        return dialect.type_descriptor(JSON())
