"""parse_article on real mirror pages (tests/fixtures/<case>/: page.html, url.txt, expected.json)."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newscrawl.items import Article
from newscrawl.parsers import parse_article, parse_origin_text

CST = timezone(timedelta(hours=8))

FIXTURES = Path(__file__).resolve().parent / "fixtures"
ARTICLE_CASES = sorted(p.parent.name for p in FIXTURES.glob("*/page.html") if not p.parent.name.startswith("listing_"))
SEED = FIXTURES / "nw_seed_zhongguofazhanwang"
FIELDS = ("article_id", "url", "title", "published_at", "category", "tags", "publisher", "summary", "source",
          "share_url", "info_code", "footer_md", "body_text", "body_html", "flags")


def fixture_article(case: str) -> Article:
    """The article of a fixture case: its page parsed, with its origin answer when it has one."""
    folder = FIXTURES / case
    article = parse_article((folder / "page.html").read_text(encoding="utf-8"),
                            (folder / "url.txt").read_text(encoding="utf-8").strip())
    if (folder / "origin.json").is_file():
        answer = parse_origin_text((folder / "origin.json").read_bytes())
        article.origin_html, article.origin_status = answer.html, answer.status
    return article


def load_case(case: str) -> tuple[Article, dict[str, Any]]:
    expected = json.loads((FIXTURES / case / "expected.json").read_text(encoding="utf-8"))
    return fixture_article(case), expected


def test_fixture_cases_are_there() -> None:
    assert len(ARTICLE_CASES) >= 8


@pytest.mark.parametrize("case", ARTICLE_CASES)
def test_fields(case: str) -> None:
    article, expected = load_case(case)
    got = {name: getattr(article, name) for name in FIELDS}
    got["published_at"] = article.published_at.isoformat() if article.published_at else None
    assert got == expected
    if article.published_at is not None:
        assert article.published_at.utcoffset() is not None
        assert article.published_at.utcoffset().total_seconds() == 8 * 3600  # type: ignore[union-attr]


@pytest.mark.parametrize("case", ARTICLE_CASES)
def test_boilerplate_is_not_in_the_body(case: str) -> None:
    article, _ = load_case(case)
    body_html, body_text = article.body_html or "", article.body_text or ""
    for boilerplate in ("返回首页", "tags:", "GMT+8", "<h1>", "<small>", "</section>"):
        assert boilerplate not in body_html
        assert boilerplate not in body_text
    if article.share_url:
        assert article.share_url not in body_html
        assert article.share_url not in body_text
    if article.footer_md:
        for link_text in re.findall(r"\[([^\]]+)\]", article.footer_md):
            assert link_text not in body_text
    if article.body_html:
        assert article.body_html == article.body_html.strip()


def test_seed_fields() -> None:
    article, _ = load_case(SEED.name)
    assert article.article_id == "NW202202142275724924"
    assert article.title == "南阳市南召县：政务服务事项一日办结赢“好评”"
    assert article.published_at is not None
    assert article.published_at.isoformat() == "2022-02-14T15:11:07+08:00"
    assert article.category == "zhongguofazhanwang"
    assert article.publisher == "中国发展网"
    assert article.source == "中国发展网"
    assert article.info_code == "NW202202142275724924"
    assert article.summary is not None and article.summary.startswith("“全面推广应用政务服务")
    assert article.footer_md == ("[返回中国发展网新闻](//finews.withounder.com/category/zhongguofazhanwang.html)"
                                 "｜[返回首页](//finews.withounder.com/)")


def test_date_without_offset_is_read_as_the_page_shows_it() -> None:
    # The post file said "date: 2021-12-08 10:39:01" (no +0800): Jekyll read UTC and the page shows 18:39:01.
    article, _ = load_case("emnews_digest_date_without_offset")
    assert article.published_at is not None
    assert article.published_at.isoformat() == "2021-12-08T18:39:01+08:00"
    assert article.footer_md == "[返回东财滚动新闻](../emnews/)\n[返回首页](../)"


def test_emnews_full_digest_line_is_the_summary() -> None:
    article, _ = load_case("emnews_full_digest_line")
    assert article.summary == ("券商中国获悉，1月5日，部分涉及衍生品业务的信托公司(主要是雪球类)收到监管窗口指导，"
                               "暂停涉及雪球类券商收益凭证产品的发行。（券商中国）")
    assert article.share_url == "http://finance.eastmoney.com/news/1353,202201072239307540.html"
    assert article.info_code is None
    assert article.body_html is not None and article.body_html.startswith("<blockquote>")


def _seed_page() -> str:
    return (SEED / "page.html").read_text(encoding="utf-8")


SEED_URL = "https://finews.withounder.com/zhongguofazhanwang/2022/02/14/NW202202142275724924.html"


def test_title_falls_back_to_metadata_without_h1() -> None:
    page = re.sub(r"<h1>南阳.*?</h1>", "", _seed_page())
    article = parse_article(page, SEED_URL)
    assert article.title == "南阳市南召县：政务服务事项一日办结赢“好评”"
    assert "title_from_metadata" in article.flags
    assert article.body_text is not None and article.body_text.startswith("摘要：")


def test_title_falls_back_to_html_title_last() -> None:
    page = re.sub(r"<h1>南阳.*?</h1>", "", _seed_page())
    page = re.sub(r'<meta property="(og|twitter):title"[^>]*>', "", page)
    page = page.replace('"headline":', '"other":')
    assert parse_article(page, SEED_URL).title == "南阳市南召县：政务服务事项一日办结赢“好评”"


def test_date_falls_back_to_metadata() -> None:
    page = re.sub(r"<small>\(GMT\+8.*?</small>", "", _seed_page())
    article = parse_article(page, SEED_URL)
    assert article.published_at is not None
    assert article.published_at.isoformat() == "2022-02-14T15:11:07+08:00"
    assert "date_from_metadata" in article.flags


def test_date_falls_back_to_json_ld() -> None:
    page = re.sub(r"<small>\(GMT\+8.*?</small>", "", _seed_page())
    page = re.sub(r'<meta property="article:published_time"[^>]*>', "", page)
    article = parse_article(page, SEED_URL)
    assert article.published_at is not None
    assert article.published_at.isoformat() == "2022-02-14T15:11:07+08:00"


def test_post_without_category_segment() -> None:
    article = parse_article(_seed_page(), "https://finews.withounder.com/2022/02/14/NW202202142275724924.html")
    assert article.category is None
    assert article.article_id == "NW202202142275724924"


# Each malformed page and what the parser must make of it: the fields it can still read and the flags that
# name what is missing. A parser that raised (and so flagged every page ``parser_error``) fails every case.
MALFORMED: dict[str, tuple[str, dict[str, object], list[str]]] = {
    "empty": ("", {"title": None, "published_at": None, "body_html": None}, ["no_section", "no_date", "no_title"]),
    "open-tag": ("<html", {"title": None, "body_html": None}, ["no_section", "no_date", "no_title"]),
    "bare-section": ("<section>", {"title": None, "body_html": None},
                     ["truncated", "no_date", "no_title", "no_share_link", "empty_body"]),
    "open-h1": ("<section><h1>", {"title": None, "body_html": "<h1>"},
                ["truncated", "no_date", "no_title", "no_share_link"]),
    "open-tags": ("<section><h1>t</h1><small>tags: <em>x", {"title": "t", "tags": None},
                  ["truncated", "no_date", "no_share_link"]),
    "binary": ("\x00\x01\x02\xff" * 50, {"title": None, "body_html": None}, ["no_section", "no_date", "no_title"]),
    "no-section": ("<html><body><p>no section here</p></body></html>", {"title": None, "body_html": None},
                   ["no_section", "no_date", "no_title"]),
    "deep": ("<section>" * 5000, {"title": None}, ["truncated", "no_date", "no_title", "no_share_link"]),
    "comment": ("<!-- only a comment -->", {"title": None, "body_html": None}, ["no_section", "no_date", "no_title"]),
    "xml": ("<?xml version='1.0'?><feed/>", {"title": None, "body_html": None}, ["no_section", "no_date", "no_title"]),
    # Metadata alone: the fallbacks read title and date from it.
    "metadata-only": ('<html><head><meta property="og:title" content="标题">'
                      '<meta property="article:published_time" content="2022-02-14T15:11:07+08:00"></head>'
                      "<body><section><p>正文</p></section></body></html>",
                      {"title": "标题", "published_at": datetime(2022, 2, 14, 15, 11, 7, tzinfo=CST)},
                      ["date_from_metadata", "title_from_metadata", "no_share_link"]),
}


@pytest.mark.parametrize("case", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_pages_give_what_they_have_and_flag_the_rest(case: tuple[str, dict[str, object], list[str]]) -> None:
    page, fields, flags = case
    article = parse_article(page, SEED_URL)
    assert article.article_id == "NW202202142275724924"
    assert article.category == "zhongguofazhanwang"
    assert {name: getattr(article, name) for name in fields} == fields
    assert article.flags == flags


N = 20000
PATHOLOGICAL = {
    "unclosed-sections": "<section>" * N,
    "footer-links": "<section><h1>t</h1><p>" + '<a href="x">返回首页</a>     \n   ' * N + "x</section>",
    "footer-paragraphs": "<section><h1>t</h1>" + '<p><a href="x">返回首页</a>   ' * N + "</p></section>",
    "tags-lines": "<section><h1>t</h1>" + "<small>tags:" * N + "</section>",
    "source-markers": "<section><h1>t</h1><p>" + "（文章来源：" * N + "</p></section>",
    "unclosed-h1": "<section>" + "<h1>" * N,
    "share-links": "<section><h1>t</h1>" + '<p><a href="' * N,
    "summary": "<section><h1>t</h1><p><strong>摘要：</strong>" + "<p>" * N,
}


@pytest.mark.parametrize("page", PATHOLOGICAL.values(), ids=PATHOLOGICAL.keys())
def test_pathological_pages_take_linear_time(page: str) -> None:
    # Quadratic or backtracking patterns take minutes on these pages; linear ones a fraction of a second.
    started = time.perf_counter()
    parse_article(page, SEED_URL)
    assert time.perf_counter() - started < 3.0


def test_truncated_page_keeps_what_it_has() -> None:
    page = _seed_page()
    article = parse_article(page[: page.rindex("招投标投诉受理")], SEED_URL)
    assert article.title == "南阳市南召县：政务服务事项一日办结赢“好评”"
    assert article.published_at is not None
    assert article.share_url is None
    assert "truncated" in article.flags


def test_binary_garbage_decoded_does_not_raise() -> None:
    garbage = bytes(range(256)) * 40
    article = parse_article(garbage.decode("latin-1"), "not a url at all")
    assert article.article_id == ""
    assert "no_article_id" in article.flags


def _missing_is_flagged(article: Article) -> None:
    """Every field the validation needs is there, or a flag says why not; the parser itself never failed."""
    assert "parser_error" not in article.flags
    if article.title is None:
        assert {"no_title", "empty_title"} & set(article.flags), article.flags
    if article.published_at is None:
        assert "no_date" in article.flags
    if article.body_html is None:  # no <section>, or one with nothing in it
        assert {"no_section", "empty_body"} & set(article.flags), article.flags


@settings(max_examples=300, deadline=None)
@given(page=st.text(), url=st.text(max_size=80))
def test_parse_article_never_fails(page: str, url: str) -> None:
    article = parse_article(page, url)
    _missing_is_flagged(article)
    assert article.url == url
    assert bool(article.article_id) != ("no_article_id" in article.flags)


@settings(max_examples=200, deadline=None)
@given(insert=st.text(alphabet="<>/\"'=&;sectionh1pamll \n", max_size=60), at=st.integers(0, 12000))
def test_mangled_real_page_never_fails(insert: str, at: int) -> None:
    page = _seed_page()
    article = parse_article(page[:at] + insert + page[at:], SEED_URL)
    assert article.article_id == "NW202202142275724924"
    _missing_is_flagged(article)
    if at >= len(page):  # appended after the page: the page itself is whole
        assert article.title == "南阳市南召县：政务服务事项一日办结赢“好评”"
        assert article.published_at is not None and article.share_url is not None


REPLICA = Path(__file__).resolve().parent.parent.parent / "shared" / "replica"


@pytest.mark.replica
@pytest.mark.jekyll
@pytest.mark.slow
@pytest.mark.skipif(not (REPLICA / "expected.jsonl").is_file(), reason="../shared/replica is not beside this checkout")
def test_replica_figures() -> None:
    """The acceptance measure: every field ≥ 99% on the reachable posts, ≥ 98% identical rebuilt pages."""
    import shutil
    import subprocess
    import sys

    tool = Path(__file__).resolve().parent.parent / "tools" / "replica_offline.py"
    result = subprocess.run([sys.executable, str(tool), "--replica", str(REPLICA), "--show", "0"],
                            capture_output=True, text=True, check=True, timeout=600)
    rates = re.findall(r"^(\w+)\s+(\d+)/(\d+) ", result.stdout, re.M)
    assert len(rates) == 9, result.stdout
    for field, matched, total in rates:
        assert int(matched) / int(total) >= 0.99, (field, result.stdout)
    if shutil.which("jekyll"):
        pages = re.search(r"identical article pages (\d+)/(\d+)", result.stdout)
        assert pages is not None, result.stdout
        assert int(pages.group(1)) / int(pages.group(2)) >= 0.98, result.stdout
