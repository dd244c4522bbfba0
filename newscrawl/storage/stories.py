"""What the dedupe pipeline asks the archive about stories: twins by id or content, posts published near
one, their sketches, and moving a story's members to another id (docs/parsing.md, "Stories")."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, or_, select, update

from newscrawl.items import Article
from newscrawl.storage.base import ArchiveBase
from newscrawl.storage.near import shifted
from newscrawl.storage.rows import signed
from newscrawl.storage.sql import ARTICLES, SKETCHES, id_chunks
from newscrawl.storage.types import (
    REPLACEMENT,
    storable_datetime,
    unstorable_characters,
)
from newscrawl.stories import SKETCH_BITS, SKETCH_VERSION, StorySketch, story_sketch


@dataclass(frozen=True)
class StoryCandidate:
    """An archived post that may be the same story as another (the caller applies the rules)."""

    article_id: str
    story_id: str | None
    content_hash: str


class StoryQueries(ArchiveBase):
    """The ``Archive``'s questions about stories, and their one write (``rename_story``)."""

    def rename_story(self, story_id: str, new_story_id: str) -> int:
        """Move every member of story ``story_id`` to ``new_story_id``; returns how many were moved.

        The members are the articles whose ``story_id`` is ``story_id``, and the article ``story_id`` itself
        when it has no story id yet (a post is its own story until a twin turns up).
        """
        with self._write() as connection:
            result = connection.execute(
                update(ARTICLES)
                .where(or_(ARTICLES.c.story_id == story_id,
                           (ARTICLES.c.article_id == story_id) & ARTICLES.c.story_id.is_(None)))
                .values(story_id=new_story_id)
            )
            return int(result.rowcount)

    def story_twins(self, article: Article) -> list[StoryCandidate]:
        """Archived posts that are the same story as ``article`` by id or content, oldest first.

        Those whose id has the same digits (``NW202201072239307540`` and ``202201072239307540``: an
        eastmoney article posted as emnews and by its publisher) or that have the same content hash; the
        article itself is among them if it is archived. Indexed lookups: a crawl asks this once per article.
        """
        digits = "".join(ch for ch in article.article_id if ch.isdigit())
        ids = {article.article_id, *((digits, "NW" + digits) if digits else ())}
        # A missing hash binds NULL, which matches nothing: one statement for every article.
        parameters = {"ids": sorted(ids), "content_hash": article.content_hash}
        with self._read() as connection:
            rows = connection.execute(_story_twins_statement(), parameters).all()
        return [StoryCandidate(*row) for row in rows]

    def published_near(self, article: Article, window: timedelta = timedelta(hours=12)) -> list[str]:
        """Ids of the archived posts published within ``window`` of ``article``, oldest first (then by id).

        The candidates of the dedupe's near-text rule, which it compares on their sketches
        (``story_sketches``); the article itself is among them if it is archived. Read from the index
        ``ix_articles_published_at_article_id`` alone, without visiting the rows: a crawl asks this once
        per article and gets ~180 ids for the 20,000-post benchmark site. Empty without a publication time.
        """
        published = article.published_at
        if published is None or not storable_datetime(published):
            return []  # an out-of-range time is stored as NULL: no post is near it
        earliest, latest = shifted(published, -window), shifted(published, window)
        if self._pending is not None:  # inside a batch: from its one read of these hours (storage/near.py)
            return self._pending.near.between(earliest, latest, self._published_between)
        with self._read() as connection:
            return list(connection.execute(_published_between_statement(False),
                                           {"earliest": earliest, "latest": latest}).scalars().all())

    def _published_between(self, earliest: datetime, latest: datetime) -> list[tuple[datetime, str]]:
        with self._read() as connection:
            rows = connection.execute(_published_between_statement(True), {"earliest": earliest, "latest": latest})
            return [(published_at, article_id) for published_at, article_id in rows]

    def story_members(self, article_ids: Iterable[str]) -> list[StoryCandidate]:
        """The story id and content hash of these archived articles (those archived), oldest first."""
        ids = sorted(set(article_ids))
        found: list[StoryCandidate] = []
        with self._read() as connection:
            for chunk in id_chunks(ids):
                found += (StoryCandidate(*row) for row in connection.execute(_story_members_statement(),
                                                                               {"ids": chunk}))
        return found

    def story_sketches(self, article_ids: Iterable[str]) -> dict[str, StorySketch]:
        """The stored sketches of these articles: those archived with one of this code's SKETCH_VERSION.

        An article missing from the answer has no text, predates ``story_sketches`` (schema revision
        0003) or has a sketch of another version; the caller derives its sketch from its text.
        """
        ids = sorted(set(article_ids))
        found: dict[str, StorySketch] = {}
        with self._read() as connection:
            for chunk in id_chunks(ids):
                rows = connection.execute(_sketches_statement(), {"ids": chunk})
                found.update((row[0], sketch_from_row(row)) for row in rows)
        return found


