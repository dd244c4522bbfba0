"""The replica acceptance, run in CI where ../shared/replica is beside the checkout.

It runs tools/replica_acceptance.py exactly as docs/quality.md does: serve.py as a proxy, the real
`scrapy crawl finews`, the archive compared with expected.jsonl, and the export rebuilt by Jekyll.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPLICA, requires_replica

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.replica, pytest.mark.slow, requires_replica]


def acceptance(tmp_path: Path, *args: str) -> dict:  # type: ignore[type-arg]
    figures = tmp_path / "figures.json"
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "replica_acceptance.py"), "--replica", str(REPLICA),
                           "--work", str(tmp_path / "work"), "--json", str(figures), *args],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result: dict = json.loads(figures.read_text("utf-8"))  # type: ignore[type-arg]
    return result


def test_full_snapshot_is_archived_completely_and_faithfully(tmp_path: Path) -> None:
    result = acceptance(tmp_path, "--snapshots", "full")
    assert result["expected"] == 165
    assert result["found"] == 165 and result["archived_rows"] == 165 and result["duplicates"] == 0
    assert result["extra"] == 0
    for field, rate in result["per_field"].items():
        assert rate == 1.0, (field, rate, result["mismatches"][:5])  # the `<>` line too (docs/parsing.md)
    if shutil.which("jekyll"):
        same, total = result["export_identical"]
        assert (same, total) == (165, 165), result["export_identical"]  # every page: issues 20 and 21


def test_day_sequence_downloads_only_new_articles_in_full(tmp_path: Path) -> None:
    result = acceptance(tmp_path, "--snapshots", "day1,day2,day3,day3", "--command", "newscrawl")
    runs = result["runs"]
    assert [r["exit"] for r in runs] == [0, 0, 0, 0]
    new = [r["summary"]["new"] for r in runs]
    assert [r["article_200"] for r in runs] == new
    # The fourth run, against an unchanged site, downloads no article page in full and sees every post.
    third, fourth = runs[2]["summary"], runs[3]["summary"]
    assert new[3] == 0 and runs[3]["article_200"] == 0
    assert fourth["unchanged"] == third["new"] + third["unchanged"]
    assert result["found"] == result["expected"] and result["duplicates"] == 0 and result["extra"] == 0


def faults(tmp_path: Path, *args: str) -> dict:  # type: ignore[type-arg]
    figures = tmp_path / "figures.json"
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "replica_faults.py"), *args, "--replica", str(REPLICA),
                           "--work", str(tmp_path / "work"), "--json", str(figures)],
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0 and "cannot mount a tmpfs" in done.stderr:
        pytest.skip(done.stderr.strip())
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result: dict = json.loads(figures.read_text("utf-8"))  # type: ignore[type-arg]
    return result


def test_a_10s_lock_by_another_process_pauses_no_request_of_the_replica_crawl(tmp_path: Path) -> None:
    result = faults(tmp_path, "lock", "--seconds", "10")
    assert result["exit"] == 0 and result["outcome"] == "ok"
    assert result["found"] == result["archived_rows"] == 165 and result["duplicates"] == 0
    # The server's request log: the crawl went on while the archive was locked, and had nothing left to
    # ask for when the lock was released (the crawl takes ~6 s; it would have stopped for the whole 10 s).
    assert result["requests_while_locked"] >= 100 and result["origin_while_locked"] >= 1
    assert result["requests_after_release"] == 0
    assert len(result["waits_logged"]) == 1 and result["retries_logged"] == 0


def test_a_full_disk_is_caught_up_by_the_next_replica_crawl(tmp_path: Path) -> None:
    result = faults(tmp_path, "disk")
    first, second = result["runs"]
    assert first["exit"] == 1 and first["outcome"] == "failed"
    assert first["posts_failed"] >= 1 and first["records_failed"] >= 1
    assert second["exit"] == 0 and second["outcome"] == "ok"
    assert result["missing_after_second"] == 0
    assert result["post_files"] == 165 and result["post_files_equal_fresh_export"]
    assert result["warc_article_pages"] == result["archived_articles"] == 165
    assert result["warc_article_pages_not_archived"] == 0
    assert result["warc_origin_answers"] == result["origin_answers_served"] >= 1
    assert result["found"] == 165 and result["duplicates"] == 0
    if shutil.which("jekyll"):
        assert result["export_check"].startswith("identical article pages 165/165")
