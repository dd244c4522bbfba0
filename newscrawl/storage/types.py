"""Column types whose stored form differs per backend but whose Python value does not (docs/schema.md).

``AwareDateTime`` is the archive's only datetime type. On PostgreSQL it is ``timestamptz``. SQLite has no
datetime type, so there it is ISO 8601 text in the site's own offset, ``+08:00``, always at microsecond
precision (``2022-02-14T15:11:07.000000+08:00``, 32 characters): every value has the same width and the
same offset, so comparing the text compares the times, and ``ORDER BY`` / ``BETWEEN`` / indexes on these
columns are correct without any function. Both backends hand back aware datetimes in UTC+8.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

#: The site's time zone: every post is dated in UTC+8 (China Standard Time, no daylight saving).
SITE_TZ = timezone(timedelta(hours=8))
_SQLITE_FORMAT = "%Y-%m-%dT%H:%M:%S.%f%z"
SQLITE_DATETIME_WIDTH = 32


def to_site_time(value: datetime) -> datetime:
    """``value`` as the same instant in UTC+8; a naive datetime is refused, never guessed."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: the archive stores time-zone aware datetimes only")
    return value.astimezone(SITE_TZ)


def sqlite_datetime_text(value: datetime) -> str:
    """The fixed-width text form of ``value`` on SQLite (see the module docstring)."""
    text = to_site_time(value).strftime(_SQLITE_FORMAT)
    # strftime writes the offset as +0800; ISO 8601 extended form (+08:00) is what SQLite's own date
    # functions and Datasette understand.
    text = f"{text[:-2]}:{text[-2:]}"
    if len(text) != SQLITE_DATETIME_WIDTH:  # years before 1000 or after 9999 would break text ordering
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
