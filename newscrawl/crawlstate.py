"""What a crawl remembers from earlier runs: the archive handle and the HTTP validators it keeps.

One ``CrawlState`` per crawler, shared by the spider (which asks what validators to send) and the
pipelines (which store through the same ``Archive``). With NEWSCRAWL_INCREMENTAL on, an archived article
is re-requested with ``If-None-Match`` / ``If-Modified-Since`` and a 304 answer costs no download; a listing
page that answers 304 gives back the links it had last time. docs/crawling.md describes the rules.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.http import Response

from newscrawl.storage import Archive

if TYPE_CHECKING:
    from newscrawl.storage import KnownArticle

logger = logging.getLogger(__name__)

# Origin answers that a later run should not ask again for; anything else (an error, a 404, an empty
# text) makes the next run fetch the article in full, so the origin is retried.
SETTLED_ORIGIN = frozenset({None, "ok", "offsite"})


@dataclass
class CrawlState:
    archive: Archive
    incremental: bool
    run_id: int | None = None
    _known: dict[str, KnownArticle] | None = field(default=None, repr=False)

    @classmethod
    def for_crawler(cls, crawler: Crawler) -> CrawlState:
        state: CrawlState | None = getattr(crawler, "_newscrawl_state", None)
        if state is None:
            archive = Archive.open(crawler.settings.get("NEWSCRAWL_DB_URL"))
            state = cls(archive=archive, incremental=crawler.settings.getbool("NEWSCRAWL_INCREMENTAL", True))
            crawler._newscrawl_state = state  # type: ignore[attr-defined]
            crawler.signals.connect(state.close, signal=signals.engine_stopped)
        return state

    def close(self, **_: Any) -> None:
        self.archive.close()

    def article_validators(self, url: str) -> dict[str, str]:
        if not self.incremental:
            return {}
        if self._known is None:
            self._known = self.archive.known_articles()
            logger.info("incremental crawl: %d archived articles will be re-checked conditionally", len(self._known))
        known = self._known.get(url)
        if known is None or known.origin_status not in SETTLED_ORIGIN:
            return {}
        return _validators(known.etag, known.last_modified)

    def listing_validators(self, url: str) -> dict[str, str]:
        if not self.incremental:
            return {}
        page = self.archive.page(url)
        if page is None or page.links is None:
            return {}
        return _validators(page.etag, page.last_modified)

    def stored_links(self, url: str) -> list[str]:
        page = self.archive.page(url)
        return list(page.links or []) if page else []

    def remember_listing(self, response: Response, links: list[str]) -> None:
        etag = response.headers.get(b"ETag")
        last_modified = response.headers.get(b"Last-Modified")
        self.archive.save_page(
            response.url,
            etag=etag.decode("latin-1") if etag else None,
            last_modified=last_modified.decode("latin-1") if last_modified else None,
            links=links,
            status=response.status,
        )


def _validators(etag: str | None, last_modified: str | None) -> dict[str, str]:
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers
