"""The ``finews`` spider: decides what to fetch on the finews mirror, nothing else.

It starts at the site root, its feed and ``/emnews/``, follows category pages (also the ones no page
links to, by the site's convention that a post at ``/<category>/YYYY/MM/DD/<slug>.html`` is listed on
``/category/<category>.html``), reads every article page, and for a share link on an origin host asks the
origin's text API. Parsing is done by ``newscrawl.parsers``; addresses are judged by ``newscrawl.urls``;
archived articles are re-checked with conditional requests when NEWSCRAWL_INCREMENTAL is on.
docs/crawling.md describes the rules.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import scrapy
from scrapy.crawler import Crawler
from scrapy.http import Response
from twisted.python.failure import Failure

from newscrawl.crawlstate import CrawlState
from newscrawl.items import Article, ArticleSeen
from newscrawl.parsers import parse_article, parse_listing_links, parse_origin_text
from newscrawl.urls import Kind, SitePolicy, article_id_from_url


class FinewsSpider(scrapy.Spider):
    name = "finews"

    allowed_domains: list[str]
    policy: SitePolicy
    follow_share_links: bool
    state: CrawlState

    def __init__(self, category: str | None = None, url: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.only_category = category
        self.only_url = url

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> FinewsSpider:
        spider: FinewsSpider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        spider.policy = SitePolicy.from_settings(
            settings.get("NEWSCRAWL_SITE_URL"), settings.get("NEWSCRAWL_ORIGIN_HOSTS") or ""
        )
        spider.allowed_domains = spider.policy.allowed_domains()
        spider.follow_share_links = settings.getbool("NEWSCRAWL_FOLLOW_SHARE_LINKS", True)
        spider.state = CrawlState.for_crawler(crawler)
        return spider

    # -- what to start with ------------------------------------------------------------------------

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for request in self._start_requests():
            yield request

    def _start_requests(self) -> Iterator[scrapy.Request]:
        if self.only_url:
            url = self.policy.absolute(self.only_url, self.policy.site_url)
            if url is None or self.policy.kind(url) is not Kind.ARTICLE:
                raise ValueError(f"-a url={self.only_url!r} is not an article page of {self.policy.site_url}")
            yield self._article_request(url)
            return
        if self.only_category:
            yield self._listing_request(self.policy.category_page(self.only_category))
            return
        for url in self.policy.start_urls():
            yield self._listing_request(url)

    # -- listings: the root, /emnews/, the feed, category pages ------------------------------------

    def parse_listing(self, response: Response) -> Iterator[scrapy.Request]:
        if response.status == 304:
            links = self.state.stored_links(response.url)
            self.crawler.stats.inc_value("newscrawl/spider/listing_not_modified")
        else:
            links = parse_listing_links(response.text, response.url)
            self.crawler.stats.inc_value("newscrawl/spider/listing_read")
            self.state.remember_listing(response, links)
        yield from self._follow(links, response.url)

    def _follow(self, hrefs: list[str], base_url: str) -> Iterator[scrapy.Request]:
        stats = self.crawler.stats
        for href in hrefs:
            url = self.policy.absolute(href, base_url)
            if url is None:
                continue
            kind = self.policy.kind(url)
            if kind is Kind.ARTICLE:
                yield self._article_request(url)
                # The site links only some category pages; every post's category page lists all its posts.
                category = self.policy.category_of_article(url)
                if category and not self._restricted:
                    yield self._listing_request(self.policy.category_page(category))
            elif kind in (Kind.CATEGORY, Kind.LISTING) and not self._restricted:
                yield self._listing_request(url)
            elif kind is Kind.OFFSITE:
                stats.inc_value("newscrawl/spider/offsite_links")
                self.logger.debug("offsite link recorded, not requested: %s", url)

    @property
    def _restricted(self) -> bool:
        return bool(self.only_category or self.only_url)

    # -- articles and their origin text -------------------------------------------------------------

    def parse_article(self, response: Response) -> Iterator[Article | ArticleSeen | scrapy.Request]:
        article_id = article_id_from_url(response.url) or ""
        if response.status == 304:
            self.crawler.stats.inc_value("newscrawl/spider/article_not_modified")
            yield ArticleSeen(article_id=article_id, url=response.url)
            return
        article = parse_article(response.text, response.url)
        article.etag = _header(response, b"ETag")
        article.last_modified = _header(response, b"Last-Modified")
        self.crawler.stats.inc_value("newscrawl/spider/article_parsed")
        if not self._restricted:
            yield from self._follow(parse_listing_links(response.text, response.url), response.url)
        yield from self._with_origin_text(article)

    def _with_origin_text(self, article: Article) -> Iterator[Article | scrapy.Request]:
        if not article.share_url:
            yield article
            return
        api_url = self.policy.text_api_url(article.share_url)
        if api_url is None:
            article.origin_status = "offsite"
            yield article
        elif not self.follow_share_links:
            article.origin_status = "not_followed"
            yield article
        else:
            yield scrapy.Request(
                api_url,
                callback=self.parse_origin,
                errback=self.origin_failed,
                cb_kwargs={"article": article},
                meta={"handle_httpstatus_all": True, "newscrawl_kind": "origin"},
                priority=10,
            )

    def parse_origin(self, response: Response, article: Article) -> Iterator[Article]:
        if response.status != 200:
            article.origin_status = f"http_{response.status}"
        else:
            answer = parse_origin_text(response.body)
            article.origin_status = answer.status
            article.origin_html = answer.html
        self.crawler.stats.inc_value(f"newscrawl/origin/{article.origin_status}")
        if article.origin_status != "ok":
            self.logger.warning("origin text of %s not usable (%s); kept from the mirror",
                                article.article_id, article.origin_status)
        yield article

    def origin_failed(self, failure: Failure) -> Iterator[Article]:
        article: Article = failure.request.cb_kwargs["article"]  # type: ignore[attr-defined]
        article.origin_status = "error"
        self.crawler.stats.inc_value("newscrawl/origin/error")
        self.logger.warning("origin text of %s failed (%s); kept from the mirror",
                            article.article_id, failure.getErrorMessage())
        yield article

    # -- requests --------------------------------------------------------------------------------------

    def _listing_request(self, url: str) -> scrapy.Request:
        return scrapy.Request(
            url,
            callback=self.parse_listing,
            headers=self.state.listing_validators(url),
            meta={"handle_httpstatus_list": [304], "newscrawl_kind": "listing"},
        )

    def _article_request(self, url: str) -> scrapy.Request:
        self.crawler.stats.inc_value("newscrawl/spider/article_requested")
        return scrapy.Request(
            url,
            callback=self.parse_article,
            headers=self.state.article_validators(url),
            meta={"handle_httpstatus_list": [304], "newscrawl_kind": "article"},
            priority=5,
        )


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None
