"""Fault suite, values a backend cannot hold (docs/reliability.md, case 8; docs/schema.md, "Values a backend
cannot hold"): a lone surrogate in the origin's JSON text, NUL in it, and dates at the ends of the calendar,
with and without a time-zone shift. Each article is archived, nothing dropped: the columns hold the
documented stand-in, ``exact_values`` the values as fetched, and ``flags`` says so; the run is ok and its
summary names what was stored in exact form.

The oracle is what the server served, read back through a plain JSON reader and the database itself, not
the code under test's own inverse alone.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import BACKENDS, archive_url
from crawling import query
from faults import (
    CrawlResult,
    FaultServer,
    archived,
    article_page,
    article_path,
    clean_rows,
    content,
    crawl,
    json_answer,
)

pytestmark = pytest.mark.slow

SITE_TZ = timezone(timedelta(hours=8))
SURROGATE_TEXT = "<p>源站正文\ud800半个代理对。</p>"
NUL_TEXT = "<p>源站正文\x00空字符。</p>"
# article id -> (date line, metadata date or None to keep the page's own, the published_at it must keep)
DATES = {
    "DATE0001": ("0001-01-01 00:00:00", None, datetime(1, 1, 1, tzinfo=SITE_TZ)),
    "DATE9999": ("9999-12-31 23:59:59", None, datetime(9999, 12, 31, 23, 59, 59, tzinfo=SITE_TZ)),
    # No date line the parser reads: the metadata's own offset decides.
    "DATE9TZ": ("日期不明", "9999-12-31T23:00:00-05:00",
                datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5)))),
    "DATE0TZ": ("日期不明", "0001-01-01T00:00:00-05:00", datetime(1, 1, 1, 13, tzinfo=SITE_TZ)),
}
# Which of them no backend can hold as they are (their instant has no UTC or no UTC+8 form).
OUT_OF_RANGE = {"DATE0001", "DATE9TZ"}


@dataclass
class StorageRun:
    backend: str
    db_url: str
    result: CrawlResult
    rows: dict[str, dict[str, Any]]
    raw: dict[str, dict[str, Any]]
    posts: set[str]  # the article ids of the post files written


def _page(article_id: str, line: str, metadata: str | None) -> bytes:
    page = article_page(f"日期边界{article_id}", "<p>镜像正文。</p>", date=line)
    if metadata is not None:
        page = page.replace(f'content="{line.replace(" ", "T")}+08:00"', f'content="{metadata}"')
    return page.encode()


@pytest.fixture(scope="module", params=BACKENDS)
def storage_run(request: pytest.FixtureRequest) -> Iterator[StorageRun]:
    workdir = Path(tempfile.mkdtemp(prefix="faults-storage-"))
    with archive_url(request.param, workdir) as db_url:
        with FaultServer() as server:
            for code, text in (("SURR0001", SURROGATE_TEXT), ("NULTEXT1", NUL_TEXT)):
                server.add_page(article_path(code), article_page(f"源站文本{code}", "<p>镜像正文。</p>",
                                                                 share_code=code).encode())
                # json.dumps escapes both as \ud800 and \u0000: the JSON text the origin sends.
                server.add_origin(code, json_answer({"text": text}))
            for article_id, (line, metadata, _) in DATES.items():
                server.add_page(article_path(article_id), _page(article_id, line, metadata))
            result = crawl(server, db_url, workdir, "--posts-dir", str(workdir / "posts"))
        raw = {row["article_id"]: row for row in query(
            db_url, "SELECT article_id, origin_html, published_at, exact_values, flags FROM articles")}
        posts = {p.name.split("-", 3)[3][:-3] for p in (workdir / "posts").glob("*.md")}
        yield StorageRun(request.param, db_url, result, archived(db_url), raw, posts)


def _flags(raw: dict[str, Any]) -> list[str]:
    flags = raw["flags"]
    return json.loads(flags) if isinstance(flags, str) else list(flags)


def test_a_lone_surrogate_in_the_origin_text_is_stored_exactly_and_flagged(storage_run: StorageRun) -> None:
    row, raw = storage_run.rows["SURR0001"], storage_run.raw["SURR0001"]
    assert row["origin_status"] == "ok" and row["origin_html"] == SURROGATE_TEXT
    assert "unstorable_text" in row["flags"] and "unstorable_text" in _flags(raw)
    # The column holds the stand-in; exact_values the text as sent, for any JSON reader.
    assert raw["origin_html"] == SURROGATE_TEXT.replace("\ud800", "\ufffd")
    assert raw["exact_values"].isascii() and json.loads(raw["exact_values"]) == {"origin_html": SURROGATE_TEXT}


def test_nul_in_the_origin_text_is_stored_exactly_flagged_on_postgresql_only(storage_run: StorageRun) -> None:
    row, raw = storage_run.rows["NULTEXT1"], storage_run.raw["NULTEXT1"]
    assert row["origin_status"] == "ok" and row["origin_html"] == NUL_TEXT
    if storage_run.backend == "sqlite":  # SQLite text holds NUL as it is
        assert raw["origin_html"] == NUL_TEXT and raw["exact_values"] is None
        assert "unstorable_text" not in row["flags"]
    else:
        assert raw["origin_html"] == NUL_TEXT.replace("\x00", "\ufffd")
        assert json.loads(raw["exact_values"]) == {"origin_html": NUL_TEXT}
        assert "unstorable_text" in row["flags"] and "unstorable_text" in _flags(raw)


@pytest.mark.parametrize("article_id", sorted(DATES))
def test_dates_at_the_ends_of_the_calendar_are_stored_exactly(storage_run: StorageRun, article_id: str) -> None:
    expected = DATES[article_id][2]
    row, raw = storage_run.rows[article_id], storage_run.raw[article_id]
    assert row["published_at"] == expected and row["published_at"].utcoffset() == expected.utcoffset()
    if article_id in OUT_OF_RANGE:
        assert raw["published_at"] is None and "date_out_of_range" in row["flags"]
        assert json.loads(raw["exact_values"]) == {"published_at": expected.isoformat()}
    else:
        assert raw["published_at"] is not None and raw["exact_values"] is None
        assert "date_out_of_range" not in row["flags"]


def test_the_run_is_ok_archives_everything_and_says_what_it_stored_in_exact_form(storage_run: StorageRun) -> None:
    result = storage_run.result
    assert result.returncode == 0 and result.outcome == "ok", result.log[-3000:]
    assert result.summary["dropped"] == {} and result.summary["errors"] == 0
    assert {k: content(v) for k, v in storage_run.rows.items() if k in clean_rows()} == clean_rows()
    unstorable = 2 if storage_run.backend == "postgres" else 1
    expected = {"unstorable_text": unstorable, "date_out_of_range": len(OUT_OF_RANGE)}
    assert result.summary["flagged"] == expected
    assert result.stats["newscrawl/store/flagged/unstorable_text"] == unstorable
    assert "; stored in exact form: date_out_of_range 2, unstorable_text " in result.stdout
    assert result.log.count("the exact values kept in exact_values: ") == unstorable + len(OUT_OF_RANGE)


def test_every_post_is_exported_but_one_utf8_cannot_encode(storage_run: StorageRun) -> None:
    # A lone surrogate has no UTF-8 form: no post file can hold it, and none is half-written; the archive
    # keeps it. Every other article, NUL and calendar edges included, has its post file.
    assert storage_run.posts == set(storage_run.rows) - {"SURR0001"}
    assert storage_run.result.stats["newscrawl/export/unencodable"] == 1
    assert "not exported: its text holds a character UTF-8 cannot encode (kept exactly in the archive): " \
           "SURR0001" in storage_run.result.log
