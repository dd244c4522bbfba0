"""Fault suite, encodings (docs/reliability.md, case 3): GBK / GB18030 pages with and without a charset
header or meta tag, and UTF-8 with a byte-order mark, are archived as the same text as their UTF-8 form.

Who decides: w3lib's ``html_to_unicode`` (through Scrapy's ``TextResponse``) reads a byte-order mark,
then the Content-Type charset, then a ``<meta>`` charset (GBK and GB2312 are read as their superset
GB18030). When a page declares nothing, newscrawl's ``DeclaredEncodingMiddleware`` reads it as UTF-8 if it
is valid UTF-8, else as GB18030 if it decodes as such, because Scrapy's last resort, charset-normalizer,
guesses among all the world's encodings and reads a short GBK page as Korean (cp949) or Big5: the
first test shows it does. A declared charset the body cannot be decoded in gives way the same way.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from crawling import DEMO_IDS, query
from faults import SITE_URL, FaultServer, archived, article_page, article_path, crawl
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scrapy import Request
from scrapy.http import HtmlResponse

from newscrawl.encoding import PageEncoding, decide_encoding
from newscrawl.middlewares import DeclaredEncodingMiddleware
from newscrawl.parsers import parse_article
from newscrawl.processing import read_article_page

TITLE = "人民币汇率中间价报6.3741 上调"
BODY = "<p>中国人民银行授权中国外汇交易中心公布，人民币汇率中间价上调。</p>"
# A short emnews-like page that charset-normalizer misreads when nothing declares its encoding.
SHORT_TITLE, SHORT_BODY, SHORT_PUBLISHER = "美联储加息", "<p>下跌</p>", "东财滚动"
META_CHARSET = '<meta charset="{}">'
META_HTTP_EQUIV = '<meta http-equiv="Content-Type" content="text/html; charset={}">'
BOM = b"\xef\xbb\xbf"
BOM16 = b"\xff\xfe"


def page(title: str, charset_tag: str = "", body: str = BODY, publisher: str = "中国发展网") -> str:
    return article_page(title, body, charset=charset_tag, publisher=publisher)


# article id → (title, page bytes, Content-Type); every page's text is the same but for the title.
CASES: dict[str, tuple[str, bytes, str]] = {
    "GBKHEAD1": (TITLE + "甲", page(TITLE + "甲").encode("gbk"), "text/html; charset=gbk"),
    "GBKMETA1": (TITLE + "乙", page(TITLE + "乙", META_CHARSET.format("gbk")).encode("gbk"), "text/html"),
    "GB2312M1": (TITLE + "丙", page(TITLE + "丙", META_HTTP_EQUIV.format("gb2312")).encode("gbk"), "text/html"),
    # GB18030 beyond GBK (𠮷 is a four-byte GB18030 sequence), declared nowhere.
    "GB18NONE": (TITLE + "𠮷", page(TITLE + "𠮷").encode("gb18030"), "text/html"),
    "GBKSHORT": (SHORT_TITLE, page(SHORT_TITLE, body=SHORT_BODY, publisher=SHORT_PUBLISHER).encode("gbk"),
                 "text/html"),
    # The header says UTF-8, the body is GB18030.
    "GB18LIE1": (TITLE + "丁", page(TITLE + "丁").encode("gb18030"), "text/html; charset=utf-8"),
    "UTF8BOM1": (TITLE + "戊", BOM + page(TITLE + "戊").encode("utf-8"), "text/html"),
    # A byte-order mark outranks the header, as in browsers (and w3lib).
    "UTF8BOM2": (TITLE + "己", BOM + page(TITLE + "己", META_CHARSET.format("gbk")).encode("utf-8"),
                 "text/html; charset=gbk"),
}


class Counts(dict[str, int]):
    """Just enough of a stats collector for a middleware used on its own."""

    def inc_value(self, key: str, count: int = 1) -> None:
        self[key] = self.get(key, 0) + count


def middleware() -> DeclaredEncodingMiddleware:
    return DeclaredEncodingMiddleware(Counts())  # type: ignore[arg-type]


def expected_fields(article_id: str, title: str, text: str) -> dict[str, object]:
    article = parse_article(text, SITE_URL.rstrip("/") + article_path(article_id))
    return {"title": title, "body_html": article.body_html, "body_text": article.body_text,
            "tags": article.tags, "publisher": article.publisher}


def test_charset_normalizer_alone_misreads_a_short_gbk_page() -> None:
    """The premise of DeclaredEncodingMiddleware: without it, Scrapy's guess gets this page wrong."""
    _, body, content_type = CASES["GBKSHORT"]
    response = HtmlResponse("http://finews.withounder.com/x.html", body=body, headers={"Content-Type": content_type})
    assert SHORT_TITLE not in response.text
    fixed = middleware().process_response(response.request, response)
    assert isinstance(fixed, HtmlResponse) and fixed.encoding == "gb18030" and SHORT_TITLE in fixed.text


