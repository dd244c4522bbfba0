"""What the commands print when things go right or the network is gone: quiet for cron, one line per
failure, the summary last, and `stats` as tables a person can read."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from crawling import DEMO_IDS, SITE_URL, crawl, demo_server, query

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


def gone_server_url() -> str:
    """The address of a server that has stopped: connections to it are refused."""
    with demo_server() as server:
        return server.url


def newscrawl_crawl(proxy: str, db_url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``newscrawl … crawl`` as cron runs it: no LOG_LEVEL or LOG_FILE, only the options given."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(http_proxy=proxy, NEWSCRAWL_WARC_DIR=str(tmp_path / "warc"),
               NEWSCRAWL_LOCK_FILE=str(tmp_path / "crawl.lock"))
    if "crawl" not in args:
        args = ("crawl", *args)
    return subprocess.run([sys.executable, "-m", "newscrawl", *args, "--site", SITE_URL, "--db", db_url,
                           "-s", "RETRY_TIMES=0"], env=env, capture_output=True, text=True, cwd=tmp_path, timeout=120)


def test_quiet_crawl_prints_nothing_when_ok_and_the_summary_when_it_failed(sqlite_url: str, tmp_path: Path) -> None:
    with demo_server() as server:
        ok = newscrawl_crawl(server.url, sqlite_url, tmp_path, "-q")
        # -q before the command is the same.
        ok_before = newscrawl_crawl(server.url, sqlite_url, tmp_path, "-q", "crawl")
    assert (ok.returncode, ok.stdout, ok.stderr) == (0, "", "")
    assert (ok_before.returncode, ok_before.stdout, ok_before.stderr) == (0, "", "")
    assert [r["outcome"] for r in query(sqlite_url, "SELECT outcome FROM crawl_runs")] == ["ok", "ok"]
    assert sorted(r["article_id"] for r in query(sqlite_url, "SELECT article_id FROM articles")) == DEMO_IDS
    failed = newscrawl_crawl(gone_server_url(), sqlite_url, tmp_path, "-q")
    assert failed.returncode == 1
    assert failed.stderr == ""
    assert re.fullmatch(r"newscrawl crawl: failed: 0 new, .* — no page of the site could be read "
                        r"\(site unreachable\?\)\n", failed.stdout)


def test_crawl_without_options_prints_the_summary_and_warnings_only(sqlite_url: str, tmp_path: Path) -> None:
    failed = newscrawl_crawl(gone_server_url(), sqlite_url, tmp_path)
    assert failed.returncode == 1 and failed.stdout.startswith("newscrawl crawl: failed: 0 new")
    lines = failed.stderr.splitlines()
    assert lines and all(" WARNING: " in line for line in lines), failed.stderr
    assert len(lines) == 4  # robots.txt, the root, the feed, /emnews/: one line each


def test_scrapy_crawl_without_network_logs_one_warning_per_request_and_ends_with_the_summary(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSCRAWL_") and not k.lower().endswith("_proxy")}
    env.update(http_proxy=gone_server_url(), NEWSCRAWL_DB_URL=f"sqlite:///{tmp_path / 'archive.sqlite3'}",
               NEWSCRAWL_WARC_DIR=str(tmp_path / "warc"))
    done = subprocess.run([sys.executable, "-m", "scrapy", "crawl", "finews", "-s", f"NEWSCRAWL_SITE_URL={SITE_URL}",
                           "-s", "RETRY_TIMES=1"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    log = done.stderr
    # Scrapy's exit status does not say the run failed (README: why cron calls newscrawl crawl).
    assert done.returncode == 0
    assert "Traceback" not in log and " ERROR: " not in log
    assert not re.search(r"\[alembic[^\]]*\] INFO", log)
    warnings = [line for line in log.splitlines() if " WARNING: " in line]
    requested = ["robots.txt", f"{SITE_URL}", f"{SITE_URL}feed.xml", f"{SITE_URL}emnews/"]
    assert len(warnings) == len(requested), "\n".join(warnings)
    assert "robots.txt not read" in warnings[0] and "Connection was refused" in warnings[0]
    for url in requested[1:]:
        assert sum(line.endswith(f"(connection_error): {url}") for line in warnings) == 1, url
    assert re.search(r"\[newscrawl.extensions\] INFO: run summary: failed: 0 new, .* — no page of the site could be "
                     r"read", log.rstrip().splitlines()[-1])


def test_stats_shows_runs_with_their_outcome_and_reason_categories_and_days(sqlite_url: str, tmp_path: Path) -> None:
    with demo_server() as server:
        assert crawl(server, sqlite_url, tmp_path).returncode == 0
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(http_proxy=gone_server_url(), NEWSCRAWL_WARC_DIR=str(tmp_path / "warc"),
               NEWSCRAWL_LOCK_FILE=str(tmp_path / "crawl.lock"))
    subprocess.run([sys.executable, "-m", "newscrawl", "crawl", "-q", "--site", SITE_URL, "--db", sqlite_url,
                    "-s", "RETRY_TIMES=0"], env=env, capture_output=True, text=True, cwd=tmp_path, timeout=120)
    done = subprocess.run([sys.executable, "-m", "newscrawl", "stats", "--db", sqlite_url], capture_output=True,
                          text=True, check=True)
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"archive {sqlite_url}: {len(DEMO_IDS)} articles")
    runs = lines[lines.index("last runs") + 1:lines.index("last runs") + 4]
    assert runs[0].split()[:4] == ["run", "started", "took", "outcome"]
    assert re.match(r"\s+#2 .* failed\s+0\s+0\s+0\s+0\s+\d+\s+no page of the site could be read", runs[1]), runs[1]
    assert re.match(rf"\s+#1 .* ok\s+{len(DEMO_IDS)}\s+0\s+0\s+0\s+0$", runs[2]), runs[2]
    per_category = {r["category"]: r["n"] for r in
                    query(sqlite_url, "SELECT category, count(*) AS n FROM articles GROUP BY category")}
    start = lines.index("articles per category") + 2
    shown = dict(line.split() for line in lines[start:start + len(per_category)])
    assert shown == {category: str(n) for category, n in per_category.items()}
    per_day = {r["day"]: r["n"] for r in
               query(sqlite_url, "SELECT substr(published_at, 1, 10) AS day, count(*) AS n FROM articles GROUP BY day")}
    start = next(i for i, line in enumerate(lines) if line.startswith("articles per publication day")) + 2
    assert dict(line.split() for line in lines[start:]) == {day: str(n) for day, n in per_day.items()}
    as_json = subprocess.run([sys.executable, "-m", "newscrawl", "stats", "--db", sqlite_url, "--json"],
                             capture_output=True, text=True, check=True).stdout
    assert '"reason": "no page of the site could be read (site unreachable?)"' in as_json
