"""Helpers for tests that run real crawls: the demo site on a loopback server used as a proxy, and a
crawl run in a child process (a Twisted reactor runs once per process), reporting its stats."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from newscrawl.demo.server import SiteServer

DEMO = Path(__file__).resolve().parent.parent / "newscrawl" / "demo"
SITE_URL = "http://finews.withounder.com/"
# The ids of the demo site's nine posts: what a complete crawl of it archives.
DEMO_IDS = sorted(p.name[11:-3] for p in (DEMO / "posts").glob("*.md"))


def query(db_url: str, sql: str) -> list[dict[str, Any]]:
    """Rows of a plain SQL query on the archive, as dicts: what a downstream reader sees."""
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(text(sql))]
    finally:
        engine.dispose()


@dataclass
class CrawlResult:
    returncode: int
    stdout: str
    stderr: str
    stats: dict[str, Any]
    summary: dict[str, Any]


def crawl(server: SiteServer, db_url: str, tmp_path: Path, *extra: str, env: dict[str, str] | None = None,
          command: str = "crawl") -> CrawlResult:
    """Run ``newscrawl crawl`` against ``server`` (as the site's proxy) and return what it reported."""
    stats_file = tmp_path / f"stats-{len(list(tmp_path.glob('stats-*.json')))}.json"
    child_env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    child_env.update({
        "http_proxy": server.url,
        "NEWSCRAWL_WARC_DIR": str(tmp_path / "warc"),
        "NEWSCRAWL_LOCK_FILE": str(tmp_path / "crawl.lock"),
        "NEWSCRAWL_STATS_FILE": str(stats_file),
        "NEWSCRAWL_PROGRESS_INTERVAL": "0",
    })
    child_env.update(env or {})
    args = [sys.executable, "-m", "newscrawl", command, "--site", SITE_URL, "--db", db_url,
            "-s", "AUTOTHROTTLE_ENABLED=false", "-s", "LOG_LEVEL=INFO", *extra]
    done = subprocess.run(args, capture_output=True, text=True, env=child_env, timeout=240, cwd=tmp_path)
    record = json.loads(stats_file.read_text("utf-8")) if stats_file.is_file() else {}
    return CrawlResult(done.returncode, done.stdout, done.stderr, record.get("stats", {}), record.get("summary", {}))


def demo_server(**kwargs: Any) -> SiteServer:
    return SiteServer(DEMO / "site", DEMO / "origin", **kwargs)
