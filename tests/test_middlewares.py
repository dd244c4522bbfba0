"""newscrawl.middlewares and the address readings they rely on, one piece at a time.

The whole chain (a crawl meeting redirect loops, browser-read redirects and the policy) is in
tests/test_faults_hostile.py; these pin the pieces: the redirect guard reads a Location exactly as Scrapy's
RedirectMiddleware will (compared with Scrapy itself), ``browser_url`` reads it as the WHATWG URL standard
says (expected values written from the standard's parsing rules), and Scrapy's offsite filter, replaced
by newscrawl's, says why it drops a request.
"""

from __future__ import annotations

import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scrapy import Request, Spider
from scrapy.downloadermiddlewares.redirect import RedirectMiddleware
from scrapy.http import Response
from scrapy.utils.test import get_crawler

from newscrawl.middlewares import OffsiteMiddleware, RequestRefused, scrapy_redirect_url
from newscrawl.urls import SitePolicy, browser_url

PAGE = "http://finews.withounder.com/zhongguofazhanwang/2022/02/14/A.html"
POLICY = SitePolicy.from_settings("http://finews.withounder.com/", "finews.zning.xyz")


class _Spider(Spider):
    name = "probe"
    allowed_domains = ["finews.withounder.com"]  # noqa: RUF012 - as Scrapy spiders declare it


def _crawler() -> object:
    crawler = get_crawler(_Spider)
    crawler.spider = crawler._create_spider("probe")
    return crawler


LOCATION_PIECES = st.sampled_from(["http:", "https:", "HTTP:", "//", "/", "\\", "\\\\", "..", ".", "169.254.169.254",
                                   "finews.withounder.com", "evil.example", ":8080", "@", "?", "#", "%2F", "%5C",
                                   "\t", " ", "a", "中文", "0x7f.1", "latest"])


@settings(max_examples=400, deadline=None)
@given(pieces=st.lists(LOCATION_PIECES, min_size=1, max_size=8))
def test_the_guard_reads_a_location_as_scrapy_follows_it(pieces: list[str]) -> None:
    location = "".join(pieces).encode()
    middleware = RedirectMiddleware.from_crawler(_crawler())  # type: ignore[arg-type]
    request = Request(PAGE)
    try:
        followed = middleware.process_response(request, Response(PAGE, status=302, headers={"Location": location},
                                                                 request=request))
    except ValueError:
        return  # Scrapy cannot make a request of it (no scheme): nothing is followed
    if isinstance(followed, Request):
        assert Request(scrapy_redirect_url(location, PAGE)).url == followed.url


@pytest.mark.parametrize(("href", "expected"), [
    # Expected values follow the WHATWG URL standard's parser states (special schemes: "\" is "/").
    ("http:\\\\169.254.169.254\\latest", "http://169.254.169.254/latest"),
    ("\\\\169.254.169.254\\latest", "http://169.254.169.254/latest"),
    ("/\\evil.example/x", "http://evil.example/x"),
    ("http:/evil.example/x", "http://finews.withounder.com/evil.example/x"),  # same scheme: a path
    ("https:/evil.example/x", "https://evil.example/x"),  # another scheme: an authority
    ("https:evil.example", "https://evil.example/"),
    ("http:evil.example", "http://finews.withounder.com/zhongguofazhanwang/2022/02/14/evil.example"),
    (" \x01http://evil.example/\x1f ", "http://evil.example/"),  # C0 controls and spaces stripped
    ("ht\ttp://ev\nil.exa\rmple/", "http://evil.example/"),  # tabs and newlines removed
    ("HtTp://EVIL.example/", "http://evil.example/"),
    ("http://0xA9.0xFE.0xA9.0xFE/", "http://169.254.169.254/"),
    ("http://2852039166/", "http://169.254.169.254/"),
    ("http://0251.0376.0251.0376/", "http://169.254.169.254/"),
    ("http://169.254.43518/", "http://169.254.169.254/"),
    ("http://0x7f.1/", "http://127.0.0.1/"),
    ("http://%31%32%37.0.0.1/", "http://127.0.0.1/"),
    ("http://a b/", None),  # no browser goes there
])
def test_browser_url_reads_as_a_browser_does(href: str, expected: str | None) -> None:
    assert browser_url(href, PAGE) == expected


def test_the_policy_refuses_what_a_browser_reads_as_another_host() -> None:
    assert POLICY.may_request(PAGE)
    # Python reads the host after the last "@"; a browser ends the host at the backslash.
    assert POLICY.is_site("http://evil.example\\@finews.withounder.com/")
    assert not POLICY.may_request("http://evil.example\\@finews.withounder.com/")
    assert not POLICY.may_request("http://169.254.169.254\\@finews.zning.xyz/robots.txt")
    assert not POLICY.may_request("http://a b/")


def test_scrapys_offsite_filter_says_why_and_leaves_the_errback_to_count(caplog: pytest.LogCaptureFixture) -> None:
    crawler = _crawler()
    middleware = OffsiteMiddleware.from_crawler(crawler)  # type: ignore[arg-type]
    middleware.spider_opened(crawler.spider)  # type: ignore[attr-defined]
    offsite = Request("http://evil.example/x.html")
    # Scrapy's filter drops a request when it is scheduled, where no errback hears of it: not this one.
    assert middleware.request_scheduled(offsite, crawler.spider) is None  # type: ignore[attr-defined]
    assert middleware.process_request(Request(PAGE)) is None
    with caplog.at_level(logging.DEBUG, logger="newscrawl.middlewares"), pytest.raises(RequestRefused) as refused:
        middleware.process_request(offsite)
    assert refused.value.reason == "offsite"
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", "request dropped (offsite): http://evil.example/x.html is not in the spider's allowed_domains "
                    "(Filtered offsite request to 'evil.example')")]
    assert crawler.stats.get_value("newscrawl/offsite/refused") == 1  # type: ignore[attr-defined]
