"""The address policy: what each URL is, and that nothing outside the site and origins may be requested."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from w3lib.url import canonicalize_url

from newscrawl.urls import Kind, SitePolicy, article_id_from_url

SITE = SitePolicy.from_settings("http://finews.withounder.com/", "finews.zning.xyz,choicewzp1.eastmoney.com")
PAGE = "http://finews.withounder.com/emnews/2021/12/08/202112082206735975.html"


@pytest.mark.parametrize(("href", "absolute", "kind"), [
    # https and protocol-relative forms of site pages are the same pages in the configured scheme.
    ("https://finews.withounder.com/emnews/2021/12/08/1.html", "http://finews.withounder.com/emnews/2021/12/08/1.html",
     Kind.ARTICLE),
    ("//finews.withounder.com/category/zhongguofazhanwang.html",
     "http://finews.withounder.com/category/zhongguofazhanwang.html", Kind.CATEGORY),
    ("/category/21shijijingjibaodao 21caijingAPP.html",
     "http://finews.withounder.com/category/21shijijingjibaodao%2021caijingAPP.html", Kind.CATEGORY),
    ("/2021/12/08/202112082206703990.html", "http://finews.withounder.com/2021/12/08/202112082206703990.html",
     Kind.ARTICLE),
    ("https://finews.withounder.com/", "http://finews.withounder.com/", Kind.LISTING),
    ("../emnews/", "http://finews.withounder.com/emnews/2021/12/emnews/", Kind.OTHER_SITE_PAGE),
    ("/feed.xml#top", "http://finews.withounder.com/feed.xml", Kind.LISTING),
    ("http://finews.zning.xyz/html_News/NewsShare.html?infoCode=NW202202142275724924",
     "http://finews.zning.xyz/html_News/NewsShare.html?infoCode=NW202202142275724924", Kind.SHARE),
    ("http://finance.eastmoney.com/news/1355,202112082206735975.html",
     "http://finance.eastmoney.com/news/1355,202112082206735975.html", Kind.OFFSITE),
    ("http://127.0.0.1:6379/", "http://127.0.0.1:6379/", Kind.OFFSITE),
    ("http://10.0.0.1/category/x.html", "http://10.0.0.1/category/x.html", Kind.OFFSITE),
    ("http://finews.withounder.com:8080/category/x.html", "http://finews.withounder.com:8080/category/x.html",
     Kind.OFFSITE),
    # w3lib's canonical form: escapes of plain characters decoded, dot segments resolved, arguments sorted.
    ("/category/%41b%2dc.html", "http://finews.withounder.com/category/Ab-c.html", Kind.CATEGORY),
    ("/a/../2022/02/14/./x.html", "http://finews.withounder.com/2022/02/14/x.html", Kind.ARTICLE),
    ("/feed.xml?b=2&a=1", "http://finews.withounder.com/feed.xml?a=1&b=2", Kind.LISTING),
])
def test_links_are_resolved_and_classified(href: str, absolute: str, kind: Kind) -> None:
    url = SITE.absolute(href, PAGE)
    assert url == absolute
    assert SITE.kind(url) is kind
    assert SITE.link(href, PAGE) == (absolute, kind, *_article_parts(absolute, kind))


def _article_parts(url: str, kind: Kind) -> tuple[str | None, str | None]:
    if kind is not Kind.ARTICLE:
        return None, None
    category = url.removeprefix("http://finews.withounder.com/").split("/")[0]
    return (None if category.isdigit() else category), article_id_from_url(url)


@settings(max_examples=300)
@given(st.lists(st.sampled_from(list("/.%:#?-_ab12中文")) | st.sampled_from(
    ["https://", "//", "finews.withounder.com", "finews.zning.xyz", "category/", "2022/02/14/", ".html", "%2F",
     "%E4%B8%AD", ":8080", "emnews/"]), max_size=12).map("".join))
def test_link_agrees_with_absolute_and_kind(href: str) -> None:
    # The spider's one-pass link() must say what absolute(), kind() and article_id_from_url() say apart.
    link = SITE.link(href, PAGE)
    url = SITE.absolute(href, PAGE)
    if url is None:
        assert link is None
        return
    assert link is not None
    assert (link.url, link.kind) == (url, SITE.kind(url))
    assert link.slug == (article_id_from_url(url) if link.kind is Kind.ARTICLE else None)
    assert (link.category is not None) <= (link.kind is Kind.ARTICLE)


HREF_PARTS = st.lists(st.sampled_from(list("/.%:#?-_ab12中文 ()+,;=@!$&'*~\\")) | st.sampled_from(
    ["https://", "http://", "//", "finews.withounder.com", "FINEWS.withounder.com", "127.0.0.1:8765",
     "finews.zning.xyz", "category/", "2022/02/14/", ".html", "%2F", "%E4%B8%AD", ":8080", ":80", "emnews/", "/./",
     "/../", "..", "HTTP://"]),
    max_size=14).map("".join)
BASES = [PAGE, "https://finews.withounder.com/category/x.html", "http://finews.withounder.com:8080/a/b.html",
         "http://finews.zning.xyz/html_News/NewsShare.html?infoCode=NW1", "ftp://finews.withounder.com/x/",
         "http://127.0.0.1:8765/2022/01/01/x.html"]
POLICIES = [SITE, SitePolicy.from_settings("https://finews.withounder.com", ""),
            SitePolicy.from_settings("http://127.0.0.1:8765/", "finews.zning.xyz")]


# Links shaped like the site's own (a prefix, then path pieces), with the odd piece that needs resolving.
SITE_LIKE_HREFS = st.tuples(
    st.sampled_from(["/", "//finews.withounder.com/", "http://finews.withounder.com/", "https://finews.withounder.com/",
                     "//127.0.0.1:8765/", "http://127.0.0.1:8765/", " /", "HTTPS://finews.withounder.com/", ""]),
    st.lists(st.sampled_from(["category/", "x-y_z", "2022/02/14/", "NW1.html", "a", "/", "()+,;=:@!$&'*~", ".html",
                              "./", "../", ".", "?q=1", "#f", "%20", "中", " ", "\\"]), max_size=8).map("".join),
).map("".join)


@settings(max_examples=1500)
@given(href=HREF_PARTS | SITE_LIKE_HREFS, base=st.sampled_from(BASES), policy=st.sampled_from(POLICIES))
def test_a_resolved_link_is_in_its_one_form(href: str, base: str, policy: SitePolicy) -> None:
    # One page, one URL: the URL a link resolves to resolves to itself, from any page, and w3lib's
    # canonical form leaves it as it is (only the site's scheme and host may differ: the configured ones).
    url = policy.absolute(href, base)
    if url is None:
        return
    assert policy.absolute(url, base) == url
    assert policy.absolute(url, "https://elsewhere.example/a/b.html") == url
    assert canonicalize_url(url) == url


@pytest.mark.parametrize("href", ["file:///etc/passwd", "ftp://finews.withounder.com/x", "javascript:alert(1)",
                                  "mailto:a@b.c", "data:text/html,x", "#top", "", "http://[::1"])
def test_unusable_links_resolve_to_nothing(href: str) -> None:
    assert SITE.absolute(href, PAGE) is None


@pytest.mark.parametrize(("url", "allowed"), [
    ("http://finews.withounder.com/anything", True),
    ("https://finews.withounder.com/robots.txt", True),
    ("http://finews.zning.xyz/NewsData/GetNewsText.do?id=NW1", True),
    ("http://finews.zning.xyz/html_News/NewsShare.html?infoCode=NW1", True),
    ("http://finews.zning.xyz/admin", False),  # an origin host, but not its share or text API
    ("http://finews.zning.xyz:8080/NewsData/GetNewsText.do?id=NW1", False),
    ("http://evil.example/", False),
    ("http://127.0.0.1/", False),
    ("http://[::1]/", False),
    ("http://169.254.169.254/latest/meta-data/", False),
    ("file:///etc/passwd", False),
])
def test_only_the_site_and_origin_apis_may_be_requested(url: str, allowed: bool) -> None:
    assert SITE.may_request(url) is allowed


def test_a_loopback_site_is_the_site_but_other_loopback_ports_are_not() -> None:
    local = SitePolicy.from_settings("http://127.0.0.1:8765/", "")
    assert local.kind("http://127.0.0.1:8765/category/a.html") is Kind.CATEGORY
    assert local.may_request("http://127.0.0.1:8765/x")
    assert not local.may_request("http://127.0.0.1:6379/")
    assert not local.may_request("http://localhost:8765/")


def test_text_api_url_and_info_code() -> None:
    share = "http://finews.zning.xyz/html_News/NewsShare.html?infoCode=NW202202142275724924"
    assert SITE.text_api_url(share) == "http://finews.zning.xyz/NewsData/GetNewsText.do?id=NW202202142275724924"
    assert SITE.info_code(share) == "NW202202142275724924"
    assert SITE.text_api_url("http://other.example/html_News/NewsShare.html?infoCode=NW1") is None
    assert SITE.info_code("http://finews.zning.xyz/html_News/NewsShare.html?infoCode=../../x") is None


def test_category_pages_and_article_ids() -> None:
    assert SITE.category_page("anxinguojizhengquan(xianggang)") == \
        "http://finews.withounder.com/category/anxinguojizhengquan(xianggang).html"
    assert SITE.category_page("21shijijingjibaodao  nancailicaitong") == \
        "http://finews.withounder.com/category/21shijijingjibaodao%20%20nancailicaitong.html"
    assert article_id_from_url("http://finews.withounder.com/zhongguofazhanwang/2022/02/14/NW202202142275724924.html") \
        == "NW202202142275724924"
    assert article_id_from_url("http://finews.withounder.com/category/x.html") is None
    assert SITE.link(PAGE, PAGE) == (PAGE, Kind.ARTICLE, "emnews", "202112082206735975")
    assert SITE.link("/2021/12/08/1.html", PAGE) == ("http://finews.withounder.com/2021/12/08/1.html", Kind.ARTICLE,
                                                    None, "1")


