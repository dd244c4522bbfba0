"""Unattended runs (`newscrawl crawl`): locking, exit status, crash safety, revisions, run records."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from crawling import DEMO, DEMO_IDS, SITE_URL, crawl, demo_server, query

pytestmark = pytest.mark.slow




def stable_rows(db_url: str) -> list[dict[str, Any]]:
    """Every archived article as the Archive gives it back (backend-neutral), sorted by id."""
    from dataclasses import asdict

    from newscrawl.storage import Archive

    with Archive.open(db_url) as archive:
        return sorted((asdict(a) for a in archive.iter_articles()), key=lambda a: a["article_id"])


def crawl_command(server_url: str, db_url: str, tmp_path: Path) -> tuple[list[str], dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(http_proxy=server_url, NEWSCRAWL_WARC_DIR=str(tmp_path / "warc"),
               NEWSCRAWL_LOCK_FILE=str(tmp_path / "crawl.lock"), NEWSCRAWL_PROGRESS_INTERVAL="0")
    return [sys.executable, "-m", "newscrawl", "crawl", "--site", SITE_URL, "--db", db_url,
            "-s", "AUTOTHROTTLE_ENABLED=false"], env


def slow_hook(delay: float) -> Any:
    def hook(host: str, target: str, headers: dict[str, str]) -> None:
        if re.search(r"/\d{4}/\d{2}/\d{2}/", target):
            time.sleep(delay)

    return hook


def test_second_run_exits_75_at_once_while_the_first_holds_the_lock(sqlite_url: str, tmp_path: Path) -> None:
    # The first run's article pages are held until the second run has ended: it is still crawling, whatever
    # the machine's speed (a fixed delay let a fast first run finish before the second one started).
    article_asked, second_done = threading.Event(), threading.Event()

    def hold_articles(host: str, target: str, headers: dict[str, str]) -> None:
        if re.search(r"/\d{4}/\d{2}/\d{2}/", target):
            article_asked.set()
            second_done.wait(timeout=60)

    with demo_server(hook=hold_articles) as server:
        command, env = crawl_command(server.url, sqlite_url, tmp_path)
        first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 cwd=tmp_path)
        try:
            # Wait until the first run is really crawling (it has asked for an article page).
            assert article_asked.wait(timeout=60)
            assert first.poll() is None
            started = time.monotonic()
            second = subprocess.run(command, env=env, capture_output=True, text=True, cwd=tmp_path, timeout=30)
            took = time.monotonic() - started
        finally:
            second_done.set()
            _, first_err = first.communicate(timeout=120)
    assert second.returncode == 75
    assert took < 1.0, f"the second run took {took:.2f}s to give up"
    assert "another newscrawl crawl holds" in second.stderr and f"pid {first.pid}" in second.stderr
    assert first.returncode == 0, first_err[-2000:]


def test_lock_left_by_a_killed_run_is_taken_over(sqlite_url: str, tmp_path: Path) -> None:
    (tmp_path / "crawl.lock").write_text("pid 999999 since 2026-01-01T00:00:00+0000\n")
    with demo_server() as server:
        result = crawl(server, sqlite_url, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "took over the lock left by a run that ended without releasing it (pid 999999" in result.stderr
    assert (tmp_path / "crawl.lock").read_text() == ""


def test_unreachable_site_fails_with_exit_1_and_a_failed_run_record(sqlite_url: str, tmp_path: Path) -> None:
    with demo_server() as server:
        url = server.url
    # The server is gone: its port refuses connections, so the proxy (and the site) is unreachable.
    command, env = crawl_command(url, sqlite_url, tmp_path)
    done = subprocess.run([*command, "-s", "RETRY_TIMES=1"], env=env, capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)
    assert done.returncode == 1
    assert "no page of the site could be read" in done.stdout
    runs = query(sqlite_url, "SELECT outcome FROM crawl_runs")
    assert runs == [{"outcome": "failed"}]


@pytest.mark.parametrize("kill_after", [0, 2, 6])
def test_sigkill_at_any_point_loses_nothing_after_a_rerun(db_url: str, tmp_path: Path, kill_after: int) -> None:
    clean_dir = tmp_path / "clean"
    clean_dir.mkdir()
    clean_db = f"sqlite:///{clean_dir / 'clean.sqlite3'}"
    with demo_server() as server:
        assert crawl(server, clean_db, clean_dir).returncode == 0
    with demo_server(hook=slow_hook(0.3)) as server:
        command, env = crawl_command(server.url, db_url, tmp_path)
        # One request at a time, each article 0.3 s: the kill lands while the crawl is mid-way.
        command += ["-s", "CONCURRENT_REQUESTS=1"]
        victim = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  cwd=tmp_path)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                stored = query(db_url, "SELECT count(*) AS n FROM articles")[0]["n"]
            except Exception:
                stored = -1
            if stored >= kill_after and (kill_after > 0 or server.log.count(path_contains="/2021/") > 0):
                break
            time.sleep(0.02)
        assert victim.poll() is None, "the crawl ended before it could be killed"
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        partial = query(db_url, "SELECT article_id, title, published_at, body_html, content_hash FROM articles")
        assert all(all(v is not None for v in row.values()) for row in partial), "a partial row survived"
        rerun = crawl(server, db_url, tmp_path)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "took over the lock" in rerun.stderr
    got, want = stable_rows(db_url), stable_rows(clean_db)
    assert [{k: (a[k], b[k]) for k in a if a[k] != b[k]} for a, b in zip(got, want, strict=True)] == [{}] * len(want)
    assert query(db_url, "SELECT count(*) AS n FROM article_revisions") == [{"n": 0}]
    outcomes = [r["outcome"] for r in query(db_url, "SELECT outcome FROM crawl_runs ORDER BY run_id")]
    # The killed run could not record its end; the next run found its process gone and said so.
    assert outcomes == ["interrupted", "ok"]
    assert "ended without finishing (killed?); recorded as interrupted" in rerun.stderr


@pytest.mark.parametrize("edit", ["retitled", "body_only"])
def test_changed_article_is_updated_and_its_earlier_version_kept(db_url: str, tmp_path: Path, edit: str) -> None:
    target = "/emnews/2021/12/08/202112082206704122.html"
    old_text, new_text = ("大摩上调苹果目标价至200美元", "大摩上调苹果目标价至210美元") if edit == "retitled" else \
        ("和韦德布什给出的目标价并列华尔街最高", "和韦德布什给出的目标价并列华尔街第二")
    # A retitled post changes the listings that show its title, as a Jekyll rebuild does; a body-only edit
    # changes the post alone, which only the re-check of fresh posts sees (here every post counts as fresh).
    listings = {"/category/emnews.html", "/emnews/", "/", "/feed.xml"} if edit == "retitled" else set()
    changed = threading.Event()

    def hook(host: str, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes] | None:
        if not changed.is_set() or path not in {target, *listings}:
            return None
        file = DEMO / "site" / (path.lstrip("/") or "index.html")
        page = (file / "index.html" if file.is_dir() else file).read_text("utf-8").replace(old_text, new_text)
        return 200, {"Content-Type": "text/html; charset=utf-8", "ETag": '"v2"'}, page.encode()

    recheck = {} if edit == "retitled" else {"NEWSCRAWL_RECHECK_DAYS": "100000"}
    with demo_server(hook=hook) as server:
        first = crawl(server, db_url, tmp_path)
        before = query(db_url, f"SELECT * FROM articles WHERE article_id = '{Path(target).stem}'")[0]
        changed.set()
        second = crawl(server, db_url, tmp_path, env=recheck)
    assert first.returncode == 0 and second.returncode == 0, second.stderr[-2000:]
    assert second.summary["updated"] == 1 and second.summary["new"] == 0
    after = query(db_url, f"SELECT * FROM articles WHERE article_id = '{Path(target).stem}'")[0]
    assert new_text in after["title"] + after["body_text"] and after["revision"] == 2 and after["etag"] == '"v2"'
    assert after["first_seen_at"] == before["first_seen_at"]
    history = query(db_url, "SELECT * FROM article_revisions")
    assert len(history) == 1
    assert history[0]["article_id"] == Path(target).stem and history[0]["revision"] == 1
    assert (history[0]["title"], history[0]["body_text"]) == (before["title"], before["body_text"])
    assert old_text in history[0]["title"] + history[0]["body_text"]
    assert history[0]["content_hash"] == before["content_hash"] != after["content_hash"]


def test_stats_command_reports_categories_days_and_runs(sqlite_url: str, tmp_path: Path) -> None:
    with demo_server() as server:
        assert crawl(server, sqlite_url, tmp_path).returncode == 0
    done = subprocess.run([sys.executable, "-m", "newscrawl", "stats", "--db", sqlite_url, "--json"],
                          capture_output=True, text=True, check=True)
    stats = json.loads(done.stdout)
    assert stats["articles"] == len(DEMO_IDS)
    assert stats["per_category"]["emnews"] == 5
    assert sum(stats["per_day"].values()) == len(DEMO_IDS)
    assert stats["runs"][0]["outcome"] == "ok" and stats["runs"][0]["new"] == len(DEMO_IDS)
    human = subprocess.run([sys.executable, "-m", "newscrawl", "stats", "--db", sqlite_url],
                           capture_output=True, text=True, check=True).stdout
    assert re.search(r"^  emnews +5$", human, re.M) and re.search(r"^  #1 .* ok +9 ", human, re.M), human


def test_progress_lines_come_at_a_steady_interval_while_the_crawl_runs(sqlite_url: str, tmp_path: Path) -> None:
    log_file = tmp_path / "crawl.log"
    with demo_server(hook=slow_hook(0.4)) as server:
        result = crawl(server, sqlite_url, tmp_path, "-s", "CONCURRENT_REQUESTS=1", "-s", f"LOG_FILE={log_file}",
                       env={"NEWSCRAWL_PROGRESS_INTERVAL": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [line for line in log_file.read_text("utf-8").splitlines() if "progress:" in line]
    # Nine article pages at 0.4 s each, one at a time: at least three seconds of crawling.
    assert len(lines) >= 2
    assert re.search(r"progress: \d+ new, \d+ updated, \d+ unchanged, \d+ dropped, \d+ errors, \d+ requests in \d+s",
                     lines[-1])
    assert "run summary: ok: 9 new" in log_file.read_text("utf-8")