@pytest.mark.slow
def test_every_encoding_is_archived_as_the_same_text(sqlite_url: str, tmp_path: Path) -> None:
    with FaultServer() as server:
        for article_id, (_, body, content_type) in CASES.items():
            server.add_page(article_path(article_id), body, content_type)
        result = crawl(server, sqlite_url, tmp_path)
    assert result.returncode == 0 and result.outcome == "ok", result.log[-3000:]
    rows = archived(sqlite_url)
    for article_id, (title, _, _) in CASES.items():
        unicode_page = (page(title, body=SHORT_BODY, publisher=SHORT_PUBLISHER) if article_id == "GBKSHORT"
                        else page(title))
        got = {name: rows[article_id][name] for name in ("title", "body_html", "body_text", "tags", "publisher")}
        assert got == expected_fields(article_id, title, unicode_page), article_id
        assert "\ufffd" not in rows[article_id]["body_html"] + rows[article_id]["title"]
    # Two pages declared nothing and were not UTF-8; one declared UTF-8 and was not.
    assert {k: v for k, v in result.stats.items() if k.startswith("newscrawl/encoding/")} == {
        "newscrawl/encoding/undeclared_gb18030": 2, "newscrawl/encoding/mislabelled_gb18030": 1}
    lie = SITE_URL.rstrip("/") + article_path("GB18LIE1")
    assert f"page says utf-8 but is gb18030; read as gb18030: {lie}" in result.log


CJK = st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), min_size=1, max_size=30)


@settings(max_examples=200, deadline=None)
@given(text=CJK)
def test_any_undeclared_gb18030_page_is_read_as_written(text: str) -> None:
    body = f"<html><body><h1>{text}</h1></body></html>".encode("gb18030")
    # A byte string that is valid in both cannot be told apart; UTF-8 is the web's default then.
    assume(not _is_utf8(body))
    response = HtmlResponse("http://finews.withounder.com/x.html", body=body, headers={"Content-Type": "text/html"})
    fixed = middleware().process_response(response.request, response)
    assert isinstance(fixed, HtmlResponse) and f"<h1>{text}</h1>" in fixed.text


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# Pages whose text is not all in the encoding's repertoire keep the rest as character references, as a
# Big5 site does: article id → (title, page bytes, Content-Type, the encoding the page is really in).
BIG5_TITLE, BIG5_PUBLISHER = "臺灣加權指數收盤上漲", "中央社"
BIG5_BODY = "<p>臺灣證券交易所公布，加權指數收盤上漲百分之一。</p>"
SHORT_BIG5_TITLE = "美聯儲加息"


def foreign(title: str, encoding: str, charset_tag: str = "", body: str = BIG5_BODY) -> bytes:
    return page(title, charset_tag, body=body, publisher=BIG5_PUBLISHER).encode(encoding, "xmlcharrefreplace")


