"""Store: upsert each article into the archive (SQLite or PostgreSQL, through newscrawl.storage).

Counts ``newscrawl/store/new``, ``…/updated``, ``…/unchanged`` and ``…/seen`` (a 304 re-sighting). A
database that is briefly unavailable or locked is retried with a growing pause; an item that still
cannot be written is counted in ``newscrawl/store/failed`` and logged with the reason, and the crawl
goes on (the next run fetches it again, since it is not archived). See docs/pipelines.md.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.statscollectors import StatsCollector
from sqlalchemy.exc import OperationalError

from newscrawl.crawlstate import CrawlState
from newscrawl.items import Article, ArticleSeen

logger = logging.getLogger(__name__)

RETRY_PAUSES = (0.5, 1.0, 2.0, 4.0, 8.0)


class StorePipeline:
    def __init__(self, state: CrawlState, stats: StatsCollector) -> None:
        self.state = state
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        assert crawler.stats is not None
        return cls(CrawlState.for_crawler(crawler), crawler.stats)

    def process_item(self, item: Any) -> Any:
        if isinstance(item, Article):
            outcome = self._write(item.url, lambda: self.state.archive.upsert_article(
                item, seen_at=_now(), run_id=self.state.run_id))
            self.stats.inc_value(f"newscrawl/store/{outcome}")
            logger.debug("%s %s", outcome, item.article_id)
        elif isinstance(item, ArticleSeen):
            self._write(item.url, lambda: self.state.archive.mark_seen(item.article_id, _now()))
            self.stats.inc_value("newscrawl/store/seen")
        return item

    def _write(self, url: str, operation: Any) -> Any:
        for attempt, pause in enumerate((*RETRY_PAUSES, None), start=1):
            try:
                return operation()
            except OperationalError as error:
                self.stats.inc_value("newscrawl/store/retried")
                if pause is None:
                    self.stats.inc_value("newscrawl/store/failed")
                    logger.error("database unavailable, %s not stored after %d attempts: %s", url, attempt,
                                 error.orig if error.orig is not None else error)
                    raise DropItem(f"database_unavailable: {url}") from error
                logger.warning("database unavailable (attempt %d), retrying in %.1fs: %s", attempt, pause,
                               error.orig if error.orig is not None else error)
                time.sleep(pause)
        raise AssertionError("unreachable")


def _now() -> datetime:
    return datetime.now(UTC)