def sketch_row(dialect: str, article: Article) -> dict[str, Any] | None:
    """The ``story_sketches`` row of ``article``'s text on ``dialect``; None when it has no text.

    The sketch follows the content it was derived from: written with it, replaced (or deleted) when it
    changes (``PendingWrites.sketches``)."""
    sketch = story_sketch(article)
    if sketch is None:
        return None
    values = sketch_values(article.article_id, sketch)
    # Derived data, only compared: a character the backend cannot hold becomes U+FFFD here.
    unstorable = unstorable_characters(dialect)
    for name in ("digest", "numbers"):
        if isinstance(values[name], str):
            values[name] = unstorable.sub(REPLACEMENT, values[name])
    return values


@lru_cache(maxsize=1)
def _story_twins_statement() -> Any:
    # Built once, as the upserts are: a crawl runs these once per article.
    return (
        select(ARTICLES.c.article_id, ARTICLES.c.story_id, ARTICLES.c.content_hash)
        .where(or_(
            ARTICLES.c.article_id.in_(bindparam("ids", expanding=True)),
            ARTICLES.c.content_hash == bindparam("content_hash"),
        ))
        .order_by(ARTICLES.c.published_at, ARTICLES.c.article_id)
    )


@lru_cache(maxsize=2)
def _published_between_statement(with_times: bool) -> Any:
    # Both columns are in ix_articles_published_at_article_id, in this order: the database answers (and
    # sorts) from the index alone. The rows themselves hold whole pages, ~10 KB each, one more B-tree
    # descent per id: ~6x slower on SQLite for the benchmark site's ~180 ids.
    columns = (ARTICLES.c.published_at, ARTICLES.c.article_id) if with_times else (ARTICLES.c.article_id,)
    return (
        select(*columns)
        .where(ARTICLES.c.published_at.between(bindparam("earliest"), bindparam("latest")))
        .order_by(ARTICLES.c.published_at, ARTICLES.c.article_id)
    )


@lru_cache(maxsize=1)
def _story_members_statement() -> Any:
    return (
        select(ARTICLES.c.article_id, ARTICLES.c.story_id, ARTICLES.c.content_hash)
        .where(ARTICLES.c.article_id.in_(bindparam("ids", expanding=True)))
        .order_by(ARTICLES.c.published_at, ARTICLES.c.article_id)
    )


@lru_cache(maxsize=1)
def _sketches_statement() -> Any:
    columns = ("article_id", "length", "digest", "numbers", "simhash", "size", "bits", "folded")
    return (
        select(*(SKETCHES.c[name] for name in columns))
        .where(SKETCHES.c.article_id.in_(bindparam("ids", expanding=True)))
        .where(SKETCHES.c.version == SKETCH_VERSION)
    )


def sketch_values(article_id: str, sketch: StorySketch) -> dict[str, Any]:
    """The ``story_sketches`` row of an article's sketch."""
    return {
        "article_id": article_id, "version": SKETCH_VERSION, "length": sketch.length, "digest": sketch.digest,
        "numbers": sketch.numbers, "simhash": signed(sketch.simhash), "size": sketch.size,
        "folded": sketch.folded, "bits": sketch.bits.to_bytes(SKETCH_BITS // 8, "little"),
    }


def sketch_from_row(row: Sequence[Any]) -> StorySketch:
    """A ``StorySketch`` from the columns of ``_sketches_statement``, in its order."""
    _, length, digest, numbers, simhash, size, bits, folded = row
    return StorySketch(length=length, digest=digest, numbers=numbers, simhash=simhash, size=size,
                       bits=int.from_bytes(bits, "little"), folded=folded)
