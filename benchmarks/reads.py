"""Every read of a big archive, timed: search per query form, stats, a day's export, an incremental cron run,
the archive's size per article, and `db upgrade` of the newest migrations (docs/performance.md, "Reads at
scale").

Runs against archives made by benchmarks/big_archive.py (they are not changed, but for the replica's
articles that the cron-run figure adds, and the migration figure, taken first, which downgrades to the
revision before ``--upgrade-from`` (default: the newest migration alone) and times `newscrawl db upgrade`
back to the head, building what those migrations build anew; ``--upgrade-from 0009_bigram_search`` times
the search index's):

    python benchmarks/reads.py --sqlite /work/bench-e/100k.sqlite3 \\
        --pg postgresql+psycopg://newscrawl:newscrawl@127.0.0.1:5432/bench_e_100k
    python benchmarks/reads.py --sqlite /work/bench-e/1m.sqlite3 --skip cron,upgrade --repeat 50

Search is timed ``--repeat`` times per query after one warm-up run (``limit`` 20, snippets included), in
one process, as a library call: the figure is the query, not Python's start-up. ``stats`` and ``export`` are
timed as the command a user types (a fresh process each, start-up included), ``--repeat-commands`` times.
The cron run needs ../shared/replica (serve.py on a free loopback port): the replica is crawled in full into
the archive once, then the timed incremental run follows; the same on an empty archive gives the base. Each
run's CPU time (user + system, of the crawl process) is recorded beside its wall time: on a shared machine
it is the steadier figure. The WARC bytes per article are the empty archive's full crawl's.
Writes benchmarks/results/reads-<UTC date>-<--label or articles>.json (a later run on the same day and size updates
the figures it measured).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import harness  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from newscrawl.storage import Archive, search  # noqa: E402
from newscrawl.storage.search_index import DOC_SEQUENCE_BITS, category_token, term_tokens  # noqa: E402
from newscrawl.storage.sql import ARTICLES  # noqa: E402
from newscrawl.storage.types import SITE_TZ  # noqa: E402

REPLICA = Path(os.environ.get("NEWSCRAWL_REPLICA", ROOT.parent / "shared" / "replica"))
RESULTS = Path(__file__).resolve().parent / "results"
#: (form, query): the query forms the issue names. The filtered and the common-term forms are added
#: from the archive itself (a category and a month it has; its most common two-character word).
QUERIES = [
    ("2 characters, rare", "南召"),
    ("2 characters", "汇率"),
    ("3 characters", "人民币"),
    ("4 characters", "政务服务"),
    ("7 characters", "北向资金净流入"),
    ("two terms", "人民币 汇率"),
]
COMMON_WORDS = ["公司", "市场", "中国", "投资", "发展", "亿元", "增长"]
#: Single characters, of which some are in most articles (no two-character word is, in the corpus).
COMMON_CHARACTERS = ["的", "在", "年", "月", "日"]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def timed(action: Callable[[], object], repeat: int) -> dict[str, float]:
    action()  # warm: steady-state figures
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        timings.append((time.perf_counter() - start) * 1000)
    return {"p50_ms": round(statistics.median(timings), 1), "p95_ms": round(percentile(timings, 0.95), 1),
            "max_ms": round(max(timings), 1)}


def indexed_documents(archive: Archive, tokens: list[str]) -> int:
    """How many search documents hold every token (the index's own count; for a two-character term, the
    number of matching articles)."""
    with archive.engine.connect() as connection:
        return search.indexed_documents(connection, tokens)


def query_forms(archive: Archive) -> list[dict[str, Any]]:
    total = archive.count_articles()
    forms: list[dict[str, Any]] = [{"form": form, "query": query} for form, query in QUERIES]
    shares = {term: indexed_documents(archive, [term]) / max(total, 1) for term in COMMON_WORDS + COMMON_CHARACTERS}
    word = max(COMMON_WORDS, key=lambda term: shares[term])
    forms.append({"form": f"commonest word ({shares[word]:.0%} of articles)", "query": word})
    character = max(COMMON_CHARACTERS, key=lambda term: shares[term])
    forms.append({"form": f"term in most articles ({shares[character]:.0%})", "query": character})
    stats = archive.stats(recent_runs=0)
    categories = sorted((c for c in stats["per_category"] if c and c != "emnews"),
                        key=lambda c: -stats["per_category"][c])
    # The 180 days up to the category's median article (its newest may be one of the replica's, years from
    # the generated ones).
    with archive.engine.connect() as connection:
        in_category = ARTICLES.c.category == categories[0]
        count = connection.execute(select(func.count()).where(in_category)).scalar_one()
        last = connection.execute(select(ARTICLES.c.published_at).where(in_category)
                                  .order_by(ARTICLES.c.published_at).offset(count // 2).limit(1)).scalar_one()
    until = datetime.combine(last.date() + timedelta(days=1), datetime.min.time(), SITE_TZ)
    since = until - timedelta(days=180)
    forms.append({"form": f"with filters (category {categories[0]}, 180 days)", "query": "市场",
                  "category": categories[0], "since": since, "until": until})
    for form in forms:
        tokens = [token for term in form["query"].split() for token in term_tokens(term)]
        if "category" in form:
            tokens.append(category_token(form["category"]))
        form["indexed_documents"] = indexed_documents(archive, tokens)
    return forms


def bench_search(archive: Archive, repeat: int) -> list[dict[str, Any]]:
    results = []
    for form in query_forms(archive):
        options = {k: form[k] for k in ("category", "since", "until") if k in form}
        hits = archive.search(form["query"], **options)
        figures = timed(lambda form=form, options=options: archive.search(form["query"], **options), repeat)
        row = {**{k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in form.items()},
               "hits": len(hits), **figures}
        results.append(row)
        print(f"  search {row['form']:<48} {row['query']:<8} index {row['indexed_documents']:>9,} "
              f"hits {row['hits']:>2}  p50 {row['p50_ms']:7.1f} ms  p95 {row['p95_ms']:7.1f} ms", flush=True)
    return results


def command_time(arguments: list[str], repeat: int, env: dict[str, str] | None = None) -> dict[str, Any]:
    timings, cpu = [], []
    for _ in range(repeat):
        start, used = time.perf_counter(), _children_cpu()
        subprocess.run([sys.executable, "-m", "newscrawl", *arguments], check=True, cwd=ROOT,
                       stdout=subprocess.DEVNULL, env=env)
        timings.append(time.perf_counter() - start)
        cpu.append(_children_cpu() - used)
    return {"median_s": round(statistics.median(timings), 3), "max_s": round(max(timings), 3),
            "median_cpu_s": round(statistics.median(cpu), 3)}


def bench_commands(db_url: str, archive: Archive, repeat: int) -> dict[str, Any]:
    # Python and newscrawl's start-up alone (the parser's help), to tell it from each command's own work.
    startup = command_time(["--help"], repeat)
    stats = command_time(["stats", "--db", db_url], repeat)
    stats["library_call"] = timed(lambda: archive.stats(), repeat)
    print(f"  start-up (newscrawl --help): median {startup['median_s']:.2f} s", flush=True)
    print(f"  newscrawl stats: median {stats['median_s']:.2f} s ({stats['median_cpu_s']:.2f} s CPU), "
          f"max {stats['max_s']:.2f} s; "
          f"Archive.stats() p50 {stats['library_call']['p50_ms']:.0f} ms", flush=True)
    days = sorted(day for day in archive.stats(recent_runs=0)["per_day"] if day)
    day = days[len(days) // 2]
    posts = len(list(archive.iter_articles(datetime.fromisoformat(day).replace(tzinfo=SITE_TZ),
                                           datetime.fromisoformat(day).replace(tzinfo=SITE_TZ) + timedelta(days=1))))
    with tempfile.TemporaryDirectory() as scratch:
        # Into a new folder each time: the export writes every post (the first run of a day's export).
        timings = []
        for n in range(repeat):
            out = Path(scratch) / f"posts{n}"
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "newscrawl", "export", "--db", db_url, "--out", str(out),
                            "--since", day, "--until", day], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
            timings.append(time.perf_counter() - start)
    export = {"day": day, "posts": posts, "median_s": round(statistics.median(timings), 3),
              "max_s": round(max(timings), 3)}
    print(f"  newscrawl export --since {day} --until {day} ({posts} posts): median {export['median_s']:.2f} s",
          flush=True)
    return {"startup": startup, "stats": stats, "export_one_day": export}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cron_run(db_url: str, workdir: Path, runs: int) -> dict[str, Any]:
    """Crawl the replica in full into ``db_url``, then time ``runs`` incremental ``newscrawl crawl`` runs."""
    port = _free_port()
    server = subprocess.Popen([sys.executable, str(REPLICA / "serve.py"), "--snapshot", "full", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        env = {**os.environ, "http_proxy": f"http://127.0.0.1:{port}", "NEWSCRAWL_WARC_DIR": str(workdir / "warc"),
               "NEWSCRAWL_LOCK_FILE": str(workdir / "lock")}
        crawl = ["crawl", "--site", "http://finews.withounder.com/", "--db", db_url]
        log = workdir / "crawl.log"
        workdir.mkdir(parents=True, exist_ok=True)

        def crawl_once() -> tuple[float, float]:
            start, cpu = time.perf_counter(), _children_cpu()
            with log.open("a") as output:
                done = subprocess.run([sys.executable, "-m", "newscrawl", *crawl], cwd=ROOT, env=env,
                                      stdout=output, stderr=output)
            if done.returncode != 0:
                raise SystemExit(f"newscrawl crawl failed ({done.returncode}):\n{log.read_text()[-3000:]}")
            return time.perf_counter() - start, _children_cpu() - cpu

        full, _ = crawl_once()
        warc = sum(path.stat().st_size for path in (workdir / "warc").rglob("*") if path.is_file())
        timings, cpu = zip(*(crawl_once() for _ in range(runs)), strict=True)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {"full_s": round(full, 2), "incremental_s": [round(t, 2) for t in timings],
            "incremental_median_s": round(statistics.median(timings), 2),
            "incremental_cpu_s": [round(t, 2) for t in cpu],
            "incremental_median_cpu_s": round(statistics.median(cpu), 2),
            "warc_bytes": warc}


def _children_cpu() -> float:
    """User + system CPU seconds of the finished child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def bench_cron(db_url: str, dialect: str, runs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(dir="/tmp") as scratch:
        work = Path(scratch)
        empty_url = f"sqlite:///{work / 'empty.sqlite3'}" if dialect == "sqlite" else _fresh_pg(db_url)
        try:
            big = cron_run(db_url, work / "big", runs)
            empty = cron_run(empty_url, work / "empty", runs)
            # The empty archive's full crawl wrote the page and origin answer of every article it holds.
            with Archive.open(empty_url) as archive:
                crawled = archive.count_articles()
        finally:
            if dialect != "sqlite":
                _drop_pg(db_url, make_url(empty_url).database or "")
    ratio = big["incremental_median_s"] / empty["incremental_median_s"]
    cpu_ratio = big["incremental_median_cpu_s"] / empty["incremental_median_cpu_s"]
    print(f"  incremental cron run of the replica: big archive {big['incremental_median_s']:.2f} s "
          f"({big['incremental_median_cpu_s']:.2f} s CPU), empty archive {empty['incremental_median_s']:.2f} s "
          f"({empty['incremental_median_cpu_s']:.2f} s CPU): {ratio:.2f}x wall, {cpu_ratio:.2f}x CPU", flush=True)
    print(f"  WARC: {empty['warc_bytes'] / crawled:,.0f} bytes per article ({crawled} articles crawled)", flush=True)
    return {"big_archive": big, "empty_archive": empty, "ratio": round(ratio, 2), "cpu_ratio": round(cpu_ratio, 2),
            "warc_bytes_per_article": round(empty["warc_bytes"] / crawled)}


def _fresh_pg(db_url: str) -> str:
    from sqlalchemy import create_engine

    name = f"bench_reads_empty_{os.getpid()}"
    admin = create_engine(db_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(db_url).set(database=name).render_as_string(hide_password=False)


def _drop_pg(db_url: str, name: str) -> None:
    from sqlalchemy import create_engine

    admin = create_engine(db_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def bench_size(archive: Archive, db_url: str) -> dict[str, Any]:
    """The database's bytes per article, split into the tables' data, their indexes and the search index
    (its tables and their indexes); each object's bytes beside."""
    count = archive.count_articles()
    with archive.engine.connect() as connection:
        if archive.dialect == "postgresql":
            # pg_table_size: the table with its TOAST; pg_indexes_size: every index of it.
            rows = connection.execute(text(
                "SELECT c.relname, pg_table_size(c.oid), pg_indexes_size(c.oid) FROM pg_class c JOIN pg_namespace n "
                "ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'")).all()
            objects: dict[str, Any] = {name: {"table": int(table), "indexes": int(indexes)}
                                       for name, table, indexes in rows}
            total = int(connection.execute(text("SELECT pg_database_size(current_database())")).scalar_one())
            parts = [(name, "table", sizes["table"]) for name, sizes in objects.items()]
            parts += [(name, "index", sizes["indexes"]) for name, sizes in objects.items()]
        else:
            total = Path(make_url(db_url).database or "").stat().st_size
            owner = {name: (table, kind) for kind, name, table in connection.execute(text(
                "SELECT type, name, tbl_name FROM sqlite_schema WHERE type IN ('table', 'index')"))}
            try:
                rows = connection.execute(text("SELECT name, sum(pgsize) FROM dbstat GROUP BY name")).all()
            except Exception as error:  # dbstat is a compile-time option of SQLite
                print(f"  archive size: {total / count:,.0f} bytes per article (dbstat not available: {error})")
                return {"bytes": total, "bytes_per_article": round(total / count)}
            objects = {name: int(size) for name, size in rows}
            parts = [(*owner.get(name, (name, "table")), size) for name, size in objects.items()]
    # The FTS5 table's shadow tables (search_fts_data, ...) and search_documents' indexes are the search's.
    search = sum(size for table, _, size in parts if table.startswith("search_"))
    tables = sum(size for table, kind, size in parts if kind == "table" and not table.startswith("search_"))
    indexes = sum(size for table, kind, size in parts if kind == "index" and not table.startswith("search_"))
    per = {"bytes_per_article": round(total / count), "table_bytes_per_article": round(tables / count),
           "index_bytes_per_article": round(indexes / count), "search_bytes_per_article": round(search / count)}
    print(f"  archive size: {per['bytes_per_article']:,} bytes per article ({total / 1e9:.2f} GB): tables "
          f"{per['table_bytes_per_article']:,}, their indexes {per['index_bytes_per_article']:,}, search index "
          f"{per['search_bytes_per_article']:,}", flush=True)
    return {"bytes": total, **per, "objects": objects}


def bench_upgrade(db_url: str, first: str | None) -> dict[str, Any]:
    """Downgrade to the revision before ``first`` (default: the newest migration; untimed), then time
    `newscrawl db upgrade` back to the head: what those migrations cost an archive of this size."""
    from alembic import command
    from alembic.script import ScriptDirectory

    from newscrawl.storage.engine import create_archive_engine
    from newscrawl.storage.migrate import alembic_config, head_revision

    first = first or head_revision()
    before = str(ScriptDirectory.from_config(alembic_config()).get_revision(first).down_revision)
    engine = create_archive_engine(db_url)
    try:
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection), before)
    finally:
        engine.dispose()
    start, cpu = time.perf_counter(), _children_cpu()
    subprocess.run([sys.executable, "-m", "newscrawl", "db", "upgrade", "--db", db_url], check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL)
    seconds, cpu = time.perf_counter() - start, _children_cpu() - cpu
    print(f"  newscrawl db upgrade {before} → {head_revision()} (built anew): {seconds:.1f} s, "
          f"{cpu:.1f} s CPU in newscrawl", flush=True)
    return {"from": before, "to": head_revision(), "seconds": round(seconds, 1), "cpu_s": round(cpu, 1)}


def run(db_url: str, args: argparse.Namespace) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    if "upgrade" not in args.skip:
        # First: it also builds what the migrations build with this code, whatever wrote the archive.
        figures["upgrade"] = bench_upgrade(db_url, args.upgrade_from)
    with Archive.open(db_url) as archive:
        figures["articles"] = archive.count_articles()
        figures["dialect"] = archive.dialect
        print(f"{archive.dialect}: {figures['articles']:,} articles", flush=True)
        if "search" not in args.skip:
            figures["search"] = bench_search(archive, args.repeat)
        if "commands" not in args.skip:
            figures.update(bench_commands(db_url, archive, args.repeat_commands))
        if "size" not in args.skip:
            figures["size"] = bench_size(archive, db_url)
    if "cron" not in args.skip:
        figures["cron"] = bench_cron(db_url, figures["dialect"], args.cron_runs)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sqlite", type=Path, help="a SQLite archive made by big_archive.py")
    parser.add_argument("--pg", help="a PostgreSQL archive made by big_archive.py")
    parser.add_argument("--repeat", type=int, default=30, help="timed runs of each search")
    parser.add_argument("--repeat-commands", type=int, default=3, help="timed runs of stats and export")
    parser.add_argument("--cron-runs", type=int, default=3, help="timed incremental runs on each archive")
    parser.add_argument("--upgrade-from", help="the first migration the upgrade figure times (default: the newest)")
    parser.add_argument("--skip", default="", help="comma-separated: search,commands,size,cron,upgrade")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--label", help="the size in the result's file name (default: the number of articles)")
    args = parser.parse_args()
    args.skip = {part.strip() for part in args.skip.split(",") if part.strip()}
    if not (REPLICA / "serve.py").is_file():
        args.skip.add("cron")
        print(f"no replica at {REPLICA}: the cron-run figure is skipped")
    urls = ([f"sqlite:///{args.sqlite}"] if args.sqlite else []) + ([args.pg] if args.pg else [])
    if not urls:
        parser.error("give --sqlite and/or --pg")
    if shutil.which("nice") is None:
        print("note: run it with nice on a shared machine")
    record: dict[str, Any] = {"started": datetime.now(UTC).isoformat(timespec="seconds"), "backends": {},
                              "doc_sequence_bits": DOC_SEQUENCE_BITS, "command": " ".join(sys.argv)}
    for url in urls:
        figures = run(url, args)
        record["backends"][figures["dialect"]] = figures
    label = args.label or str(max(figures["articles"] for figures in record["backends"].values()))
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"reads-{datetime.now(UTC):%Y-%m-%d}-{label}.json"
    if path.is_file():
        # Several runs on one day at one size (a backend at a time, or a step again): one record, the
        # newest figure of each step kept, with the command of each run.
        earlier = json.loads(path.read_text(encoding="utf-8"))
        for dialect, figures in record["backends"].items():
            earlier.setdefault("backends", {}).setdefault(dialect, {}).update(figures)
        earlier.setdefault("commands", [earlier.pop("command", "")]).append(record["command"])
        record = earlier
    harness.write_record("reads", record, path=path)


if __name__ == "__main__":
    main()
