"""The crawl's processing of one article, for the importer: validate → normalise → story → store.

The one place where the importer reaches the crawl's processing, so an imported post and a crawled page
become the same row by the same rules (docs/import.md): the one article-processing path's functions
(``newscrawl.processing``: ``problem``, ``normalise``), its story linker (``newscrawl.linking``), and the
store (``Archive.upsert_imported``, which also keeps the post file).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from newscrawl.items import Article
from newscrawl.linking import StoryLinker
from newscrawl.processing import normalise, problem
from newscrawl.storage import Archive, UpsertOutcome

#: The dedupe's near-text threshold (NEWSCRAWL_NEAR_DUPLICATE_DISTANCE's default).
NEAR_DUPLICATE_DISTANCE = 3
#: Sketches (about a kilobyte each) the story linker keeps: an import meets posts in date order, so a
#: post's neighbours (published within 12 hours) are among the last ones met; older ones are read from
#: ``story_sketches`` if ever needed. Memory stays flat however long the history.
SKETCH_CACHE_SIZE = 2048


class Processor:
    """Applies the crawl's processing to articles read from post files, one at a time."""

    def __init__(self, archive: Archive, run_id: int | None = None,
                 max_distance: int = NEAR_DUPLICATE_DISTANCE) -> None:
        self.archive = archive
        self.run_id = run_id
        #: Posts joined to a story, by the rule that joined them (as the dedupe counts them).
        self.counts: Counter[str] = Counter()
        # The crawl's story linking, without its "same article twice in one run" drop: an import meets
        # every version of a post, and the store tells an unchanged one apart.
        self._stories = StoryLinker(archive, max_distance, SKETCH_CACHE_SIZE)

    def process(self, article: Article, seen_at: datetime) -> UpsertOutcome | str:
        """``new``, ``updated`` or ``unchanged``; else the reason the crawl would have dropped it."""
        reason = problem(article)
        if reason:
            return reason
        normalise(article)
        linked = self._stories.link(article)
        if linked:
            self.counts[f"story/{linked}"] += 1
        return self.archive.upsert_imported(article, seen_at=seen_at, run_id=self.run_id)
