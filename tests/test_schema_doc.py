"""docs/schema.md against the code: the models, the migrations and a database they built must all agree.

The page is parsed (its ``### `name` `` sections and their Markdown tables) and compared column by column
with ``Base.metadata`` and, on each backend, with what the migrations really created.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import BigInteger, Integer, LargeBinary, String, Text, inspect, text
from sqlalchemy.sql.schema import Column

from newscrawl.storage import Archive, Base
from newscrawl.storage.migrate import known_revisions
from newscrawl.storage.types import AwareDateTime, JSONDocument

SCHEMA_DOC = Path(__file__).resolve().parent.parent / "docs" / "schema.md"


@dataclass
class DocTable:
    header: list[str]
    rows: list[dict[str, str]]


@dataclass
class DocSection:
    name: str
    part: str  # the "## " heading it is under
    tables: list[DocTable] = field(default_factory=list)

    def table_with(self, first_header: str) -> list[dict[str, str]]:
        """The rows of the section's table whose first header is ``first_header`` (maybe none)."""
        for table in self.tables:
            if table.header[0] == first_header:
                return table.rows
        raise AssertionError(f"docs/schema.md: section {self.name!r} has no table starting with {first_header!r}")


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _parse(markdown: str) -> dict[str, DocSection]:
    sections: dict[str, DocSection] = {}
    part = ""
    current: DocSection | None = None
    header: list[str] | None = None
    rows: list[dict[str, str]] = []
    lines = [*markdown.splitlines(), ""]
    for line in lines:
        if line.startswith("|"):
            cells = _cells(line)
            if header is None:
                header = cells
            elif not all(re.fullmatch(r":?-+:?", cell) for cell in cells):
                rows.append(dict(zip(header, cells, strict=True)))
            continue
        if header is not None and current is not None:
            # A table with no rows still counts: its header says "there are none" (e.g. no index).
            current.tables.append(DocTable(header, rows))
        header, rows = None, []
        if line.startswith("## "):
            part, current = line[3:].strip(), None
        elif line.startswith("### "):
            match = re.fullmatch(r"### `([^`]+)`", line.strip())
            if match:
                current = sections[match.group(1)] = DocSection(match.group(1), part)
    return sections


def _name(cell: str) -> str:
    return cell.strip().strip("`")


SECTIONS = _parse(SCHEMA_DOC.read_text(encoding="utf-8"))
DOC_TABLES = {name: s for name, s in SECTIONS.items() if s.part == "Tables" and name != "alembic_version"}


def _doc_type(column: Column[object]) -> str:
    kind = column.type
    if isinstance(kind, AwareDateTime):
        return "timestamp"
    if isinstance(kind, JSONDocument):
        return "json"
    if isinstance(kind, BigInteger):
        return "bigint"
    if isinstance(kind, Integer):
        return "integer"
    if isinstance(kind, Text):
        return "text"
    if isinstance(kind, LargeBinary):
        return "bytes"
    if isinstance(kind, String):
        return f"varchar({kind.length})"
    raise AssertionError(f"no documented name for the type of {column}")


def _columns(section: DocSection) -> list[dict[str, str]]:
    return section.table_with("column")


def _indexes(section: DocSection, backend: str) -> set[tuple[str, tuple[str, ...], bool]]:
    documented = set()
    for row in section.table_with("index"):
        if row["backends"] not in ("both", {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[backend]):
            continue
        columns = tuple(_name(c) for c in row["columns"].split(","))
        documented.add((_name(row["index"]), columns, row["unique"] == "yes"))
    return documented


def test_every_table_is_documented() -> None:
    assert set(DOC_TABLES) == set(Base.metadata.tables)


@pytest.mark.parametrize("table_name", sorted(Base.metadata.tables))
def test_columns_match_the_models(table_name: str) -> None:
    table = Base.metadata.tables[table_name]
    documented = _columns(DOC_TABLES[table_name])
    assert [_name(row["column"]) for row in documented] == [column.name for column in table.columns]
    foreign = {fk.parent.name: fk.target_fullname for fk in table.foreign_keys}
    unique = {constraint.columns.keys()[0] for constraint in table.constraints
              if constraint.__class__.__name__ == "UniqueConstraint" and len(constraint.columns) == 1}
    for row in documented:
        column = table.columns[_name(row["column"])]
        where = f"{table_name}.{column.name}"
        assert row["type"] == _doc_type(column), where
        assert row["null"] == ("yes" if column.nullable else "no"), where
        keys = {part.strip() for part in row["key"].split(",") if part.strip()}
        assert ("PK" in keys) == column.primary_key, where
        assert ("unique" in keys) == (column.name in unique), where
        fk = next((k for k in keys if k.startswith("FK")), None)
        assert (_name(fk[2:]) if fk else None) == foreign.get(column.name), where
        assert row["meaning"], f"{where} has no meaning in docs/schema.md"


@pytest.mark.parametrize("table_name", sorted(Base.metadata.tables))
def test_indexes_match_the_models(table_name: str) -> None:
    table = Base.metadata.tables[table_name]
    modelled = {(index.name, tuple(c.name for c in index.columns), bool(index.unique)) for index in table.indexes}
    modelled |= {
        (constraint.name, tuple(c.name for c in constraint.columns), True)
        for constraint in table.constraints
        if constraint.__class__.__name__ == "UniqueConstraint"
    }
    assert _indexes(DOC_TABLES[table_name], "sqlite") == modelled


def test_migrations_are_documented() -> None:
    # The migration table is under "## Migrations", not a ### section: read it from the page itself.
    page = SCHEMA_DOC.read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `(\d{4}_\w+)` \|", page, flags=re.MULTILINE))
    assert documented == known_revisions()


def test_database_matches_the_doc(db_url: str) -> None:
    """What the migrations built, on this backend, is what the page says: tables, columns, indexes, view."""
    with Archive.open(db_url) as archive:
        backend = archive.dialect
        inspector = inspect(archive.engine)
        for table_name, section in DOC_TABLES.items():
            reflected = inspector.get_columns(table_name)
            assert [c["name"] for c in reflected] == [_name(r["column"]) for r in _columns(section)]
            assert [c["nullable"] for c in reflected] == [r["null"] == "yes" for r in _columns(section)]
            pk = inspector.get_pk_constraint(table_name)["constrained_columns"]
            assert pk == [_name(r["column"]) for r in _columns(section) if "PK" in r["key"]]
            found = {
                (index["name"], tuple(index["column_names"]), bool(index["unique"]))
                for index in inspector.get_indexes(table_name)
                if not index.get("duplicates_constraint")
            }
            found |= {
                (constraint["name"], tuple(constraint["column_names"]), True)
                for constraint in inspector.get_unique_constraints(table_name)
            }
            assert found == _indexes(section, backend), table_name
        view = SECTIONS["jekyll_posts"]
        assert view.part == "Views"
        assert "jekyll_posts" in inspector.get_view_names()
        with archive.engine.connect() as connection:
            columns = list(connection.execute(text("SELECT * FROM jekyll_posts")).keys())
        assert columns == [_name(row["column"]) for row in view.table_with("column")]
