"""Several crawler processes sharing one crawl through Redis (scrapy-redis): each request made once."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

import pytest
from crawling import DEMO, SITE_URL, demo_server
from sqlalchemy import create_engine, text

REDIS_URL = os.environ.get("NEWSCRAWL_TEST_REDIS_URL")
ROOT = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not REDIS_URL, reason="NEWSCRAWL_TEST_REDIS_URL is not set "
                                                   "(CI starts redis-server and sets it; see .ci/run)")]


def test_two_processes_given_one_crawl_id_share_one_crawl(db_url: str, tmp_path: Path) -> None:
    crawl_id = f"test-{uuid.uuid4().hex[:8]}"
    with demo_server() as server:
        env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
        env.update(http_proxy=server.url, NEWSCRAWL_DB_URL=db_url, NEWSCRAWL_WARC_DIR=str(tmp_path / "warc"),
                   NEWSCRAWL_REDIS_URL=str(REDIS_URL), NEWSCRAWL_REDIS_CRAWL_ID=crawl_id,
                   NEWSCRAWL_PROGRESS_INTERVAL="0",
                   NEWSCRAWL_REDIS_IDLE_SECONDS="5")
        command = [sys.executable, "-m", "scrapy", "crawl", "finews", "-s", f"NEWSCRAWL_SITE_URL={SITE_URL}",
                   "-s", "AUTOTHROTTLE_ENABLED=false", "-s", "ROBOTSTXT_OBEY=false"]
        workers = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                    text=True) for _ in range(2)]
        errors = [w.communicate(timeout=240)[1] for w in workers]
        fetched = Counter(path for _, path, status in server.log.entries if status == 200)
    assert [w.returncode for w in workers] == [0, 0], errors[0][-2000:] + errors[1][-2000:]
    # Both processes used the shared frontier (each logs its scheduler), and each ended because the crawl
    # was over (an empty frontier, every process idle), not after waiting out NEWSCRAWL_REDIS_IDLE_SECONDS.
    assert all("newscrawl.frontier.SharedFrontier" in e for e in errors)
    assert all("every process is idle: this process is done" in e for e in errors)
    # scrapy-redis's deprecated stats calls are not a warning for the user to act on (RedisFrontier).
    assert not any("ScrapyDeprecationWarning" in e for e in errors)
    repeated = {path: n for path, n in fetched.items() if n > 1}
    assert repeated == {}
    engine = create_engine(db_url)
    with engine.connect() as conn:
        ids = [r[0] for r in conn.execute(text("SELECT article_id FROM articles ORDER BY article_id"))]
    engine.dispose()
    assert ids == sorted(p.name[11:-3] for p in (DEMO / "posts").glob("*.md"))
    import redis

    client = redis.Redis.from_url(str(REDIS_URL))
    client.delete(*client.keys(f"newscrawl:finews:{crawl_id}:*") or ["none"])
