"""Full-text search over the archive that works for Chinese text at any size (docs/search.md).

Chinese is written without spaces, so word tokenizers see a whole clause as one token, and most Chinese
words are two characters (南召, 市场), too short for a trigram index. Both backends therefore index the
overlapping character **bigrams** of each article's title, summary and body text (Lucene's CJK analyzer does
the same), and its single characters (so that a one-character term is one look-up too), in one document
per article keyed by ``doc_id``:

* SQLite: the contentless FTS5 table ``search_fts`` (``ascii`` tokenizer with every printable ASCII
  character a token character, ``detail=none``: it stores which documents hold each bigram, nothing else),
  written by newscrawl beside each article write (there is no SQL function to make bigrams in a trigger).
* PostgreSQL: the ``tsvector`` column ``search_documents.bigrams`` (``array_to_tsvector``: the bigrams
  verbatim, no parser) under a GIN index.

``doc_id`` is the publication time in seconds shifted left by ``DOC_SEQUENCE_BITS``, plus a sequence
number: the index's own order is newest first, so both backends can hand out the newest documents that
hold a query's bigrams without sorting every match, and a date range is a ``doc_id`` range.

A query is split at white space into terms; an article matches when every term occurs in its title,
summary or body text as a substring (lower-cased). A term's bigrams (a one-character term: the
character, which is indexed too) select candidates, newest first; each candidate is then checked for the
terms themselves, which gives phrase semantics (``政务服务`` needs those four characters in order). The
newest ``RANKED`` matches are ranked: 10 points per occurrence of a term in the title, 3 in the summary,
1 in the body, ties to the newer article, then the smaller id. The checking and ranking are the same
Python code on both backends, so SQLite and PostgreSQL return the same hits in the same order.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection, RowMapping

from newscrawl.storage.types import AwareDateTime

#: An article's column values: a dict, or a row read from ``articles``.
_Values = Mapping[str, Any] | RowMapping

FTS_TABLE = "search_fts"
DOCUMENTS_TABLE = "search_documents"
#: Low bits of ``doc_id`` that number the documents published in the same second.
DOC_SEQUENCE_BITS = 20
#: How many of the newest matching articles are ranked by relevance (see the module docstring): each is
#: read and checked, so this bounds a query's cost however many articles match (docs/search.md).
RANKED = 200
#: Candidates fetched at first; later batches are as large as the matches found so far say is needed,
#: within [MIN_BATCH, LAST_BATCH].
FIRST_BATCH = RANKED
MIN_BATCH, LAST_BATCH = 16, 4000
TITLE_WEIGHT, SUMMARY_WEIGHT, BODY_WEIGHT = 10, 3, 1
SNIPPET_BEFORE, SNIPPET_AFTER = 24, 56
#: Marks around a matched term in a snippet: CJK lenticular brackets read well inside Chinese text.
MARK_OPEN, MARK_CLOSE = "【", "】"
#: The FTS5 tokenizer: every character but white space and ASCII control characters is a token character
#: (non-ASCII always is for ``ascii``; these are the printable ASCII ones that are not letters or digits),
#: so each bigram newscrawl writes is one token, exactly as written.
TOKEN_CHARACTERS = "!#$%&'()*+,-./:;<=>?@[\\]^_`{|}~\""
#: Prefix of the token that stands for an article's category (its slug in hex: any slug is one token).
CATEGORY_TOKEN = "category:"


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


# -- what is indexed ----------------------------------------------------------------------------------


#: What separates runs of characters: white space (str.isspace; the highest is U+3000), and the ASCII
#: control characters, which FTS5's ascii tokenizer splits at.
_SEPARATORS = re.compile(
    "[" + "".join(re.escape(chr(code)) for code in range(0x3001) if chr(code).isspace() or code < 32 or code == 127)
    + "]+"
)


def _chunks(value: str) -> list[str]:
    return [chunk for chunk in _SEPARATORS.split(value) if chunk]


def document_tokens(*texts: str | None, category: str | None = None) -> list[str]:
    """The tokens of an article's index document, sorted: every character and every bigram of the
    lower-cased texts (white space aside), and the category's token."""
    tokens: set[str] = set()
    for value in texts:
        if not value:
            continue
        for chunk in _chunks(value.lower()):
            tokens.update(chunk)
            tokens.update(map(str.__add__, chunk, chunk[1:]))
    if category is not None:
        tokens.add(category_token(category))
    return sorted(tokens)


def category_token(category: str) -> str:
    return CATEGORY_TOKEN + category.encode("utf-8").hex()


def term_tokens(term: str) -> list[str]:
    """The tokens a document must hold to contain ``term``: its bigrams, and for a run of one character
    between separators, that character."""
    tokens: list[str] = []
    for chunk in _chunks(term.lower()):
        for token in [chunk] if len(chunk) == 1 else map(str.__add__, chunk, chunk[1:]):
            if token not in tokens:
                tokens.append(token)
    return tokens


