"""What a crawl remembers from earlier runs: the archive handle and the HTTP validators it keeps.

One ``CrawlState`` per crawler, a Scrapy extension the others look up with ``crawler.get_extension``
(``CrawlState.of``): the spider asks it what validators to send, the pipelines and the other extensions
store through its ``Archive``. With NEWSCRAWL_INCREMENTAL on, an archived article
is re-requested with ``If-None-Match`` / ``If-Modified-Since`` and a 304 answer costs no download; a listing
page that answers 304 gives back the links it had last time. docs/crawling.md describes the rules.

Every database call of a crawl runs on one thread of its own (``in_thread``), in the order the calls are
made, never on Twisted's reactor thread: a write that waits for another process's lock (SQLite's busy
timeout is 60 s) holds up the items behind it, not the downloads. A call that waited longer than
``DB_WAIT_WARNING_S`` is logged once, with how long it waited. The spider's look-ups of the articles a
page links are reads on a second thread, so that a write waiting for a lock never holds up link-following.

A database that is unavailable or locked costs downloads, never data (docs/reliability.md): the spider's
look-ups degrade to fetching in full (no validators, a 304 listing fetched again), and the pipelines wait
for it with ``retry_database`` for up to NEWSCRAWL_DB_RETRY_SECONDS. When it stays away that long the
state marks it gone, so every later write fails at once instead of waiting again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from newscrawl.config import get_bool, get_float, get_url
from newscrawl.storage import Archive

if TYPE_CHECKING:
    from newscrawl.storage import KnownArticle

logger = logging.getLogger(__name__)

# Origin answers that a later run should not ask again for; anything else (an error, a 404, an empty
# text) makes the next run fetch the article in full, so the origin is retried.
SETTLED_ORIGIN = frozenset({None, "ok", "offsite"})

# Pauses between attempts at a database that is unavailable or locked, in seconds; the last one repeats
# until NEWSCRAWL_DB_RETRY_SECONDS have passed.
DB_RETRY_PAUSES = (0.5, 1.0, 2.0, 4.0, 8.0)
#: A database call that took this long (seconds) waited for something, most likely another process's
#: lock: it is logged as a warning naming the wait. Normal calls take milliseconds.
DB_WAIT_WARNING_S = 2.0

T = TypeVar("T")


class DatabaseUnavailable(Exception):
    """The archive stayed unavailable for NEWSCRAWL_DB_RETRY_SECONDS (or was given up earlier in the run)."""


def is_unavailable(error: BaseException) -> bool:
    """Whether ``error`` says the database is away or locked (worth waiting for), not that a query is wrong."""
    if isinstance(error, OperationalError | InterfaceError):
        return True
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)


@dataclass
class CrawlState:
    archive: Archive
    incremental: bool
    run_id: int | None = None
    crawler: Crawler | None = field(default=None, repr=False)
    db_retry_seconds: float = 60.0
    recheck_days: float = 3.0
    #: Set once the database stayed away for db_retry_seconds: later writes fail at once.
    database_gone: bool = False
    #: The archived articles looked up so far by URL (None: not archived), for the conditional requests.
    _known: dict[str, KnownArticle | None] = field(default_factory=dict, repr=False)
    _pages: dict[str, tuple[str | None, str | None]] | None = field(default=None, repr=False)
    #: Article id -> WARC records of it an earlier run could not write (``warc_page``, ``warc_origin``):
    #: such an article is fetched in full, so its page and origin answer are kept this time.
    unwritten_raw: dict[str, set[str]] = field(default_factory=dict)
    #: The one thread every database call of the crawl runs on, in submission order.
    _thread: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=1, thread_name_prefix="newscrawl-db"), repr=False)
    #: The spider's look-ups of the articles a page links run on a thread of their own: reads, which neither
    #: backend makes wait for a writer, so that they never queue behind a write held up by another process's
    #: lock (the crawl goes on following links meanwhile).
    _lookup_thread: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=1, thread_name_prefix="newscrawl-db-read"), repr=False)
    #: Story linking finds a post's twins among the posts already stored: the link and the store of one post
    #: are one turn, or two twins processed at once (each awaiting the database thread) would miss each other.
    _story_turn: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)
    _story_turn_holder: int | None = field(default=None, repr=False)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlState:
        """The crawl's state, made by Scrapy as an extension (EXTENSIONS in newscrawl.settings)."""
        settings = crawler.settings
        state = cls(archive=Archive.open(get_url(settings, "NEWSCRAWL_DB_URL")),
                    incremental=get_bool(settings, "NEWSCRAWL_INCREMENTAL"), crawler=crawler,
                    db_retry_seconds=get_float(settings, "NEWSCRAWL_DB_RETRY_SECONDS"),
                    recheck_days=get_float(settings, "NEWSCRAWL_RECHECK_DAYS"))
        crawler.signals.connect(state.close, signal=signals.engine_stopped)
        return state

    @staticmethod
    def of(crawler: Crawler) -> CrawlState:
        """The crawl's state, looked up through Scrapy's public API (once the extensions exist: from the
        pipelines' ``from_crawler`` on, or from the spider's ``start``)."""
        state = crawler.get_extension(CrawlState)
        if state is None:
            raise NotConfigured("newscrawl.crawlstate.CrawlState is not among the EXTENSIONS")
        return state

    def close(self, **_: Any) -> None:
        # Calls still queued (a listing being remembered) are done first.
        self._thread.shutdown(wait=True)
        self._lookup_thread.shutdown(wait=True)
        self.archive.close()

    async def take_story_turn(self, item: object) -> None:
        """Wait until no other post is between its story link and its store; ``item`` holds the turn."""
        await self._story_turn.acquire()
        self._story_turn_holder = id(item)

    def end_story_turn(self, item: object) -> None:
        """End ``item``'s turn (after its store, or when it will not be stored); no-op if it holds none."""
        if self._story_turn_holder == id(item):
            self._story_turn_holder = None
            self._story_turn.release()

    # -- the database thread ---------------------------------------------------------------------------

    async def in_thread(self, operation: Callable[[], T], what: str, thread: ThreadPoolExecutor | None = None) -> T:
        """``operation()`` run on ``thread`` (by default the database thread), after every call submitted
        to it before."""
        return await asyncio.wrap_future(self.submit(operation, what, thread))

    def submit(self, operation: Callable[[], T], what: str, thread: ThreadPoolExecutor | None = None) -> Future[T]:
        """Queue ``operation()`` on ``thread`` (by default the database thread) without waiting for it."""
        return (thread or self._thread).submit(_timed, operation, what)

    def later(self, operation: Callable[[], object], what: str) -> None:
        """Queue ``operation()`` on the database thread; the crawl does not wait, a failure is logged."""
        def done(future: Future[object]) -> None:
            error = future.exception()
            if error is not None:
                logger.error("%s failed: %s", what, _cause(error))

        self.submit(operation, what).add_done_callback(done)

    # -- the spider's look-ups: a database problem costs a full download, never a link -------------------

    async def load(self) -> None:
        """Read what the spider's incremental decisions need, once, before the first request: validators
        of every listing page, and the articles whose raw responses earlier runs could not keep (an
        article's validators are looked up when a page links it: ``look_up_articles``). When the database
        cannot answer, this run fetches every page in full (logged and counted)."""
        missing = (await self._look_up(self.archive.missing_outputs, "reading the missing side outputs",
                                       "raw responses missing from earlier runs are not fetched again"))[1]
        for article_id, outputs in (missing or {}).items():
            raw = {output for output in outputs if output.startswith("warc_")}
            if raw:
                self.unwritten_raw.setdefault(article_id, set()).update(raw)
        if not self.incremental:
            return
        self._pages = (await self._look_up(self.archive.page_validators, "reading the archived listings",
                                           "listing pages are fetched in full"))[1]

    async def look_up_articles(self, urls: Iterable[str]) -> None:
        """Read what the archive knows of the articles at ``urls`` that were not looked up yet (indexed
        look-ups by URL, on the database thread), before the spider asks ``article_validators`` or
        ``unchanged_since_listed`` about them: a run reads the articles its pages link, not the archive.
        When the database cannot answer, those articles are fetched in full (logged and counted)."""
        if not self.incremental:
            return
        wanted = [url for url in dict.fromkeys(urls) if url not in self._known]
        if not wanted:
            return
        found = (await self._look_up(lambda: self.archive.known_articles(wanted), "reading archived articles",
                                     "article pages are fetched in full", self._lookup_thread))[1]
        if found is not None:
            self._known.update((url, found.get(url)) for url in wanted)

    def article_validators(self, url: str) -> dict[str, str]:
        if not self.incremental:
            return {}
        known = self._known.get(url)
        if known is None or known.origin_status not in SETTLED_ORIGIN or self.unwritten_raw.get(known.article_id):
            return {}
        return _validators(known.etag, known.last_modified)

    def unchanged_since_listed(self, url: str) -> bool:
        """True for an archived article that need not be re-checked when an unchanged listing links it:
        incremental, settled origin, and published more than NEWSCRAWL_RECHECK_DAYS ago (the mirror may
        still edit a fresh post without touching its listings, so fresh posts are always re-checked)."""
        if not self.incremental or not self.article_validators(url):
            return False
        known = self._known.get(url)
        published = known.published_at if known is not None else None
        return published is not None and published < datetime.now(UTC) - timedelta(days=self.recheck_days)

    def listing_validators(self, url: str) -> dict[str, str]:
        # Read once per crawl by ``load``, as for articles (a query per listing was a sixth of an
        # incremental run).
        if not self.incremental or self._pages is None:
            return {}
        validators = self._pages.get(url)
        return _validators(*validators) if validators is not None else {}

    async def stored_links(self, url: str) -> list[str] | None:
        """The links recorded with a listing page; None when the database cannot say (fetch it again)."""
        available, links = await self._look_up(lambda: self.archive.page_links(url), f"reading the links of {url}",
                                               f"links of {url} unknown, it is fetched again")
        if not available:
            return None
        return links or []

    def remember_listing(self, response: Response, links: list[str]) -> None:
        """Record a listing's validators and links, on the database thread; the crawl does not wait."""
        etag = response.headers.get(b"ETag")
        last_modified = response.headers.get(b"Last-Modified")
        url, status = response.url, response.status

        def save() -> None:
            # Harmless when the database is unavailable: without a record the next run reads the page in full.
            try:
                self.archive.save_page(
                    url, etag=etag.decode("latin-1") if etag else None,
                    last_modified=last_modified.decode("latin-1") if last_modified else None,
                    links=links, status=status)
            except Exception as error:
                if not is_unavailable(error):
                    logger.error("listing %s not remembered: %s", url, _cause(error))
                    return
                self._unavailable(f"listing {url} not remembered", error)

        self.submit(save, f"remembering listing {url}")

    async def _look_up(self, operation: Callable[[], T], what: str, consequence: str,
                       thread: ThreadPoolExecutor | None = None) -> tuple[bool, T | None]:
        """(True, ``operation()``, on ``thread``, by default the database thread); or, while the database is
        unavailable, (False, None), logged with the consequence and counted. Any other error propagates."""
        try:
            return True, await self.in_thread(operation, what, thread)
        except Exception as error:
            if not is_unavailable(error):
                raise
            self._unavailable(consequence, error)
            return False, None

    def _count(self, key: str) -> None:
        if self.crawler is not None:  # an extension: made after the crawler's stats
            self.crawler.stats.inc_value(key)

    def _unavailable(self, consequence: str, error: BaseException) -> None:
        self._count("newscrawl/state/database_unavailable")
        logger.warning("database unavailable, %s: %s", consequence, _cause(error))

    # -- the pipelines' reads and writes: wait for the database, within a bound --------------------------

    async def retry_database(self, operation: Callable[[], T], what: str, stats_prefix: str) -> T:
        """``operation()``, attempted again after pauses while the database is unavailable or locked.

        The pauses do not block the crawl (other pages are fetched meanwhile; Scrapy's scraper limits how
        many items wait). Each attempt is counted in ``<stats_prefix>/retried``. After
        ``db_retry_seconds`` without success, or at once when an earlier item already waited that long,
        raises ``DatabaseUnavailable``.
        """
        deadline = time.monotonic() + self.db_retry_seconds

        def attempt_unless_given_up(attempt: int) -> T:
            # On the database thread, both the check and the giving up: a call queued behind the one that
            # gives up must not write after the run has been judged failed.
            if self.database_gone:
                raise DatabaseUnavailable(f"{what}: the database was given up earlier in this run")
            try:
                return operation()
            except Exception as error:
                if is_unavailable(error) and time.monotonic() + _pause(attempt) > deadline:
                    self.database_gone = True
                raise

        for attempt in range(1, 1_000_000):
            if self.database_gone:
                raise DatabaseUnavailable(f"{what}: the database was given up earlier in this run")
            try:
                return await self.in_thread(partial(attempt_unless_given_up, attempt), what)
            except Exception as error:
                if not is_unavailable(error):
                    raise
                self._count(f"{stats_prefix}/retried")
                if self.database_gone:
                    raise DatabaseUnavailable(
                        f"{what}: database unavailable for {self.db_retry_seconds:g}s "
                        f"({attempt} attempts): {_cause(error)}") from error
                pause = _pause(attempt)
                logger.warning("database unavailable (attempt %d), %s again in %.1fs: %s", attempt, what, pause,
                               _cause(error))
                # The crawl's reactor runs on asyncio (TWISTED_REACTOR in settings.py).
                await asyncio.sleep(pause)
        raise AssertionError("unreachable")


def _pause(attempt: int) -> float:
    return DB_RETRY_PAUSES[min(attempt, len(DB_RETRY_PAUSES)) - 1]


def _timed(operation: Callable[[], T], what: str) -> T:
    """``operation()``, on the database thread; a call that had to wait (a lock) is logged with its wait."""
    started = time.monotonic()
    result = operation()
    waited = time.monotonic() - started
    if waited >= DB_WAIT_WARNING_S:
        logger.warning("waited %.1fs for the archive (locked by another process?) while %s; downloads went "
                       "on meanwhile", waited, what)
    return result


def _validators(etag: str | None, last_modified: str | None) -> dict[str, str]:
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


def _cause(error: BaseException) -> str:
    """The driver's message, on one line (SQLAlchemy's adds the statement and a help link)."""
    orig = getattr(error, "orig", None)
    return " ".join(str(orig if orig is not None else error).split())