MORE_CASES: dict[str, tuple[str, bytes, str, str]] = {
    "BIG5HEAD": (BIG5_TITLE + "甲", foreign(BIG5_TITLE + "甲", "big5"), "text/html; charset=big5", "big5"),
    "BIG5NONE": (BIG5_TITLE + "乙", foreign(BIG5_TITLE + "乙", "big5"), "text/html", "big5"),
    "BIG5SHRT": (SHORT_BIG5_TITLE, foreign(SHORT_BIG5_TITLE, "big5", body="<p>下跌</p>"), "text/html", "big5"),
    "UTF16BOM": (TITLE + "庚", BOM16 + page(TITLE + "庚").encode("utf-16-le"), "text/html; charset=utf-16", "utf-16"),
    "UTF16LE1": (TITLE + "辛", page(TITLE + "辛").encode("utf-16-le"), "text/html; charset=utf-16le", "utf-16-le"),
}


@pytest.mark.slow
def test_reparse_reads_every_page_as_the_crawl_did(db_url: str, tmp_path: Path) -> None:
    """Attack table: reparse of GBK / GB18030 / Big5 / UTF-16 pages garbles nothing and makes no revision."""
    with FaultServer() as server:
        for article_id, (_, body, content_type) in CASES.items():
            server.add_page(article_path(article_id), body, content_type)
        for article_id, (_, body, content_type, _) in MORE_CASES.items():
            server.add_page(article_path(article_id), body, content_type)
        result = crawl(server, db_url, tmp_path)
    assert result.returncode == 0 and result.outcome == "ok", result.log[-3000:]
    crawled = archived(db_url)
    for article_id, (title, body, _, encoding) in MORE_CASES.items():
        row = crawled[article_id]
        if "encoding_guessed" not in row["flags"]:
            # Read in the page's own encoding: what a reader of the decoded page sees.
            assert {k: row[k] for k in ("title", "body_html", "body_text")} == {
                k: v for k, v in expected_fields(article_id, title, body.decode(encoding)).items()
                if k in ("title", "body_html", "body_text")}, article_id
        assert "\ufffd" not in row["body_html"] + row["title"], article_id
    ids = [*CASES, *MORE_CASES]
    # The Big5 pages are read as Big5, not flagged: charset-normalizer tells them from GB18030.
    assert {i for i in ids if "encoding_guessed" in crawled[i]["flags"]} == set()
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    again = subprocess.run([sys.executable, "-m", "newscrawl", "reparse", "--db", db_url, "--warc-dir",
                            str(tmp_path / "warc")], capture_output=True, text=True, env=env, timeout=300)
    assert again.returncode == 0, again.stderr
    # The demo site's own nine articles are served too.
    assert f"{len(ids) + len(DEMO_IDS)} unchanged" in again.stdout and "updated" not in again.stdout, again.stdout
    assert archived(db_url) == crawled
    assert query(db_url, "SELECT COUNT(*) AS n FROM article_revisions")[0]["n"] == 0


def test_a_page_too_short_to_tell_big5_from_gb18030_is_flagged() -> None:
    body = "<html><body><h1>丁</h1></body></html>".encode("gb18030")
    choice = decide_encoding(body, "text/html", None)
    assert choice == PageEncoding("gb18030", "undeclared_gb18030", guessed=True)
    response = HtmlResponse("http://finews.withounder.com/x.html", body=body, headers={"Content-Type": "text/html"},
                            request=Request("http://finews.withounder.com/x.html"))
    fixed = middleware().process_response(response.request, response)
    assert fixed.meta.get("newscrawl_encoding_guessed") is True
    article = read_article_page(fixed.url, fixed.body, fixed.text, encoding="gb18030",
                                encoding_guessed=fixed.meta["newscrawl_encoding_guessed"])
    assert "encoding_guessed" in article.flags
    assert "encoding_guessed" not in read_article_page(fixed.url, fixed.body, fixed.text).flags
