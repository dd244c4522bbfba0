"""Several crawler processes sharing one crawl through Redis (scrapy-redis): each request made once."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

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


# -- leases: a worker that dies loses nothing ------------------------------------------------------------


def slow_site(seconds: float) -> Any:
    """A hook that makes every answer of the test site take ``seconds`` (the server answers in threads)."""
    def hook(host: str, target: str, headers: dict[str, str]) -> None:
        time.sleep(seconds)
    return hook


def start_workers(server: Any, db_url: str, tmp_path: Path, crawl_id: str, count: int,
                  extra_env: dict[str, str] | None = None, extra_args: tuple[str, ...] = ()) -> list[Any]:
    """``count`` processes of `newscrawl crawl` sharing one crawl; each its own lock and stats file."""
    workers = []
    for n in range(count):
        env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
        env.update(http_proxy=server.url, NEWSCRAWL_WARC_DIR=str(tmp_path / "warc"),
                   NEWSCRAWL_REDIS_URL=str(REDIS_URL), NEWSCRAWL_REDIS_CRAWL_ID=crawl_id,
                   NEWSCRAWL_PROGRESS_INTERVAL="0", NEWSCRAWL_LOCK_FILE=str(tmp_path / f"{crawl_id}-{n}.lock"),
                   NEWSCRAWL_STATS_FILE=str(tmp_path / f"{crawl_id}-{n}.json"),
                   NEWSCRAWL_REDIS_LEASE_SECONDS="1", NEWSCRAWL_REDIS_IDLE_SECONDS="10", **(extra_env or {}))
        command = [sys.executable, "-m", "newscrawl", "crawl", "--site", SITE_URL, "--db", db_url,
                   "-s", "AUTOTHROTTLE_ENABLED=false", "-s", "ROBOTSTXT_OBEY=false", *extra_args]
        workers.append(subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True))
    return workers


def fresh_database(db_url: str, tmp_path: Path, n: int) -> tuple[str, str | None]:
    """An empty archive database of ``db_url``'s backend: (its URL, its name to drop on PostgreSQL)."""
    if db_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / f'round-{n}.sqlite3'}", None
    from conftest import PG_URL, _fresh_pg_database

    return _fresh_pg_database(str(PG_URL))


def drop_database(name: str | None) -> None:
    if name is not None:
        from conftest import PG_URL, _drop_pg_database

        _drop_pg_database(str(PG_URL), name)


def forget_crawl(crawl_id: str) -> None:
    import redis

    client = redis.Redis.from_url(str(REDIS_URL))
    client.delete(*client.keys(f"newscrawl:finews:{crawl_id}:*") or ["none"])


def leaseholders(crawl_id: str) -> set[int]:
    """The process ids of the workers of ``crawl_id`` that hold leased requests now."""
    import redis

    client = redis.Redis.from_url(str(REDIS_URL))
    keys = client.keys(f"newscrawl:finews:{crawl_id}:leased:*")
    return {int(key.decode().split(":")[-2]) for key in keys if client.hlen(key)}


def archived(db_url: str) -> tuple[list[str], int]:
    """The article ids archived (one per row), and how many revisions they have."""
    engine = create_engine(db_url)
    with engine.connect() as conn:
        ids = [r[0] for r in conn.execute(text("SELECT article_id FROM articles ORDER BY article_id"))]
        revisions = conn.execute(text("SELECT COUNT(*) FROM article_revisions")).scalar_one()
    engine.dispose()
    return ids, int(revisions)


