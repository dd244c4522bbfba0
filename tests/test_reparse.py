"""``newscrawl reparse`` is the crawl's own processing path: an archive rebuilt from a crawl's WARC files
equals the crawl's on every column but the crawl-time ones, story ids included (docs/warc.md).

The demo site (newscrawl/demo, no ../shared needed) on SQLite and PostgreSQL, and the replica's full
snapshot where ../shared is beside the checkout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import REPLICA, archive_url, requires_replica
from crawling import DEMO, DEMO_IDS, crawl, demo_server, query

from newscrawl import reparse as reparse_module
from newscrawl.reparse import reparse_archive
from newscrawl.storage import Archive
from newscrawl.warc import WarcArchive

ROOT = Path(__file__).resolve().parent.parent
# What only a crawl knows: when it saw the article, in which run, and the page's HTTP validators.
CRAWL_TIME_COLUMNS = frozenset({"first_seen_at", "last_seen_at", "changed_at", "seen_from", "seen_until",
                                "replaced_at", "run_id", "etag", "last_modified"})
TABLES = {"articles": "article_id", "article_revisions": "article_id, revision", "story_sketches": "article_id"}


def content_rows(db_url: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of the content tables, in key order, without the crawl-time columns."""
    return {table: [{k: v for k, v in row.items() if k not in CRAWL_TIME_COLUMNS}
                    for row in query(db_url, f"SELECT * FROM {table} ORDER BY {key}")]
            for table, key in TABLES.items()}


def reparse(db_url: str, warc_dir: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    child_env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    child_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "newscrawl", "reparse", "--db", db_url, "--warc-dir", str(warc_dir)],
                          capture_output=True, text=True, env=child_env, timeout=600)


@pytest.fixture
def second_db(db_url: str, tmp_path: Path) -> Iterator[str]:
    """A second empty archive on the same backend as ``db_url``."""
    with archive_url("sqlite" if db_url.startswith("sqlite") else "postgres", tmp_path / "rebuilt") as url:
        yield url


def assert_same_archive(crawled: str, rebuilt: str) -> None:
    expected, got = content_rows(crawled), content_rows(rebuilt)
    for table in TABLES:
        assert len(got[table]) == len(expected[table]), table
        for want, have in zip(expected[table], got[table], strict=True):
            differing = sorted(k for k in want if want[k] != have[k])
            assert differing == [], (table, want.get("article_id"), {k: (want[k], have[k]) for k in differing})


@pytest.mark.slow
def test_reparse_rebuilds_the_demo_crawl_column_for_column(db_url: str, second_db: str, tmp_path: Path) -> None:
    with demo_server() as server:
        assert crawl(server, db_url, tmp_path).returncode == 0
    rows = query(db_url, "SELECT article_id, story_id FROM articles")
    assert sorted(r["article_id"] for r in rows) == DEMO_IDS
    # The demo has twins (an emnews post and its publisher post): story ids are part of what is compared.
    assert any(r["story_id"] != r["article_id"] for r in rows)
    done = reparse(second_db, tmp_path / "warc")
    assert done.returncode == 0, done.stderr
    assert f"re-parsed {len(DEMO_IDS)} article pages" in done.stdout and f"{len(DEMO_IDS)} new" in done.stdout
    assert_same_archive(db_url, second_db)
    # Re-parsing into the crawl's own archive changes nothing.
    again = reparse(db_url, tmp_path / "warc")
    assert again.returncode == 0 and f"{len(DEMO_IDS)} unchanged" in again.stdout, again.stdout + again.stderr


@requires_replica
@pytest.mark.replica
@pytest.mark.slow
def test_reparse_rebuilds_the_replica_crawl_column_for_column(tmp_path: Path) -> None:
    crawled = f"sqlite:///{tmp_path / 'work' / 'archive.sqlite3'}"
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "replica_acceptance.py"), "--replica", str(REPLICA),
                           "--work", str(tmp_path / "work"), "--snapshots", "full", "--db", crawled],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    warc = tmp_path / "work" / "warc"
    assert any(warc.glob("*.warc.gz")), sorted(p.name for p in (tmp_path / "work").iterdir())
    rebuilt = f"sqlite:///{tmp_path / 'rebuilt.sqlite3'}"
    result = reparse(rebuilt, warc)
    assert result.returncode == 0, result.stderr
    assert query(crawled, "SELECT COUNT(*) AS n FROM articles")[0]["n"] == 165
    assert_same_archive(crawled, rebuilt)


# -- the stream, record by record (no crawl) ---------------------------------------------------------------

SEED_ID = "NW202202142275724924"
SEED_PATH = f"zhongguofazhanwang/2022/02/14/{SEED_ID}.html"
SEED_URL = f"http://finews.withounder.com/{SEED_PATH}"
SEED_PAGE = (DEMO / "site" / SEED_PATH).read_bytes()
SEED_ORIGIN = (DEMO / "origin" / f"{SEED_ID}.json").read_bytes()
EMNEWS_PATH = "emnews/2021/12/08/202112082206945215.html"


def origin_url(code: str) -> str:
    return f"http://finews.zning.xyz/NewsData/GetNewsText.do?id={code}"


def write_records(directory: Path, records: list[tuple[str, str, int, bytes]]) -> None:
    """WARC records as the crawl writes them: (kind, url, status, body)."""
    archive = WarcArchive(directory)
    for kind, url, status, body in records:
        content_type = "text/html; charset=utf-8" if kind == "article" else "application/json"
        archive.write(url, status, "OK", [("Content-Type", content_type)], body, kind,
                      "utf-8" if kind == "article" else None)
    archive.close()


def test_each_page_is_joined_with_its_origin_answer_as_the_stream_brings_it(db_url: str, tmp_path: Path) -> None:
    write_records(tmp_path / "warc", [
        ("article", SEED_URL, 200, SEED_PAGE),
        ("article", f"http://finews.withounder.com/{EMNEWS_PATH}", 200, (DEMO / "site" / EMNEWS_PATH).read_bytes()),
        ("origin", origin_url("SOMETHING"), 404, b"not found"),
        ("origin", origin_url(SEED_ID), 200, SEED_ORIGIN),
        ("article", "http://finews.withounder.com/zhongguofazhanwang/2022/02/14/EMPTY001.html", 200, b""),
    ])
    with Archive.open(db_url) as archive:
        report = reparse_archive(archive, tmp_path / "warc")
        seed = archive.get_article(SEED_ID)
    assert report.pages == 3
    assert report.outcomes == {"new": 2, "dropped (empty_page)": 1}
    assert seed is not None and seed.origin_status == "ok"
    assert seed.origin_html == json.loads(SEED_ORIGIN)["text"]


def test_a_page_whose_origin_answer_never_comes_waits_a_bounded_while(
        db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reparse_module, "ORIGIN_WAIT_RECORDS", 3)
    filler = [("origin", origin_url(f"OTHER{n}"), 200, b'{"text": "<p>x</p>"}') for n in range(4)]
    write_records(tmp_path / "warc", [("article", SEED_URL, 200, SEED_PAGE), *filler,
                                      ("origin", origin_url(SEED_ID), 200, SEED_ORIGIN)])
    with Archive.open(db_url) as archive:
        report = reparse_archive(archive, tmp_path / "warc")
        seed = archive.get_article(SEED_ID)
    # Stored without an origin text once it had waited 3 records: the late answer finds nobody waiting.
    assert report.outcomes == {"new": 1}
    assert seed is not None and (seed.origin_status, seed.origin_html) == (None, None)
