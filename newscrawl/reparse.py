"""Re-extract archived articles from their raw pages (WARC), with no network: ``newscrawl reparse``.

The crawl's own processing path (newscrawl.processing, newscrawl.linking), applied to the kept records in
the order the crawl met them: each article page is decoded in the encoding the crawl read it in (stored
with its record), parsed, joined with the origin answer kept for its share link, validated, normalised,
linked to its story and upserted. A parser fix thus reaches the whole archive without re-crawling, changed
articles keep their earlier version as a revision, and a fresh archive rebuilt from a crawl's WARC files
equals the crawl's on every column but the crawl-time ones (docs/warc.md).

Records are streamed: an article page whose origin answer is still to come waits for it, for at most
``ORIGIN_WAIT_RECORDS`` records (the crawl asks the origin right after the page, so its answer follows
closely); memory does not grow with the number of records.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from scrapy.http import HtmlResponse

from newscrawl.config import from_environment, get_bool, get_int
from newscrawl.encoding import decide_encoding, declared_encoding
from newscrawl.items import Article
from newscrawl.linking import StoryLinker
from newscrawl.processing import normalise, origin_answer, problem, read_article_page
from newscrawl.storage import Archive
from newscrawl.urls import SitePolicy
from newscrawl.warc import RawResponse, iter_responses

#: How many records an article page waits for its origin answer before it is stored without one.
ORIGIN_WAIT_RECORDS = 1000
#: How many story sketches reparse keeps in memory (a crawl keeps up to 30,000: newscrawl.linking).
REPARSE_SKETCH_CACHE_SIZE = 1000


@dataclass
class ReparseReport:
    pages: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)

    def count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    def line(self) -> str:
        return ", ".join(f"{n} {k}" for k, n in sorted(self.outcomes.items())) or "nothing to do"


class _Reparser:
    def __init__(self, archive: Archive) -> None:
        settings = from_environment()
        self.archive = archive
        self.policy = SitePolicy.configured(settings)
        # Read as the spider and the dedupe pipeline read them.
        self.follow_share_links = get_bool(settings, "NEWSCRAWL_FOLLOW_SHARE_LINKS")
        # Fewer sketches kept than a crawl keeps: records come in crawl order, and a sketch not kept is read
        # from the archive (one query an article), so memory stays flat in the number of records.
        self.linker = StoryLinker(archive, get_int(settings, "NEWSCRAWL_NEAR_DUPLICATE_DISTANCE"),
                                  sketch_cache_size=REPARSE_SKETCH_CACHE_SIZE)
        self.report = ReparseReport()
        self.now = datetime.now(UTC)
        # info code → the articles waiting for its origin answer, with the record number they came at.
        self.waiting: OrderedDict[str, list[tuple[int, Article]]] = OrderedDict()

    def run(self, warc_dir: Path) -> ReparseReport:
        number = 0
        for number, raw in enumerate(iter_responses(warc_dir)):
            if raw.kind == "article":
                self._page(raw, number)
            elif raw.kind == "origin":
                self._origin(raw)
            self._expire(number - ORIGIN_WAIT_RECORDS)
        self._expire(number + 1)
        return self.report

    def _page(self, raw: RawResponse, number: int) -> None:
        article = read_article_page(raw.url, raw.body, _text(raw), encoding=raw.encoding or None,
                                    encoding_guessed=raw.encoding_guessed)
        article.etag = raw.header("ETag")
        article.last_modified = raw.header("Last-Modified")
        self.report.pages += 1
        if not article.share_url:
            self._finish(article)
        elif (api_url := self.policy.text_api_url(article.share_url)) is None or not self.policy.may_request(api_url):
            article.origin_status = "offsite"  # as the crawl records a share link it may not follow
            self._finish(article)
        elif not self.follow_share_links:
            article.origin_status = "not_followed"
            self._finish(article)
        else:
            code = SitePolicy.info_code(article.share_url) or ""
            self.waiting.setdefault(code, []).append((number, article))

    def _origin(self, raw: RawResponse) -> None:
        code = (parse_qs(urlsplit(raw.url).query).get("id") or [""])[0]
        waiting = self.waiting.pop(code, None)
        if not waiting:
            return
        status, html = origin_answer(raw.status, raw.body)
        for _, article in waiting:
            article.origin_status, article.origin_html = status, html
            self._finish(article)

    def _expire(self, before: int) -> None:
        # No answer was kept for these (the request failed): the archive's knowledge of the origin stays.
        while self.waiting:
            code, waiting = next(iter(self.waiting.items()))
            if waiting[0][0] >= before:
                return
            del self.waiting[code]
            for _, article in waiting:
                self._finish(article)

    def _finish(self, article: Article) -> None:
        reason = problem(article)
        if reason:
            self.report.count(f"dropped ({reason})")
            return
        normalise(article)
        self.linker.link(article)
        self.report.count(self.archive.upsert_article(article, seen_at=self.now))


def reparse_archive(archive: Archive, warc_dir: Path) -> ReparseReport:
    """Re-extract every article page kept under ``warc_dir`` into ``archive``; what happened, counted."""
    return _Reparser(archive).run(warc_dir)


def _text(raw: RawResponse) -> str:
    """The page's text, decoded as the crawl decoded it (Scrapy's decoding, in the recorded encoding)."""
    encoding = raw.encoding
    if encoding is None:
        # A record from before the encoding was kept: decided again, as the crawl decides today.
        content_type = raw.header("Content-Type") or ""
        declared = declared_encoding(raw.body, content_type)
        reading = HtmlResponse(raw.url, body=raw.body, headers={"Content-Type": content_type}).encoding \
            if declared else None
        encoding = decide_encoding(raw.body, content_type, reading).name or reading
    return HtmlResponse(raw.url, body=raw.body, encoding=encoding or "utf-8").text
