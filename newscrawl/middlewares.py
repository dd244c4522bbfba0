"""Downloader middleware that enforces newscrawl's address policy on every request, redirects included.

The spider only yields requests the policy allows, but a redirect or a robots.txt fetch makes new
requests outside the spider; this is the one gate all of them pass. Refused requests are counted in
``newscrawl/policy/refused`` and logged with the URL (docs/crawling.md, "What is never requested").
"""

from __future__ import annotations

import logging

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.statscollectors import StatsCollector

from newscrawl.urls import SitePolicy

logger = logging.getLogger(__name__)


class SitePolicyMiddleware:
    def __init__(self, policy: SitePolicy, stats: StatsCollector) -> None:
        self.policy = policy
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SitePolicyMiddleware:
        settings = crawler.settings
        policy = SitePolicy.from_settings(
            settings.get("NEWSCRAWL_SITE_URL"), settings.get("NEWSCRAWL_ORIGIN_HOSTS") or ""
        )
        assert crawler.stats is not None
        return cls(policy, crawler.stats)

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        if not self.policy.may_request(request.url):
            self.stats.inc_value("newscrawl/policy/refused")
            logger.warning("refused by the site policy, not requested: %s", request.url)
            raise IgnoreRequest(f"outside the site policy: {request.url}")
