"""The ``finews`` spider: decides what to fetch on the finews mirror, nothing else.

It starts at the site root, its feed and ``/emnews/``, follows category pages (also the ones no page
links to, by the site's convention that a post at ``/<category>/YYYY/MM/DD/<slug>.html`` is listed on
``/category/<category>.html``), reads every article page, and for a share link on an origin host asks the
origin's text API. Parsing is done by ``newscrawl.parsers``; addresses are judged by ``newscrawl.urls``;
archived articles are re-checked with conditional requests when NEWSCRAWL_INCREMENTAL is on.
docs/crawling.md describes the rules.

Every page that cannot be had is explained: an article page that fails for good (after Scrapy's retries)
is counted in ``newscrawl/spider/dropped/<reason>`` and a listing in ``newscrawl/spider/listing_failed/<reason>``,
with a log line naming the page and the reason (docs/reliability.md lists them).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import scrapy
from scrapy.crawler import Crawler
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from scrapy.http import Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from newscrawl.config import get_bool, get_int
from newscrawl.crawlstate import CrawlState
from newscrawl.items import Article, ArticleSeen
from newscrawl.middlewares import RequestRefused
from newscrawl.parsers import parse_listing_links
from newscrawl.processing import origin_answer, read_article_page
from newscrawl.urls import Kind, SitePolicy, article_id_from_url


class FinewsSpider(scrapy.Spider):
    name = "finews"

    allowed_domains: list[str]
    policy: SitePolicy
    follow_share_links: bool
    max_links_per_page: int
    state: CrawlState

    def __init__(self, category: str | None = None, url: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.only_category = category
        self.only_url = url
        # URLs this process has already asked for: a category page is linked from each of its posts, and
        # every duplicate would cost a request object and an archive look-up before the dupefilter.
        self.scheduled: set[str] = set()
        # Archived articles seen again on unchanged listings, recorded once per run.
        self.sighted: set[str] = set()
        # One bound method per callback for the whole crawl: Scrapy caches its per-callback source check
        # by the callable object, so a fresh bound method per request would re-parse the source each time.
        self._on_listing, self._on_listing_failed = self.parse_listing, self.listing_failed
        self._on_article, self._on_article_failed = self.parse_article, self.article_failed
        self._on_origin, self._on_origin_failed = self.parse_origin, self.origin_failed

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> FinewsSpider:
        spider: FinewsSpider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        spider.policy = SitePolicy.configured(settings)
        spider.allowed_domains = spider.policy.allowed_domains()
        spider.follow_share_links = get_bool(settings, "NEWSCRAWL_FOLLOW_SHARE_LINKS")
        spider.max_links_per_page = get_int(settings, "NEWSCRAWL_MAX_LINKS_PER_PAGE")
        return spider

    # -- what to start with ------------------------------------------------------------------------

    async def start(self) -> AsyncIterator[scrapy.Request]:
        # The crawl's state is an extension, made after the spider (Scrapy's order): looked up here, once.
        self.state = CrawlState.of(self.crawler)
        # What the incremental decisions need, read once (off the reactor thread) before the first request.
        await self.state.load()
        if self.only_url:
            await self.state.look_up_articles([self.policy.absolute(self.only_url, self.policy.site_url) or ""])
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

    async def parse_listing(self, response: Response) -> AsyncIterator[scrapy.Request | ArticleSeen]:
        if response.status == 304:
            stored = await self.state.stored_links(response.url)
            if stored is None:
                # The archive cannot say what the page linked to: read it again rather than lose its links.
                yield self._listing_request(response.url, conditional=False)
                return
            links = stored
            self.crawler.stats.inc_value("newscrawl/spider/listing_not_modified")
        else:
            links = parse_listing_links(response.text, response.url)
            self.crawler.stats.inc_value("newscrawl/spider/listing_read")
            self.state.remember_listing(response, links)
        wanted = await self._wanted(links, response.url)
        for followed in self._follow(wanted, response.url, listing_unchanged=response.status == 304):
            yield followed

    async def _wanted(self, hrefs: list[str], base_url: str) -> dict[str, str | None]:
        """The pages ``hrefs`` link that the crawl follows: URL → the article's slug, None for a listing; in
        page order, each once. What the archive knows of the articles among them is looked up first."""
        stats = self.crawler.stats
        wanted: dict[str, str | None] = {}
        for href in hrefs:
            link = self.policy.link(href, base_url)
            if link is None:
                continue
            if link.kind is Kind.ARTICLE:
                wanted.setdefault(link.url, link.slug)
                # The site links only some category pages; every post's category page lists all its posts.
                if link.category and not self._restricted:
                    wanted.setdefault(self.policy.category_page(link.category), None)
            elif link.kind in (Kind.CATEGORY, Kind.LISTING) and not self._restricted:
                wanted.setdefault(link.url, None)
            elif link.kind is Kind.OFFSITE:
                stats.inc_value("newscrawl/spider/offsite_links")
                self.logger.debug("offsite link recorded, not requested: %s", link.url)
        if self.max_links_per_page and len(wanted) > self.max_links_per_page:
            # A real listing names at most a few hundred pages; thousands mean a broken or hostile page,
            # which must not turn into thousands of requests (memory and time stay bounded).
            stats.inc_value("newscrawl/spider/links_capped")
            self.logger.warning("%s links %d pages; following the first %d (NEWSCRAWL_MAX_LINKS_PER_PAGE)",
                                base_url, len(wanted), self.max_links_per_page)
            wanted = dict(list(wanted.items())[:self.max_links_per_page])
        await self.state.look_up_articles(url for url, slug in wanted.items()
                                          if slug is not None and url not in self.scheduled)
        return wanted

    def _follow(self, wanted: dict[str, str | None], base_url: str,
                listing_unchanged: bool = False) -> Iterator[scrapy.Request | ArticleSeen]:
        stats = self.crawler.stats
        unchanged: list[str] = []
        for url, slug in wanted.items():
            if url in self.scheduled:
                continue
            if slug is not None and listing_unchanged and self.state.unchanged_since_listed(url):
                # Listed on a page that has not changed since the archive last saw it: the site rebuilds
                # its listings whenever a post is added, removed or retitled, so the post is as archived.
                if url not in self.sighted:
                    self.sighted.add(url)
                    stats.inc_value("newscrawl/spider/article_skipped_unchanged")
                    unchanged.append(slug)
                continue
            self.scheduled.add(url)
            yield self._article_request(url) if slug is not None else self._listing_request(url)
        if unchanged:
            yield ArticleSeen(article_ids=unchanged, url=base_url)

    @property
    def _restricted(self) -> bool:
        return bool(self.only_category or self.only_url)

    # -- articles and their origin text -------------------------------------------------------------

    async def parse_article(self, response: Response) -> AsyncIterator[Article | ArticleSeen | scrapy.Request]:
        article_id = article_id_from_url(response.url) or ""
        if response.status == 304:
            self.crawler.stats.inc_value("newscrawl/spider/article_not_modified")
            yield ArticleSeen(article_ids=[article_id], url=response.url)
            return
        article = read_article_page(response.url, response.body, response.text, encoding=_encoding(response),
                                    encoding_guessed=bool(response.meta.get("newscrawl_encoding_guessed")))
        article.etag = _header(response, b"ETag")
        article.last_modified = _header(response, b"Last-Modified")
        self.crawler.stats.inc_value("newscrawl/spider/article_parsed")
        if not self._restricted:
            wanted = await self._wanted(parse_listing_links(response.text, response.url), response.url)
            for followed in self._follow(wanted, response.url):
                yield followed
        for item in self._with_origin_text(article):
            yield item

    def _with_origin_text(self, article: Article) -> Iterator[Article | scrapy.Request]:
        if not article.share_url:
            yield article
            return
        api_url = self.policy.text_api_url(article.share_url)
        # may_request too: a share link of an origin host on another port is a share link, but its text
        # API is no place the policy lets the crawl go.
        if api_url is None or not self.policy.may_request(api_url):
            article.origin_status = "offsite"
            yield article
        elif not self.follow_share_links:
            article.origin_status = "not_followed"
            yield article
        else:
            yield scrapy.Request(
                api_url,
                callback=self._on_origin,
                errback=self._on_origin_failed,
                cb_kwargs={"article": article},
                meta={"handle_httpstatus_all": True, "newscrawl_kind": "origin"},
                priority=10,
                # The request carries its article: dropped as a duplicate (a re-post with the same share
                # link), it would take the article with it. Each article page is fetched once already.
                dont_filter=True,
            )

    def parse_origin(self, response: Response, article: Article) -> Iterator[Article]:
        article.origin_status, article.origin_html = origin_answer(response.status, response.body)
        self.crawler.stats.inc_value(f"newscrawl/origin/{article.origin_status}")
        if article.origin_status != "ok":
            self.logger.warning("origin text of %s not usable (%s); kept from the mirror",
                                article.article_id, article.origin_status)
        yield article

    def origin_failed(self, failure: Failure) -> Iterator[Article]:
        article: Article = failure.request.cb_kwargs["article"]  # type: ignore[attr-defined]
        article.origin_status = "error"
        self.crawler.stats.inc_value("newscrawl/origin/error")
        self.logger.warning("origin text of %s failed (%s: %s); kept from the mirror",
                            article.article_id, failure_reason(failure), failure.getErrorMessage())
        yield article

    # -- pages that could not be had -------------------------------------------------------------------

    def article_failed(self, failure: Failure) -> None:
        reason = failure_reason(failure)
        self.crawler.stats.inc_value(f"newscrawl/spider/dropped/{reason}")
        request: scrapy.Request = failure.request  # type: ignore[attr-defined]
        # The page the site linked, not the last hop of its redirects.
        url = (request.meta.get("redirect_urls") or [request.url])[0]
        # A guard's refusal has been logged by the guard (newscrawl.middlewares): said once, not twice.
        level = logging.DEBUG if isinstance(failure.value, RequestRefused) else logging.WARNING
        self.logger.log(level, "article page not archived (%s), the next run tries again: %s", reason, url)

    def listing_failed(self, failure: Failure) -> None:
        reason = failure_reason(failure)
        self.crawler.stats.inc_value(f"newscrawl/spider/listing_failed/{reason}")
        level = logging.DEBUG if isinstance(failure.value, RequestRefused) else logging.WARNING
        self.logger.log(level, "listing page not read (%s): %s", reason, failure.request.url)  # type: ignore[attr-defined]

    # -- requests --------------------------------------------------------------------------------------

    def _listing_request(self, url: str, conditional: bool = True) -> scrapy.Request:
        return scrapy.Request(
            url,
            callback=self._on_listing,
            errback=self._on_listing_failed,
            headers=self.state.listing_validators(url) if conditional else {},
            meta={"handle_httpstatus_list": [304], "newscrawl_kind": "listing"},
            dont_filter=not conditional,  # the second request for a page the archive could not help with
        )

    def _article_request(self, url: str) -> scrapy.Request:
        self.crawler.stats.inc_value("newscrawl/spider/article_requested")
        return scrapy.Request(
            url,
            callback=self._on_article,
            errback=self._on_article_failed,
            headers=self.state.article_validators(url),
            meta={"handle_httpstatus_list": [304], "newscrawl_kind": "article"},
            priority=5,
        )


def _encoding(response: Response) -> str | None:
    return response.encoding if isinstance(response, TextResponse) else None


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


# Why a request failed for good, by the exception Scrapy gave up with (after RetryMiddleware's retries).
FAILURE_REASONS: tuple[tuple[type[BaseException], str], ...] = (
    (DownloadTimeoutError, "timeout"),
    # Scrapy cancels a download only when it grows past DOWNLOAD_MAXSIZE (NEWSCRAWL_MAX_PAGE_BYTES).
    (DownloadCancelledError, "too_large"),
    (ResponseDataLossError, "cut_short"),
    (DownloadConnectionRefusedError, "connection_error"),
    (DownloadFailedError, "connection_error"),
    (CannotResolveHostError, "dns_error"),
)
# IgnoreRequest carries its reason in words; these are the ones Scrapy raises (newscrawl's guards raise
# RequestRefused, which names its reason).
IGNORE_REASONS: tuple[tuple[str, str], ...] = (
    ("max redirections reached", "too_many_redirects"),  # RedirectMiddleware at REDIRECT_MAX_TIMES
    ("DOWNLOAD_MAXSIZE", "too_large"),  # HttpCompressionMiddleware: a body that decompresses past the limit
    ("robots.txt", "robots_txt"),
)


def failure_reason(failure: Failure) -> str:
    """A short, stable word for why a request failed: the suffix of the stats that count it."""
    error = failure.value
    if isinstance(error, HttpError):
        return f"http_{error.response.status}"
    for error_type, reason in FAILURE_REASONS:
        if isinstance(error, error_type):
            return reason
    if isinstance(error, RequestRefused):
        return error.reason
    if isinstance(error, IgnoreRequest):
        return next((reason for words, reason in IGNORE_REASONS if words in str(error)), "ignored")
    return type(error).__name__ if error is not None else "error"
