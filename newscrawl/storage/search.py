"""Full-text search over the archive that works for Chinese text (docs/search.md).

Chinese is written without spaces, so word tokenizers see a whole sentence as one token. Both backends
therefore index character trigrams and a query term matches wherever it occurs as a substring:

* SQLite: the FTS5 table ``articles_fts`` (``trigram`` tokenizer) finds the articles containing each term of
  three or more characters. A trigram index cannot answer a term of one or two characters (most Chinese
  words are two: 南召, 政务), so such terms are matched with ``instr`` on the columns, a scan of the rows
  that the long terms (if any) left.
* PostgreSQL: ``ILIKE '%term%'`` on the same columns, served by ``pg_trgm`` GIN indexes for terms of three
  or more characters; shorter terms scan.

A query is split at white space; an article matches when every term occurs in its title, summary or
body text. Ranking and snippets are computed the same way on both backends, so both give the same hits in
the same order: title occurrences weigh 10, summary 3, body 1; ties go to the newer article.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, literal, literal_column, or_, select, text
from sqlalchemy.engine import Connection

from newscrawl.storage.models import ArticleRow

FTS_TABLE = "articles_fts"
#: Shortest term the trigram indexes can look up; shorter terms are matched by scanning.
TRIGRAM = 3
TITLE_WEIGHT, SUMMARY_WEIGHT, BODY_WEIGHT = 10, 3, 1
SNIPPET_BEFORE, SNIPPET_AFTER = 24, 56
#: Marks around a matched term in a snippet: CJK lenticular brackets read well inside Chinese text.
MARK_OPEN, MARK_CLOSE = "【", "】"
_SEARCHED = (ArticleRow.title, ArticleRow.summary, ArticleRow.body_text)


@dataclass(frozen=True)
class SearchHit:
    """One article found by ``Archive.search``, best first."""

    article_id: str
    title: str | None
    published_at: datetime | None
    category: str | None
    snippet: str
    rank: int


def query_terms(query: str) -> list[str]:
    """The terms of a query: split at white space, lower-cased, without repeats, in order."""
    terms: list[str] = []
    for term in query.lower().split():
        # A term in double quotes is the same substring as without them (every term is a phrase here).
        term = term.strip('"')
        if term and term not in terms:
            terms.append(term)
    return terms


def search(connection: Connection, query: str, limit: int = 20) -> list[SearchHit]:
    """The articles matching every term of ``query``, best first (see the module docstring)."""
    terms = query_terms(query)
    if not terms or limit <= 0:
        return []
    articles = ArticleRow.__table__
    postgres = connection.dialect.name == "postgresql"
    conditions: list[ColumnElement[bool]] = []
    long_terms = [term for term in terms if len(term) >= TRIGRAM]
    if postgres:
        for term in long_terms:
            # LIKE and ILIKE both use the pg_trgm indexes; ILIKE lower-cases every candidate row on
            # recheck, which Chinese text does not need.
            pattern = "%" + _escape_like(term) + "%"
            conditions.append(or_(*(
                column.like(pattern, escape="\\") if _caseless(term) else column.ilike(pattern, escape="\\")
                for column in _SEARCHED
            )))
    elif long_terms:
        match = " AND ".join('"' + term.replace('"', '""') + '"' for term in long_terms)
        conditions.append(
            literal_column("articles.rowid").in_(
                text(f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :match").bindparams(match=match)
            )
        )
    # Shorter terms have no trigram: a scan with a plain substring search (the cheapest test each
    # backend has: instr on SQLite, strpos on PostgreSQL, several times faster there than LIKE).
    position = func.strpos if postgres else func.instr
    for term in terms:
        if len(term) < TRIGRAM:
            conditions.append(or_(*(position(_folded(column, term), literal(term)) > 0 for column in _SEARCHED)))
    rank = sum(
        (_occurrences(ArticleRow.title, term) * TITLE_WEIGHT
         + _occurrences(ArticleRow.summary, term) * SUMMARY_WEIGHT
         + _occurrences(ArticleRow.body_text, term) * BODY_WEIGHT
         for term in terms),
        start=literal(0),
    ).label("rank")
    statement = (
        select(
            articles.c.article_id, articles.c.title, articles.c.published_at, articles.c.category,
            articles.c.summary, articles.c.body_text, rank,
        )
        .where(and_(*conditions))
        .order_by(rank.desc(), articles.c.published_at.desc().nulls_last(), articles.c.article_id)
        .limit(limit)
    )
    hits = []
    for row in connection.execute(statement).mappings():
        hits.append(SearchHit(
            article_id=row["article_id"],
            title=row["title"],
            published_at=row["published_at"],
            category=row["category"],
            snippet=snippet(terms, row["body_text"], row["summary"], row["title"]),
            rank=int(row["rank"]),
        ))
    return hits


def _occurrences(column: Any, term: str) -> ColumnElement[Any]:
    """How many times ``term`` occurs in ``column``: the same expression on SQLite and PostgreSQL."""
    haystack = _folded(func.coalesce(column, ""), term)
    return (func.length(haystack) - func.length(func.replace(haystack, term, ""))) / len(term)


def _folded(column: Any, term: str) -> Any:
    """``column`` lower-cased when that can matter for ``term``: Chinese has no case, and copying every
    body through lower() is a good part of a scan's cost."""
    return column if _caseless(term) else func.lower(column)


def _caseless(term: str) -> bool:
    return term.upper() == term.lower()


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def snippet(terms: list[str], *texts: str | None) -> str:
    """A short excerpt around the first term found in the first text that has one, terms marked."""
    for candidate in texts:
        if not candidate:
            continue
        folded = candidate.lower()
        found = [(folded.find(term), term) for term in terms if term in folded]
        if not found:
            continue
        start_at, _ = min(found)
        start = max(0, start_at - SNIPPET_BEFORE)
        end = min(len(candidate), start_at + SNIPPET_AFTER)
        excerpt = _mark(candidate[start:end], terms)
        return ("…" if start > 0 else "") + excerpt + ("…" if end < len(candidate) else "")
    return ""


def _mark(excerpt: str, terms: list[str]) -> str:
    # Longest terms first, so that a term inside another is marked as part of the longer one.
    alternatives = "|".join(re.escape(term) for term in sorted(terms, key=len, reverse=True))
    pattern = re.compile(alternatives, re.IGNORECASE)
    return pattern.sub(lambda m: MARK_OPEN + m.group(0) + MARK_CLOSE, excerpt)
