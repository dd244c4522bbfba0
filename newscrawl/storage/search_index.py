"""The search index: what each article's search document holds, and keeping it in step with the articles
(docs/search.md; the queries are in ``newscrawl.storage.search``).

Both backends index the overlapping character **bigrams** of each article's title, summary and body text
(Lucene's CJK analyzer does the same) and its single characters, in one document per article keyed by
``doc_id``: the publication time in seconds shifted left by ``DOC_SEQUENCE_BITS``, plus a sequence number,
so that the index's own order is newest first and a date range is a ``doc_id`` range.

* SQLite: the contentless FTS5 table ``search_fts`` (``ascii`` tokenizer with every printable ASCII
  character a token character, ``detail=none``), written by newscrawl beside each article write (there
  is no SQL function to make bigrams in a trigger).
* PostgreSQL: the ``tsvector`` column ``search_documents.bigrams`` (``array_to_tsvector``: no parser)
  under a GIN index. Each token is written with its document's **period** in front (``period_prefix``:
  the publication time in units of 2**``PERIOD_BITS`` seconds, about 12 days), so that a query can look
  up the newest periods first and stop: a GIN index has no order of its own, and an AND of common bigrams
  read over every period costs a bitmap of all its matches (docs/search.md, "PostgreSQL").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection, RowMapping

from newscrawl.storage.types import AwareDateTime

#: An article's column values: a dict, or a row read from ``articles``.
_Values = Mapping[str, Any] | RowMapping

FTS_TABLE = "search_fts"
DOCUMENTS_TABLE = "search_documents"
#: Low bits of ``doc_id`` that number the documents published in the same second.
DOC_SEQUENCE_BITS = 20
#: A PostgreSQL period is 2**PERIOD_BITS seconds of publication time (12.1 days): a few thousand articles
#: at the mirror's few hundred a day, so the newest period's matches of even the commonest bigram are few.
PERIOD_BITS = 20
PERIOD_SHIFT = DOC_SEQUENCE_BITS + PERIOD_BITS
#: The FTS5 tokenizer: every character but white space and ASCII control characters is a token character
#: (non-ASCII always is for ``ascii``; these are the printable ASCII ones that are not letters or digits),
#: so each bigram newscrawl writes is one token, exactly as written.
TOKEN_CHARACTERS = "!#$%&'()*+,-./:;<=>?@[\\]^_`{|}~\""
#: Prefix of the token that stands for an article's category (its slug in hex: any slug is one token).
CATEGORY_TOKEN = "category:"
#: The article columns a document is made of.
INDEXED_COLUMNS = ("title", "summary", "body_text", "category", "published_at")


#: What separates runs of characters: white space (str.isspace; the highest is U+3000), and the ASCII
#: control characters, which FTS5's ascii tokenizer splits at.
_SEPARATORS = re.compile(
    "[" + "".join(re.escape(chr(code)) for code in range(0x3001) if chr(code).isspace() or code < 32 or code == 127)
    + "]+"
)


def _chunks(value: str) -> list[str]:
    return [chunk for chunk in _SEPARATORS.split(value) if chunk]


def document_tokens(*texts: str | None, category: str | None = None) -> list[str]:
    """The tokens of an article's index document, in no order (neither index keeps one): every character
    and every bigram of the lower-cased texts (white space aside), and the category's token."""
    tokens: set[str] = set()
    for value in texts:
        if not value:
            continue
        for chunk in _chunks(value.lower()):
            tokens.update(chunk)
            tokens.update(map(str.__add__, chunk, chunk[1:]))
    if category is not None:
        tokens.add(category_token(category))
    return list(tokens)


def category_token(category: str) -> str:
    return CATEGORY_TOKEN + category.encode("utf-8").hex()


def term_tokens(term: str, cover: bool = False) -> list[str]:
    """The tokens a document must hold to contain ``term``: its bigrams, and for a run of one character
    between separators, that character. ``cover``: only the bigrams that cover the run without
    overlapping (and its last), as few look-ups as still name every character (政务服务: 政务, 服务)."""
    tokens: list[str] = []
    for chunk in _chunks(term.lower()):
        bigrams = list(map(str.__add__, chunk, chunk[1:]))
        if cover:
            bigrams = bigrams[::2] + (bigrams[-1:] if len(bigrams) % 2 == 0 else [])
        for token in bigrams or [chunk]:
            if token not in tokens:
                tokens.append(token)
    return tokens


def doc_id_floor(published_at: Any) -> int:
    """The smallest ``doc_id`` of a document published at ``published_at`` (a datetime; undated: 0)."""
    if published_at is None:
        return 0
    return max(0, int(published_at.timestamp())) << DOC_SEQUENCE_BITS


