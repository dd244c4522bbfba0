"""End-to-end crawls of the bundled demo site on a loopback server: rows, stats, idempotence, drops,
and the seed article's round trip (crawl, export, byte for byte the original post file)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from crawling import DEMO, DEMO_IDS, crawl, demo_server, query

SEED = "2022-02-14-NW202202142275724924.md"
TITLE_ELSEWHERE = r'<meta property="(?:og|twitter):title"[^>]*>|<title>[^<]*</title>|"headline":"[^"]*",'


def rows(db_url: str, table: str = "articles", order: str = "article_id") -> list[dict[str, Any]]:
    return query(db_url, f"SELECT * FROM {table} ORDER BY {order}")


@pytest.mark.slow
def test_crawl_archives_every_demo_post_once_with_origin_text(db_url: str, tmp_path: Path) -> None:
    with demo_server() as server:
        result = crawl(server, db_url, tmp_path)
        offsite = [e for e in server.log.entries if e[0] not in
                   ("finews.withounder.com", "finews.zning.xyz", "choicewzp1.eastmoney.com")]
    assert result.returncode == 0, result.stderr[-3000:]
    # No console of any kind is opened by an unattended crawl (telnet, Scrapy 2.19's remote control).
    assert "Telnet console listening" not in result.stderr and "Remote control" not in result.stderr
    archived = rows(db_url)
    assert [r["article_id"] for r in archived] == DEMO_IDS
    assert result.stats["newscrawl/store/new"] == len(DEMO_IDS)
    assert result.summary["new"] == len(DEMO_IDS) and result.summary["errors"] == 0
    by_id = {r["article_id"]: r for r in archived}
    seed = by_id["NW202202142275724924"]
    assert seed["title"] == "南阳市南召县：政务服务事项一日办结赢“好评”"
    assert seed["category"] == "zhongguofazhanwang" and seed["publisher"] == "中国发展网"
    assert seed["origin_status"] == "ok" and seed["origin_html"].startswith("<p><strong>摘要：</strong>")
    # The emnews post's share link is an eastmoney article page: recorded, not requested.
    assert by_id["202112082206735975"]["origin_status"] == "offsite"
    assert offsite == []
    # The emnews post and the publisher post of one eastmoney article: two rows, one story.
    pair = by_id["202201072239307540"], by_id["NW202201072239307540"]
    assert pair[0]["story_id"] == pair[1]["story_id"] == "202201072239307540"
    assert len({r["story_id"] for r in archived}) == len(archived) - 1
    runs = rows(db_url, "crawl_runs", "run_id")
    assert [r["outcome"] for r in runs] == ["ok"]


@pytest.mark.slow
def test_second_crawl_changes_no_row_and_adds_none(db_url: str, tmp_path: Path) -> None:
    with demo_server() as server:
        first = crawl(server, db_url, tmp_path)
        before = rows(db_url)
        first_requests = len(server.log.entries)
        second = crawl(server, db_url, tmp_path)
        after = rows(db_url)
        second_run = server.log.entries[first_requests:]
    article_answers = [status for _, path, status in second_run if re.search(r"/\d{4}/\d{2}/\d{2}/", path)]
    assert first.returncode == 0 and second.returncode == 0, second.stderr[-3000:]
    # last_seen_at moves on every sighting (that is its meaning); nothing else may change.
    strip = [{k: v for k, v in r.items() if k != "last_seen_at"} for r in before]
    assert strip == [{k: v for k, v in r.items() if k != "last_seen_at"} for r in after]
    assert all(a["last_seen_at"] >= b["last_seen_at"] for a, b in zip(after, before, strict=True))
    assert second.summary["new"] == 0 and second.summary["updated"] == 0
    assert second.summary["unchanged"] == len(DEMO_IDS)
    assert rows(db_url, "article_revisions", "article_id") == []
    # No listing page changed (all answered 304), so no archived article was even re-checked: each was
    # seen again on its listings (last_seen_at moved) without a request.
    assert article_answers == []
    assert second.stats["newscrawl/spider/article_skipped_unchanged"] == len(DEMO_IDS)


@pytest.mark.slow
def test_pages_without_title_or_date_are_dropped_with_a_reason(sqlite_url: str, tmp_path: Path) -> None:
    broken = {
        "/emnews/2021/12/08/202112082206704122.html": (r"<h1>[^<]*</h1>", ""),
        "/emnews/2021/12/08/202112082206945215.html": (
            r'<small>\(GMT\+8[^<]*</small>|<meta property="article:published_time"[^>]*>|"datePublished":"[^"]*",', ""),
    }

    def hook(host: str, target: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes] | None:
        if host != "finews.withounder.com" or target not in broken:
            return None
        pattern, replacement = broken[target]
        page = (DEMO / "site" / target.lstrip("/")).read_text("utf-8")
        if "h1" in pattern:
            # Every other place the page writes its title goes too, so no fallback can find one.
            page = re.sub(TITLE_ELSEWHERE, "", page)
        return 200, {"Content-Type": "text/html; charset=utf-8"}, re.sub(pattern, replacement, page).encode()

    with demo_server(hook=hook) as server:
        result = crawl(server, sqlite_url, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    archived = {r["article_id"] for r in rows(sqlite_url)}
    assert archived == set(DEMO_IDS) - {"202112082206704122", "202112082206945215"}
    assert result.stats["newscrawl/validate/dropped/missing_title"] == 1
    assert result.stats["newscrawl/validate/dropped/missing_date"] == 1
    assert result.summary["dropped"] == {"missing_title": 1, "missing_date": 1}
    assert "missing_title: http://finews.withounder.com/emnews/2021/12/08/202112082206704122.html" in result.stderr


@pytest.mark.slow
def test_seed_article_crawled_and_exported_is_the_seed_post_byte_for_byte(db_url: str, tmp_path: Path) -> None:
    posts = tmp_path / "posts"
    with demo_server() as server:
        result = crawl(server, db_url, tmp_path, "--posts-dir", str(posts))
    assert result.returncode == 0, result.stderr[-3000:]
    assert (posts / SEED).read_bytes() == (DEMO / "posts" / SEED).read_bytes()
    # `newscrawl export` of the same archive writes the same file, and changes nothing on a second run.
    out = tmp_path / "export"
    import subprocess
    import sys

    for _ in range(2):
        done = subprocess.run([sys.executable, "-m", "newscrawl", "export", "--db", db_url, "--out", str(out)],
                              capture_output=True, text=True, check=True)
    assert "0 written" in done.stdout
    assert (out / SEED).read_bytes() == (DEMO / "posts" / SEED).read_bytes()


@pytest.mark.slow
def test_every_request_names_newscrawl_its_version_and_the_contact(sqlite_url: str, tmp_path: Path) -> None:
    from newscrawl import __version__

    agents: set[str] = set()

    def record(host: str, target: str, headers: dict[str, str]) -> None:
        agents.add(headers.get("user-agent", ""))

    with demo_server(hook=record) as server:
        result = crawl(server, sqlite_url, tmp_path, env={"NEWSCRAWL_CONTACT": "mailto:archive@example.org"})
        plain = crawl(server, sqlite_url, tmp_path, "-s", "NEWSCRAWL_CONTACT=")
        refused = crawl(server, sqlite_url, tmp_path, "-s", "NEWSCRAWL_CONTACT=archive (at) example")
    assert (result.returncode, plain.returncode) == (0, 0), result.stderr[-3000:]
    assert agents == {f"newscrawl/{__version__} (+mailto:archive@example.org)", f"newscrawl/{__version__}"}
    assert refused.returncode == 2 and "NEWSCRAWL_CONTACT='archive (at) example' is not valid" in refused.stderr
