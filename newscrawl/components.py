"""What newscrawl's Scrapy components share: a pipeline or middleware that needs only the crawler's stats."""

from __future__ import annotations

from typing import Self

from scrapy.crawler import Crawler
from scrapy.statscollectors import StatsCollector


class CountingComponent:
    """A pipeline or middleware whose only need from the crawler is the stats collector it counts in."""

    def __init__(self, stats: StatsCollector) -> None:
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        assert crawler.stats is not None
        return cls(crawler.stats)