def doc_id_floor(published_at: datetime | None) -> int:
    """The smallest ``doc_id`` of a document published at ``published_at`` (undated: 0)."""
    if published_at is None:
        return 0
    return max(0, int(published_at.timestamp())) << DOC_SEQUENCE_BITS


# -- keeping the index in step ------------------------------------------------------------------------


def index_article(connection: Connection, values: _Values) -> None:
    """Add the document of the article whose column values are ``values`` (it has none yet)."""
    floor = doc_id_floor(values.get("published_at"))
    tokens = _tokens_of(values)
    postgres = connection.dialect.name == "postgresql"
    parameters = {"floor": floor, "ceiling": floor + (1 << DOC_SEQUENCE_BITS), "article_id": values["article_id"],
                  "tokens": tokens if postgres else ""}
    # The next number of the publication second, in the insert itself. Two PostgreSQL writers storing
    # articles of the same second may pick the same number: the second one's insert waits for the first
    # to commit, does nothing, and tries again with the number after it.
    for _ in range(_ALLOCATION_ATTEMPTS):
        doc_id = connection.execute(_insert_document_statement(postgres), parameters).scalar()
        if doc_id is not None:
            break
    else:
        raise RuntimeError(f"no free doc_id for {values['article_id']} after {_ALLOCATION_ATTEMPTS} attempts")
    if not postgres:
        connection.execute(text(f"INSERT INTO {FTS_TABLE} (rowid, bigrams) VALUES (:doc_id, :tokens)"),
                           {"doc_id": doc_id, "tokens": " ".join(tokens)})


_ALLOCATION_ATTEMPTS = 100


@lru_cache(maxsize=2)
def _insert_document_statement(postgres: bool) -> Any:
    bigrams = ", bigrams" if postgres else ""
    bigrams_value = ", array_to_tsvector(CAST(:tokens AS text[]))" if postgres else ""
    return text(
        f"INSERT INTO {DOCUMENTS_TABLE} (doc_id, article_id{bigrams}) "
        f"SELECT coalesce(max(doc_id) + 1, :floor), :article_id{bigrams_value} FROM {DOCUMENTS_TABLE} "
        "WHERE doc_id >= :floor AND doc_id < :ceiling "
        "ON CONFLICT (doc_id) DO NOTHING RETURNING doc_id"
    )


def unindex_article(connection: Connection, old_values: _Values) -> None:
    """Remove the document of an article whose indexed columns were ``old_values`` (if it has one)."""
    doc_id = connection.execute(
        text(f"SELECT doc_id FROM {DOCUMENTS_TABLE} WHERE article_id = :article_id"),
        {"article_id": old_values["article_id"]},
    ).scalar()
    if doc_id is None:
        return
    if connection.dialect.name == "sqlite":
        # A contentless FTS5 table forgets a document when told the tokens it was given.
        connection.execute(
            text(f"INSERT INTO {FTS_TABLE} ({FTS_TABLE}, rowid, bigrams) VALUES ('delete', :doc_id, :tokens)"),
            {"doc_id": doc_id, "tokens": " ".join(_tokens_of(old_values))},
        )
    connection.execute(text(f"DELETE FROM {DOCUMENTS_TABLE} WHERE doc_id = :doc_id"), {"doc_id": doc_id})


def reindex_article(connection: Connection, old_values: _Values, values: _Values) -> None:
    """Replace an article's document when what is indexed changed."""
    if all(old_values.get(name) == values.get(name) for name in INDEXED_COLUMNS):
        return
    unindex_article(connection, old_values)
    index_article(connection, values)


#: The article columns a document is made of.
INDEXED_COLUMNS = ("title", "summary", "body_text", "category", "published_at")


def _tokens_of(values: _Values) -> list[str]:
    return document_tokens(values.get("title"), values.get("summary"), values.get("body_text"),
                           category=values.get("category"))


