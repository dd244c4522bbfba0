"""``published_near`` inside an import batch, answered from one read of the hours the batch is about.

An import asks, for each of its posts, which archived posts were published within 12 hours of it: the
story linker's near-text candidates, hundreds of ids each time, and most of the cost of linking a post
when every answer is read anew. Posts come in date order, so consecutive questions cover nearly the same
hours: inside ``Archive.batch()`` the archive reads the hours of the first question and a day and a half
after them once, answers the following questions from memory, and adds the batch's own writes as it makes
them. On SQLite the batch holds the write lock, so every answer is the database's; on PostgreSQL a post
another writer commits while the batch runs is not among them, as it would not be had it committed
just after the batch's question (docs/import.md, "Two writers").
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable
from datetime import datetime, timedelta
from operator import itemgetter

from newscrawl.storage.types import STORABLE_EARLIEST, STORABLE_LATEST, storable_datetime

#: How far past a question's hours one read reaches: posts met later are published later.
LOOKAHEAD = timedelta(hours=36)

#: Reads the (publication time, article id) of the posts published between two times, in that order.
Loader = Callable[[datetime, datetime], list[tuple[datetime, str]]]

_TIME = itemgetter(0)


class NearIndex:
    """The publication times of the archived posts in one span of time, kept in step with a batch's writes."""

    def __init__(self) -> None:
        self._span: tuple[datetime, datetime] | None = None
        self._entries: list[tuple[datetime, str]] = []
        self._times: dict[str, datetime] = {}

    def between(self, earliest: datetime, latest: datetime, load: Loader) -> list[str]:
        """Ids of the posts published from ``earliest`` to ``latest``, by time then id; read with ``load``
        when those hours are not all in the span read before."""
        if self._span is None or earliest < self._span[0] or latest > self._span[1]:
            self._span = (earliest, shifted(latest, LOOKAHEAD))
            self._entries = load(*self._span)
            self._times = {article_id: time for time, article_id in self._entries}
        low = bisect_left(self._entries, earliest, key=_TIME)
        high = bisect_right(self._entries, latest, key=_TIME)
        return [article_id for _, article_id in self._entries[low:high]]

    def stored(self, article_id: str, published_at: datetime | None) -> None:
        """An article written with this publication time (None: none the archive can hold)."""
        if self._span is None:
            return
        earlier = self._times.pop(article_id, None)
        if earlier is not None:
            self._entries.remove((earlier, article_id))
        if published_at is not None and self._span[0] <= published_at <= self._span[1]:
            insort(self._entries, (published_at, article_id))
            self._times[article_id] = published_at


def shifted(moment: datetime, delta: timedelta) -> datetime:
    """``moment + delta``, or the bound of the storable range it would pass."""
    try:
        moved = moment + delta
    except OverflowError:
        moved = STORABLE_LATEST if delta > timedelta(0) else STORABLE_EARLIEST
    if not storable_datetime(moved):
        moved = STORABLE_LATEST if delta > timedelta(0) else STORABLE_EARLIEST
    return moved
