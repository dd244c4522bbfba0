"""Floor: the project's own parser and storage over a scale site's saved pages, no Scrapy, no network.

    python benchmarks/floor.py [--posts 20000] [--runs 3]

Every page a complete crawl handles is read from disk into memory first (the crawler gets its bytes from
the network, so file reading is not its work); then, timed with ``time.process_time``: the listing pages'
links are extracted, each article page is parsed (``newscrawl.parsers.parse_article``), its origin answer
decoded (``parse_origin_text``), and the article stored (``newscrawl.storage.Archive.upsert_article``, one
transaction each, as the store pipeline does) in a fresh SQLite archive. CPU seconds per article is the floor
the crawler's CPU per article is held against (target: crawler <= 3x floor). See docs/performance.md.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import crawl
import harness
import scale_site


class ProjectWork:
    """The per-page work of a crawl done by the project's own code, without Scrapy.

    Raises NotAvailable (naming the missing piece) when the parsers, or the storage if asked for, do not
    import yet.
    """

    def __init__(self, db_url: str | None = None) -> None:
        self.parse_article = harness.optional_import("newscrawl.parsers", "parse_article")
        self.parse_origin_text = harness.optional_import("newscrawl.parsers", "parse_origin_text")
        self.parse_listing_links = harness.optional_import("newscrawl.parsers", "parse_listing_links")
        self.archive: Any = None
        if db_url is not None:
            archive_cls = harness.optional_import("newscrawl.storage", "Archive")
            self.archive = archive_cls.open(db_url)

    def listing(self, body: str, url: str) -> int:
        return len(self.parse_listing_links(body, url))

    def article(self, page: str, url: str) -> Any:
        return self.parse_article(page, url)

    def origin(self, article: Any, body: bytes) -> None:
        answer = self.parse_origin_text(body)
        article.origin_html, article.origin_status = answer.html, answer.status

    def store(self, article: Any) -> None:
        self.archive.upsert_article(article, datetime.now(UTC))

    def close(self) -> None:
        if self.archive is not None:
            self.archive.close()


@dataclass
class SavedPages:
    """A scale site's pages in memory, in crawl order."""

    listings: list[tuple[str, str]]  # (url, text)
    articles: list[tuple[str, str, bytes | None]]  # (url, text, origin answer or None)

    @classmethod
    def load(cls, site: scale_site.ScaleSite) -> SavedPages:
        def site_file(url: str) -> Path:
            path = url.removeprefix(scale_site.CRAWL_SITE_URL).lstrip("/")
            target = site.site_root / path
            return target / "index.html" if path == "" or path.endswith("/") else target

        listings = [(u, site_file(u).read_text(encoding="utf-8")) for u in site.listing_urls()]
        articles = []
        for e in site.manifest():
            url = scale_site.CRAWL_SITE_URL + e["url"]
            origin = None
            if e["info_code"]:
                origin = (site.origin_root / "GetNewsText" / f"{e['info_code']}.json").read_bytes()
            articles.append((url, site_file(url).read_text(encoding="utf-8"), origin))
        return cls(listings, articles)


@dataclass
class FloorResult:
    articles: int
    cpu_seconds: float
    parse_cpu_seconds: float
    wall_seconds: float

    @property
    def cpu_per_article(self) -> float:
        return self.cpu_seconds / self.articles


def measure(pages: SavedPages, db: Path) -> FloorResult:
    """Parse and store every page into a new archive at ``db`` (left in place for the export figure)."""
    work = ProjectWork(f"sqlite:///{db}")
    try:
        wall0, cpu0 = time.perf_counter(), time.process_time()
        parse_cpu = 0.0
        for url, text in pages.listings:
            t = time.process_time()
            work.listing(text, url)
            parse_cpu += time.process_time() - t
        for url, text, origin in pages.articles:
            t = time.process_time()
            article = work.article(text, url)
            if origin is not None:
                work.origin(article, origin)
            parse_cpu += time.process_time() - t
            work.store(article)
        return FloorResult(len(pages.articles), time.process_time() - cpu0, parse_cpu,
                           time.perf_counter() - wall0)
    finally:
        work.close()


def run(site: scale_site.ScaleSite, *, runs: int,
        figures: dict[str, harness.Figure] | None = None) -> dict[str, harness.Figure]:
    figures = {} if figures is None else figures
    floor = figures.setdefault("floor_cpu", harness.Figure(
        "floor: parse + store, no Scrapy", "CPU ms/article", higher_is_better=False,
        note="listing links, article parse, origin answer, upsert into SQLite"))
    parse = figures.setdefault("floor_parse_cpu", harness.Figure(
        "floor: parse only", "CPU ms/article", higher_is_better=False))
    try:
        ProjectWork(None)
        harness.optional_import("newscrawl.storage", "Archive")
    except harness.NotAvailable as exc:
        floor.missing = parse.missing = str(exc)
        return figures
    pages = SavedPages.load(site)
    for _ in range(runs):
        # Each run in a folder of its own, removed at exit (harness.discard_later says why).
        tmp = harness.scratch_dir("newscrawl-floor-")
        r = measure(pages, tmp / "bench.sqlite3")
        floor.add(1000 * r.cpu_per_article)
        parse.add(1000 * r.parse_cpu_seconds / r.articles)
        # The archive a complete crawl of this site holds, made by the same parser and storage:
        # export is measured on it, so its figure does not wait for (or depend on) a full crawl.
        export_figure(figures, tmp, f"archive of {r.articles:,} posts built by the floor run")
    return figures


def export_figure(figures: dict[str, harness.Figure], work: Path, what: str) -> None:
    """One ``newscrawl export`` of ``work/bench.sqlite3``, added to the export figure."""
    fig = figures.setdefault("export_rate", harness.Figure(
        "newscrawl export", "posts/s", target=2000.0, target_text=">= 2,000"))
    written, wall, failure = crawl.export_once(work)
    if failure:
        fig.missing = failure
        return
    fig.add(written / wall)
    fig.note = f"{what}; wall time of the whole command, start-up included"


def main(argv: Sequence[str] | None = None) -> int:
    ap = scale_site.script_arguments(__doc__)
    args = ap.parse_args(argv)
    site = scale_site.site_of(args)
    print(harness.table(list(run(site, runs=args.runs).values())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