def test_a_worker_killed_mid_crawl_loses_nothing(db_url: str, tmp_path: Path) -> None:
    # Three workers share each crawl; one is killed outright (SIGKILL) at a random moment of it, ten times
    # (three on PostgreSQL: the leases are the same, only the upserts differ). The survivors re-do what the
    # dead one had leased: every article archived in that same crawl, one row each, no new revision, and no
    # page fetched more than twice (once by the dead worker).
    expected = sorted(p.name[11:-3] for p in (DEMO / "posts").glob("*.md"))
    rng = random.Random(27)
    requeued_total = 0
    for n in range(10 if db_url.startswith("sqlite") else 3):
        url, name = fresh_database(db_url, tmp_path, n)
        crawl_id = f"test-{uuid.uuid4().hex[:8]}"
        try:
            with demo_server(hook=slow_site(0.1)) as server:
                workers = start_workers(server, url, tmp_path, crawl_id, 3)
                deadline = time.monotonic() + 60
                while not server.log.entries and time.monotonic() < deadline:  # the crawl has begun
                    time.sleep(0.05)
                time.sleep(rng.uniform(0, 1.0))
                # The victim: a worker holding leases at that moment, if any (else any worker).
                holding = leaseholders(crawl_id)
                candidates = [i for i, w in enumerate(workers) if w.pid in holding] or [0, 1, 2]
                victim = rng.choice(candidates)
                workers[victim].send_signal(signal.SIGKILL)
                outputs = [w.communicate(timeout=120) for w in workers]
                fetched = Counter(path for _, path, _ in server.log.entries)
            survivors = [i for i in range(3) if i != victim]
            assert [workers[i].returncode for i in survivors] == [0, 0], "\n---\n".join(
                outputs[i][0] + outputs[i][1][-3000:] for i in survivors)
            ids, revisions = archived(url)
            assert ids == expected, f"round {n}"
            assert revisions == 0, f"round {n}"  # a page stored twice is unchanged the second time
            assert max(fetched.values()) <= 2, f"round {n}: {fetched.most_common(3)}"
            for i in survivors:
                stats = json.loads((tmp_path / f"{crawl_id}-{i}.json").read_text("utf-8"))["stats"]
                requeued = int(stats.get("newscrawl/redis/requeued", 0))
                requeued_total += requeued
                # The run summary of a worker that re-did requests says so.
                assert (f"re-queued from a dead worker: {requeued}" in outputs[i][0]) == (requeued > 0)
        finally:
            drop_database(name)
            forget_crawl(crawl_id)
    assert requeued_total > 0  # the rounds did kill workers holding leases


def test_a_worker_held_by_a_slow_database_keeps_its_leases(db_url: str, tmp_path: Path) -> None:
    # Once the crawl has begun, the test holds the archive's write lock for 6 s, six leases: the workers'
    # storage waits for it (on the database thread). A worker that waits is
    # slow, not dead: its lease is renewed meanwhile, nobody takes its requests, every page is fetched once.
    crawl_id = f"test-{uuid.uuid4().hex[:8]}"
    engine = create_engine(db_url)
    try:
        with demo_server(hook=slow_site(0.1)) as server:
            workers = start_workers(server, db_url, tmp_path, crawl_id, 2)
            deadline = time.monotonic() + 60
            while not server.log.count(path_contains="/20") and time.monotonic() < deadline:  # an article
                time.sleep(0.02)
            with engine.connect() as conn:
                if db_url.startswith("sqlite"):
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                else:
                    conn.execute(text("BEGIN"))
                    conn.execute(text("LOCK TABLE articles IN ACCESS EXCLUSIVE MODE"))
                time.sleep(6)
                conn.rollback()
            outputs = [w.communicate(timeout=180) for w in workers]
            fetched = Counter(path for _, path, _ in server.log.entries)
        assert [w.returncode for w in workers] == [0, 0], [o[1][-2000:] for o in outputs]
        assert {p: c for p, c in fetched.items() if c > 1} == {}
        for i in range(2):
            stats = json.loads((tmp_path / f"{crawl_id}-{i}.json").read_text("utf-8"))["stats"]
            assert "newscrawl/redis/taken_back" not in stats and "newscrawl/redis/requeued" not in stats
        ids, _ = archived(db_url)
        assert ids == sorted(p.name[11:-3] for p in (DEMO / "posts").glob("*.md"))
    finally:
        engine.dispose()
        forget_crawl(crawl_id)
