#!/usr/bin/env python3
"""Where ``newscrawl import --git``'s CPU goes, per post file: its steps, SQLite's own work, compiled code.

    python benchmarks/import_costs.py                    # 2,000 posts
    python benchmarks/import_costs.py --posts 2000 --mypyc

On the history ``import_git.py`` generates (cached under ``--work``), each in a fresh SQLite archive and a
child process:

* **steps**: the import with ``time.process_time`` around each of its steps (the functions in ``STEPS``);
* **SQLite's own work**: the import again, every statement it sends (with its values) recorded through
  SQLAlchemy's ``before_cursor_execute`` event, then the same statements replayed with the ``sqlite3``
  module alone into a copy of the empty archive: what the database costs without SQLAlchemy or any
  Python building the values; split by table;
* ``--mypyc``: the hottest modules of newscrawl (``COMPILED``) compiled to C with mypyc (needs a C compiler
  and mypy, which the ``dev`` extra installs) in a copy of the package, and the import run with that copy
  and with this checkout alternately (ABBA): what compiling the project's own Python would give.

Prints the figures and writes a dated record. See docs/import.md, "Speed and memory".
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import harness
import import_git

ROOT = Path(__file__).resolve().parent.parent

#: (module, attribute) timed in the steps run, and the name each is shown under. Nested steps (the
#: sketches compared are part of linking) are shown indented.
STEPS = [
    ("newscrawl.importer.run", "read_post", "reading the post (git blob, YAML, Markdown, parse_article)"),
    ("newscrawl.importer.processing", "normalise", "normalising (content hash, simhash)"),
    ("newscrawl.importer.processing.StoryLinker", "link", "story linking"),
    ("newscrawl.storage.stories.StoryQueries", "story_twins", "  twins by id or content hash (a query)"),
    ("newscrawl.linking", "worth_comparing", "  neighbours' sketches compared"),
    ("newscrawl.linking.StoryText", "of", "  the post's own sketch"),
    ("newscrawl.storage.articles.ArticleStore", "upsert_imported", "storing (rows, search document)"),
    ("newscrawl.storage.pending.PendingWrites", "write", "rows written at each batch's end (FTS5 ...)"),
]

#: The modules compiled by --mypyc: those whose own lines the steps run most.
COMPILED = ["newscrawl/stories.py", "newscrawl/linking.py", "newscrawl/importer/markdown.py",
            "newscrawl/importer/post.py", "newscrawl/parsers/text.py", "newscrawl/revisions.py",
            "newscrawl/storage/search_index.py"]

CHILD = r"""
import importlib, json, pickle, sys, time
from collections import Counter
from pathlib import Path
from newscrawl.importer.run import Importer
from newscrawl.storage import Archive
mode, db, repo, extra = sys.argv[1], sys.argv[2], Path(sys.argv[3]), sys.argv[4]
archive = Archive.open(db)
spent = Counter()
def timed(owner, name, label):
    original = getattr(owner, name)
    def wrapper(*args, **kwargs):
        started = time.process_time()
        try:
            return original(*args, **kwargs)
        finally:
            spent[label] += time.process_time() - started
    setattr(owner, name, wrapper)
if mode == "steps":
    for path, name, label in json.loads(extra):
        try:
            owner = importlib.import_module(path)
        except ModuleNotFoundError:
            module, _, cls = path.rpartition(".")
            owner = getattr(importlib.import_module(module), cls)
        timed(owner, name, label)
statements = []
if mode == "capture":
    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    def plain(value):
        return bytes(value) if isinstance(value, memoryview) else value
    @event.listens_for(Engine, "before_cursor_execute")
    def record(conn, cursor, statement, parameters, context, executemany):
        values = [tuple(map(plain, row)) for row in parameters] if executemany else tuple(map(plain, parameters))
        statements.append((statement, values, executemany))
    @event.listens_for(Engine, "commit")
    def committed(conn):
        statements.append(("COMMIT", (), False))  # the driver's own commit is no cursor statement
    @event.listens_for(Engine, "rollback")
    def rolled_back(conn):
        statements.append(("ROLLBACK", (), False))
profile = None
if mode == "profile":
    import cProfile
    profile = cProfile.Profile()
    profile.enable()
cpu = time.process_time()
report = Importer(archive, "https://finews.withounder.com/").import_git(repo)
cpu = time.process_time() - cpu
archive.close()
if profile is not None:
    import pstats
    profile.disable()
    for (path, _, function), (_, _, own, _, _) in pstats.Stats(profile).stats.items():
        if path == "~":  # a function written in C: its own name says whose
            owner = function.split("'")[3].split(".")[0] if function.count("'") >= 4 else function
            spent["C: " + owner] += own
        else:
            parts = path.split("/")
            owner = parts[parts.index("site-packages") + 1] if "site-packages" in parts else \
                "newscrawl" if "newscrawl" in parts else "Python's standard library"
            spent[owner.split(".")[0]] += own
if mode == "capture":
    with open(extra, "wb") as out:
        pickle.dump(statements, out)
