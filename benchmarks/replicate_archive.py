"""A bigger archive from a generated one, by copying its articles with later dates: a stand-in for
``big_archive.py`` at a size its storage-API writes take hours to reach on a shared 2-core machine.

Copy ``k`` of the source's articles becomes new rows with ``-<k>`` appended to ``article_id`` and ``url`` and
the publication time moved ``k`` × (the source's span) later, so the result spans ``copies`` times the dates
with the same posts per day and the same term frequencies (the text repeats every source-size articles,
which changes no index look-up). Story sketches are not copied (reads do not use them). SQLite: the search
index is rebuilt over every row with ``newscrawl.storage.search.rebuild_index`` (a contentless FTS5 table cannot be
read back). PostgreSQL: a copy's search document is its original's with the ``doc_id`` moved by the same
time (same tokens: same text, same category; each lexeme's period prefix that of the new ``doc_id``),
copied in SQL, and the GIN index built again after. Reads
measured on it are labelled as such in docs/performance.md.

    cp /work/bench-e/100k.sqlite3 /work/bench-e/1m.sqlite3
    python benchmarks/replicate_archive.py /work/bench-e/1m.sqlite3 --copies 10
    createdb -T bench_e_100k bench_e_1m
    python benchmarks/replicate_archive.py postgresql+psycopg://newscrawl:newscrawl@127.0.0.1:5432/bench_e_1m
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import harness  # noqa: E402

from newscrawl.storage import Archive  # noqa: E402
from newscrawl.storage.search import rebuild_index  # noqa: E402
from newscrawl.storage.search_index import DOC_SEQUENCE_BITS, postgres_lexemes_sql  # noqa: E402
from newscrawl.storage.summary import rebuild_counts  # noqa: E402

#: The columns copied as they are (every column of ``articles`` but the ones rewritten below).
REWRITTEN = ("article_id", "url", "published_at")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", help="a SQLite file or PostgreSQL URL of an archive made by big_archive.py "
                                     "(it is enlarged)")
    parser.add_argument("--copies", type=int, default=10, help="the result holds this many times the articles")
    args = parser.parse_args()
    if args.path.startswith("postgresql"):
        replicate_postgres(args.path, args.copies)
        return
    args.path = Path(args.path)
    started = time.perf_counter()
    connection = sqlite3.connect(args.path, isolation_level=None)
    columns = [row[1] for row in connection.execute("PRAGMA table_info(articles)")]
    kept = [name for name in columns if name not in REWRITTEN]
    first, last = connection.execute(
        "SELECT min(published_at), max(published_at) FROM articles WHERE article_id NOT LIKE '%-%'").fetchone()
    span_days = int(connection.execute("SELECT julianday(substr(?, 1, 19)) - julianday(substr(?, 1, 19))",
                                       (last, first)).fetchone()[0]) + 1
    for copy in range(1, args.copies):
        if connection.execute("SELECT 1 FROM articles WHERE article_id LIKE ? LIMIT 1", (f"%-{copy}",)).fetchone():
            continue  # done by an earlier run
        # The stored form of a time: ISO 8601 with microseconds and the site's +08:00 (docs/schema.md).
        moved = (f"strftime('%Y-%m-%dT%H:%M:%S', substr(published_at, 1, 19), '+{copy * span_days} days') "
                 "|| substr(published_at, 20)")
        connection.execute("BEGIN")
        connection.execute(
            f"INSERT INTO articles (article_id, url, published_at, {', '.join(kept)}) "
            f"SELECT article_id || '-{copy}', url || '-{copy}', {moved}, {', '.join(kept)} FROM articles "
            "WHERE article_id NOT LIKE '%-%'")
        connection.execute("COMMIT")
        print(f"  copy {copy}: {connection.execute('SELECT count(*) FROM articles').fetchone()[0]:,} articles "
              f"({time.perf_counter() - started:.0f} s)", flush=True)
    connection.close()
    with Archive.open(f"sqlite:///{args.path}") as archive, archive.engine.begin() as transaction:
        indexed = rebuild_index(transaction)
        rebuild_counts(transaction)  # article_counts, which the copies' raw inserts did not keep
    print(f"search index rebuilt over {indexed:,} articles; {time.perf_counter() - started:.0f} s in all")
    harness.write_record("replicate_archive", {"dialect": "sqlite", "copies": args.copies, "articles": indexed,
                                               "seconds": round(time.perf_counter() - started)})


def replicate_postgres(url: str, copies: int) -> None:
    from sqlalchemy import create_engine, text

    started = time.perf_counter()
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        columns = [row[0] for row in connection.execute(text(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'articles' "
            "ORDER BY ordinal_position"))]
        kept = [name for name in columns if name not in REWRITTEN]
        first, last = connection.execute(text(
            "SELECT min(published_at), max(published_at) FROM articles WHERE article_id NOT LIKE '%-%'")).one()
        span_days = (last - first).days + 1
        connection.execute(text("DROP INDEX IF EXISTS ix_search_documents_bigrams"))
        for copy in range(1, copies):
            if connection.execute(text("SELECT 1 FROM articles WHERE article_id LIKE :suffix LIMIT 1"),
                                  {"suffix": f"%-{copy}"}).first():
                continue
            days = copy * span_days
            shift = (days * 86400) << DOC_SEQUENCE_BITS
            # One statement: a copy's articles and their documents are written together or not at all.
            connection.execute(text(
                f"WITH copied AS (INSERT INTO articles (article_id, url, published_at, {', '.join(kept)}) "
                f"SELECT article_id || '-{copy}', url || '-{copy}', published_at + interval '{days} days', "
                f"{', '.join(kept)} FROM articles WHERE article_id NOT LIKE '%-%' RETURNING article_id) "
                f"INSERT INTO search_documents (doc_id, article_id, bigrams) "
                f"SELECT doc_id + {shift}, article_id || '-{copy}', "
                f"{postgres_lexemes_sql(f'doc_id + {shift}', 'bigrams')} FROM search_documents "
                "WHERE article_id NOT LIKE '%-%' AND doc_id >= :dated"), {"dated": 1 << DOC_SEQUENCE_BITS})
            count = connection.execute(text("SELECT count(*) FROM articles")).scalar_one()
            print(f"  copy {copy}: {count:,} articles ({time.perf_counter() - started:.0f} s)", flush=True)
        connection.execute(text("CREATE INDEX ix_search_documents_bigrams ON search_documents USING gin (bigrams)"))
        connection.execute(text("VACUUM ANALYZE"))
        articles = connection.execute(text("SELECT count(*) FROM articles")).scalar_one()
    engine.dispose()
    with Archive.open(url) as archive, archive.engine.begin() as transaction:
        rebuild_counts(transaction)  # article_counts, which the copies' raw inserts did not keep
    print(f"GIN index built and analysed; {time.perf_counter() - started:.0f} s in all")
    harness.write_record("replicate_archive", {"dialect": "postgresql", "copies": copies, "articles": articles,
                                               "seconds": round(time.perf_counter() - started)})


if __name__ == "__main__":
    main()
