"""Fault suite, database faults (docs/reliability.md, case 7): the archive is locked, or goes away, in the
middle of a crawl.

* Locked (or away) for a while: the pipelines wait for it (pauses that do not block the crawl), the
  log and the stats say so, and when it is back nothing that was fetched is missing.
* Locked for 10 s with the production timeouts (SQLite's 60 s busy timeout, no PostgreSQL lock timeout):
  the database thread waits, the downloads do not; one warning names the wait.
* Locked for longer than NEWSCRAWL_DB_RETRY_SECONDS: the crawl stops, the run fails loudly (exit 1,
  ``crawl_runs.outcome = failed``, the reason in the summary), and the next run archives everything.

The lock is taken by another client when the server is first asked for an article page (so no article
is stored before it) and released when the crawler's log says it met it: no sleeps. SQLite is locked by
an exclusive transaction; its busy timeout is scaled down in the crawl child from 60 s to 0.5 s (as the
download timeout is elsewhere in the suite). PostgreSQL is locked with ``LOCK TABLE articles IN ACCESS
EXCLUSIVE MODE`` and the crawler connects with ``lock_timeout=500ms``; it is also cut off entirely by a
TCP relay that resets every connection, then restored.
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import PG_URL
from crawling import query
from faults import (
    DEMO_IDS,
    DEMO_ORIGIN_IDS,
    SITE_HOST,
    CrawlResult,
    DatabaseLock,
    FaultServer,
    RunningCrawl,
    TcpRelay,
    archived,
    clean_rows,
    content,
    crawl,
    crawler_db_url,
    start_crawl,
)
from sqlalchemy.engine import make_url

pytestmark = pytest.mark.slow

ARTICLE_PAGE = re.compile(r"^/[^/]+/\d{4}/\d{2}/\d{2}/[^/]+\.html$")
WAITED = r"database unavailable \(attempt 1\), (storing|finding the story of) "


def start(server: FaultServer, db_url: str, workdir: Path, *extra: str) -> RunningCrawl:
    return start_crawl(server, crawler_db_url(db_url), workdir, *extra, sqlite_busy_timeout=0.5)


def on_first_article(server: FaultServer, action: Any) -> threading.Event:
    """Run ``action()`` in the server thread when the first article page is asked for, before answering.

    Article requests that arrive while it runs wait for it: otherwise a second page could be answered,
    parsed and stored before the action (taking a lock) is done, which a slow machine makes likely.
    """
    done = threading.Event()
    running = threading.Lock()

    def hook(host: str, target: str, headers: dict[str, str]) -> None:
        with running:
            if not done.is_set():
                action()
                done.set()

    server.rule(lambda host, target: host == SITE_HOST and bool(ARTICLE_PAGE.match(target)) and not done.is_set(),
                hook)
    return done


def assert_waited_and_lost_nothing(result: CrawlResult, db_url: str) -> None:
    assert result.returncode == 0 and result.outcome == "ok", result.log[-3000:]
    assert {k: content(v) for k, v in archived(db_url).items()} == clean_rows()
    assert result.summary["dropped"] == {} and "newscrawl/store/failed" not in result.stats
    # Every wait is in the log, once per attempt, and counted by the pipeline that waited.
    attempts = len(re.findall(r"database unavailable \(attempt \d+\)", result.log))
    assert attempts >= 1
    assert result.stats.get("newscrawl/store/retried", 0) + result.stats.get("newscrawl/dedupe/retried", 0) \
        == attempts
    assert [r["outcome"] for r in query(db_url, "SELECT outcome FROM crawl_runs")] == ["ok"]


def test_database_locked_for_a_while_costs_a_wait_not_an_article(db_url: str, tmp_path: Path) -> None:
    lock = DatabaseLock(db_url)
    with FaultServer() as server:
        taken = on_first_article(server, lock.take)
        running = start(server, db_url, tmp_path)
        try:
            running.wait_for_log(WAITED)
            assert taken.is_set() and lock.held
        finally:
            lock.release()
        result = running.finish()
    assert_waited_and_lost_nothing(result, db_url)


def test_database_locked_too_long_fails_the_run_and_the_next_run_archives_everything(
        db_url: str, tmp_path: Path) -> None:
    lock = DatabaseLock(db_url)
    with FaultServer() as server:
        on_first_article(server, lock.take)
        running = start(server, db_url, tmp_path, "-s", "NEWSCRAWL_DB_RETRY_SECONDS=2")
        try:
            running.wait_for_log(r"the database stayed unavailable for 2s: stopping the crawl")
        finally:
            lock.release()
        first = running.finish()
        after_first = set(archived(db_url))
        first_requests = len(server.requests())
        second = crawl(server, crawler_db_url(db_url), tmp_path)
        second_run = server.requests()[first_requests:]
    # Loudly: exit status 1, a failed run record, the reason in the summary line.
    assert first.returncode == 1 and first.outcome == "failed", first.log[-3000:]
    not_stored = first.stats["newscrawl/store/failed"]
    assert not_stored >= 1 and first.summary["dropped"]["database_unavailable"] == not_stored
    assert first.reason == (f"{not_stored} article(s) could not be stored (database unavailable); "
                            "the next run fetches them again")
    assert first.stdout.startswith("newscrawl crawl: failed: ") and first.reason in first.stdout
    assert first.log.count("not stored, the next run fetches it again: ") == not_stored
    assert first.stats["finish_reason"] == "database_unavailable"
    # Nothing was stored while the lock was held, and nothing is missing after the next run.
    assert after_first == set()
    assert second.returncode == 0 and second.outcome == "ok", second.log[-3000:]
    assert {k: content(v) for k, v in archived(db_url).items()} == clean_rows()
    article_answers = sorted(s for _, t, s in second_run if ARTICLE_PAGE.match(t) and "/category/" not in t)
    assert article_answers == [200] * len(DEMO_IDS)  # all fetched again, in full: none had been archived
    assert [r["outcome"] for r in query(db_url, "SELECT outcome FROM crawl_runs ORDER BY run_id")] == ["failed", "ok"]


@pytest.mark.postgres
def test_postgres_gone_for_a_while_costs_a_wait_not_an_article(tmp_path: Path) -> None:
    if not PG_URL:
        pytest.skip("NEWSCRAWL_TEST_PG_URL is not set (CI sets it; see .ci/run)")
    from conftest import _drop_pg_database, _fresh_pg_database

    db_url, name = _fresh_pg_database(PG_URL)
    target = make_url(db_url)
    relay = TcpRelay(target.host or "127.0.0.1", target.port or 5432)
    through_relay = target.set(host="127.0.0.1", port=relay.port).render_as_string(hide_password=False)
    try:
        with FaultServer() as server:
            on_first_article(server, relay.cut)
            running = start(server, through_relay, tmp_path)
            try:
                running.wait_for_log(WAITED)
                assert relay.is_cut
            finally:
                relay.restore()
            result = running.finish()
        assert_waited_and_lost_nothing(result, db_url)
    finally:
        relay.close()
        _drop_pg_database(PG_URL, name)


LOCK_SECONDS = 10.0
SLOW_WARNING = re.compile(r"waited (\d+\.\d)s for the archive \(locked by another process\?\) while (.+?); "
                          r"downloads went on meanwhile")


def test_a_lock_held_for_10s_pauses_no_download_and_is_named_once(db_url: str, tmp_path: Path) -> None:
    # Production timeouts: the crawl child keeps SQLite's 60 s busy timeout and has no PostgreSQL
    # lock_timeout, so the database call that meets the lock simply waits the 10 s out.
    lock = DatabaseLock(db_url)
    held: dict[str, float] = {}
    released = threading.Event()

    def take_for_a_while() -> None:
        lock.take()
        held["from"] = time.monotonic()

        def release() -> None:
            held["until"] = time.monotonic()
            lock.release()
            released.set()

        threading.Timer(LOCK_SECONDS, release).start()

    with FaultServer() as server:
        on_first_article(server, take_for_a_while)
        result = start_crawl(server, db_url, tmp_path).finish()
        assert released.wait(LOCK_SECONDS + 30)
        arrivals = list(server.arrivals)
    assert result.returncode == 0 and result.outcome == "ok", result.log[-3000:]
    # Requests kept flowing while the lock was held: every article page and origin answer of the crawl
    # was asked for before it was released (on the reactor thread, the first store would have stopped
    # the crawl for the whole 10 s, and the origin answers would have been asked for after it).
    during = [target for moment, _, target in arrivals if held["from"] <= moment < held["until"]]
    fetched = [(host, target) for _, host, target in arrivals
               if (host == SITE_HOST and ARTICLE_PAGE.match(target) and "/category/" not in target)
               or "GetNewsText.do" in target]
    late = [(round(moment - held["from"], 1), target) for moment, host, target in arrivals
            if (host, target) in fetched and moment >= held["until"]]
    assert late == [], f"asked for after the lock was released: {late}; while held: {during}"
    # The origin answers are asked for only once their article pages are parsed: all while the lock was held.
    origins_during = {t.rsplit("=", 1)[1] for t in during if "GetNewsText.do" in t}
    assert origins_during == set(DEMO_ORIGIN_IDS), during
    # Nothing lost, nothing retried, and the wait said once, with its length.
    assert {k: content(v) for k, v in archived(db_url).items()} == clean_rows()
    assert result.summary["dropped"] == {} and "newscrawl/store/retried" not in result.stats
    assert "database unavailable (attempt" not in result.log
    warnings = SLOW_WARNING.findall(result.log)
    assert len(warnings) == 1, warnings
    assert 5.0 <= float(warnings[0][0]) <= LOCK_SECONDS + 1, warnings
    assert f"WARNING: waited {warnings[0][0]}s for the archive" in result.log


def test_an_outage_longer_than_the_retry_window_is_recorded_as_failed_not_interrupted(
        db_url: str, tmp_path: Path) -> None:
    # The database goes away at the first article page and stays away until the run has ended, so the run
    # cannot record its own end: SQLite locked by another client, PostgreSQL cut off (every connection reset).
    relay: TcpRelay | None = None
    if make_url(db_url).get_backend_name() == "sqlite":
        lock = DatabaseLock(db_url)
        crawl_url, cut, restore = db_url, lock.take, lock.release
    else:
        target = make_url(db_url)
        relay = TcpRelay(target.host or "127.0.0.1", target.port or 5432)
        crawl_url = target.set(host="127.0.0.1", port=relay.port).render_as_string(hide_password=False)
        cut, restore = relay.cut, relay.restore
    try:
        with FaultServer() as server:
            on_first_article(server, cut)
            running = start(server, crawl_url, tmp_path, "-s", "NEWSCRAWL_DB_RETRY_SECONDS=2")
            try:
                first = running.finish()
            finally:
                restore()
            second = crawl(server, crawler_db_url(crawl_url), tmp_path)
    finally:
        if relay is not None:
            relay.close()
    assert first.returncode == 1 and first.outcome == "failed", first.log[-3000:]
    assert first.stdout.startswith("newscrawl crawl: failed: ")
    assert re.search(r"the end of run 1 \(failed\) could not be recorded, the database is unavailable; kept in "
                     r"\S+crawl\.lock\.unrecorded-runs\.json for the next run to record", first.log), first.log[-3000:]
    # The next run records it as what it was, not as a run that was killed.
    assert second.returncode == 0 and second.outcome == "ok", second.log[-3000:]
    assert "run 1 ended while the database was unavailable; recorded now as failed" in second.log
    assert "recorded as interrupted" not in second.log
    runs = query(db_url, "SELECT run_id, outcome, dropped FROM crawl_runs ORDER BY run_id")
    assert [(r["run_id"], r["outcome"]) for r in runs] == [(1, "failed"), (2, "ok")]
    assert runs[0]["dropped"] == first.summary["dropped"]["database_unavailable"] >= 1
    assert not (tmp_path / "crawl.lock.unrecorded-runs.json").exists()
    assert {k: content(v) for k, v in archived(db_url).items()} == clean_rows()
