"""Full-text search over the archive that works for Chinese text at any size (docs/search.md).

A query is split at white space into terms; an article matches when every term occurs in its title,
summary or body text as a substring (lower-cased). A term's bigrams (a one-character term: the
character, which is indexed too; ``newscrawl.storage.search_index`` says what is indexed) select
candidates, newest first; each candidate is then checked for the terms themselves, which gives phrase
semantics (``政务服务`` needs those four characters in order). The newest ``RANKED`` matches are ranked: 10
points per occurrence of a term in the title, 3 in the summary, 1 in the body, ties to the newer article,
then the smaller id. The checking and ranking are the same Python code on both backends, so SQLite and
PostgreSQL return the same hits in the same order.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection

from newscrawl.storage.search_index import (
    DOC_SEQUENCE_BITS,
    DOCUMENTS_TABLE,
    FTS_TABLE,
    PERIOD_SHIFT,
    category_token,
    doc_id_floor,
    index_article,
    period_prefix,
    rebuild_index,
    reindex_article,
    term_tokens,
)
from newscrawl.storage.types import AwareDateTime

# What the archive calls: the index is kept in step by the same module that searches it.
__all__ = ["RANKED", "SearchHit", "index_article", "query_terms", "rebuild_index", "reindex_article", "search",
           "snippet"]

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
#: PostgreSQL: at most this many lexemes in one candidate query (periods times tokens), so that a query
#: over many periods (a rare term) is a few look-ups, not one tsquery of thousands of operands.
MAX_LEXEMES = 1024
#: PostgreSQL: the documents of the first span of periods looked up, and the most counted in the doc_id
#: index to make a span (beyond, a span's periods are estimated from the last count's: counting 16,384
#: took 8-15 ms, more than the look-up it shaped).
FIRST_SPAN, COUNTED_SPAN = 4096, 4096
#: PostgreSQL: the newest documents checked one by one before any span is looked up.
WALK = 256


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
    postgres = connection.dialect.name == "postgresql"
    tokens: list[str] = []
    for term in terms:
        # PostgreSQL: each lexeme is a look-up per period, and the candidates are checked for the terms
        # anyway, so a term's covering bigrams suffice; FTS5 reads all of them as fast (docs/search.md).
        tokens += [token for token in term_tokens(term, cover=postgres) if token not in tokens]
    if category is not None:
        tokens.append(category_token(category))
    low, high = 0, 1 << 62
    if since is not None or until is not None:
        low = max(doc_id_floor(since), 1 << DOC_SEQUENCE_BITS)  # undated documents are out of any range
    if until is not None:
        high = doc_id_floor(until) + (1 << DOC_SEQUENCE_BITS)
    if connection.dialect.name == "postgresql":
        _plan_for_lookups(connection)
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


def _plan_for_lookups(connection: Connection) -> None:
    """PostgreSQL, for the rest of the transaction: plans for index look-ups. psycopg prepares a statement
    run five times, and PostgreSQL may then plan it once for any tsquery: each look-up is planned for its
    own lexemes instead. A look-up over many periods is guessed to match a third of the table (0.5% per
    lexeme): PostgreSQL would scan the table (18 s at 1,000,000 articles, against 19 ms from the GIN
    index), in parallel, and compile it (JIT: 60 ms against 10). Every statement of a search reads an index."""
    connection.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan; SET LOCAL jit = off; "
                               "SET LOCAL enable_seqscan = off; SET LOCAL max_parallel_workers_per_gather = 0")


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
    if tokens and connection.dialect.name == "postgresql":
        yield from _period_candidates(connection, tokens, low, high, next_batch)
        return
    if tokens:
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


# ``doc_id + 0``: neither the range nor the order may come from the doc_id index. PostgreSQL guesses a
# period's lexeme (not in its statistics) in 0.5% of the rows, and would then walk that index reading each
# row's tsvector (23 s for the term in 82% of the articles, in one period at 1,000,000 articles) rather
# than take the span's few thousand matches from the GIN index and sort them.
_PERIOD_MATCHES = text(f"SELECT doc_id FROM {DOCUMENTS_TABLE} WHERE bigrams @@ CAST(:match AS tsquery) "
                       "AND doc_id + 0 >= :low AND doc_id + 0 < :high ORDER BY doc_id + 0 DESC LIMIT :batch")
_NEWEST_BELOW = text(f"SELECT max(doc_id) FROM {DOCUMENTS_TABLE} WHERE doc_id >= :low AND doc_id < :high")
# The periods of the n newest documents below :high, each with its oldest document and how many it holds,
# from an index-only scan of the doc_id index (0.5 ms for 4,096 documents): a look-up
# names only the periods that have documents.
_NEWEST_PERIODS = text(f"SELECT doc_id >> {PERIOD_SHIFT} AS period, min(doc_id), count(*) FROM (SELECT doc_id "
                       f"FROM {DOCUMENTS_TABLE} WHERE doc_id >= :low AND doc_id < :high ORDER BY doc_id DESC "
                       "LIMIT :n) AS newest GROUP BY period ORDER BY period DESC")


def _newest_periods(connection: Connection, low: int, high: int, n: int) -> tuple[list[int], int, int]:
    """The periods of the ``n`` newest documents in [low, high), newest first, the oldest of them (low
    when there are fewer), and how many there are."""
    rows = connection.execute(_NEWEST_PERIODS, {"low": low, "high": high, "n": n}).all()
    count = sum(int(row[2]) for row in rows)
    return [int(row[0]) for row in rows], (int(rows[-1][1]) if rows and count == n else low), count


# The newest documents, each checked against the tsquery of their periods, until a batch matches.
_WALK = text(f"SELECT doc_id FROM (SELECT doc_id, bigrams FROM {DOCUMENTS_TABLE} WHERE doc_id >= :low "
             "AND doc_id < :high ORDER BY doc_id DESC LIMIT :walk) AS newest "
             "WHERE bigrams @@ CAST(:match AS tsquery) ORDER BY doc_id DESC LIMIT :batch")


def _period_candidates(connection: Connection, tokens: Sequence[str], low: int, high: int,
                       next_batch: Callable[[], int]) -> Iterator[list[int]]:
    """PostgreSQL: the same batches as ``_candidates``, looked up a span of periods at a time, newest
    first (a GIN index has no order: a look-up reads all its span's matches, so a span must not hold
    many more than needed). A span holds the ``n`` newest documents below the last one's (``n`` counted
    in the doc_id index up to ``COUNTED_SPAN``, beyond that estimated from the periods the last count
    spanned), whole periods, at most ``MAX_LEXEMES`` lexemes; ``n`` starts at ``FIRST_SPAN`` and grows
    fourfold each time a span runs out (a rare term's matches are spread thin). A span starts at the
    newest document below the last, so a gap without articles costs nothing."""
    widest = max(1, MAX_LEXEMES // len(tokens))
    n, per_period, size = FIRST_SPAN, 1.0, FIRST_BATCH
    batch: list[int] = []
    # First the newest WALK documents one by one, newest first: a common term (in 82% of the articles)
    # fills the batch within them (2 ms), where a span's look-up reads all its thousands of matches.
    # Walked on while the share of matches says the rest of the batch is within 4 * WALK documents.
    window = WALK
    while window:
        periods, floor, count = _newest_periods(connection, low, high, window)
        if not 0 < len(periods) <= widest:
            break
        wanted = size - len(batch)
        found = [int(doc_id) for doc_id in connection.execute(_WALK, {
            "match": _tsquery(tokens, periods), "low": floor, "high": high, "walk": window,
            "batch": wanted}).scalars()]
        batch += found
        if len(found) == wanted:
            yield batch
            batch, high, size = [], found[-1], next_batch()
            continue
        high = floor
        needed = math.inf if not found else (wanted - len(found)) * count / len(found) * 1.25
        window = math.ceil(needed) if count == window and needed <= 4 * WALK else 0
    while True:
        newest = connection.execute(_NEWEST_BELOW, {"low": low, "high": high}).scalar()
        if newest is None:
            break
        high = int(newest) + 1
        while high > low:
            top = (high - 1) >> PERIOD_SHIFT
            if n <= COUNTED_SPAN:
                periods, oldest, count = _newest_periods(connection, low, high, n)
                if not periods:
                    break
                periods = periods[:widest]
                per_period = count / (top - (oldest >> PERIOD_SHIFT) + 1)
            else:
                periods = list(range(top, max(top - math.ceil(n / per_period), top - widest, (low >> PERIOD_SHIFT) - 1),
                                     -1))
            floor = max(low, periods[-1] << PERIOD_SHIFT)
            wanted = size - len(batch)
            found = [int(doc_id) for doc_id in connection.execute(_PERIOD_MATCHES, {
                "match": _tsquery(tokens, periods), "low": floor, "high": high, "batch": wanted}).scalars()]
            batch += found
            if len(found) < wanted:
                high, n = floor, 4 * n
                break
            yield batch
            batch, high, size = [], found[-1], next_batch()
    if batch:
        yield batch


def indexed_documents(connection: Connection, tokens: Sequence[str]) -> int:
    """How many documents hold every token: the index's own count (benchmarks/reads.py)."""
    if connection.dialect.name == "sqlite":
        match = " AND ".join(_fts_string(token) for token in tokens)
        return int(connection.execute(text(f"SELECT count(*) FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :match"),
                                      {"match": match}).scalar_one())
    _plan_for_lookups(connection)
    # Room for an exact bitmap of every document (else a lossy one rechecks each row's tsvector).
    connection.exec_driver_sql("SET LOCAL work_mem = '64MB'")
    oldest, newest = connection.execute(text(f"SELECT min(doc_id), max(doc_id) FROM {DOCUMENTS_TABLE}")).one()
    if oldest is None:
        return 0
    count = text(f"SELECT count(*) FROM {DOCUMENTS_TABLE} WHERE bigrams @@ CAST(:match AS tsquery)")
    periods = list(range(oldest >> PERIOD_SHIFT, (newest >> PERIOD_SHIFT) + 1))
    step = max(1, MAX_LEXEMES // len(tokens))
    return sum(int(connection.execute(count, {"match": _tsquery(tokens, periods[start:start + step])}).scalar_one())
               for start in range(0, len(periods), step))


def _tsquery(tokens: Sequence[str], periods: Sequence[int]) -> str:
    """A PostgreSQL query for the documents of one of ``periods`` holding every token."""
    return " | ".join("(" + " & ".join(_tsquery_lexeme(prefix + token) for token in tokens) + ")"
                      for prefix in map(period_prefix, periods))


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

