"""Three workers share one crawl of the replica (serve.py --slow-ms 100); one is killed with SIGKILL mid-crawl.

The one killed is the one holding the most leases ``--kill-after`` seconds after the first request.
Prints how many of the replica's articles the survivors archived, the pages fetched twice (from serve.py's
request log), and what the survivors re-did; writes a dated JSON record under benchmarks/results/.

    python benchmarks/kill_worker_replica.py --replica ../shared/replica --redis redis://127.0.0.1:6379/10
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import harness

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replica", type=Path, required=True)
    parser.add_argument("--redis", required=True)
    parser.add_argument("--kill-after", type=float, default=2.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kill-worker-"))
    port = free_port()
    log = work / "requests.jsonl"
    server = subprocess.Popen([sys.executable, str(args.replica / "serve.py"), "--snapshot", "full", "--port",
                               str(port), "--slow-ms", "100", "--log", str(log)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
    crawl_id = f"kill-{uuid.uuid4().hex[:8]}"
    db = f"sqlite:///{work / 'archive.sqlite3'}"
    workers = []
    for n in range(3):
        env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
        env.update(http_proxy=f"http://127.0.0.1:{port}", NEWSCRAWL_REDIS_URL=args.redis,
                   NEWSCRAWL_REDIS_CRAWL_ID=crawl_id, NEWSCRAWL_WARC_DIR=str(work / "warc"),
                   NEWSCRAWL_LOCK_FILE=str(work / f"{n}.lock"), NEWSCRAWL_STATS_FILE=str(work / f"{n}.json"),
                   NEWSCRAWL_PROGRESS_INTERVAL="0")
        workers.append(subprocess.Popen([sys.executable, "-m", "newscrawl", "crawl", "--db", db,
                                         "--site", "http://finews.withounder.com/"], cwd=work, env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    started = time.monotonic()
    while not log.exists() or not log.stat().st_size:  # the crawl has begun
        time.sleep(0.05)
    time.sleep(args.kill_after)
    import redis

    client = redis.Redis.from_url(args.redis)
    holding = {int(k.decode().split(":")[-2]): client.hlen(k)
               for k in client.keys(f"newscrawl:finews:{crawl_id}:leased:*")}
    victim = max(range(3), key=lambda n: holding.get(workers[n].pid, 0))  # the one holding most leases
    workers[victim].send_signal(signal.SIGKILL)
    outputs = [w.communicate(timeout=600) for w in workers]
    wall = time.monotonic() - started
    server.terminate()
    server.wait(timeout=30)
    import sqlite3

    with sqlite3.connect(work / "archive.sqlite3") as conn:
        articles = conn.execute("SELECT COUNT(*), COUNT(DISTINCT article_id) FROM articles").fetchone()
    expected = sum(1 for line in (args.replica / "expected.jsonl").open() if line.strip())
    paths = Counter()
    for line in log.read_text().splitlines():
        entry = json.loads(line)
        paths[(entry.get("host"), entry.get("path") or entry.get("target"))] += 1
    twice = sum(1 for c in paths.values() if c == 2)
    more = sum(1 for c in paths.values() if c > 2)
    survivors = [n for n in range(3) if n != victim]
    stats = [json.loads((work / f"{n}.json").read_text())["stats"] for n in survivors]
    record = {
        "expected": expected, "archived_rows": articles[0], "archived_distinct": articles[1],
        "pages_fetched_twice": twice, "pages_fetched_more": more, "requests": sum(paths.values()),
        "kill_after_first_request_s": args.kill_after, "victim_leases": holding.get(workers[victim].pid, 0),
        "survivor_exit": [workers[n].returncode for n in survivors],
        "requeued": [int(s.get("newscrawl/redis/requeued", 0)) for s in stats],
        "taken_back": [int(s.get("newscrawl/redis/taken_back", 0)) for s in stats],
        "wall_s": round(wall, 1),
    }
    print(json.dumps(record, indent=1))
    for n in survivors:
        print(outputs[n][0].strip())
    harness.write_record("kill_worker_replica", record)


if __name__ == "__main__":
    main()
