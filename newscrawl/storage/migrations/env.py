"""Alembic environment of the archive (docs/schema.md, "Migrations"): configured from code, not alembic.ini.

``newscrawl.storage.migrate`` builds the Alembic ``Config`` and hands over an open connection in
``config.attributes["connection"]``; offline (SQL script) mode is not offered because the SQLite batch
migrations need a live database.
"""

from __future__ import annotations

from alembic import context

from newscrawl.storage.models import Base


# Search index objects (0002's FTS5 table and pg_trgm indexes; 0009's search_documents, its FTS5 table
# search_fts with its shadow tables and its GIN index) are dialect-specific SQL in those migrations, not
# models; autogenerate must not propose to drop them.
def _include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    if name is None:
        return True
    if type_ == "table":
        return not name.startswith(("articles_fts", "search_"))
    if type_ == "index":
        return not name.endswith("_trgm")
    return True


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations with newscrawl.storage.upgrade_database(): it passes a connection")
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things: batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        include_object=_include_object,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported for the newscrawl archive")
run_migrations_online()
