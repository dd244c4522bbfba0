"""The crawl's processing of one article, for the importer: validate → normalise → story → store.

The one place where the importer reaches the crawl's processing, so an imported post and a crawled page
become the same row by the same rules (docs/import.md). Today those rules live in the Scrapy pipelines
(``pipelines/validate.py``, ``normalise.py``, ``dedupe.py``; the store is ``Archive.upsert_imported``);
this adapter calls their plain functions and the dedupe's story finder without Scrapy. When they move to
plain functions under newscrawl/ (the one processing path), only the imports and ``_story_linker`` here
change.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from newscrawl.crawlstate import CrawlState
from newscrawl.items import Article
from newscrawl.storage import Archive, UpsertOutcome
from pipelines.dedupe import DedupePipeline
from pipelines.normalise import normalise
from pipelines.validate import problem

#: The dedupe's near-text threshold (NEWSCRAWL_NEAR_DUPLICATE_DISTANCE's default).
NEAR_DUPLICATE_DISTANCE = 3


class _Counts(Counter[str]):
    """What the dedupe counts (``inc_value``), kept for the run's record."""

    def inc_value(self, key: str, count: int = 1, start: int = 0) -> None:
        self[key] += count


class Processor:
    """Applies the crawl's processing to articles read from post files, one at a time."""

    def __init__(self, archive: Archive, run_id: int | None = None,
                 max_distance: int = NEAR_DUPLICATE_DISTANCE) -> None:
        self.archive = archive
        self.run_id = run_id
        self.counts = _Counts()
        self._stories = _story_linker(archive, self.counts, max_distance)

    def process(self, article: Article, seen_at: datetime) -> UpsertOutcome | str:
        """``new``, ``updated`` or ``unchanged``; else the reason the crawl would have dropped it."""
        reason = problem(article)
        if reason:
            return reason
        normalise(article)
        self._stories(article)
        return self.archive.upsert_imported(article, seen_at=seen_at, run_id=self.run_id)


def _story_linker(archive: Archive, counts: _Counts, max_distance: int) -> Any:
    """A function that sets ``article.story_id`` as the crawl's dedupe step does."""
    # The dedupe pipeline's story finder (its archive reads in one transaction), without the crawl's
    # "same article twice in one run" drop: an import meets every version of a post, and the store tells
    # an unchanged one apart.
    dedupe = DedupePipeline(CrawlState(archive=archive, incremental=False), counts,  # type: ignore[arg-type]
                            max_distance)
    return dedupe._find_story