def rebuild_index(connection: Connection, progress: Callable[[int, int], None] | None = None,
                  batch: int = 2000) -> int:
    """Index every article anew (after a ``VACUUM``, or to build the index of an existing archive);
    ``progress(done, total)`` is called after each batch. Returns how many articles were indexed."""
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        connection.execute(text(f"INSERT INTO {FTS_TABLE} ({FTS_TABLE}) VALUES ('delete-all')"))
    connection.execute(text(f"DELETE FROM {DOCUMENTS_TABLE}"))
    total = int(connection.execute(text("SELECT count(*) FROM articles")).scalar_one())
    done = 0
    after = ""
    # Keyset pages by article_id: each page one indexed range read, whatever the archive's size.
    page = text("SELECT article_id, title, summary, body_text, category, published_at FROM articles "
                "WHERE article_id > :after ORDER BY article_id LIMIT :batch").columns(published_at=AwareDateTime())
    # The index starts empty, so the sequence numbers are counted here, not read back per article, and
    # each page is written with one executemany per table.
    sequence: dict[int, int] = {}
    postgres = connection.dialect.name == "postgresql"
    if postgres:
        insert_documents = text(f"INSERT INTO {DOCUMENTS_TABLE} (doc_id, article_id, bigrams) "
                                "VALUES (:doc_id, :article_id, array_to_tsvector(CAST(:tokens AS text[])))")
    else:
        insert_documents = text(f"INSERT INTO {DOCUMENTS_TABLE} (doc_id, article_id) VALUES (:doc_id, :article_id)")
        insert_fts = text(f"INSERT INTO {FTS_TABLE} (rowid, bigrams) VALUES (:doc_id, :tokens)")
    while True:
        rows = connection.execute(page, {"after": after, "batch": batch}).mappings().all()
        if not rows:
            break
        documents = []
        for row in rows:
            floor = doc_id_floor(row["published_at"])
            sequence[floor] = sequence.get(floor, -1) + 1
            tokens = _tokens_of(row)
            documents.append({"doc_id": floor + sequence[floor], "article_id": row["article_id"],
                              "tokens": tokens if postgres else " ".join(tokens)})
        connection.execute(insert_documents, documents)
        if not postgres:
            connection.execute(insert_fts, documents)
        done += len(rows)
        after = rows[-1]["article_id"]
        if progress is not None:
            progress(done, total)
    return done


# -- searching ----------------------------------------------------------------------------------------


def search(
    connection: Connection, query: str, limit: int = 20, *, category: str | None = None,
    since: datetime | None = None, until: datetime | None = None,
) -> list[SearchHit]:
    """The articles matching every term of ``query``, best first (see the module docstring).

    ``category`` keeps one category's articles; ``since`` (inclusive) and ``until`` (exclusive) keep
    those published in that range (undated articles then never match)."""
    terms = query_terms(query)
    if not terms or limit <= 0:
        return []
    tokens: list[str] = []
    for term in terms:
        tokens += [token for token in term_tokens(term) if token not in tokens]
    if category is not None:
        tokens.append(category_token(category))
    low, high = 0, 1 << 62
    if since is not None or until is not None:
        low = max(doc_id_floor(since), 1 << DOC_SEQUENCE_BITS)  # undated documents are out of any range
    if until is not None:
        high = doc_id_floor(until) + (1 << DOC_SEQUENCE_BITS)
    if connection.dialect.name == "postgresql":
        # psycopg prepares a statement run five times, and PostgreSQL may then plan it once for any token:
        # that generic plan sorted every match of a common one (的: 82,000 at 100,000 articles, 135 ms)
        # where the plan for its own token walks the doc_id index and stops at the batch.
        connection.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")
    fetch = _fetch_statement(connection.dialect.name, category is not None, since is not None, until is not None)
    filters = {"category": category, "since": since, "until": until}
    # (rank, doc_id, article_id, title, summary, body_text) of the newest RANKED matches.
    matches: list[tuple[int, int, str, str | None, str | None, str | None]] = []
    checked = 0

    def next_batch() -> int:
        # As many candidates as the share of matches among those checked so far says are still needed
        # (a quarter more), so that a phrase whose bigrams are common costs one more small batch.
        if not matches:
            return min(LAST_BATCH, max(FIRST_BATCH, 4 * checked))
        needed = (RANKED - len(matches)) * checked / len(matches)
        return min(LAST_BATCH, max(MIN_BATCH, math.ceil(needed * 1.25)))

    for batch in _candidates(connection, tokens, low, high, next_batch):
        checked += len(batch)
        rows = connection.execute(fetch, {"doc_ids": _id_list(connection, batch), **filters}).all()
        found = {row[0]: row for row in rows}
        for doc_id in batch:
            row = found.get(doc_id)
            if row is None:
                continue  # the document of an article deleted behind newscrawl's back, or filtered out
            rank = _rank(terms, row[2], row[3], row[4])
            if rank is not None:
                matches.append((rank, doc_id, row[1], row[2], row[3], row[4]))
        if len(matches) >= RANKED:
            break
    del matches[RANKED:]
    # Higher rank first, then the newer (the publication second is doc_id's high bits), then the smaller id.
    matches.sort(key=lambda m: (-m[0], -(m[1] >> DOC_SEQUENCE_BITS), m[2]))
    best = matches[:limit]
    details = _details(connection, [m[2] for m in best])
    hits = []
    for rank, _, article_id, title, summary, body_text in best:
        published_at, hit_category = details[article_id]
        hits.append(SearchHit(article_id=article_id, title=title, published_at=published_at, category=hit_category,
                              snippet=snippet(terms, body_text, summary, title), rank=rank))
    return hits


