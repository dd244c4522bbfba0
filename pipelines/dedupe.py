"""Dedupe: one row per article, and posts of one story linked by a shared ``story_id``.

* The same article met twice in one run (listed on several pages, or yielded again) is dropped the second
  time: ``DropItem("duplicate_in_run")``; a re-crawl of an archived article is not a duplicate, storage
  upserts it.
* The same story posted under two ids stays two posts (the export must give both back) but gets one
  ``story_id``: ``newscrawl.linking.StoryLinker`` decides it from the archive (reparse uses the same).
Counts ``newscrawl/dedupe/dropped/duplicate_in_run`` and ``newscrawl/dedupe/story/<rule>``. Its archive
reads wait for a database that is briefly unavailable, as the store does (``newscrawl/dedupe/retried``):
a story id is never guessed without them. See docs/pipelines.md and docs/reliability.md.
"""

from __future__ import annotations

import contextlib
from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.statscollectors import StatsCollector

from newscrawl.config import get_int
from newscrawl.crawlstate import CrawlState, DatabaseUnavailable
from newscrawl.items import Article
from newscrawl.linking import StoryLinker


class DedupePipeline:
    def __init__(self, state: CrawlState, stats: StatsCollector, max_distance: int) -> None:
        self.state = state
        self.stats = stats
        self.max_distance = max_distance
        # article_id -> hash of its content hash: a small int instead of 64 characters, for every post met.
        self.seen: dict[str, int] = {}
        self._linker: StoryLinker | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DedupePipeline:
        assert crawler.stats is not None
        distance = get_int(crawler.settings, "NEWSCRAWL_NEAR_DUPLICATE_DISTANCE")
        return cls(CrawlState.of(crawler), crawler.stats, distance)

    @property
    def linker(self) -> StoryLinker:
        # Made on first use: the crawl's archive is opened when the spider opens.
        if self._linker is None:
            self._linker = StoryLinker(self.state.archive, self.max_distance)
        return self._linker

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, Article):
            return item
        if self.seen.get(item.article_id) == hash(item.content_hash):
            self.stats.inc_value("newscrawl/dedupe/dropped/duplicate_in_run")
            raise DropItem(f"duplicate_in_run: {item.article_id}")
        self.seen[item.article_id] = hash(item.content_hash)
        # When the database is given up for this run (CrawlState.database_gone), the store pipeline refuses
        # this item at once and counts it with the run's other unstored items.
        # Held until the store pipeline has stored it (StorePipeline ends the turn).
        await self.state.take_story_turn(item)
        try:
            with contextlib.suppress(DatabaseUnavailable):
                await self.state.retry_database(lambda: self._link(item), f"finding the story of {item.url}",
                                                "newscrawl/dedupe")
        except BaseException:
            self.state.end_story_turn(item)
            raise
        return item

    def _link(self, item: Article) -> None:
        reason = self.linker.link(item)
        if reason is not None:
            self.stats.inc_value(f"newscrawl/dedupe/story/{reason}")
