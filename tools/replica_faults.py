#!/usr/bin/env python3
"""Two faults of docs/reliability.md on the whole replica, as a user would meet them.

    python3 tools/replica_faults.py lock [--seconds 10] [--replica ../shared/replica] [--work DIR] [--json F]
    python3 tools/replica_faults.py disk [--size 16m] [--fill-at 40] [--replica …] [--work DIR] [--json F]

``lock``: ``serve.py --snapshot full`` as the proxy, ``newscrawl crawl`` into a SQLite archive with the
production timeouts; when the server's request log shows the first article page, another process takes
the archive's write lock (``BEGIN EXCLUSIVE``) and holds it ``--seconds``. Reported from the server's own
request log (its ``t`` timestamps): the requests answered while the lock was held, and those after it;
from the crawl's log: the warnings that name the wait; and the archive scored against ``expected.jsonl``.

``disk`` (needs root: it mounts a tmpfs of ``--size``): the posts folder and the WARC folder on that small
disk, which another writer fills to the last byte when the request log shows the ``--fill-at``-th article
page. Then the disk is freed and the cron command runs again. Reported: both runs' exit status and outcome,
what ``missing_outputs`` held after the first, the post files after the second (against a fresh ``newscrawl
export`` of the archive, and ``check_export.py`` when jekyll is installed), and the article pages and
origin answers in the WARC files against the archive.

Prints the figures as Markdown; ``--json`` also writes them (tests/test_replica.py reads them).
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from replica_acceptance import ARTICLE_PATH, ROOT, free_port, score, wait_for

SITE = "http://finews.withounder.com/"
WAITED = re.compile(r"WARNING: waited (\d+\.\d)s for the archive")
LOCKER = """
import sqlite3, sys, time
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN EXCLUSIVE")
print(time.time(), flush=True)
time.sleep(float(sys.argv[2]))
print(time.time(), flush=True)
connection.rollback()
"""


def article_requests(log: Path) -> list[dict[str, Any]]:
    if not log.is_file():
        return []
    lines = log.read_text("utf-8").splitlines()
    requests = [json.loads(line) for line in lines if line.strip().endswith("}")]
    return [r for r in requests if r["host"] == "finews.withounder.com" and ARTICLE_PATH.match(r["path"])
            and not r["path"].startswith("/category/")]


def on_article(log: Path, count: int, action: Callable[[], None], done: threading.Event) -> threading.Thread:
    """Run ``action`` once the server's log shows ``count`` article page requests (polled)."""

    def watch() -> None:
        while not done.is_set():
            if len(article_requests(log)) >= count:
                action()
                return
            time.sleep(0.02)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def crawl(args: argparse.Namespace, number: int, db_url: str, log: Path, port: int, *extra: str,
          during: Callable[[], None] | None = None) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    stats_file = args.work / f"stats-{number}.json"
    env.update(http_proxy=f"http://127.0.0.1:{port}", NEWSCRAWL_DB_URL=db_url, NEWSCRAWL_STATS_FILE=str(stats_file),
               NEWSCRAWL_WARC_DIR=str(args.warc), NEWSCRAWL_LOCK_FILE=str(args.work / "crawl.lock"))
    crawl_log = args.work / f"crawl-{number}.log"
    command = [sys.executable, "-m", "newscrawl", "crawl", "--site", SITE, "-s", f"LOG_FILE={crawl_log}", *extra]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    record = json.loads(stats_file.read_text("utf-8")) if stats_file.is_file() else {}
    return {"exit": done.returncode, "stdout": done.stdout.strip(), "outcome": record.get("outcome"),
            "reason": record.get("reason"), "summary": record.get("summary", {}), "stats": record.get("stats", {}),
            "log": crawl_log.read_text("utf-8", errors="replace")}


