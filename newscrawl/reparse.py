"""Re-extract archived articles from their raw pages (WARC), with no network: ``newscrawl reparse``.

Every article page kept in the WARC files is parsed again with today's parser, joined with the origin
answer kept for its share link, normalised exactly as a crawl would, and upserted: a parser fix reaches
the whole archive without re-crawling, and changed articles keep their earlier version as a revision.
See docs/warc.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from newscrawl.config import from_environment
from newscrawl.items import Article
from newscrawl.parsers import parse_article, parse_origin_text
from newscrawl.storage import Archive
from newscrawl.urls import SitePolicy
from newscrawl.warc import RawResponse, iter_responses
from pipelines.normalise import normalise
from pipelines.validate import problem


@dataclass
class ReparseReport:
    pages: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        return ", ".join(f"{n} {k}" for k, n in sorted(self.outcomes.items())) or "nothing to do"


def reparse_archive(archive: Archive, warc_dir: Path) -> ReparseReport:
    pages: dict[str, RawResponse] = {}
    origin: dict[str, RawResponse] = {}
    for raw in iter_responses(warc_dir):
        # Later records win: a page fetched again in a later run is the newer version.
        if raw.kind == "origin":
            code = (parse_qs(urlsplit(raw.url).query).get("id") or [""])[0]
            origin[code] = raw
        elif raw.kind == "article":
            pages[raw.url] = raw
    report = ReparseReport()
    now = datetime.now(UTC)
    policy = SitePolicy.configured(from_environment())
    for raw in pages.values():
        article = _article(raw, origin, policy)
        if article.share_url and article.origin_status is None:
            # No origin answer was kept (only 200s are): keep what the archive knows of the origin.
            stored = archive.get_article(article.article_id)
            if stored is not None:
                article.origin_status, article.origin_html = stored.origin_status, stored.origin_html
        report.pages += 1
        reason = problem(article)
        if reason:
            report.outcomes[f"dropped ({reason})"] = report.outcomes.get(f"dropped ({reason})", 0) + 1
            continue
        normalise(article)
        outcome = archive.upsert_article(article, seen_at=now)
        report.outcomes[outcome] = report.outcomes.get(outcome, 0) + 1
    return report


def _article(raw: RawResponse, origin: dict[str, RawResponse], policy: SitePolicy) -> Article:
    article = parse_article(raw.body.decode("utf-8", "replace"), raw.url)
    article.etag = raw.header("ETag")
    article.last_modified = raw.header("Last-Modified")
    if article.share_url and policy.text_api_url(article.share_url) is None:
        article.origin_status = "offsite"  # as the crawl records a share link it may not follow
    elif article.share_url:
        code = SitePolicy.info_code(article.share_url)
        answer = origin.get(code or "")
        if answer is not None:
            text = parse_origin_text(answer.body)
            article.origin_status, article.origin_html = text.status, text.html
    return article
