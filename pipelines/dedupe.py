"""Dedupe: one row per article, and posts of one story linked by a shared ``story_id``.

* The same article met twice in one run (listed on several pages, or yielded again) is dropped the second
  time: ``DropItem("duplicate_in_run")``; a re-crawl of an archived article is not a duplicate, storage
  upserts it.
* The same story posted under two ids stays two posts (the export must give both back) but gets one
  ``story_id``: the smallest ``article_id`` among its posts, so it does not depend on crawl order.
  Candidates come from the archive: the posts with the same id digits or content (``story_twins``), and
  the posts published within 12 hours (``published_near``), compared on their sketches (``story_sketches``);
  the rules (same eastmoney id, same content, near-identical text) are in newscrawl.stories.
Counts ``newscrawl/dedupe/dropped/duplicate_in_run`` and ``newscrawl/dedupe/story/<rule>``. Its archive
reads wait for a database that is briefly unavailable, as the store does (``newscrawl/dedupe/retried``):
a story id is never guessed without them. See docs/pipelines.md and docs/reliability.md.
"""

from __future__ import annotations

import contextlib
import logging
from collections import OrderedDict
from datetime import timedelta
from typing import Any, TypeVar

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.statscollectors import StatsCollector

from newscrawl.crawlstate import CrawlState, DatabaseUnavailable
from newscrawl.items import Article
from newscrawl.storage import StoryCandidate
from newscrawl.stories import StoryReason, StorySketch, StoryText, near_sketch, near_text, same_identity

logger = logging.getLogger(__name__)
T = TypeVar("T")

# Re-posts of one story come within hours of each other (the corpus's pairs: the same day); comparing
# texts further apart would cost time for every post and find nothing.
NEAR_TEXT_WINDOW = timedelta(hours=12)
# Whole prepared texts (a bigram set each, tens of kilobytes): only for the few pairs the sketches cannot
# tell apart, and the posts just met.
TEXT_CACHE_SIZE = 64
# Sketches (about a kilobyte each) of the posts a crawl meets, up to this many (~30 MB): a crawl visits
# posts in listing order, not by date, so the neighbours of a post were met anywhere earlier in the crawl.
# A sketch this process has not met, or has forgotten, is read from the archive (``story_sketches``) with
# the other candidates' in one query; only a post archived before schema revision 0003 is read whole and
# re-shingled.
SKETCH_CACHE_SIZE = 30_000


