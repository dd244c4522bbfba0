"""Links of listing pages and the feed (tests/fixtures/listing_*/), and of article pages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree  # type: ignore[import-untyped]
from lxml import html as lxml_html

from newscrawl.parsers import parse_article_links, parse_listing_links

FIXTURES = Path(__file__).resolve().parent / "fixtures"
LISTING_CASES = sorted(p.name for p in FIXTURES.glob("listing_*") if (p / "page.html").is_file())
HTML_PAGES = sorted(str(p.relative_to(FIXTURES)) for p in FIXTURES.rglob("*.html"))


@pytest.mark.parametrize("case", LISTING_CASES)
def test_listing_links(case: str) -> None:
    folder = FIXTURES / case
    links = parse_listing_links((folder / "page.html").read_text(encoding="utf-8"),
                                (folder / "url.txt").read_text(encoding="utf-8").strip())
    assert links == json.loads((folder / "expected.json").read_text(encoding="utf-8"))
    assert len(links) == len(set(links))


def test_home_links_every_category_section() -> None:
    links = parse_listing_links((FIXTURES / "listing_home" / "page.html").read_text(encoding="utf-8"),
                                "https://finews.withounder.com/")
    assert "/sitenews/2021/12/01/init.html" in links
    assert "/quanshangzhongguo/2022/01/07/NW202201072239307540.html" in links


def test_feed_gives_entry_links_and_ids_even_cut_short() -> None:
    links = parse_listing_links((FIXTURES / "listing_feed_cut_short" / "page.html").read_text(encoding="utf-8"),
                                "https://finews.withounder.com/feed.xml")
    entry = "https://finews.withounder.com/cailianshe/2022/05/31/NW202205312398034850"
    assert entry + ".html" in links  # <link href>
    assert entry in links  # <id>, the URL without .html
    # The fourth entry was cut inside its <link>: its href is still there.
    assert links[-1] == "https://finews.withounder.com/yangxingwangzhan/2022/05/30/NW202205302396506117.html"


def test_article_page_back_links() -> None:
    page = (FIXTURES / "nw_seed_zhongguofazhanwang" / "page.html").read_text(encoding="utf-8")
    links = parse_article_links(page)
    assert "//finews.withounder.com/category/zhongguofazhanwang.html" in links
    assert "//finews.withounder.com/" in links
    assert "http://finews.zning.xyz/html_News/NewsShare.html?infoCode=NW202202142275724924" in links


@pytest.mark.parametrize("body", ["", "<", "\x00\xff", "<feed xmlns=\"http://www.w3.org/2005/Atom\"><link href=",
                                  "<html><a>no href</a></html>"])
def test_malformed_listings_do_not_raise(body: str) -> None:
    assert isinstance(parse_listing_links(body, "https://finews.withounder.com/"), list)
    assert isinstance(parse_listing_links(body, "https://finews.withounder.com/feed.xml"), list)
    assert isinstance(parse_article_links(body), list)


@settings(max_examples=200, deadline=None)
@given(body=st.text())
def test_listing_never_raises(body: str) -> None:
    parse_listing_links(body, "https://finews.withounder.com/")
    parse_listing_links(body, "https://finews.withounder.com/feed.xml")
    parse_article_links(body)


# -- <a href>: what an HTML parser reads ---------------------------------------------------------------------

def lxml_hrefs(page: str) -> list[str]:
    """lxml's own //a/@href of the page as a document, stripped, without duplicates."""
    try:
        page_bytes = page.replace("\x00", "").encode("utf-8")  # bytes: a page may open with an XML declaration
        tree = lxml_html.document_fromstring(page_bytes, parser=lxml_html.HTMLParser(encoding="utf-8"))
        found = tree.xpath("//a/@href")
    except (etree.ParserError, ValueError):
        return []
    return list(dict.fromkeys(str(href).strip() for href in found if str(href).strip()))


@pytest.mark.parametrize("page", HTML_PAGES)
def test_links_of_every_fixture_page_are_the_ones_lxml_reads(page: str) -> None:
    html = (FIXTURES / page).read_text(encoding="utf-8")
    assert parse_article_links(html) == lxml_hrefs(html)


def test_the_fixture_pages_hold_links_to_compare() -> None:
    pages = [(FIXTURES / page).read_text(encoding="utf-8") for page in HTML_PAGES]
    assert len(pages) >= 15
    assert sum(len(lxml_hrefs(page)) for page in pages) >= 50


HTML_CASES = {
    "comment": ('<p><!-- <a href="c">x</a> --><a href="ok">y</a>', ["ok"]),
    "comment-left-open": ('<a href="ok"><!-- <a href="c">', ["ok"]),
    "comment-holding-tags": ('<!-- <p>x</p> <a href="c"> --><a href="ok">', ["ok"]),
    "script": ("<script>var s=\"<a href='s'>\";</script><a href=\"ok\">", ["ok"]),
    "style": ('<style>a{}<a href="st"></style><a href="ok">', ["ok"]),
    "title": ('<title><a href="t">x</a></title><a href="ok">', ["ok"]),
    "textarea": ('<textarea><a href="ta">x</a></textarea><a href="ok">', ["ok"]),
    "iframe": ('<iframe><a href="i"></iframe><a href="ok">', ["ok"]),
    "plaintext": ('<a href="ok"><plaintext><a href="p">', ["ok"]),
    "noscript-is-markup": ('<noscript><a href="ns">x</a></noscript><a href="ok">', ["ns", "ok"]),
    "cdata": ('<![CDATA[<a href="cd">]]><a href="ok">', ["ok"]),
    "processing-instruction": ('<?php <a href="pi"> ?><a href="ok">', ["ok"]),
    "references": ('<a href="a?b=1&amp;c=2&lt;&#x41;&#66;&copy;">', ["a?b=1&c=2<AB©"]),
    "old-name-without-semicolon": ('<a href="x&copy">', ["x©"]),
    "no-reference-before-equals": ('<a href="a?b=1&copy=3">', ["a?b=1&copy=3"]),
    "no-reference-inside-a-word": ('<a href="&ampx&unknown;">', ["&ampx&unknown;"]),
    "single-quotes": ("<a href='sq'>", ["sq"]),
    "unquoted": ("<a href=uq>", ["uq"]),
    "upper-case": ('<A HREF="UP">', ["UP"]),
    "spaces": ('<a  href = " sp " >', ["sp"]),
    "first-href-counts": ('<a href="one" href="two">', ["one"]),
    "gt-in-another-value": ('<a title="x>y" href="gt">', ["gt"]),
    "href-in-another-value": ("<a title=\"see href='x'\" href=\"y\">", ["y"]),
    "no-space-between": ('<a href="x"title="t">', ["x"]),
    "slash": ('<a/href="sl">', ["sl"]),
    "other-tags": ('<abbr href="no"><area href="no2"><a hreflang="en" data-href="d" href="h">', ["h"]),
    "foreign-attribute": ('<svg><a xlink:href="s"></a></svg>', []),
    "empty-values": ('<a href=""><a href><a href= >', []),
    "nul": ('<a href="n\x00l">', ["nl"]),
    "cut-short": ('<a href="ok"><a href="x"', ["ok"]),
    "lt-in-another-value": ('<img alt="<a href=ia>"><a href="ok">', ["ok"]),
}


@pytest.mark.parametrize("page,expected", HTML_CASES.values(), ids=HTML_CASES.keys())
def test_links_are_what_html_reads(page: str, expected: list[str]) -> None:
    page = "<html><body><p>" + page
    assert parse_article_links(page) == expected
    assert lxml_hrefs(page) == expected