def period_prefix(period: int) -> str:
    """What a PostgreSQL lexeme of a document of ``period`` (``doc_id >> PERIOD_SHIFT``) starts with: the
    period in hex and a colon. No token of ``document_tokens`` has that form (a token longer than two
    characters is a category's, and ``category:`` is not hex), so ``0010_search_pg`` can tell them apart."""
    return f"{period:x}:"


def postgres_lexemes(tokens: list[str], doc_id: int) -> list[str]:
    prefix = period_prefix(doc_id >> PERIOD_SHIFT)
    return [prefix + token for token in tokens]


#: A period prefix (``period_prefix``) at the start of a lexeme, as a PostgreSQL regular expression.
PREFIX_PATTERN = "^[0-9a-f]+:(?=.)"


def postgres_lexemes_sql(doc_id: str, bigrams: str) -> str:
    """SQL for the ``tsvector`` ``bigrams`` (an SQL expression) with every lexeme's period prefix, if it
    has one, replaced by the period of ``doc_id`` (an SQL expression): what ``postgres_lexemes`` writes."""
    return (f"array_to_tsvector(ARRAY(SELECT to_hex(({doc_id}) >> {PERIOD_SHIFT}) || ':' || "
            f"regexp_replace(lexeme, '{PREFIX_PATTERN}', '') FROM unnest(tsvector_to_array({bigrams})) AS lexeme))")


# -- keeping the index in step ------------------------------------------------------------------------


def index_article(connection: Connection, values: _Values, pending: dict[int, str] | None = None) -> None:
    """Add the document of the article whose column values are ``values`` (it has none yet).

    ``pending``: on SQLite, the FTS5 row is put there (doc_id → tokens) for the caller to insert at the end
    of its transaction (``newscrawl.storage.pending``) instead of at once."""
    floor = doc_id_floor(values.get("published_at"))
    tokens = _tokens_of(values)
    postgres = connection.dialect.name == "postgresql"
    parameters = {"floor": floor, "ceiling": floor + (1 << DOC_SEQUENCE_BITS), "article_id": values["article_id"],
                  "tokens": postgres_lexemes(tokens, floor) if postgres else ""}
    # The next number of the publication second, in the insert itself. Two PostgreSQL writers storing
    # articles of the same second may pick the same number: the second one's insert waits for the first
    # to commit, does nothing, and tries again with the number after it.
    for _ in range(_ALLOCATION_ATTEMPTS):
        doc_id = connection.execute(_insert_document_statement(postgres), parameters).scalar()
        if doc_id is not None:
            break
    else:
        raise RuntimeError(f"no free doc_id for {values['article_id']} after {_ALLOCATION_ATTEMPTS} attempts")
    if postgres:
        return
    if pending is not None:
        pending[doc_id] = " ".join(tokens)
    else:
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


def unindex_article(connection: Connection, old_values: _Values, pending: dict[int, str] | None = None) -> None:
    """Remove the document of an article whose indexed columns were ``old_values`` (if it has one);
    ``pending`` as for ``index_article``."""
    doc_id = connection.execute(
        text(f"SELECT doc_id FROM {DOCUMENTS_TABLE} WHERE article_id = :article_id"),
        {"article_id": old_values["article_id"]},
    ).scalar()
    if doc_id is None:
        return
    # A document added in this transaction has no FTS5 row yet: it is dropped from the pending ones.
    unwritten = pending is not None and pending.pop(doc_id, None) is not None
    if connection.dialect.name == "sqlite" and not unwritten:
        # A contentless FTS5 table forgets a document when told the tokens it was given.
        connection.execute(
            text(f"INSERT INTO {FTS_TABLE} ({FTS_TABLE}, rowid, bigrams) VALUES ('delete', :doc_id, :tokens)"),
            {"doc_id": doc_id, "tokens": " ".join(_tokens_of(old_values))},
        )
    connection.execute(text(f"DELETE FROM {DOCUMENTS_TABLE} WHERE doc_id = :doc_id"), {"doc_id": doc_id})


def reindex_article(connection: Connection, old_values: _Values, values: _Values,
                    pending: dict[int, str] | None = None) -> None:
    """Replace an article's document when what is indexed changed; ``pending`` as for ``index_article``."""
    if all(old_values.get(name) == values.get(name) for name in INDEXED_COLUMNS):
        return
    unindex_article(connection, old_values, pending)
    index_article(connection, values, pending)


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
    postgres = not sqlite
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
            doc_id = floor + sequence[floor]
            tokens = _tokens_of(row)
            documents.append({"doc_id": doc_id, "article_id": row["article_id"],
                              "tokens": postgres_lexemes(tokens, doc_id) if postgres else " ".join(tokens)})
        connection.execute(insert_documents, documents)
        if not postgres:
            connection.execute(insert_fts, documents)
        done += len(rows)
        after = rows[-1]["article_id"]
        if progress is not None:
            progress(done, total)
    return done
