"""Fault suite, broken pages (docs/reliability.md, case 2): each is dropped or kept with a flag, with a reason
in the log and in the stats, and the crawl goes on.

One crawl of the demo site with seven broken article pages added to it. The parser never raises on any
input (property tests in tests/test_parsers.py); here the whole chain is checked: spider → validate →
store, the run summary, and the log.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import hypothesis
import pytest
from faults import (
    DEMO_IDS,
    FaultServer,
    archived,
    article_page,
    article_path,
    clean_rows,
    content,
    crawl,
)
from hypothesis import strategies as st
from scrapy.utils.python import binary_is_text

from newscrawl.parsers import looks_like_text

pytestmark = pytest.mark.slow

BODY = "<p>中国人民银行授权中国外汇交易中心公布，人民币汇率中间价上调。</p>\n" * 40
GOOD_DATE = "2022-02-14 15:11:07"


def broken_pages() -> dict[str, tuple[bytes, str]]:
    """article id → (page bytes, content type)."""
    truncated = article_page("截断的页面", BODY)
    binary = random.Random(20220214).randbytes(20000)
    no_date = article_page("日期全坏", BODY, date="2022-13-45 99:99:99").replace(
        "2022-13-45T99:99:99+08:00", "yesterday")
    return {
        # Cut off in the middle of the article text: no </section>, no closing tags at all.
        "TRUNC001": (truncated[: truncated.index("</section>") - 1000].encode(), "text/html; charset=utf-8"),
        "NOSECT01": (re.sub(r"</?section>", "", article_page("没有正文区", BODY)).encode(), "text/html; charset=utf-8"),
        "EMPTY001": (b"", "text/html; charset=utf-8"),
        # The date line does not parse; the page's metadata still has the date.
        "BADDATE1": (article_page("日期坏了", BODY).replace(
            f"CST) {GOOD_DATE}", "CST) 2022-13-45 99:99:99").encode(), "text/html; charset=utf-8"),
        # Neither the date line nor the metadata parses.
        "BADDATE2": (no_date.encode(), "text/html; charset=utf-8"),
        "WSTITLE1": (article_page(" \u3000\t\n ", BODY).replace(
            "<title> \u3000\t\n  | 金融消息</title>", "<title></title>").encode(), "text/html; charset=utf-8"),
        "BINARY01": (binary, "text/html"),
    }


DROPPED = {"NOSECT01": "no_section", "EMPTY001": "empty_page", "BADDATE2": "missing_date",
           "WSTITLE1": "missing_title", "BINARY01": "not_html"}
KEPT_WITH_FLAG = {"TRUNC001": "truncated", "BADDATE1": "date_from_metadata"}


def test_broken_pages_are_dropped_or_flagged_with_a_reason_and_the_crawl_goes_on(
        sqlite_url: str, tmp_path: Path) -> None:
    with FaultServer() as server:
        urls = {article_id: server.add_page(article_path(article_id), body, content_type)
                for article_id, (body, content_type) in broken_pages().items()}
        result = crawl(server, sqlite_url, tmp_path)
    # Seven of the sixteen article pages broken is no ok run: it is degraded, with a line per reason.
    assert result.returncode == 3 and result.outcome == "degraded", result.log[-3000:]
    assert "validation: 31% of 16 article pages dropped (limit 10%); e.g. " in result.log
    rows = archived(sqlite_url)
    # The crawl went on: the site's own articles are all there, as without faults.
    assert {k: content(v) for k, v in rows.items() if k in DEMO_IDS} == clean_rows()
    assert set(rows) == set(DEMO_IDS) | set(KEPT_WITH_FLAG)
    # Dropped: one reason each, in the stats, the summary and the log.
    assert {k: v for k, v in result.stats.items() if k.startswith("newscrawl/validate/dropped/")} == {
        f"newscrawl/validate/dropped/{reason}": 1 for reason in DROPPED.values()}
    assert result.summary["dropped"] == {reason: 1 for reason in DROPPED.values()}
    for article_id, reason in DROPPED.items():
        assert f"Dropped: {reason}: {urls[article_id]}" in result.log
    # Kept with a flag: counted, logged, and the flag stored with the article for review.
    assert {k: v for k, v in result.stats.items() if k.startswith("newscrawl/validate/flagged/")} == {
        f"newscrawl/validate/flagged/{flag}": 1 for flag in KEPT_WITH_FLAG.values()}
    for article_id, flag in KEPT_WITH_FLAG.items():
        assert f"kept with flags {flag}: {urls[article_id]}" in result.log
        assert rows[article_id]["flags"] == [flag, "no_share_link"]
    truncated = rows["TRUNC001"]
    assert truncated["title"] == "截断的页面" and truncated["body_text"].startswith("中国人民银行授权")
    assert rows["BADDATE1"]["published_at"].isoformat() == "2022-02-14T15:11:07+08:00"
    # None of it is an error: each page cost one request and was explained.
    assert result.summary["errors"] == 0


@hypothesis.settings(max_examples=300, deadline=None)
@hypothesis.given(data=st.binary(max_size=200) | st.text(max_size=100).map(lambda t: t.encode("utf-8")))
def test_looks_like_text_is_scrapys_binary_is_text(data: bytes) -> None:
    # The spider's fast test decides "not_html" exactly as Scrapy's own would.
    assert looks_like_text(data) == binary_is_text(data)
    assert looks_like_text(bytes(range(32))) is False and looks_like_text(b"\0\t\r\n<p>") is True
