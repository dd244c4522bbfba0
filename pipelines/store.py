"""Store: upsert each article into the archive (SQLite or PostgreSQL, through newscrawl.storage).

Counts ``newscrawl/store/new``, ``…/updated``, ``…/unchanged`` and ``…/seen`` (a 304 re-sighting); an
article with a value the backend cannot hold as it is (docs/schema.md) is stored in its exact form with a
flag, counted in ``newscrawl/store/flagged/<flag>`` and logged as a warning. A
database that is unavailable or locked is waited for (``CrawlState.retry_database``: growing pauses that
do not block the crawl, each counted in ``newscrawl/store/retried``) for up to NEWSCRAWL_DB_RETRY_SECONDS.
If it stays away that long, the item is dropped as ``database_unavailable`` and counted in
``newscrawl/store/failed``, the crawl is stopped (everything it fetched from then on could not be stored
either), and the run is judged failed so cron alerts. Nothing is lost: an article not stored is not
archived, so the next run downloads it again. See docs/pipelines.md and docs/reliability.md.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.statscollectors import StatsCollector
from scrapy.utils.defer import deferred_from_coro

from newscrawl.crawlstate import CrawlState, DatabaseUnavailable
from newscrawl.items import Article, ArticleSeen

logger = logging.getLogger(__name__)

#: The close reason of a crawl stopped because the database stayed away.
CLOSE_REASON = "database_unavailable"
#: Sightings (ids of ArticleSeen items) recorded per transaction, at least.
SIGHTINGS_BATCH = 500


class StorePipeline:
    def __init__(self, state: CrawlState, stats: StatsCollector, crawler: Crawler | None = None) -> None:
        self.state = state
        self.stats = stats
        self.crawler = crawler
        self._stopping = False
        self.sightings: list[str] = []

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        assert crawler.stats is not None
        return cls(CrawlState.of(crawler), crawler.stats, crawler)

    async def process_item(self, item: Any) -> Any:
        try:
            if isinstance(item, Article):
                self._flag_unstorable(item)
                outcome = await self.state.retry_database(
                    lambda: self.state.archive.upsert_article(item, seen_at=_now(), run_id=self.state.run_id),
                    f"storing {item.url}", "newscrawl/store")
                self.stats.inc_value(f"newscrawl/store/{outcome}")
                logger.debug("%s %s", outcome, item.article_id)
            elif isinstance(item, ArticleSeen):
                # Sightings only move last_seen_at: written in batches, one transaction each, since an
                # incremental run of an unchanged site is nothing but sightings.
                self.sightings.extend(item.article_ids)
                if len(self.sightings) >= SIGHTINGS_BATCH:
                    await self._flush_sightings()
        except DatabaseUnavailable as error:
            self.stats.inc_value("newscrawl/store/failed")
            logger.error("not stored, the next run fetches it again: %s", error)
            self._stop_crawl()
            raise DropItem(f"database_unavailable: {item.url}") from error
        except Exception as error:
            # Any other refusal (a constraint, a value no code path foresaw) must not pass for an ok run:
            # counted, explained, and the run fails (newscrawl.runs); not archived, it is fetched again.
            self.stats.inc_value("newscrawl/store/error")
            logger.error("not stored (%s: %s), the next run fetches it again: %s", type(error).__name__,
                         " ".join(str(error).split())[:300], item.url)
            raise DropItem(f"store_error: {item.url}") from error
        finally:
            # The next post may look for its twins now that this one is stored (or will not be).
            self.state.end_story_turn(item)
        return item

    def _flag_unstorable(self, item: Article) -> None:
        # What the backend cannot hold as it is is stored in its exact form beside it, and said so.
        flags = self.state.archive.storage_flags(item)
        for flag in flags:
            if flag not in item.flags:
                item.flags.append(flag)
            self.stats.inc_value(f"newscrawl/store/flagged/{flag}")
        if flags:
            logger.warning("stored with flags %s, the exact values kept in exact_values: %s", ", ".join(flags),
                           item.url)

    async def close_spider(self) -> None:
        try:
            await self._flush_sightings()
        except DatabaseUnavailable as error:
            self.stats.inc_value("newscrawl/store/failed")
            logger.error("sightings not recorded (last_seen_at not moved): %s", error)

    async def _flush_sightings(self) -> None:
        batch, self.sightings = self.sightings, []
        if batch:
            await self.state.retry_database(lambda: self.state.archive.mark_seen_many(batch, _now()),
                                            f"recording {len(batch)} sightings", "newscrawl/store")
            self.stats.inc_value("newscrawl/store/seen", len(batch))

    def _stop_crawl(self) -> None:
        if self._stopping or self.crawler is None or self.crawler.engine is None:
            return
        self._stopping = True
        logger.error("the database stayed unavailable for %gs: stopping the crawl", self.state.db_retry_seconds)
        # Not awaited: closing waits for the items in progress, this one among them.
        deferred_from_coro(self.crawler.engine.close_spider_async(reason=CLOSE_REASON))


def _now() -> datetime:
    return datetime.now(UTC)