print(json.dumps({"files": report.files, "cpu_s": cpu, "steps": spent}))
"""


def child(mode: str, db: Path, repo: Path, extra: str = "", pythonpath: Path = ROOT) -> dict[str, Any]:
    for stale in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        stale.unlink(missing_ok=True)
    done = subprocess.run([sys.executable, "-c", CHILD, mode, f"sqlite:///{db}", str(repo), extra],
                          cwd=tempfile.gettempdir(), env={**os.environ, "PYTHONPATH": str(pythonpath)},
                          capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"import failed: {done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def empty_archive(work: Path) -> Path:
    """A fresh archive at the schema's head, copied whole (WAL included) through SQLite's backup API."""
    from newscrawl.storage import Archive

    made, copy = work / "empty-made.sqlite3", work / "empty.sqlite3"
    for stale in (made, copy):
        stale.unlink(missing_ok=True)
    Archive.open(f"sqlite:///{made}").close()
    with sqlite3.connect(made) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    return copy


def replay(statements: list[tuple[str, Any, bool]], empty: Path, work: Path) -> tuple[float, dict[str, float]]:
    """The statements sent again with the sqlite3 module alone: CPU seconds in all and per table."""
    db = work / "replay.sqlite3"
    shutil.copy(empty, db)
    connection = sqlite3.connect(db, isolation_level=None)  # the recorded BEGIN/COMMIT are the transactions
    connection.execute("PRAGMA journal_mode=WAL")
    per_table: dict[str, float] = {}
    total = 0.0
    for statement, values, many in statements:
        started = time.process_time()
        if many:
            connection.executemany(statement, values)
        else:
            connection.execute(statement, values).fetchall()
        spent = time.process_time() - started
        total += spent
        per_table[_table(statement)] = per_table.get(_table(statement), 0.0) + spent
    connection.close()
    return total, per_table


def _table(statement: str) -> str:
    words = statement.replace("(", " ").split()
    for keyword in ("INTO", "FROM", "UPDATE"):
        if keyword in words and words.index(keyword) + 1 < len(words):
            return words[words.index(keyword) + 1]
    return words[0] if words else "?"


def compiled_copy(work: Path) -> Path:
    """A copy of the package with ``COMPILED`` built by mypyc beside their sources."""
    copy = work / "mypyc"
    if copy.exists():
        shutil.rmtree(copy)
    shutil.copytree(ROOT / "newscrawl", copy / "newscrawl")
    mypyc = shutil.which("mypyc") or str(Path(sys.executable).with_name("mypyc"))
    done = subprocess.run([mypyc, *COMPILED], cwd=copy, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"mypyc failed: {done.stdout[-2000:]}{done.stderr[-2000:]}")
    return copy


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--posts", type=int, default=2000)
    ap.add_argument("--work", type=Path, default=Path("/tmp/newscrawl-import-bench"))
    ap.add_argument("--mypyc", action="store_true", help="also compare with mypyc-compiled modules (ABBA)")
    args = ap.parse_args()
    if shutil.which("git") is None:
        raise SystemExit("needs the git program")
    args.work.mkdir(parents=True, exist_ok=True)
    repo = args.work / f"site-{args.posts}"
    if not (repo / ".git").is_dir():
        shutil.rmtree(repo, ignore_errors=True)
        import_git.generate(repo, args.posts)
    db = args.work / "costs.sqlite3"
    record: dict[str, Any] = {"posts": args.posts}

    steps = child("steps", db, repo, json.dumps(STEPS))
    files, cpu = int(steps["files"]), float(steps["cpu_s"])
    per_file = {label: 1000 * float(spent) / files for label, spent in steps["steps"].items()}
    print(f"import of {files} post files: {1000 * cpu / files:.3f} ms of CPU a file "
          f"({files / cpu:.0f} files per CPU s; the step timers add their own cost)")
    for _, _, label in STEPS:
        print(f"  {label:62s} {per_file.get(label, 0.0):.3f} ms")
    record["steps"] = {"files": files, "cpu_ms_per_file": 1000 * cpu / files, "per_file_ms": per_file}

    profiled = child("profile", db, repo)
    shares = sorted(profiled["steps"].items(), key=lambda item: -item[1])
    whole = sum(spent for _, spent in shares)
    print("Whose code the CPU is spent in (cProfile, own time; the profiler slows calls, not C loops):")
    for owner, spent in shares[:12]:
        print(f"  {owner:62s} {100 * spent / whole:5.1f} %")
    record["profile_shares"] = {owner: spent / whole for owner, spent in shares}

    captured = args.work / "statements.pickle"
    recording = child("capture", db, repo, str(captured))
    with captured.open("rb") as stream:
        statements = pickle.load(stream)
    total, per_table = replay(statements, empty_archive(args.work), args.work)
    print(f"SQLite's own work (the import's {len(statements)} statements replayed with sqlite3 alone): "
          f"{1000 * total / files:.3f} ms a file")
    for table, spent in sorted(per_table.items(), key=lambda item: -item[1])[:6]:
        print(f"  {table:62s} {1000 * spent / files:.3f} ms")
    record["sqlite"] = {"statements": len(statements), "ms_per_file": 1000 * total / files,
                        "per_table_ms": {table: 1000 * spent / files for table, spent in per_table.items()},
                        "import_cpu_ms_per_file_while_recording": 1000 * float(recording["cpu_s"]) / files}

    if args.mypyc:
        copy = compiled_copy(args.work)
        runs: dict[str, list[float]] = {"checkout": [], "mypyc": []}
        for name in ("checkout", "mypyc", "mypyc", "checkout"):
            result = child("plain", db, repo, pythonpath=ROOT if name == "checkout" else copy)
            runs[name].append(1000 * float(result["cpu_s"]) / int(result["files"]))
        ratio = sum(runs["checkout"]) / sum(runs["mypyc"])
        print(f"mypyc ({len(COMPILED)} modules compiled), ABBA: checkout {runs['checkout']} ms, "
              f"compiled {runs['mypyc']} ms a file: {ratio:.2f}x")
        record["mypyc"] = {"modules": COMPILED, "ms_per_file": runs, "speedup": ratio}
    harness.write_record("import-costs", record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
