"""The ``Archive`` repository: everything newscrawl stores or reads in the archive database.

Pipelines and the CLI use only this object (docs/architecture.md, "The storage API"); the tables it
writes are documented in docs/schema.md. Every public method is one short transaction, so a process
killed at any instant leaves either all of a write or none of it.

Two writers may work on one archive at once (two crawls, a crawl and ``newscrawl reparse``). On SQLite a
write transaction takes the database's write lock first (``BEGIN IMMEDIATE``), so writers take turns; on
PostgreSQL each write first takes a transaction-scoped advisory lock per article, so the read-compare-write
of an upsert is never interleaved with another writer's on the same article. In both cases the insert
itself is an ``INSERT … ON CONFLICT DO UPDATE``, which can neither duplicate a row nor fail on a conflict.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Literal, cast

from sqlalchemy import (
    Engine,
    Table,
    bindparam,
    case,
    func,
    literal_column,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, RowMapping, make_url
from sqlalchemy.exc import OperationalError

from newscrawl.items import Article, PostFile
from newscrawl.logredact import redact, redact_settings
from newscrawl.revisions import changed_fields, content_hash, is_revision, with_known_origin
from newscrawl.storage import search as search_module
from newscrawl.storage.engine import READ_ONLY, create_archive_engine, missing_database
from newscrawl.storage.migrate import (
    ADVISORY_LOCK_NAMESPACE,
    ArchiveError,
    ArchiveMissing,
    SchemaOutOfDate,
    SchemaTooNew,
    current_revision,
    head_revision,
    is_empty,
    known_revisions,
    upgrade_database,
)
from newscrawl.storage.models import (
    CONTENT_COLUMNS,
    OUTPUTS,
    RUN_OUTCOMES,
    ArticleRevisionRow,
    ArticleRow,
    CrawlRunRow,
    ImportCommitRow,
    ImportedPostRow,
    MissingOutputRow,
    PageRow,
    StorySketchRow,
)
from newscrawl.storage.search import SearchHit
from newscrawl.storage.types import (
    REPLACEMENT,
    STORABLE_EARLIEST,
    STORABLE_LATEST,
    AwareDateTime,
    exact_json,
    from_exact_json,
    storable_datetime,
    to_site_time,
    unstorable_characters,
)
from newscrawl.stories import SKETCH_BITS, SKETCH_VERSION, StorySketch, story_sketch

#: How long opening an archive waits for another process that holds a new SQLite file's lock.
OPEN_LOCKED_WAIT_S = 30.0

logger = logging.getLogger(__name__)

UpsertOutcome = Literal["new", "updated", "unchanged"]
RunOutcome = Literal["running", "ok", "degraded", "failed", "interrupted"]

ARTICLES: Table = cast(Table, ArticleRow.__table__)
REVISIONS: Table = cast(Table, ArticleRevisionRow.__table__)
RUNS: Table = cast(Table, CrawlRunRow.__table__)
PAGES: Table = cast(Table, PageRow.__table__)
SKETCHES: Table = cast(Table, StorySketchRow.__table__)
MISSING: Table = cast(Table, MissingOutputRow.__table__)
IMPORTED: Table = cast(Table, ImportedPostRow.__table__)
IMPORT_COMMITS: Table = cast(Table, ImportCommitRow.__table__)

_UINT64 = 1 << 64
_INT64_MAX = (1 << 63) - 1
#: The counts that have their own column in crawl_runs; every count is also kept in its JSON ``counts``.
RUN_COUNT_COLUMNS = ("new", "updated", "unchanged", "dropped", "errors")


@dataclass(frozen=True)
class StoryCandidate:
    """An archived post that may be the same story as another (the caller applies the rules)."""

    article_id: str
    story_id: str | None
    content_hash: str


@dataclass(frozen=True)
class KnownArticle:
    """What a conditional request for an archived article needs."""

    article_id: str
    url: str
    etag: str | None
    last_modified: str | None
    content_hash: str
    last_seen_at: datetime
    # Whether the origin's text was settled (e.g. "ok") or worth asking again; see Article.origin_status.
    origin_status: str | None
    # Fresh posts are re-checked even when their listings did not change (the mirror may still edit them).
    published_at: datetime | None


@dataclass(frozen=True)
class PageRecord:
    """A listing page as last fetched: its validators and the links it held."""

    url: str
    etag: str | None
    last_modified: str | None
    links: list[str]
    fetched_at: datetime
    status: int


@dataclass(frozen=True)
class ArticleRevision:
    """An earlier version of an article, and when it was current."""

    revision: int
    article: Article
    seen_from: datetime
    seen_until: datetime
    replaced_at: datetime
    run_id: int | None


@dataclass(frozen=True)
class CrawlRun:
    """One row of ``crawl_runs``."""

    run_id: int
    started_at: datetime
    finished_at: datetime | None
    outcome: str
    new: int
    updated: int
    unchanged: int
    dropped: int
    errors: int
    counts: dict[str, Any]
    settings: dict[str, Any]
    site_url: str | None
    pid: int | None
    hostname: str | None
    coverage: dict[str, Any] | None = None
    reasons: list[str] | None = None
    kind: str = "crawl"

    def as_json(self) -> dict[str, Any]:
        """The run as JSON-ready values (times in ISO 8601)."""
        values = {name: getattr(self, name) for name in self.__dataclass_fields__}
        for name in ("started_at", "finished_at"):
            moment = values[name]
            values[name] = moment.isoformat() if moment is not None else None
        return values


class Archive:
    """The archive database: articles, their revisions, crawl runs and listing pages (docs/schema.md)."""

    def __init__(self, engine: Engine) -> None:
        """Wrap an engine whose schema is at head; use ``Archive.open`` unless you made the engine."""
        self._engine = engine
        # The read transaction of an open ``reading()`` block, which every read inside it shares.
        self._reading: Connection | None = None

    # -- lifecycle ------------------------------------------------------------------------------------

    @classmethod
    def open(cls, db_url: str | URL, *, upgrade: bool = True, must_exist: bool = False) -> Archive:
        """Connect to the archive at ``db_url``.

        A database with no tables is created at the newest schema revision when ``upgrade`` is true. A
        database at an older revision is never migrated behind the user's back: it raises
        ``SchemaOutOfDate``, whose message says to run ``newscrawl db upgrade`` (``upgrade_database``).
        With ``must_exist`` (the commands that only read) nothing is created: a SQLite file that is not
        there raises ``ArchiveMissing``, and neither its folder nor the file appears.
        """
        if must_exist:
            missing = missing_database(db_url)
            if missing is not None:
                raise ArchiveMissing(missing)
        engine = create_archive_engine(db_url, create=not must_exist)
        deadline = time.monotonic() + OPEN_LOCKED_WAIT_S
        while True:
            try:
                cls._check_schema(engine, make_url(db_url), upgrade)
                return cls(engine)
            except OperationalError as error:
                # Another process opening the same new SQLite archive (a second worker started at the
                # same moment) may hold its lock while it switches the file to WAL or creates the schema.
                if "database is locked" not in str(error) or time.monotonic() > deadline:
                    engine.dispose()
                    raise
                time.sleep(0.1)
            except BaseException:
                engine.dispose()
                raise

    @staticmethod
    def _check_schema(engine: Engine, url: URL, upgrade: bool) -> None:
        where = redact(url.render_as_string(hide_password=False))
        head = head_revision()
        current = current_revision(engine)
        if current is None and not is_empty(engine):
            # Tables but no revision: not a newscrawl archive, or another process (a second worker
            # started at the same moment) created the schema between the two reads. Its tables and its
            # revision are committed together, so the revision read again tells which.
            current = current_revision(engine)
            if current is None:
                raise ArchiveError(
                    f"{where} has tables but no newscrawl schema revision: not a newscrawl archive"
                )
        if current == head:
            return
        if current is None:
            if not upgrade:
                raise SchemaOutOfDate(
                    f"{where} holds no archive: if the URL is right and the archive is new, create it with "
                    "`newscrawl db upgrade` (or its first crawl); if not, check the URL for a typo"
                )
            logger.info("creating the archive schema in %s (revision %s)", where, head)
            upgrade_database(engine)
            return
        if current in known_revisions():
            raise SchemaOutOfDate(
                f"the archive {where} is at schema revision {current}, this newscrawl needs {head}: "
                "run `newscrawl db upgrade`"
            )
        raise SchemaTooNew(
            f"the archive {where} is at schema revision {current}, which this newscrawl does not know: "
            "it was written by a newer version"
        )

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._engine.dialect.name

    def close(self) -> None:
        """Release the connections; the object cannot be used afterwards."""
        self._engine.dispose()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Run the reads inside this block in one read transaction instead of one each.

        For a caller that asks several questions at once (the dedupe, per article): one BEGIN and COMMIT,
        and one pool checkout, instead of one per question; on SQLite the answers also come from one
        snapshot. Writes inside the block still run in their own transactions. Not for a block that
        awaits: another task's reads would join the transaction. Nested blocks share the outer one.
        """
        if self._reading is not None:
            yield
            return
        with self._read() as connection:
            self._reading = connection
            try:
                yield
            finally:
                self._reading = None

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """A read transaction: one consistent snapshot, and on SQLite no write lock."""
        if self._reading is not None:
            yield self._reading
            return
        with self._engine.connect() as connection:
            connection.execution_options(**{READ_ONLY: True})
            with connection.begin():
                yield connection

    # -- articles -------------------------------------------------------------------------------------

    def upsert_article(self, article: Article, seen_at: datetime, run_id: int | None = None) -> UpsertOutcome:
        """Store ``article`` as seen at ``seen_at``: "new", "updated" (content changed) or "unchanged".

        An update keeps the previous version in ``article_revisions`` and bumps ``revision``;
        ``last_seen_at`` always moves forward, ``first_seen_at`` never changes. One transaction.
        """
        return self.upsert_articles([article], seen_at, run_id)[0]

    def upsert_articles(
        self, articles: Sequence[Article], seen_at: datetime, run_id: int | None = None
    ) -> list[UpsertOutcome]:
        """``upsert_article`` for many articles in one transaction; the outcomes in the same order."""
        if not articles:
            return []
        seen_at = to_site_time(seen_at)
        with self._engine.begin() as connection:
            self._lock_articles(connection, [article.article_id for article in articles])
            return [self._store(connection, article, seen_at, run_id) for article in articles]

    def _lock_articles(self, connection: Connection, article_ids: Iterable[str]) -> None:
        # SQLite's BEGIN IMMEDIATE already made this the only writer. On PostgreSQL the locks are taken in
        # one global order (by key) so that two batches sharing articles cannot deadlock.
        if connection.dialect.name != "postgresql":
            return
        for key in sorted({_lock_key(article_id) for article_id in article_ids}):
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:namespace, :key)"),
                {"namespace": ADVISORY_LOCK_NAMESPACE, "key": key},
            )

    def _store(
        self, connection: Connection, article: Article, seen_at: datetime, run_id: int | None
    ) -> UpsertOutcome:
        values = article_values(article, connection.dialect.name)
        # Insert first: a crawl stores mostly new articles, and then this one statement is the whole upsert.
        first = {**values, "first_seen_at": seen_at, "last_seen_at": seen_at, "changed_at": seen_at, "revision": 1}
        if _insert_new(connection, ARTICLES, first, key=("article_id",)):
            self._store_sketch(connection, article)
            search_module.index_article(connection, values)
            return "new"
        old = connection.execute(
            select(ARTICLES).where(ARTICLES.c.article_id == article.article_id)
        ).mappings().one()
        last_seen_at = max(old["last_seen_at"], seen_at)
        # What is a revision is decided in newscrawl.revisions alone: this compares its hashes.
        archived = article_from_row(old)
        article = with_known_origin(article, archived)
        values = article_values(article, connection.dialect.name)
        if not is_revision(archived, old["content_hash"], article, values["content_hash"]):
            changes: dict[str, Any] = {"last_seen_at": last_seen_at}
            # Not content: validators, the dedupe pipeline's findings and the flags may change without a
            # revision, and so do an origin text learnt for the first time and the latest reason an origin
            # gave none.
            for name in ("etag", "last_modified", "story_id", "simhash"):
                if values[name] is not None and values[name] != old[name]:
                    changes[name] = values[name]
            # exact_values follows origin_html when that is what an origin text held (docs/schema.md).
            for name in ("origin_status", "origin_html", "content_hash", "flags", "exact_values"):
                if values[name] != old[name]:
                    changes[name] = values[name]
            connection.execute(
                update(ARTICLES).where(ARTICLES.c.article_id == article.article_id).values(changes)
            )
            return "unchanged"
        earlier = {name: old[name] for name in CONTENT_COLUMNS}
        earlier.update(
            article_id=article.article_id, revision=old["revision"], seen_from=old["changed_at"],
            seen_until=old["last_seen_at"], replaced_at=seen_at, run_id=run_id,
        )
        _upsert(connection, REVISIONS, earlier, key=("article_id", "revision"), keep=tuple(earlier))
        if values["story_id"] is None:
            values["story_id"] = old["story_id"]
        values.update(
            first_seen_at=old["first_seen_at"], last_seen_at=last_seen_at, changed_at=seen_at,
            revision=old["revision"] + 1,
        )
        _upsert(connection, ARTICLES, values, key=("article_id",), keep=("first_seen_at",))
        self._store_sketch(connection, article, replace=True)
        search_module.reindex_article(connection, old, values)
        logger.debug("article %s changed (%s): revision %s", article.article_id,
                     ", ".join(changed_fields(archived, article)), values["revision"])
        return "updated"

    @staticmethod
    def _store_sketch(connection: Connection, article: Article, *, replace: bool = False) -> None:
        # The sketch follows the content it was derived from: written with it, replaced when it changes.
        sketch = story_sketch(article)
        if replace and sketch is None:
            connection.execute(SKETCHES.delete().where(SKETCHES.c.article_id == article.article_id))
        if sketch is not None:
            values = sketch_values(article.article_id, sketch)
            # Derived data, only compared: a character the backend cannot hold becomes U+FFFD here.
            unstorable = unstorable_characters(connection.dialect.name)
            for name in ("digest", "numbers"):
                if isinstance(values[name], str):
                    values[name] = unstorable.sub(REPLACEMENT, values[name])
            _upsert(connection, SKETCHES, values, key=("article_id",))

    def storage_flags(self, article: Article) -> list[str]:
        """The flags storing ``article`` adds on this backend: ``unstorable_text`` (a text held a character
        the backend cannot), ``date_out_of_range`` (docs/schema.md, "Values a backend cannot hold")."""
        return storage_flags(article, self.dialect)

    def mark_seen(self, article_id: str, seen_at: datetime) -> bool:
        """Move ``last_seen_at`` of an archived, unchanged article; False if it is not archived."""
        return self.mark_seen_many([article_id], seen_at) > 0

    def mark_seen_many(self, article_ids: Sequence[str], seen_at: datetime) -> int:
        """``mark_seen`` for many articles in one transaction; returns how many are archived."""
        seen = bindparam("seen_at", to_site_time(seen_at), type_=AwareDateTime())
        # Never backwards: a late writer with an older sighting leaves the newer one in place.
        later = case((ARTICLES.c.last_seen_at < seen, seen), else_=ARTICLES.c.last_seen_at)
        updated = 0
        with self._engine.begin() as connection:
            for chunk in _id_chunks(article_ids):
                result = connection.execute(
                    update(ARTICLES).where(ARTICLES.c.article_id.in_(chunk)).values(last_seen_at=later)
                )
                updated += result.rowcount
        return updated

    def rename_story(self, story_id: str, new_story_id: str) -> int:
        """Move every member of story ``story_id`` to ``new_story_id``; returns how many were moved.

        The members are the articles whose ``story_id`` is ``story_id``, and the article ``story_id`` itself
        when it has no story id yet (a post is its own story until a twin turns up).
        """
        with self._engine.begin() as connection:
            result = connection.execute(
                update(ARTICLES)
                .where(or_(ARTICLES.c.story_id == story_id,
                           (ARTICLES.c.article_id == story_id) & ARTICLES.c.story_id.is_(None)))
                .values(story_id=new_story_id)
            )
            return int(result.rowcount)

    def get_article(self, article_id: str) -> Article | None:
        """The current version of an archived article."""
        with self._read() as connection:
            row = connection.execute(
                select(ARTICLES).where(ARTICLES.c.article_id == article_id)
            ).mappings().first()
        return article_from_row(row) if row is not None else None

    def revisions(self, article_id: str) -> list[ArticleRevision]:
        """The earlier versions of an article, oldest first (the current one is ``get_article``)."""
        with self._read() as connection:
            rows = connection.execute(
                select(REVISIONS).where(REVISIONS.c.article_id == article_id).order_by(REVISIONS.c.revision)
            ).mappings().all()
        return [
            ArticleRevision(
                revision=row["revision"], article=article_from_row(row), seen_from=row["seen_from"],
                seen_until=row["seen_until"], replaced_at=row["replaced_at"], run_id=row["run_id"],
            )
            for row in rows
        ]

    def count_articles(self) -> int:
        with self._read() as connection:
            return int(connection.execute(select(func.count()).select_from(ARTICLES)).scalar_one())

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
        parameters = {"earliest": _shifted(published, -window), "latest": _shifted(published, window)}
        with self._read() as connection:
            return list(connection.execute(_published_near_statement(), parameters).scalars().all())

    def story_members(self, article_ids: Iterable[str]) -> list[StoryCandidate]:
        """The story id and content hash of these archived articles (those archived), oldest first."""
        ids = sorted(set(article_ids))
        found: list[StoryCandidate] = []
        with self._read() as connection:
            for chunk in _id_chunks(ids):
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
            for chunk in _id_chunks(ids):
                rows = connection.execute(_sketches_statement(), {"ids": chunk})
                found.update((row[0], sketch_from_row(row)) for row in rows)
        return found

    def known_article(self, url: str) -> KnownArticle | None:
        """Validators and content hash of the article archived from ``url``, for a conditional request."""
        with self._read() as connection:
            row = connection.execute(self._known_select().where(ARTICLES.c.url == url)).first()
        return KnownArticle(*row) if row is not None else None

    def known_articles(self) -> dict[str, KnownArticle]:
        """``known_article`` for every archived article, keyed by ``url`` (one query for a whole crawl)."""
        with self._read() as connection:
            return {row.url: KnownArticle(*row) for row in connection.execute(self._known_select())}

    @staticmethod
    def _known_select() -> Any:
        return select(ARTICLES.c.article_id, ARTICLES.c.url, ARTICLES.c.etag, ARTICLES.c.last_modified,
                      ARTICLES.c.content_hash, ARTICLES.c.last_seen_at, ARTICLES.c.origin_status,
                      ARTICLES.c.published_at)

    def iter_articles(
        self, since: datetime | None = None, until: datetime | None = None, category: str | None = None
    ) -> Iterator[Article]:
        """Archived articles, current versions, by publication time (undated last), then id.

        ``since`` is inclusive and ``until`` exclusive; both compare ``published_at``, so undated
        articles come only when neither is given. Rows are streamed: consume the iterator promptly.
        """
        # The post file of an imported article comes with it: the export writes it back as it was.
        post_columns = (IMPORTED.c[column].label(f"post_{name}") for name, column in _POST_COLUMNS.items())
        statement = select(ARTICLES, *post_columns)
        statement = statement.outerjoin(IMPORTED, IMPORTED.c.article_id == ARTICLES.c.article_id)
        if since is not None:
            statement = statement.where(ARTICLES.c.published_at >= since)
        if until is not None:
            statement = statement.where(ARTICLES.c.published_at < until)
        if category is not None:
            statement = statement.where(ARTICLES.c.category == category)
        statement = statement.order_by(ARTICLES.c.published_at.asc().nulls_last(), ARTICLES.c.article_id)
        with self._read() as connection:
            for row in connection.execution_options(yield_per=200).execute(statement).mappings():
                article = article_from_row(row)
                if row["post_file_name"] is not None:
                    article.post_file = PostFile(**{name: row[f"post_{name}"] for name in _POST_COLUMNS})
                yield article

    # -- search and statistics ------------------------------------------------------------------------

    def search(
        self, query: str, limit: int = 20, *, category: str | None = None, since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[SearchHit]:
        """Full-text search that works for Chinese; best first (docs/search.md). ``category`` keeps one
        category; ``since`` (inclusive) and ``until`` (exclusive) a range of publication times."""
        with self._read() as connection:
            return search_module.search(connection, query, limit, category=category, since=since, until=until)

    def rebuild_search_index(self) -> int:
        """Index every article anew (the search index is derived data); returns how many were indexed."""
        with self._engine.begin() as connection:
            return search_module.rebuild_index(connection)

    def stats(self, recent_runs: int = 10) -> dict[str, Any]:
        """Counts for ``newscrawl stats``, JSON-ready: ``articles``, ``revisions``, ``stories``,
        ``per_category`` {category: articles} (None for uncategorised), ``per_day`` {YYYY-MM-DD in UTC+8:
        articles} (None for undated), ``runs`` (the latest ``recent_runs``, newest first)."""
        day = self._day_expression()
        with self._read() as connection:
            total = connection.execute(select(func.count()).select_from(ARTICLES)).scalar_one()
            revisions = connection.execute(select(func.count()).select_from(REVISIONS)).scalar_one()
            stories = connection.execute(select(func.count(ARTICLES.c.story_id.distinct()))).scalar_one()
            category = ARTICLES.c.category
            per_category = connection.execute(
                select(category, func.count()).group_by(category).order_by(category.asc().nulls_last())
            ).all()
            per_day = connection.execute(
                select(day, func.count()).select_from(ARTICLES).group_by(day).order_by(day)
            ).all()
        return {
            "articles": int(total),
            "revisions": int(revisions),
            "stories": int(stories),
            "per_category": {category: int(n) for category, n in per_category},
            "per_day": {day_text: int(n) for day_text, n in per_day},
            "runs": [run.as_json() for run in self.runs(recent_runs)],
        }

    def _day_expression(self) -> Any:
        # The publication day in the site's time zone. SQLite stores +08:00 text, so the day is its
        # first ten characters; PostgreSQL must be told which zone (INTERVAL: ISO sign, east positive).
        if self.dialect == "postgresql":
            # timezone(zone, t) is AT TIME ZONE in function form.
            site_time = func.timezone(literal_column("INTERVAL '+08:00'"), ARTICLES.c.published_at)
            return func.to_char(site_time, "YYYY-MM-DD")
        return func.substr(ARTICLES.c.published_at, 1, 10)

    # -- listing pages --------------------------------------------------------------------------------

    def page(self, url: str) -> PageRecord | None:
        """The listing page at ``url`` as last fetched, or None."""
        with self._read() as connection:
            row = connection.execute(select(PAGES).where(PAGES.c.url == url)).mappings().first()
        if row is None:
            return None
        return PageRecord(url=row["url"], etag=row["etag"], last_modified=row["last_modified"],
                          links=list(row["links"]), fetched_at=row["fetched_at"], status=row["status"])

    def page_links(self, url: str) -> list[str] | None:
        """The links recorded with the listing page at ``url``, or None: ``page(url).links`` in one narrow
        query (an incremental run asks it for every listing that answers 304)."""
        with self._read() as connection:
            links = connection.execute(select(PAGES.c.links).where(PAGES.c.url == url)).scalar()
        return None if links is None else list(links)

    def page_validators(self) -> dict[str, tuple[str | None, str | None]]:
        """(etag, last_modified) of every recorded listing page, keyed by URL (one query for a whole crawl)."""
        with self._read() as connection:
            rows = connection.execute(select(PAGES.c.url, PAGES.c.etag, PAGES.c.last_modified))
            return {url: (etag, last_modified) for url, etag, last_modified in rows}

    def save_page(
        self, url: str, etag: str | None, last_modified: str | None, links: Sequence[str], status: int,
        fetched_at: datetime | None = None,
    ) -> None:
        """Record a listing page's validators and links (replace what was recorded)."""
        values = {
            "url": url, "etag": etag, "last_modified": last_modified, "links": list(links),
            "fetched_at": to_site_time(fetched_at) if fetched_at is not None else _now(), "status": status,
        }
        with self._engine.begin() as connection:
            _upsert(connection, PAGES, values, key=("url",))

    # -- side outputs a run could not write -----------------------------------------------------------

    def mark_missing(self, article_id: str, output: str, reason: str | None, run_id: int | None = None) -> None:
        """Record that ``output`` (``post``, ``warc_page``, ``warc_origin``) of ``article_id`` could not be
        written; a row already there keeps its ``since`` and first run, and takes the latest reason."""
        if output not in OUTPUTS:
            raise ValueError(f"unknown side output {output!r}: one of {', '.join(OUTPUTS)}")
        values = {"article_id": article_id, "output": output, "since": _now(), "run_id": run_id, "reason": reason}
        with self._engine.begin() as connection:
            _upsert(connection, MISSING, values, key=("article_id", "output"), keep=("since", "run_id"))

    def output_written(self, article_id: str, output: str) -> bool:
        """Forget that ``output`` of ``article_id`` was missing; True if it was."""
        with self._engine.begin() as connection:
            result = connection.execute(MISSING.delete().where(
                (MISSING.c.article_id == article_id) & (MISSING.c.output == output)))
            return bool(result.rowcount)

    def missing_outputs(self, output: str | None = None) -> dict[str, set[str]]:
        """The side outputs still missing, as article id -> outputs (only ``output`` when given)."""
        statement = select(MISSING.c.article_id, MISSING.c.output)
        if output is not None:
            statement = statement.where(MISSING.c.output == output)
        found: dict[str, set[str]] = {}
        with self._read() as connection:
            for article_id, kind in connection.execute(statement):
                found.setdefault(article_id, set()).add(kind)
        return found

    # -- crawl runs -----------------------------------------------------------------------------------

    def start_run(self, site_url: str, settings: Mapping[str, Any], kind: str = "crawl") -> int:
        """Record the start of a run (``kind``: crawl or import); returns its ``run_id``. Passwords in
        settings are redacted."""
        values = {
            "started_at": _now(), "finished_at": None, "outcome": "running",
            **dict.fromkeys(RUN_COUNT_COLUMNS, 0), "counts": {},
            "settings": redact_settings(settings), "site_url": redact(site_url),
            "pid": os.getpid(), "hostname": socket.gethostname(),
        }
        if kind != "crawl":
            values["kind"] = kind  # a crawl is the column's default (and all a schema before 0008 knows)
        with self._engine.begin() as connection:
            run_id = connection.execute(RUNS.insert().values(values).returning(RUNS.c.run_id)).scalar_one()
        return int(run_id)

    def finish_run(self, run_id: int, outcome: RunOutcome, counts: Mapping[str, Any], *,
                   coverage: Mapping[str, Any] | None = None, reasons: Sequence[str] | None = None,
                   finished_at: datetime | None = None, pid: int | None = None) -> bool:
        """Record how a run ended. ``counts``: new/updated/unchanged/dropped/errors (a number, or for
        ``dropped`` a mapping of reason to number) and anything else worth keeping, all kept as JSON;
        ``coverage``: where its fields came from (newscrawl.coverage); ``reasons``: why it was degraded
        or failed, one line each.

        With ``pid``, a late record of a run that could not record its own end: written only if the run
        is still ``running`` and was started by that process; returns whether it was written.
        """
        if outcome not in RUN_OUTCOMES or outcome == "running":
            raise ValueError(f"a run ends as one of ok, degraded, failed, interrupted, not {outcome!r}")
        values: dict[str, Any] = {name: _count(counts.get(name)) for name in RUN_COUNT_COLUMNS}
        values.update(finished_at=to_site_time(finished_at) if finished_at is not None else _now(),
                      outcome=outcome, counts=_jsonable(counts))
        # Only when given: a JSON None would be stored as the JSON text 'null', not as SQL NULL.
        if coverage is not None:
            values["coverage"] = _jsonable(coverage)
        if reasons is not None:
            values["reasons"] = list(reasons)
        statement = update(RUNS).where(RUNS.c.run_id == run_id)
        if pid is not None:
            statement = statement.where(RUNS.c.outcome == "running", RUNS.c.pid == pid)
        with self._engine.begin() as connection:
            result = connection.execute(statement.values(values))
            if result.rowcount == 0 and pid is None:
                raise ArchiveError(f"there is no crawl run {run_id}")
            return bool(result.rowcount)

    def interrupt_stale_runs(self) -> list[int]:
        """Mark as ``interrupted`` the runs of this host still ``running`` whose process is gone
        (killed before ``finish_run``); returns their ids. Call it while holding the crawl lock."""
        hostname = socket.gethostname()
        with self._engine.begin() as connection:
            rows = connection.execute(
                select(RUNS.c.run_id, RUNS.c.pid)
                .where(RUNS.c.outcome == "running", RUNS.c.hostname == hostname)
            ).all()
            stale = [run_id for run_id, pid in rows if pid is None or not _process_alive(pid)]
            if stale:
                connection.execute(
                    update(RUNS)
                    .where(RUNS.c.run_id.in_(stale))
                    .values(outcome="interrupted", finished_at=_now())
                )
        return stale

    def runs(self, limit: int = 10) -> list[CrawlRun]:
        """The latest crawl runs, newest first."""
        with self._read() as connection:
            rows = connection.execute(
                select(RUNS).order_by(RUNS.c.started_at.desc(), RUNS.c.run_id.desc()).limit(limit)
            ).mappings().all()
        return [CrawlRun(**{name: row[name] for name in CrawlRun.__dataclass_fields__}) for row in rows]

    def finished_runs(self, limit: int = 10, outcomes: Sequence[str] = ("ok", "degraded")) -> list[CrawlRun]:
        """The latest finished runs whose outcome is one of ``outcomes``, newest first."""
        with self._read() as connection:
            rows = connection.execute(
                select(RUNS).where(RUNS.c.outcome.in_(list(outcomes)), RUNS.c.finished_at.is_not(None))
                .order_by(RUNS.c.started_at.desc(), RUNS.c.run_id.desc()).limit(limit)
            ).mappings().all()
        return [CrawlRun(**{name: row[name] for name in CrawlRun.__dataclass_fields__}) for row in rows]

    def last_new_article_at(self) -> datetime | None:
        """When a crawl run last archived a new article (the end of the latest run with ``new`` > 0), or,
        when none ever did, when the first run started; None without runs. Read from ``crawl_runs`` alone."""
        with self._read() as connection:
            found = connection.execute(select(func.max(RUNS.c.finished_at)).where(RUNS.c.new > 0)).scalar()
            if found is None:
                found = connection.execute(select(func.min(RUNS.c.started_at))).scalar()
        return cast("datetime | None", found)

    def newest_urls(self, limit: int = 2) -> list[str]:
        """The URLs of the ``limit`` latest published articles (from the index on ``published_at``)."""
        with self._read() as connection:
            return list(connection.execute(
                select(ARTICLES.c.url).where(ARTICLES.c.published_at.is_not(None))
                .order_by(ARTICLES.c.published_at.desc()).limit(limit)
            ).scalars())

    def size(self) -> tuple[int, int | None]:
        """(articles archived, bytes the database takes on disk or None when it cannot say)."""
        with self._read() as connection:
            articles = int(connection.execute(select(func.count()).select_from(ARTICLES)).scalar_one())
            if self.dialect == "postgresql":
                size = connection.execute(text("SELECT pg_database_size(current_database())")).scalar()
            else:
                pages = connection.exec_driver_sql("PRAGMA page_count").scalar()
                page_size = connection.exec_driver_sql("PRAGMA page_size").scalar()
                size = int(pages) * int(page_size) if pages is not None and page_size is not None else None
        return articles, int(size) if size is not None else None

    # -- imports (newscrawl import, docs/import.md) ---------------------------------------------------

    def upsert_imported(self, article: Article, seen_at: datetime, run_id: int | None = None) -> UpsertOutcome:
        """``upsert_article`` and, in the same transaction, the post file it was read from
        (``article.post_file``, recorded with the content hash the archive holds afterwards)."""
        post = article.post_file
        if post is None:
            raise ValueError(f"article {article.article_id} was not read from a post file")
        seen_at = to_site_time(seen_at)
        with self._engine.begin() as connection:
            self._lock_articles(connection, [article.article_id])
            outcome = self._store(connection, article, seen_at, run_id)
            # What the row holds now (an unchanged article keeps the hash it had).
            stored_hash = connection.execute(
                select(ARTICLES.c.content_hash).where(ARTICLES.c.article_id == article.article_id)
            ).scalar_one()
            values = {"article_id": article.article_id, "file_name": post.file_name, "folder": post.folder,
                      "post_text": post.text, "content_hash": stored_hash, "commit_id": post.commit,
                      "imported_at": seen_at}
            _upsert(connection, IMPORTED, values, key=("article_id",))
        post.content_hash = stored_hash
        return outcome

    def seen_commits(self) -> set[str]:
        """The git commits whose post files an import has read."""
        with self._read() as connection:
            return set(connection.execute(select(IMPORT_COMMITS.c.commit_id)).scalars())

    def add_seen_commits(self, commits: Sequence[str], run_id: int | None = None) -> None:
        """Remember that every post file of ``commits`` is archived."""
        rows = [{"commit_id": commit, "run_id": run_id, "imported_at": _now()} for commit in commits]
        if rows:
            with self._engine.begin() as connection:
                connection.execute(_upsert_statement(connection.dialect.name, IMPORT_COMMITS, ("commit_id", "run_id",
                                   "imported_at"), ("commit_id",), ("run_id", "imported_at")), rows)


#: PostFile's fields and the imported_posts columns that hold them.
_POST_COLUMNS = {"file_name": "file_name", "text": "post_text", "folder": "folder", "commit": "commit_id",
                 "content_hash": "content_hash"}


# -- helpers ------------------------------------------------------------------------------------------


def _upsert(
    connection: Connection,
    table: Table,
    values: Mapping[str, Any],
    key: Sequence[str],
    keep: Sequence[str] = (),
) -> None:
    """Insert a row, or on a key conflict overwrite it but for ``key`` and ``keep``: the one upsert."""
    statement = _upsert_statement(connection.dialect.name, table, tuple(values), tuple(key), tuple(keep))
    connection.execute(statement, dict(values))


def _insert_new(connection: Connection, table: Table, values: Mapping[str, Any], key: Sequence[str]) -> bool:
    """Insert a row unless its key exists; True if it was inserted.

    Told by RETURNING, not by the row count, which psycopg reports as -1 for this statement.
    """
    statement = _insert_new_statement(connection.dialect.name, table, tuple(key))
    return connection.execute(statement, dict(values)).first() is not None


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


@lru_cache(maxsize=1)
def _published_near_statement() -> Any:
    # Both columns are in ix_articles_published_at_article_id, in this order: the database answers (and
    # sorts) from the index alone. The rows themselves hold whole pages, ~10 KB each, one more B-tree
    # descent per id: ~6x slower on SQLite for the benchmark site's ~180 ids.
    return (
        select(ARTICLES.c.article_id)
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


def _id_chunks(ids: Sequence[str], size: int = 500) -> Iterator[list[str]]:
    """``ids`` in lists of at most ``size``: each statement stays under SQLite's bound-parameter limit."""
    for start in range(0, len(ids), size):
        yield list(ids[start:start + size])


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
        "numbers": sketch.numbers, "simhash": _signed(sketch.simhash), "size": sketch.size,
        "folded": sketch.folded, "bits": sketch.bits.to_bytes(SKETCH_BITS // 8, "little"),
    }


def sketch_from_row(row: Sequence[Any]) -> StorySketch:
    """A ``StorySketch`` from the columns of ``_sketches_statement``, in its order."""
    _, length, digest, numbers, simhash, size, bits, folded = row
    return StorySketch(length=length, digest=digest, numbers=numbers, simhash=simhash, size=size,
                       bits=int.from_bytes(bits, "little"), folded=folded)


@lru_cache(maxsize=8)
def _insert_new_statement(dialect: str, table: Table, key: tuple[str, ...]) -> Any:
    # The columns come from each execution's parameters: one statement a table serves every row shape.
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (insert(table).on_conflict_do_nothing(index_elements=list(key))
            .returning(*(table.c[name] for name in key)))


@lru_cache(maxsize=64)
def _upsert_statement(dialect: str, table: Table, columns: tuple[str, ...], key: tuple[str, ...],
                      keep: tuple[str, ...]) -> Any:
    # Built once per shape and executed with the row as parameters: building the statement (and its
    # cache key) anew for every row was most of the cost of storing an article (docs/performance.md).
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table)
    replaced = {name: statement.excluded[name] for name in columns if name not in key and name not in keep}
    if replaced:
        return statement.on_conflict_do_update(index_elements=list(key), set_=replaced)
    return statement.on_conflict_do_nothing(index_elements=list(key))


#: The text fields of an article, as stored in columns of the same names.
TEXT_FIELDS = ("article_id", "info_code", "url", "share_url", "category", "publisher", "title", "summary",
               "body_html", "body_text", "origin_html", "origin_status", "source", "tags", "footer_md",
               "etag", "last_modified")
_EXACT_DATETIMES = frozenset({"published_at"})
#: Flags of an article some of whose values this backend could not hold as they were (docs/schema.md).
UNSTORABLE_TEXT, DATE_OUT_OF_RANGE = "unstorable_text", "date_out_of_range"


def unstorable_fields(article: Article, dialect: str) -> dict[str, str]:
    """The fields of ``article`` that ``dialect`` cannot hold as they are, each with its flag."""
    unstorable = unstorable_characters(dialect)
    found = {name: UNSTORABLE_TEXT for name in TEXT_FIELDS
             if isinstance(value := getattr(article, name), str) and unstorable.search(value)}
    if article.published_at is not None and not storable_datetime(article.published_at):
        found["published_at"] = DATE_OUT_OF_RANGE
    return found


def storage_flags(article: Article, dialect: str) -> list[str]:
    """The flags the archive adds to ``article`` on ``dialect`` (``unstorable_text``, ``date_out_of_range``)."""
    return sorted(set(unstorable_fields(article, dialect).values()))


def article_values(article: Article, dialect: str = "sqlite") -> dict[str, Any]:
    """The column values of ``article`` on ``dialect`` (without the seen-at times and revision).

    A value the backend cannot hold goes into the column in its stand-in form (unstorable characters
    replaced by U+FFFD, an out-of-range time NULL), exactly into ``exact_values``, and its flag into
    ``flags`` (docs/schema.md, "Values a backend cannot hold").
    """
    values = _plain_values(article)
    unstorable = unstorable_fields(article, dialect)
    if unstorable:
        pattern = unstorable_characters(dialect)
        for name in unstorable:
            values[name] = None if name in _EXACT_DATETIMES else pattern.sub(REPLACEMENT, getattr(article, name))
        values["exact_values"] = exact_json({name: getattr(article, name) for name in unstorable})
        values["flags"] = [*values["flags"], *(f for f in sorted(set(unstorable.values())) if f not in values["flags"])]
    return values


def _plain_values(article: Article) -> dict[str, Any]:
    published = article.published_at
    return {
        "article_id": article.article_id,
        "info_code": article.info_code,
        "url": article.url,
        "share_url": article.share_url,
        "category": article.category,
        "publisher": article.publisher,
        "title": article.title,
        # Checked here, not only in the column type, so that a naive datetime fails with a plain ValueError.
        "published_at": to_site_time(published) if published is not None and storable_datetime(published) else None,
        "summary": article.summary,
        "body_html": article.body_html,
        "body_text": article.body_text,
        "origin_html": article.origin_html,
        "origin_status": article.origin_status,
        "source": article.source,
        "tags": article.tags,
        "footer_md": article.footer_md,
        "content_hash": article.content_hash or content_hash(article),
        "simhash": _signed(article.simhash),
        "story_id": article.story_id,
        "flags": list(article.flags),
        "etag": article.etag,
        "last_modified": article.last_modified,
        "exact_values": None,
    }


def article_from_row(row: RowMapping) -> Article:
    """An ``Article`` from a row of ``articles`` or ``article_revisions``, with its exact values."""
    article = Article(
        article_id=row["article_id"], url=row["url"], title=row["title"], published_at=row["published_at"],
        category=row["category"], tags=row["tags"], publisher=row["publisher"], summary=row["summary"],
        source=row["source"], share_url=row["share_url"], info_code=row["info_code"],
        body_html=row["body_html"], body_text=row["body_text"], footer_md=row["footer_md"],
        origin_html=row["origin_html"], origin_status=row["origin_status"], content_hash=row["content_hash"],
        story_id=row.get("story_id"), simhash=row["simhash"], etag=row["etag"],
        last_modified=row["last_modified"], flags=list(row["flags"] or []),
    )
    exact = row.get("exact_values")
    if exact:
        for name, value in from_exact_json(exact, _EXACT_DATETIMES).items():
            setattr(article, name, value)
    return article


def _signed(simhash: int | None) -> int | None:
    # BIGINT is signed, as newscrawl.stories.simhash is; an unsigned 64-bit value is stored as the
    # signed number with the same bits (and comes back signed).
    if simhash is None:
        return None
    if not -(1 << 63) <= simhash < _UINT64:
        raise ValueError(f"simhash {simhash} does not fit in 64 bits")
    return simhash - _UINT64 if simhash > _INT64_MAX else simhash




def _shifted(moment: datetime, delta: timedelta) -> datetime:
    """``moment + delta``, or the bound of the storable range it would pass."""
    try:
        shifted = moment + delta
    except OverflowError:
        shifted = STORABLE_LATEST if delta > timedelta(0) else STORABLE_EARLIEST
    if not storable_datetime(shifted):
        shifted = STORABLE_LATEST if delta > timedelta(0) else STORABLE_EARLIEST
    return shifted


def _lock_key(article_id: str) -> int:
    # A stable signed 32-bit key (Python's hash() differs per process); a collision only makes two
    # articles' writers take turns.
    return zlib.crc32(article_id.encode()) - (1 << 31)


def _now() -> datetime:
    return to_site_time(datetime.now().astimezone())


def _count(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, Mapping):
        return sum(_count(v) for v in value.values())
    return int(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
