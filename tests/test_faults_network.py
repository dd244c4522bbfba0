"""Fault suite, network (docs/reliability.md, case 1): a flaky server costs retries, never articles.

The demo site behind a loopback server that misbehaves on the *first* request to chosen URLs — site
pages, robots.txt and the origin's text API alike: a fifth answer 503 (as the replica's
``serve.py --fail-rate 0.2`` does), a tenth stall until the crawler's download timeout, a tenth reset the
connection, a tenth send a body cut short. Every article must be archived exactly as in a crawl without
faults, and every fault must show up as exactly one retry. A URL that fails for good costs exactly
RETRY_TIMES + 1 requests, is named in the summary, and is archived by the next run. On the replica
(when ../shared/replica is there), ``serve.py --fail-rate 0.2`` costs retries and no post.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from conftest import REPLICA, ROOT, requires_replica
from faults import (
    ALLOWED_HOSTS,
    DEMO_IDS,
    SITE_HOST,
    Answer,
    CutShort,
    FaultServer,
    Misbehave,
    Reset,
    Stall,
    archived,
    clean_rows,
    content,
    crawl,
    on_path,
)

pytestmark = pytest.mark.slow

# Which fault a URL's first request meets, by a stable hash of host and path: 2 in 10 answer 503, one in
# ten each stalls, resets, or is cut short; the other half are served normally.
FAULT_BY_BUCKET: dict[int, str] = {0: "503", 1: "503", 2: "stall", 3: "reset", 4: "cut_short"}
# The reason Scrapy's RetryMiddleware records for each kind of fault (retry/reason_count/<reason>).
RETRY_REASON = {
    "503": "503 Service Unavailable",
    "stall": "scrapy.exceptions.DownloadTimeoutError",
    "reset": "scrapy.exceptions.DownloadFailedError",
    "cut_short": "scrapy.exceptions.ResponseDataLossError",
}


def bucket(host: str, target: str) -> int:
    return hashlib.sha1(f"{host}{target}".encode()).digest()[0] % 10


def first_request_fault(host: str, target: str, headers: dict[str, str]) -> Answer | Misbehave:
    kind = FAULT_BY_BUCKET[bucket(host, target)]
    if kind == "503":
        return 503, {"Content-Type": "text/plain", "Retry-After": "0"}, b"busy\n"
    if kind == "stall":
        return Stall()
    if kind == "reset":
        return Reset()
    return CutShort(b"<!DOCTYPE html>\n<html lang=", 4000)


def test_flaky_server_costs_retries_never_articles(sqlite_url: str, tmp_path: Path) -> None:
    expected = clean_rows()
    with FaultServer() as server:
        flaky = server.rule(lambda host, target: host in ALLOWED_HOSTS and bucket(host, target) in FAULT_BY_BUCKET,
                            first_request_fault, once_per_target=True)
        # The timeout bounds each stall; short, so the test stays quick.
        result = crawl(server, sqlite_url, tmp_path, timeout_s=4)
        requests = Counter((host, target) for host, target, _ in server.requests())
    faults = Counter(FAULT_BY_BUCKET[bucket(host, target)] for host, target, _ in flaky.fired)
    # The demo site meets every kind of fault (else this test would not be testing them all).
    assert set(faults) == set(RETRY_REASON), faults
    assert faults["503"] >= 2
    assert result.returncode == 0 and result.outcome == "ok", result.log[-3000:]
    # Nothing lost: every article, field for field, as without faults.
    got = {article_id: content(row) for article_id, row in archived(sqlite_url).items()}
    assert sorted(got) == DEMO_IDS
    assert got == expected
    # Each fault cost exactly one retry, counted by reason and in the run summary.
    assert result.stats["retry/count"] == len(flaky.fired) == result.summary["retries"]
    assert {key: value for key, value in result.stats.items() if key.startswith("retry/reason_count/")} == {
        f"retry/reason_count/{RETRY_REASON[kind]}": count for kind, count in faults.items()}
    assert "retry/max_reached" not in result.stats
    # A fault a retry mended is no error and drops nothing.
    assert result.summary["errors"] == 0 and result.summary["dropped"] == {}
    for host, target, _ in flaky.fired:
        assert requests[(host, target)] == 2, (host, target)
    assert f"retries {len(flaky.fired)};" in result.stdout


def test_a_page_that_keeps_failing_costs_bounded_retries_and_the_next_run_archives_it(
        db_url: str, tmp_path: Path) -> None:
    path = "/emnews/2021/12/08/202112082206704122.html"
    with FaultServer() as server:
        broken = server.rule(on_path(path), (503, {"Content-Type": "text/plain"}, b"down\n"))
        first = crawl(server, db_url, tmp_path)
        assert len(broken.fired) == 4  # the request and RETRY_TIMES (3) retries, no more
        after_first = set(archived(db_url))
        server.rules.clear()  # the server is mended
        first_requests = len(server.requests())
        second = crawl(server, db_url, tmp_path)
        second_run = server.requests()[first_requests:]
    url = f"http://{SITE_HOST}{path}"
    assert first.returncode == 0 and first.outcome == "ok", first.log[-3000:]
    assert first.stats["retry/max_reached"] == 1 and first.stats["retry/count"] == 3
    assert first.stats["newscrawl/spider/dropped/http_503"] == 1
    assert first.summary["dropped"] == {"http_503": 1} and first.summary["errors"] == 1
    assert f"Gave up retrying <GET {url}> (failed 4 times): 503 Service Unavailable" in first.log
    assert f"article page not archived (http_503), the next run tries again: {url}" in first.log
    assert after_first == set(DEMO_IDS) - {"202112082206704122"}
    # The next run fetches the missing article in full; the others, on unchanged listings, are seen again
    # without a request: nothing lost.
    assert second.returncode == 0 and second.outcome == "ok", second.log[-3000:]
    article_answers = {target: status for _, target, status in second_run if target.endswith(".html")
                       and "/category/" not in target}
    assert article_answers[path] == 200
    assert set(article_answers) == {path}
    assert second.summary["new"] == 1 and second.summary["unchanged"] == 8
    assert {k: content(v) for k, v in archived(db_url).items()} == clean_rows()


@pytest.mark.replica
@requires_replica
def test_replica_with_a_fifth_of_first_requests_failing_is_archived_completely(tmp_path: Path) -> None:
    """The acceptance figure: the replica's serve.py --fail-rate 0.2, the real crawl, every post archived."""
    figures = tmp_path / "figures.json"
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "replica_acceptance.py"), "--replica", str(REPLICA),
                           "--work", str(tmp_path / "work"), "--json", str(figures), "--snapshots", "full",
                           "--fail-rate", "0.2"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(figures.read_text("utf-8"))
    (run,) = result["runs"]
    assert run["exit"] == 0 and run["outcome"] == "ok"
    assert result["found"] == result["expected"] == 165 and result["duplicates"] == 0 and result["extra"] == 0
    # Each 503 the server sent cost one retry, all counted in the run's summary; nothing ended in error.
    assert run["statuses"]["503"] == run["summary"]["retries"] > 0
    assert run["summary"]["errors"] == 0 and run["summary"]["dropped"] == {}
