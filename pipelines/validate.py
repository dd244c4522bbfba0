"""Validate: an article needs an id, a title and a date; anything else is dropped with its reason.

Counts ``newscrawl/validate/ok`` and ``newscrawl/validate/dropped/<reason>``. See docs/pipelines.md.
"""

from __future__ import annotations

from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.statscollectors import StatsCollector

from newscrawl.items import Article


class ValidatePipeline:
    def __init__(self, stats: StatsCollector) -> None:
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ValidatePipeline:
        assert crawler.stats is not None
        return cls(crawler.stats)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, Article):
            return item
        reason = problem(item)
        if reason:
            self.stats.inc_value(f"newscrawl/validate/dropped/{reason}")
            raise DropItem(f"{reason}: {item.url}")
        self.stats.inc_value("newscrawl/validate/ok")
        return item


def problem(article: Article) -> str | None:
    """The reason an article cannot be archived, or None."""
    if not article.article_id:
        return "missing_article_id"
    if not (article.title or "").strip():
        return "missing_title"
    if article.published_at is None:
        return "missing_date"
    if article.published_at.tzinfo is None:
        return "naive_date"
    if article.body_html is None:
        return "missing_body"
    return None
