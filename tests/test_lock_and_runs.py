"""The run lock and the rule that judges a run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from newscrawl.lock import LockHeld, RunLock
from newscrawl.runs import summarise

HOLD = "import sys, time; from pathlib import Path; from newscrawl.lock import RunLock; " \
       "RunLock(Path(sys.argv[1])).acquire(); print('held', flush=True); time.sleep(60)"


def test_lock_is_exclusive_across_processes_and_freed_when_the_holder_is_killed(tmp_path: Path) -> None:
    path = tmp_path / "crawl.lock"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(LockHeld, match=f"pid {holder.pid}"):
            RunLock(path).acquire()
    finally:
        holder.kill()
        holder.wait()
    lock = RunLock(path).acquire()
    assert lock.previous_holder is not None and f"pid {holder.pid}" in lock.previous_holder
    lock.release()
    assert RunLock(path).acquire().previous_holder is None


def stats(**values: int) -> dict[str, int]:
    return {key.replace("__", "/"): value for key, value in values.items()}


def test_a_normal_run_is_ok_and_counted() -> None:
    summary = summarise({"newscrawl/spider/listing_read": 3, "newscrawl/spider/article_requested": 4,
                         "newscrawl/store/new": 2, "newscrawl/store/updated": 1, "newscrawl/store/seen": 1,
                         "newscrawl/validate/dropped/missing_title": 1, "downloader/request_count": 10,
                         "retry/count": 2}, "finished", 1.5)
    assert (summary.outcome, summary.new, summary.updated, summary.unchanged) == ("ok", 2, 1, 1)
    assert summary.dropped == {"missing_title": 1} and summary.retries == 2
    assert "2 new, 1 updated, 1 unchanged; dropped: missing_title 1" in summary.line()


@pytest.mark.parametrize(("values", "reason", "why"), [
    ({}, "finished", "no page of the site could be read"),
    ({"newscrawl/spider/listing_read": 1, "newscrawl/spider/article_requested": 5}, "finished",
     "listed articles but none could be archived"),
    ({"newscrawl/spider/listing_read": 1, "newscrawl/store/new": 1, "downloader/request_count": 10,
      "log_count/ERROR": 3}, "finished", "3 errors in 10 requests"),
    ({"newscrawl/spider/listing_read": 1, "newscrawl/store/new": 1}, "shutdown", "stopped early (shutdown)"),
    # Every article archived, but a side output or one article's store was refused: not ok either.
    ({"newscrawl/spider/listing_read": 1, "newscrawl/store/new": 9, "newscrawl/store/error": 1}, "finished",
     "1 article(s) could not be stored (refused by the database, see the log)"),
    ({"newscrawl/spider/listing_read": 1, "newscrawl/store/new": 9, "newscrawl/export/failed": 2}, "finished",
     "2 post file(s) and 0 raw response(s) could not be written"),
    ({"newscrawl/spider/listing_read": 1, "newscrawl/store/new": 9, "newscrawl/warc/failed": 3}, "finished",
     "0 post file(s) and 3 raw response(s) could not be written"),
])
def test_failed_runs_say_why(values: dict[str, int], reason: str, why: str) -> None:
    summary = summarise(values, reason, 1.0)
    assert summary.outcome == "failed"
    assert why in summary.reason


@pytest.mark.parametrize("values", [
    {},  # the others took every request
    {"newscrawl/store/new": 2, "downloader/request_count": 4},  # it was left articles, no listing
    {"newscrawl/spider/listing_read": 1, "newscrawl/spider/article_requested": 5,
     "downloader/request_count": 1},  # the articles it found were archived by the others
])
def test_a_worker_of_a_shared_crawl_left_little_by_the_others_is_ok(values: dict[str, int]) -> None:
    assert summarise({"newscrawl/redis/shared": 1, **values}, "finished", 1.0).outcome == "ok"


def test_a_worker_of_a_shared_crawl_that_reached_nothing_fails() -> None:
    summary = summarise({"newscrawl/redis/shared": 1, "downloader/request_count": 3, "retry/max_reached": 3},
                        "finished", 1.0)
    assert summary.outcome == "failed"


def test_requests_re_done_for_a_dead_worker_are_in_the_summary() -> None:
    summary = summarise({"newscrawl/redis/shared": 1, "newscrawl/store/new": 2, "downloader/request_count": 4,
                         "newscrawl/redis/requeued": 3}, "finished", 1.0)
    assert "re-queued from a dead worker: 3" in summary.line()
    assert "re-queued" not in summarise({"newscrawl/store/new": 1}, "finished", 1.0).line()
