"""Client CPU and Redis commands per request of the shared frontier, with leases and without.

Without: newscrawl/frontier.py as of a git revision (default ``main`` before leases; pass --before). With:
the working tree's. One process's frontier against a real Redis, driven as a crawl drives it: each request
taken is "done" at once, and finds six links of which one was found before. Alternating runs; prints the
figures and writes a dated JSON record under benchmarks/results/.

    python benchmarks/frontier_leases.py --redis redis://127.0.0.1:6379/10 --before e83bd7e
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from scrapy import Request, Spider
from scrapy.utils.test import get_crawler

ROOT = Path(__file__).resolve().parent.parent


class Pages(Spider):
    name = "finews"

    def parse(self, response: Any, **kwargs: Any) -> None:
        pass


def load(revision: str | None) -> ModuleType:
    if revision is None:
        from newscrawl import frontier

        return frontier
    source = subprocess.run(["git", "show", f"{revision}:newscrawl/frontier.py"], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout
    path = Path(tempfile.mkdtemp()) / "frontier_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("frontier_before", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["frontier_before"] = module
    spec.loader.exec_module(module)
    return module


def run(module: ModuleType, redis_url: str, requests: int) -> dict[str, float]:
    crawl_id = f"bench-{uuid.uuid4().hex[:8]}"
    crawler = get_crawler(Pages, {"NEWSCRAWL_REDIS_URL": redis_url, "NEWSCRAWL_REDIS_CRAWL_ID": crawl_id,
                                  "ADDONS": {"newscrawl.addons.RedisFrontier": 0}})
    spider = crawler.spider = Pages.from_crawler(crawler)
    frontier = module.SharedFrontier.from_crawler(crawler)
    frontier.open(spider)
    calls = [0]
    execute = frontier.server.execute_command

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return execute(*args, **kwargs)

    frontier.server.execute_command = counted
    found = 0
    frontier.enqueue_request(Request("http://finews.example/0.html", callback=spider.parse))
    cpu = time.process_time()
    done = 0
    while done < requests:
        request = frontier.next_request()
        if request is None:
            break
        done += 1
        for _ in range(6):  # its links: five new, one found before
            found += 1
            n = found if found % 6 else found - 3
            frontier.enqueue_request(Request(f"http://finews.example/{n}.html", callback=spider.parse,
                                             meta={"kind": "article"}))
    cpu = time.process_time() - cpu
    frontier.server.execute_command = execute
    frontier.close("finished")
    frontier.server.delete(*frontier.server.keys(f"newscrawl:finews:{crawl_id}:*") or ["none"])
    return {"client_cpu_us_per_request": round(1e6 * cpu / done, 1), "redis_calls_per_request": calls[0] / done}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", required=True)
    parser.add_argument("--before", default="main")
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    variants = {"before": load(args.before), "after": load(None)}
    results: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
    for _ in range(args.rounds):
        for name, module in variants.items():
            results[name].append(run(module, args.redis, args.requests))
    record = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "machine": platform.node(),
              "commit": subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                                       text=True).stdout.strip(), "before": args.before,
              "requests": args.requests, "results": results}
    print(json.dumps(record, indent=1))
    out = ROOT / "benchmarks" / "results" / f"frontier_leases-{datetime.now(UTC):%Y-%m-%d}.json"
    out.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
