#!/usr/bin/env python3
"""The replica acceptance run: serve a snapshot, crawl it, score the archive and its export.

    python3 tools/replica_acceptance.py [--snapshots full] [--replica ../shared/replica] [--work DIR]
                                        [--fail-rate 0.0] [--db URL] [--command scrapy|newscrawl]
    python3 tools/replica_acceptance.py --snapshots day1,day2,day3,day3 --command newscrawl

Steps, exactly as a user would take them, for each snapshot of the sequence in turn (one database):
 1. ``serve.py --snapshot S --log requests-N.jsonl`` on a free loopback port, used as an HTTP proxy
    (restarted between runs, as the site changes from day to day);
 2. ``scrapy crawl finews -s NEWSCRAWL_SITE_URL=http://finews.withounder.com/`` (or ``newscrawl crawl
    --site …``, the cron command) into that database; its requests are counted from the server's log;
then, once:
 3. the archive compared field by field with ``expected.jsonl`` (reachable posts of every snapshot run);
 4. ``newscrawl export`` of that database, checked by ``tools/check_export.py`` (needs jekyll).
Prints the figures as Markdown, for docs/quality.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FIELDS = ("title", "published_at", "category", "tags", "share_url", "info_code", "summary", "source", "body_text")
WS = re.compile(r"\s+")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(port: int) -> None:
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"serve.py did not start on port {port}")


def same(field: str, expected: Any, archived: Any) -> bool:
    if field == "published_at":
        return expected is not None and archived is not None and \
            datetime.fromisoformat(expected) == _aware(archived)
    if field == "body_text":
        exp, got = WS.sub("", expected or ""), WS.sub("", archived or "")
        # An archive's body_text may leave out the summary's own text once (replica README).
        return exp == got or (bool(exp) and exp.replace(WS.sub("", archived_summary.get(got, "")), "", 1) == got)
    return (expected or None) == (archived or None)


archived_summary: dict[str, str] = {}


def _aware(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def score(db_url: str, replica: Path, snapshots: list[str]) -> tuple[dict[str, Any], list[str]]:
    from sqlalchemy import create_engine, text

    posts: set[str] = set()
    for snapshot in snapshots:
        posts |= {line.strip() for line in (replica / "snapshots" / f"{snapshot}.posts.txt").open(encoding="utf-8")}
    expected = [json.loads(line) for line in (replica / "expected.jsonl").open(encoding="utf-8")]
    expected = [e for e in expected if e["reachable"] and e["file"] in posts]
    engine = create_engine(db_url)
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(text("SELECT * FROM articles"))]
    engine.dispose()
    by_url = Counter(r["url"].replace("https://", "http://") for r in rows)
    archived = {r["url"].split("finews.withounder.com", 1)[-1]: r for r in rows}
    for r in rows:
        archived_summary[WS.sub("", r["body_text"] or "")] = r["summary"] or ""
    found = [e for e in expected if e["url"] in archived]
    mismatches: list[str] = []
    per_field: dict[str, int] = dict.fromkeys(FIELDS, 0)
    for e in found:
        row = archived[e["url"]]
        for field in FIELDS:
            if same(field, e[field], row[field]):
                per_field[field] += 1
            else:
                mismatches.append(
                    f"{e['file']} {field}: expected {str(e[field])[-80:]!r} got {str(row[field])[-80:]!r}")
    figures = {
        "expected": len(expected), "archived_rows": len(rows), "found": len(found),
        "duplicates": sum(n - 1 for n in by_url.values() if n > 1),
        "extra": len(set(archived) - {e["url"] for e in expected}),
        "per_field": {f: per_field[f] / max(1, len(found)) for f in FIELDS},
    }
    return figures, mismatches


ARTICLE_PATH = re.compile(r"^/[^?]*/\d{4}/\d{2}/\d{2}/[^/]+\.html$")


def run_one(args: argparse.Namespace, snapshot: str, number: int, db_url: str) -> dict[str, Any]:
    """Serve ``snapshot``, crawl it once into ``db_url``; the run's request counts and outcome."""
    port = free_port()
    log = args.work / f"requests-{number}-{snapshot}.jsonl"
    server = subprocess.Popen([sys.executable, str(args.replica / "serve.py"), "--snapshot", snapshot,
                               "--port", str(port), "--log", str(log), "--fail-rate", str(args.fail_rate)],
                              stdout=subprocess.DEVNULL)
    stats_file = args.work / f"stats-{number}.json"
    try:
        wait_for(port)
        env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
        env.update(http_proxy=f"http://127.0.0.1:{port}", NEWSCRAWL_DB_URL=db_url,
                   NEWSCRAWL_WARC_DIR=str(args.work / "warc"), NEWSCRAWL_STATS_FILE=str(stats_file),
                   NEWSCRAWL_LOCK_FILE=str(args.work / "crawl.lock"))
        site = "http://finews.withounder.com/"
        log_file = str(args.work / f"crawl-{number}.log")
        if args.command == "newscrawl":
            command = [sys.executable, "-m", "newscrawl", "crawl", "--site", site, "-s", f"LOG_FILE={log_file}"]
        else:
            command = [sys.executable, "-m", "scrapy", "crawl", "finews", "-s", f"NEWSCRAWL_SITE_URL={site}",
                       "-s", f"LOG_FILE={log_file}"]
        started = time.monotonic()
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        elapsed = time.monotonic() - started
    finally:
        server.terminate()
        server.wait()
    requests = [json.loads(line) for line in log.open(encoding="utf-8")]
    articles = [r for r in requests if r["host"] == "finews.withounder.com" and ARTICLE_PATH.match(r["path"])]
    record = json.loads(stats_file.read_text("utf-8")) if stats_file.is_file() else {}
    return {
        "snapshot": snapshot, "exit": done.returncode, "stdout": done.stdout.strip(), "wall_s": elapsed,
        "requests": len(requests), "statuses": dict(Counter(r["status"] for r in requests)),
        "article_200": sum(1 for r in articles if r["status"] == 200),
        "article_304": sum(1 for r in articles if r["status"] == 304),
        "origin": sum(1 for r in requests if r["host"] != "finews.withounder.com"),
        "summary": record.get("summary", {}), "outcome": record.get("outcome"),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--snapshots", default="full", help="comma-separated sequence, e.g. day1,day2,day3,day3")
    ap.add_argument("--replica", type=Path, default=ROOT.parent / "shared" / "replica")
    ap.add_argument("--work", type=Path, default=Path("/tmp/newscrawl-acceptance"))
    ap.add_argument("--fail-rate", type=float, default=0.0)
    ap.add_argument("--command", choices=("scrapy", "newscrawl"), default="scrapy")
    ap.add_argument("--db", help="database URL (default: a fresh SQLite file in --work)")
    ap.add_argument("--show", type=int, default=10, help="mismatches to print")
    ap.add_argument("--json", type=Path, help="also write the figures as JSON to this file (for tests)")
    args = ap.parse_args()
    if args.work.exists():
        shutil.rmtree(args.work)
    args.work.mkdir(parents=True)
    db_url = args.db or f"sqlite:///{args.work / 'archive.sqlite3'}"
    snapshots = args.snapshots.split(",")
    runs = [run_one(args, snapshot, n, db_url) for n, snapshot in enumerate(snapshots, start=1)]
    figures, mismatches = score(db_url, args.replica, snapshots)
    export_dir = args.work / "posts"
    subprocess.run([sys.executable, "-m", "newscrawl", "export", "--db", db_url, "--out", str(export_dir)],
                   check=True, cwd=ROOT, capture_output=True)
    check = "jekyll not installed: not run"
    if shutil.which("jekyll"):
        done = subprocess.run([sys.executable, str(args.replica / "tools" / "check_export.py"), str(export_dir),
                               "--replica", str(args.replica)], capture_output=True, text=True)
        lines = done.stdout.strip().splitlines()
        check = lines[-1] if lines else done.stderr[-500:]
    identical = re.search(r"identical article pages (\d+)/(\d+)", check)
    if args.json:
        args.json.write_text(json.dumps({
            "runs": [{k: v for k, v in run.items() if k != "stdout"} for run in runs], **figures,
            "export_identical": [int(identical.group(1)), int(identical.group(2))] if identical else None,
            "mismatches": mismatches,
        }, ensure_ascii=False, indent=1), "utf-8")
    print(f"## Replica {' → '.join(snapshots)} (fail rate {args.fail_rate}, `{args.command}`)\n")
    print("| run | snapshot | exit | outcome | requests | article pages 200 | article pages 304 | origin | "
          "new | updated | unchanged | retries | wall s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for n, run in enumerate(runs, start=1):
        summary = run["summary"]
        print(f"| {n} | {run['snapshot']} | {run['exit']} | {run['outcome']} | {run['requests']} | "
              f"{run['article_200']} | {run['article_304']} | {run['origin']} | {summary.get('new')} | "
              f"{summary.get('updated')} | {summary.get('unchanged')} | {summary.get('retries')} | "
              f"{run['wall_s']:.1f} |")
    print(f"\n- reachable posts expected: {figures['expected']}; archived: {figures['found']} "
          f"({figures['found'] / max(1, figures['expected']):.1%}); rows: {figures['archived_rows']}; "
          f"duplicates: {figures['duplicates']}; rows not expected: {figures['extra']}")
    print("\n| field | match |\n|---|---|")
    for field, rate in figures["per_field"].items():
        print(f"| {field} | {rate:.1%} |")
    print(f"\n- export check (`check_export.py`): {check}")
    if mismatches:
        print(f"\n{len(mismatches)} field mismatches, first {args.show}:")
        for line in mismatches[: args.show]:
            print("  " + line)
    return 0 if all(r["exit"] == 0 for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
