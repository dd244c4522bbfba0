"""Normalise: one form for every field, and the fingerprints the later pipelines rely on.

Times are expressed in the site's zone (UTC+8); text fields lose surrounding white space and nothing
else (the archive keeps what the page says, so an export gives the page back); ``content_hash`` and
``simhash`` come from newscrawl.stories. Counts ``newscrawl/normalise/ok``. See docs/pipelines.md.
"""

from __future__ import annotations

from typing import Any

from scrapy.crawler import Crawler
from scrapy.statscollectors import StatsCollector

from newscrawl.config import SITE_TZ
from newscrawl.items import Article
from newscrawl.stories import content_hash, simhash

TEXT_FIELDS = ("title", "category", "tags", "publisher", "summary", "source", "share_url", "info_code")


class NormalisePipeline:
    def __init__(self, stats: StatsCollector) -> None:
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> NormalisePipeline:
        assert crawler.stats is not None
        return cls(crawler.stats)

    def process_item(self, item: Any) -> Any:
        if isinstance(item, Article):
            normalise(item)
            self.stats.inc_value("newscrawl/normalise/ok")
        return item


def normalise(article: Article) -> Article:
    for name in TEXT_FIELDS:
        value = getattr(article, name)
        if isinstance(value, str):
            setattr(article, name, value.strip() or None)
    if article.body_text is not None:
        article.body_text = article.body_text.strip()
    if article.published_at is not None and article.published_at.tzinfo is not None:
        article.published_at = article.published_at.astimezone(SITE_TZ)
    article.content_hash = content_hash(article)
    article.simhash = simhash(article.body_text or article.title or "")
    return article