def _rank(terms: Sequence[str], title: str | None, summary: str | None, body_text: str | None) -> int | None:
    """The rank of an article with these texts, or None when a term occurs in none of them."""
    texts = (title or "", summary or "", body_text or "")
    folded: tuple[str, ...] | None = None
    rank = 0
    for term in terms:
        if term.upper() != term:
            # Only a term with letters needs the texts lower-cased (Chinese has no case, and lower()
            # is most of the cost of checking a candidate).
            folded = folded or tuple(value.lower() for value in texts)
            in_title, in_summary, in_body = (value.count(term) for value in folded)
        else:
            in_title, in_summary, in_body = (value.count(term) for value in texts)
        if not (in_title or in_summary or in_body):
            return None
        rank += in_title * TITLE_WEIGHT + in_summary * SUMMARY_WEIGHT + in_body * BODY_WEIGHT
    return rank


def _candidates(connection: Connection, tokens: Sequence[str], low: int, high: int,
                next_batch: Callable[[], int]) -> Iterator[list[int]]:
    """Batches of the ``doc_id`` of documents holding every token, newest first, within [low, high)."""
    postgres = connection.dialect.name == "postgresql"
    if postgres:
        condition = "bigrams @@ CAST(:match AS tsquery)" if tokens else "true"
        statement = text(f"SELECT doc_id FROM {DOCUMENTS_TABLE} WHERE {condition} "
                         "AND doc_id >= :low AND doc_id < :high ORDER BY doc_id DESC LIMIT :batch")
        match = " & ".join(_tsquery_lexeme(token) for token in tokens)
    elif tokens:
        statement = text(f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :match "
                         "AND rowid >= :low AND rowid < :high ORDER BY rowid DESC LIMIT :batch")
        match = " AND ".join(_fts_string(token) for token in tokens)
    else:
        # No token to look up (a term of control characters only): every document, newest first.
        statement = text(f"SELECT doc_id FROM {DOCUMENTS_TABLE} WHERE doc_id >= :low AND doc_id < :high "
                         "ORDER BY doc_id DESC LIMIT :batch")
        match = ""
    size = FIRST_BATCH
    while high > low:
        batch = [int(doc_id) for doc_id in connection.execute(
            statement, {"match": match, "low": low, "high": high, "batch": size}).scalars()]
        if batch:
            yield batch
        if len(batch) < size:
            return
        high = batch[-1]
        size = next_batch()


def _id_list(connection: Connection, doc_ids: list[int]) -> Any:
    # One parameter for the whole list, so that the statement is the same text every time: a PostgreSQL
    # array, a JSON array for SQLite's json_each.
    return doc_ids if connection.dialect.name == "postgresql" else json.dumps(doc_ids)


@lru_cache(maxsize=32)
def _fetch_statement(dialect: str, category: bool, since: bool, until: bool) -> Any:
    """(doc_id, article_id, title, summary, body_text) of the candidates that pass the filters."""
    postgres = dialect == "postgresql"
    conditions = ["d.doc_id = ANY(:doc_ids)" if postgres else "d.doc_id IN (SELECT value FROM json_each(:doc_ids))"]
    if category:
        conditions.append("a.category = :category")
    if since:
        conditions.append("a.published_at >= :since")
    if until:
        conditions.append("a.published_at < :until")
    # CROSS JOIN: SQLite joins in the order written, from the candidates to their articles; left free, it
    # drove a filtered search from ix_articles_category through every article of the category.
    statement = text(
        f"SELECT d.doc_id, a.article_id, a.title, a.summary, a.body_text FROM {DOCUMENTS_TABLE} d "
        f"CROSS JOIN articles a WHERE a.article_id = d.article_id AND {' AND '.join(conditions)}"
    )
    moments = [bindparam(name, type_=AwareDateTime()) for name, used in (("since", since), ("until", until)) if used]
    return statement.bindparams(*moments) if moments else statement


def _details(connection: Connection, article_ids: list[str]) -> dict[str, tuple[datetime | None, str | None]]:
    """(published_at, category) of the hits, read once they are known."""
    if not article_ids:
        return {}
    statement = text("SELECT article_id, published_at, category FROM articles WHERE article_id IN :ids").bindparams(
        bindparam("ids", expanding=True)).columns(published_at=AwareDateTime())
    return {row[0]: (row[1], row[2]) for row in connection.execute(statement, {"ids": article_ids})}


def _fts_string(token: str) -> str:
    return '"' + token.replace('"', '""') + '"'


def _tsquery_lexeme(token: str) -> str:
    return "'" + token.replace("\\", "\\\\").replace("'", "''") + "'"


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

