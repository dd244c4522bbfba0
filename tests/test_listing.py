"""Links of listing pages and the feed (tests/fixtures/listing_*/), and of article pages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newscrawl.parsers import parse_article_links, parse_listing_links

FIXTURES = Path(__file__).resolve().parent / "fixtures"
LISTING_CASES = sorted(p.name for p in FIXTURES.glob("listing_*") if (p / "page.html").is_file())


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
