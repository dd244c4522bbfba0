"""Listing pages as last fetched (``pages``: validators and links, replayed on a 304) and the side outputs
a run could not write (``missing_outputs``; docs/schema.md)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from newscrawl.storage.base import ArchiveBase
from newscrawl.storage.models import OUTPUTS
from newscrawl.storage.sql import MISSING, PAGES, now, upsert
from newscrawl.storage.types import to_site_time


@dataclass(frozen=True)
class PageRecord:
    """A listing page as last fetched: its validators and the links it held."""

    url: str
    etag: str | None
    last_modified: str | None
    links: list[str]
    fetched_at: datetime
    status: int


class PageStore(ArchiveBase):
    """The ``Archive``'s listing pages and missing side outputs."""

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
            "fetched_at": to_site_time(fetched_at) if fetched_at is not None else now(), "status": status,
        }
        with self._engine.begin() as connection:
            upsert(connection, PAGES, values, key=("url",))


    def mark_missing(self, article_id: str, output: str, reason: str | None, run_id: int | None = None) -> None:
        """Record that ``output`` (``post``, ``warc_page``, ``warc_origin``) of ``article_id`` could not be
        written; a row already there keeps its ``since`` and first run, and takes the latest reason."""
        if output not in OUTPUTS:
            raise ValueError(f"unknown side output {output!r}: one of {', '.join(OUTPUTS)}")
        values = {"article_id": article_id, "output": output, "since": now(), "run_id": run_id, "reason": reason}
        with self._engine.begin() as connection:
            upsert(connection, MISSING, values, key=("article_id", "output"), keep=("since", "run_id"))

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