def serve(args: argparse.Namespace, log: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    server = subprocess.Popen([sys.executable, str(args.replica / "serve.py"), "--snapshot", "full",
                               "--port", str(port), "--log", str(log)], stdout=subprocess.DEVNULL)
    wait_for(port)
    return server, port


def lock_case(args: argparse.Namespace) -> dict[str, Any]:
    db_file = args.work / "archive.sqlite3"
    db_url = f"sqlite:///{db_file}"
    args.warc = args.work / "warc"
    subprocess.run([sys.executable, "-m", "newscrawl", "db", "upgrade", "--db", db_url], cwd=ROOT, check=True,
                   capture_output=True)
    log = args.work / "requests.jsonl"
    server, port = serve(args, log)
    held: list[float] = []
    stop = threading.Event()

    def take() -> None:
        locker = subprocess.Popen([sys.executable, "-c", LOCKER, str(db_file), str(args.seconds)],
                                  stdout=subprocess.PIPE, text=True)
        assert locker.stdout is not None
        held.extend(float(line) for line in locker.stdout)
        locker.wait()

    try:
        watcher = on_article(log, 1, take, stop)
        run = crawl(args, 1, db_url, log, port)
        stop.set()
        watcher.join(args.seconds + 30)
    finally:
        server.terminate()
        server.wait()
    requests = [json.loads(line) for line in log.read_text("utf-8").splitlines()]
    locked, released = held if len(held) == 2 else (float("nan"), float("nan"))
    during = [r for r in requests if locked <= r["t"] < released]
    after = [r for r in requests if r["t"] >= released]
    figures, mismatches = score(db_url, args.replica, ["full"])
    return {
        "case": "lock", "seconds": args.seconds, "exit": run["exit"], "outcome": run["outcome"],
        "summary": run["summary"], "requests": len(requests), "requests_while_locked": len(during),
        "article_pages_while_locked": sum(1 for r in during if ARTICLE_PATH.match(r["path"])),
        "origin_while_locked": sum(1 for r in during if r["host"] != "finews.withounder.com"),
        "requests_after_release": len(after),
        "waits_logged": [float(w) for w in WAITED.findall(run["log"])],
        "retries_logged": run["log"].count("database unavailable (attempt"),
        **figures, "mismatches": mismatches[:10],
    }


def fill(disk: Path) -> None:
    fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as error:
        if error.errno != errno.ENOSPC:
            raise
    finally:
        os.close(fd)


def disk_case(args: argparse.Namespace) -> dict[str, Any]:
    disk = args.work / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={args.size}", "tmpfs", str(disk)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        raise SystemExit(f"cannot mount a tmpfs (needs root): {mounted.stderr.strip()}")
    try:
        return _disk_case(args, disk)
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def _disk_case(args: argparse.Namespace, disk: Path) -> dict[str, Any]:
    from sqlalchemy import create_engine, text

    from newscrawl.export import export_archive
    from newscrawl.warc import iter_responses

    db_url = f"sqlite:///{args.work / 'archive.sqlite3'}"
    posts, args.warc = disk / "posts", disk / "warc"
    runs = []
    missing: list[tuple[str, str]] = []
    for number in (1, 2):
        log = args.work / f"requests-{number}.jsonl"
        server, port = serve(args, log)
        stop = threading.Event()
        try:
            if number == 1:
                on_article(log, args.fill_at, lambda: fill(disk), stop)
            runs.append(crawl(args, number, db_url, log, port, "--posts-dir", str(posts)))
            stop.set()
        finally:
            server.terminate()
            server.wait()
        runs[-1]["requests"] = [json.loads(line) for line in log.read_text("utf-8").splitlines()]
        if number == 1:
            engine = create_engine(db_url)
            with engine.connect() as connection:
                missing = [tuple(row) for row in connection.execute(  # type: ignore[misc]
                    text("SELECT article_id, output FROM missing_outputs ORDER BY 1, 2"))]
            engine.dispose()
            (disk / "filler").unlink()
    engine = create_engine(db_url)
    with engine.connect() as connection:
        still_missing = connection.execute(text("SELECT count(*) FROM missing_outputs")).scalar_one()
        urls = {row[0] for row in connection.execute(text("SELECT url FROM articles"))}
    engine.dispose()
    fresh = args.work / "fresh_export"
    export_archive(db_url, fresh)
    written = {p.name: p.read_bytes() for p in posts.iterdir() if p.is_file()}
    exported = {p.name: p.read_bytes() for p in fresh.iterdir()}
    responses = list(iter_responses(args.warc))
    origin_answered = {r["path"].rsplit("=", 1)[1] for run in runs for r in run["requests"]
                       if r["host"] != "finews.withounder.com" and "GetNewsText" in r["path"] and r["status"] == 200}
    check = "jekyll not installed: not run"
    if shutil.which("jekyll"):
        done = subprocess.run([sys.executable, str(args.replica / "tools" / "check_export.py"), str(posts),
                               "--replica", str(args.replica)], capture_output=True, text=True)
        lines = done.stdout.strip().splitlines()
        check = lines[-1] if lines else done.stderr[-500:]
    figures, mismatches = score(db_url, args.replica, ["full"])
    return {
        "case": "disk", "size": args.size, "fill_at": args.fill_at,
        "runs": [{"exit": r["exit"], "outcome": r["outcome"], "reason": r["reason"], "summary": r["summary"],
                  "posts_failed": r["stats"].get("newscrawl/export/failed", 0),
                  "records_failed": r["stats"].get("newscrawl/warc/failed", 0),
                  "posts_caught_up": r["stats"].get("newscrawl/export/caught_up", 0),
                  "records_caught_up": r["stats"].get("newscrawl/warc/caught_up", 0),
                  "article_200": sum(1 for q in r["requests"] if q["host"] == "finews.withounder.com"
                                     and ARTICLE_PATH.match(q["path"]) and not q["path"].startswith("/category/")
                                     and q["status"] == 200)} for r in runs],
        "missing_after_first": {"post": sum(o == "post" for _, o in missing),
                                "warc_page": sum(o == "warc_page" for _, o in missing),
                                "warc_origin": sum(o == "warc_origin" for _, o in missing)},
        "missing_after_second": still_missing,
        "post_files": len(written), "post_files_equal_fresh_export": written == exported,
        "warc_article_pages": len({r.url for r in responses if r.kind == "article"} & urls),
        "warc_article_pages_not_archived": len({r.url for r in responses if r.kind == "article"} - urls),
        "archived_articles": len(urls),
        "warc_origin_answers": len({r.url.rsplit("=", 1)[1] for r in responses if r.kind == "origin"}),
        "origin_answers_served": len(origin_answered),
        "export_check": check, **figures, "mismatches": mismatches[:10],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("case", choices=("lock", "disk"))
    ap.add_argument("--replica", type=Path, default=ROOT.parent / "shared" / "replica")
    ap.add_argument("--work", type=Path, default=Path("/tmp/newscrawl-replica-faults"))
    ap.add_argument("--seconds", type=float, default=10.0, help="lock: how long the lock is held")
    ap.add_argument("--size", default="16m", help="disk: the size of the tmpfs")
    ap.add_argument("--fill-at", type=int, default=40, help="disk: fill it at this article page request")
    ap.add_argument("--json", type=Path, help="also write the figures as JSON to this file (for tests)")
    args = ap.parse_args()
    if args.work.exists():
        shutil.rmtree(args.work)
    args.work.mkdir(parents=True)
    result = lock_case(args) if args.case == "lock" else disk_case(args)
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=1, default=str), "utf-8")
    print(f"## Replica, fault `{args.case}`\n")
    print("| figure | value |\n|---|---|")
    for key, value in result.items():
        if key not in ("mismatches", "per_field"):
            print(f"| {key} | {json.dumps(value, ensure_ascii=False, default=str)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
