"""Story linking: which archived story a new post belongs to (the same for a crawl and for reparse).

Two posts of one story stay two rows but share a ``story_id``: the smallest ``article_id`` among the
story's posts, so it does not depend on the order they were met in. Candidates come from the archive:
the posts with the same id digits or content hash (``Archive.story_twins``), and the posts published
within 12 hours (``Archive.published_near``), compared on their sketches (``story_sketches``); the rules
(same eastmoney id, same content, near-identical text) are in newscrawl.stories. See docs/pipelines.md.

``StoryLinker.link`` is a plain method over an ``Archive``: the dedupe pipeline calls it (with its
retries on a database error), ``newscrawl reparse`` calls it directly.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from datetime import timedelta
from typing import TypeVar

from newscrawl.items import Article
from newscrawl.storage import Archive, StoryCandidate
from newscrawl.stories import (
    StoryReason,
    StorySketch,
    StoryText,
    near_sketch,
    near_text,
    same_identity,
    worth_comparing,
)

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


class StoryLinker:
    """Sets ``story_id`` of articles about to be stored, from the archive; keeps small caches between them."""

    def __init__(self, archive: Archive, max_distance: int = 3, sketch_cache_size: int = SKETCH_CACHE_SIZE) -> None:
        self.archive = archive
        self.max_distance = max_distance
        self.sketch_cache_size = sketch_cache_size
        # Prepared texts of recently compared posts, least recently used first.
        self.texts: OrderedDict[str, StoryText | None] = OrderedDict()
        self.sketches: OrderedDict[str, StorySketch | None] = OrderedDict()

    def link(self, item: Article) -> StoryReason | None:
        """Set ``item.story_id``; the rule that joined it to another post's story, or None.

        Repeatable: a retry after a database error redoes it. When a post with a smaller id joins a story,
        the archived members are renamed (``Archive.rename_story``).
        """
        # Its reads (twins, neighbours, sketches, a match's story) share one read transaction.
        with self.archive.reading():
            return self._link(item)

    def _link(self, item: Article) -> StoryReason | None:
        twins = self.archive.story_twins(item)
        mine = StoryText.of(item)
        self._remember(item.article_id, mine)
        archived = next((c for c in twins if c.article_id == item.article_id), None)
        if archived is not None and archived.story_id is not None:
            # An archived article keeps the story it already belongs to: story ids never move.
            item.story_id = archived.story_id
            return None
        item.story_id = item.article_id
        match = self._match(item, mine, [c for c in twins if c.article_id != item.article_id])
        if match is None:
            return None
        candidate, reason = match
        story_id = candidate.story_id or candidate.article_id
        # A story is named after its smallest post id, whatever order its posts are met in, so two
        # archives of the same site agree; the archived members are renamed when a smaller id joins.
        item.story_id = min(story_id, item.article_id)
        if item.story_id != story_id:
            self.archive.rename_story(story_id, item.story_id)
        logger.debug("%s is the same story as %s (%s)", item.article_id, candidate.article_id, reason)
        return reason

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
        near = self.archive.published_near(item, NEAR_TEXT_WINDOW)
        cache = self.sketches
        self._load_sketches([i for i in near if i not in cache])
        # Hundreds of neighbours a post: read straight from the cache (whose order is then when a sketch
        # was met, not used); only those without a stored sketch go through _sketch.
        sketches = [(i, sketch) for i in near if i != item.article_id
                    and (sketch := cache[i] if i in cache else self._sketch(i)) is not None]
        for article_id, sketch in worth_comparing(mine.sketch, sketches, self.max_distance):
            verdict = near_sketch(mine.sketch, sketch, self.max_distance)
            if verdict is None:
                theirs = self._story_text(article_id)
                verdict = theirs is not None and near_text(mine, theirs, self.max_distance)
            if verdict:
                # Its story id only now: one row, for the rare post that has a twin.
                found = self.archive.story_members([article_id])
                if found:
                    return found[0], "near_text"
        return None

    def _load_sketches(self, article_ids: list[str]) -> None:
        # The archive keeps a sketch of every post stored since schema revision 0003: one query for all
        # the candidates this process has not met (or has forgotten), instead of reading each one's text.
        if article_ids:
            for article_id, sketch in self.archive.story_sketches(article_ids).items():
                _put(self.sketches, article_id, sketch, self.sketch_cache_size)

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
        archived = self.archive.get_article(article_id)
        text = StoryText.of(archived) if archived is not None else None
        self._remember(article_id, text)
        return text

    def _remember(self, article_id: str, text: StoryText | None) -> None:
        # The item's own text too: the next posts of the crawl are compared with it.
        _put(self.texts, article_id, text, TEXT_CACHE_SIZE)
        _put(self.sketches, article_id, text.sketch if text is not None else None, self.sketch_cache_size)


def _put(cache: OrderedDict[str, T], key: str, value: T, size: int) -> None:
    """Add to a least-recently-used cache of at most ``size`` entries."""
    cache[key] = value
    cache.move_to_end(key)
    if len(cache) > size:
        cache.popitem(last=False)