class DedupePipeline:
    def __init__(self, state: CrawlState, stats: StatsCollector, max_distance: int) -> None:
        self.state = state
        self.stats = stats
        self.max_distance = max_distance
        # article_id -> hash of its content hash: a small int instead of 64 characters, for every post met.
        self.seen: dict[str, int] = {}
        # Prepared texts of recently compared posts, least recently used first.
        self.texts: OrderedDict[str, StoryText | None] = OrderedDict()
        self.sketches: OrderedDict[str, StorySketch | None] = OrderedDict()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DedupePipeline:
        assert crawler.stats is not None
        return cls(CrawlState.for_crawler(crawler), crawler.stats,
                   crawler.settings.getint("NEWSCRAWL_NEAR_DUPLICATE_DISTANCE", 3))

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, Article):
            return item
        if self.seen.get(item.article_id) == hash(item.content_hash):
            self.stats.inc_value("newscrawl/dedupe/dropped/duplicate_in_run")
            raise DropItem(f"duplicate_in_run: {item.article_id}")
        self.seen[item.article_id] = hash(item.content_hash)
        # When the database is given up for this run (CrawlState.database_gone), the store pipeline refuses
        # this item at once and counts it with the run's other unstored items.
        with contextlib.suppress(DatabaseUnavailable):
            await self.state.retry_database(lambda: self._find_story(item), f"finding the story of {item.url}",
                                            "newscrawl/dedupe")
        return item

    def _find_story(self, item: Article) -> None:
        """Set ``item.story_id`` from the archive (repeatable: a retry after a database error redoes it)."""
        # Its reads (twins, neighbours, sketches, a match's story) share one read transaction.
        with self.state.archive.reading():
            self._find_story_in_archive(item)

    def _find_story_in_archive(self, item: Article) -> None:
        twins = self.state.archive.story_twins(item)
        mine = StoryText.of(item)
        self._remember(item.article_id, mine)
        archived = next((c for c in twins if c.article_id == item.article_id), None)
        if archived is not None and archived.story_id is not None:
            # An archived article keeps the story it already belongs to: story ids never move.
            item.story_id = archived.story_id
            return
        item.story_id = item.article_id
        match = self._match(item, mine, [c for c in twins if c.article_id != item.article_id])
        if match is not None:
            candidate, reason = match
            story_id = candidate.story_id or candidate.article_id
            # A story is named after its smallest post id, whatever order its posts are met in, so two
            # archives of the same site agree; the archived members are renamed when a smaller id joins.
            item.story_id = min(story_id, item.article_id)
            if item.story_id != story_id:
                self.state.archive.rename_story(story_id, item.story_id)
            self.stats.inc_value(f"newscrawl/dedupe/story/{reason}")
            logger.debug("%s is the same story as %s (%s)", item.article_id, candidate.article_id, reason)

    def _match(self, item: Article, mine: StoryText | None,
               twins: list[StoryCandidate]) -> tuple[StoryCandidate, StoryReason] | None:
        # Ids and hashes first (the twins' rows carry them); then the text rule, on the sketches of the
        # posts published close to the item, and on their whole texts only where the sketches cannot tell.
        for candidate in twins:
            reason = same_identity(item, candidate.article_id, candidate.content_hash)
            if reason:
                return candidate, reason
        if mine is None or item.published_at is None:
            return None
        near = [i for i in self.state.archive.published_near(item, NEAR_TEXT_WINDOW) if i != item.article_id]
        self._load_sketches([i for i in near if i not in self.sketches])
        for article_id in near:
            sketch = self._sketch(article_id)
            if sketch is None:
                continue
            verdict = near_sketch(mine.sketch, sketch, self.max_distance)
            if verdict is None:
                theirs = self._story_text(article_id)
                verdict = theirs is not None and near_text(mine, theirs, self.max_distance)
            if verdict:
                # Its story id only now: one row, for the rare post that has a twin.
                found = self.state.archive.story_members([article_id])
                if found:
                    return found[0], "near_text"
        return None

    def _load_sketches(self, article_ids: list[str]) -> None:
        # The archive keeps a sketch of every post stored since schema revision 0003: one query for all
        # the candidates this process has not met (or has forgotten), instead of reading each one's text.
        if article_ids:
            for article_id, sketch in self.state.archive.story_sketches(article_ids).items():
                _put(self.sketches, article_id, sketch, SKETCH_CACHE_SIZE)

    def _sketch(self, article_id: str) -> StorySketch | None:
        if article_id in self.sketches:
            self.sketches.move_to_end(article_id)
            return self.sketches[article_id]
        text = self._story_text(article_id)
        return text.sketch if text is not None else None

    def _story_text(self, article_id: str) -> StoryText | None:
        if article_id in self.texts:
            self.texts.move_to_end(article_id)
            return self.texts[article_id]
        archived = self.state.archive.get_article(article_id)
        text = StoryText.of(archived) if archived is not None else None
        self._remember(article_id, text)
        return text

    def _remember(self, article_id: str, text: StoryText | None) -> None:
        # The item's own text too: the next posts of the crawl are compared with it.
        _put(self.texts, article_id, text, TEXT_CACHE_SIZE)
        _put(self.sketches, article_id, text.sketch if text is not None else None, SKETCH_CACHE_SIZE)


def _put(cache: OrderedDict[str, T], key: str, value: T, size: int) -> None:
    """Add to a least-recently-used cache of at most ``size`` entries."""
    cache[key] = value
    cache.move_to_end(key)
    if len(cache) > size:
        cache.popitem(last=False)
