"""Search benchmark: p50/p95 query time over 100,000 synthetic Chinese articles (docs/search.md).

Fills an archive with articles whose text is made of real sentences of the finews corpus (the bodies in
../shared/replica/expected.jsonl when present, else the seed article's text from the tests), then times a
few queries: two characters (answered by a scan), four characters and a longer phrase (answered by the
trigram index), and two terms. On SQLite always; on PostgreSQL too when --pg URL is given.

    python benchmarks/search_bench.py                       # SQLite, 100,000 articles
    python benchmarks/search_bench.py --pg postgresql+psycopg://newscrawl:newscrawl@127.0.0.1:5432/bench
    python benchmarks/search_bench.py --articles 20000 --repeat 50
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from sqlalchemy import insert, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from newscrawl.storage import Archive  # noqa: E402
from newscrawl.storage.archive import ARTICLES, article_values  # noqa: E402
from newscrawl.storage.types import SITE_TZ  # noqa: E402

EXPECTED = ROOT.parent / "shared" / "replica" / "expected.jsonl"
QUERIES = [
    ("2 chars, rare", "南召"),
    ("2 chars, common", "市场"),
    ("4 chars", "政务服务"),
    ("phrase, 7 chars", "北向资金净流入"),
    ("2 terms", "人民币 汇率"),
]
BATCH = 2000


def corpus_sentences() -> list[str]:
    """Sentences of real finews text to build articles from."""
    texts: list[str] = []
    if EXPECTED.is_file():
        for line in EXPECTED.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            texts.extend(t for t in (record.get("title"), record.get("body_text")) if t)
    else:
        from test_storage import SEED_BODY_TEXT, SEED_SUMMARY, SEED_TITLE

        texts = [SEED_TITLE, SEED_SUMMARY, SEED_BODY_TEXT]
    sentences = [s + "。" for text_ in texts for s in re.split(r"[。！？]", text_) if len(s) >= 6]
    return sorted(set(sentences))


def fill(archive: Archive, count: int, sentences: list[str]) -> float:
    """Insert ``count`` synthetic articles (plus the seed) in big transactions; returns seconds taken."""
    from test_storage import T0, seed_article

    rng = random.Random(20220214)
    start = time.perf_counter()
    base = datetime(2021, 12, 1, tzinfo=SITE_TZ)
    archive.upsert_article(seed_article(), T0)
    with archive.engine.begin() as connection:
        rows: list[dict[str, Any]] = []
        for n in range(count):
            body = "".join(rng.choices(sentences, k=rng.randint(3, 12)))
            title = rng.choice(sentences)[: rng.randint(10, 30)]
            article_id = f"{202112000000000000 + n}"
            published = base + timedelta(minutes=7 * n)
            row = article_values(_article(article_id, title, body, published))
            row.update(first_seen_at=T0, last_seen_at=T0, changed_at=T0, revision=1)
            rows.append(row)
            if len(rows) == BATCH:
                connection.execute(insert(ARTICLES), rows)
                rows = []
        if rows:
            connection.execute(insert(ARTICLES), rows)
    if archive.dialect == "postgresql":
        with archive.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE articles"))
    return time.perf_counter() - start


def _article(article_id: str, title: str, body: str, published: datetime) -> Any:
    from newscrawl.items import Article

    return Article(
        article_id=article_id, url=f"https://finews.withounder.com/emnews/{article_id}.html", title=title,
        published_at=published, category="emnews", tags="东财滚动新闻", summary=body[:60], body_html=f"<p>{body}</p>",
        body_text=body, content_hash=f"bench-{article_id}",
    )


def time_queries(archive: Archive, repeat: int) -> list[tuple[str, str, int, float, float]]:
    results = []
    for label, query in QUERIES:
        archive.search(query)  # warm the cache: steady-state figures
        timings = []
        hits = 0
        for _ in range(repeat):
            start = time.perf_counter()
            hits = len(archive.search(query, limit=20))
            timings.append((time.perf_counter() - start) * 1000)
        timings.sort()
        p50 = statistics.median(timings)
        p95 = timings[min(len(timings) - 1, round(0.95 * (len(timings) - 1)))]
        results.append((label, query, hits, p50, p95))
    return results


def matching(archive: Archive, query: str) -> int:
    return len(archive.search(query, limit=10**9))


def run(db_url: str, count: int, repeat: int) -> list[tuple[str, str, int, float, float]]:
    with Archive.open(db_url) as archive:
        existing = archive.count_articles()
        if existing != count + 1:
            if existing:
                raise SystemExit(f"{make_url(db_url).render_as_string()} holds {existing} articles; use an empty one")
            seconds = fill(archive, count, corpus_sentences())
            print(f"  filled {count:,} articles in {seconds:.1f}s")
        results = time_queries(archive, repeat)
        for label, query, _, p50, p95 in results:
            print(f"  {label:<18} {query:<10} matches {matching(archive, query):>7,}   p50 {p50:8.1f} ms   "
                  f"p95 {p95:8.1f} ms")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30, help="timed runs of each query")
    parser.add_argument("--sqlite", help="SQLite file to use (default: a temporary one)")
    parser.add_argument("--pg", help="PostgreSQL URL of an empty database (or one this script filled)")
    args = parser.parse_args()

    source = "replica expected.jsonl" if EXPECTED.is_file() else "test fixture text"
    print(f"search benchmark: {args.articles:,} synthetic articles from {source}, {args.repeat} runs per query")
    with tempfile.TemporaryDirectory() as scratch:
        sqlite_path = Path(args.sqlite) if args.sqlite else Path(scratch) / "bench.sqlite3"
        print(f"SQLite {sqlite_path}")
        figures = {"sqlite": run(f"sqlite:///{sqlite_path}", args.articles, args.repeat)}
    if args.pg:
        print(f"PostgreSQL {make_url(args.pg).render_as_string()}")
        figures["postgresql"] = run(args.pg, args.articles, args.repeat)
        print("PostgreSQL / SQLite p50 ratio:")
        for (label, query, _, sqlite_p50, _), (_, _, _, pg_p50, _) in zip(
            figures["sqlite"], figures["postgresql"], strict=True
        ):
            print(f"  {label:<18} {query:<10} {pg_p50 / sqlite_p50:6.2f}x")


if __name__ == "__main__":
    main()
