"""Floor: the project's own parser and storage over a scale site's saved pages, no Scrapy, no network.

    python benchmarks/floor.py [--posts 20000] [--runs 3]

Every page a complete crawl handles is read from disk into memory first (the crawler gets its bytes from
the network, so file reading is not its work); then, timed with ``time.process_time``: the listing pages'
links are extracted, each article page is parsed (``newscrawl.parsers.parse_article``), its origin answer
decoded (``parse_origin_text``), and the article stored (``newscrawl.storage.Archive.upsert_article``, one
transaction each, as the store pipeline does) in a fresh SQLite archive. CPU seconds per article is the floor
the crawler's CPU per article is held against (target: crawler <= 3x floor).

The whole-work floor does, still without Scrapy, everything else the crawler does with a page's bytes: the
links of every page resolved by the address policy (the spider's ``_follow``), the article through the
project's own item pipelines (validate, normalise, dedupe, store: their ``process_item``, in one asyncio
loop), and both responses written to a WARC file. ``crawler / whole-work floor`` is then what Scrapy and the
glue around it cost. See docs/performance.md.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter
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


# Response headers of the pages in the WARC records: what nginx sends for a site page.
_WARC_HEADERS = [("Server", "nginx"), ("Date", "Sat, 28 Nov 2026 08:00:00 GMT"),
                 ("Content-Type", "text/html; charset=utf-8"), ("Last-Modified", "Sat, 28 Nov 2026 07:00:00 GMT"),
                 ("Connection", "keep-alive"), ("ETag", '"6930f0a0-5a1c"'), ("Accept-Ranges", "bytes")]


class _Counts(Counter[str]):
    """The one method of Scrapy's stats collector the pipelines call."""

    def inc_value(self, key: str, count: int = 1, start: int = 0) -> None:
        self[key] += count


def measure_work(pages: SavedPages, work: Path) -> FloorResult:
    """The crawler's whole per-article work without Scrapy, into ``work``'s archive and WARC file."""
    return asyncio.run(_whole_work(pages, work))


async def _whole_work(pages: SavedPages, work: Path) -> FloorResult:
    from newscrawl.config import from_environment
    from newscrawl.crawlstate import CrawlState
    from newscrawl.storage import Archive
    from newscrawl.urls import SitePolicy
    from newscrawl.warc import WarcArchive
    from pipelines.dedupe import DedupePipeline
    from pipelines.normalise import NormalisePipeline
    from pipelines.store import StorePipeline
    from pipelines.validate import ValidatePipeline

    project = ProjectWork(None)
    policy = SitePolicy.configured(from_environment())
    stats: Any = _Counts()  # stands in for Scrapy's StatsCollector
    state = CrawlState(archive=Archive.open(f"sqlite:///{work / 'bench.sqlite3'}"), incremental=False)
    warc = WarcArchive(work / "warc")
    pipelines: list[Any] = [ValidatePipeline(stats), NormalisePipeline(stats), DedupePipeline(state, stats, 3),
                            StorePipeline(state, stats)]

    def follow(text: str, url: str) -> int:
        # The spider's ``_follow``: every link of the page resolved and judged by the address policy.
        return sum(policy.link(href, url) is not None for href in project.parse_listing_links(text, url))

    followed = 0
    try:
        wall0, cpu0 = time.perf_counter(), time.process_time()
        for url, text in pages.listings:
            followed += follow(text, url)
        for url, text, origin in pages.articles:
            followed += follow(text, url)
            warc.write(url, 200, "OK", _WARC_HEADERS, text.encode("utf-8"), "article")
            item = project.article(text, url)
            if origin is not None:
                warc.write(policy.text_api_url(item.share_url) or url, 200, "OK", _WARC_HEADERS, origin, "origin")
                project.origin(item, origin)
            for pipeline in pipelines:
                item = pipeline.process_item(item)
                if asyncio.iscoroutine(item):
                    item = await item
        result = FloorResult(len(pages.articles), time.process_time() - cpu0, 0.0, time.perf_counter() - wall0)
    finally:
        warc.close()
        state.archive.close()
    stored = stats["newscrawl/store/new"]
    if stored != len(pages.articles) or not followed:
        raise RuntimeError(f"whole-work floor stored {stored} of {len(pages.articles)} articles: {dict(stats)}")
    return result


def run(site: scale_site.ScaleSite, *, runs: int, figures: dict[str, harness.Figure] | None = None,
        pages: SavedPages | None = None) -> dict[str, harness.Figure]:
    """The floor, the whole-work floor and the export of the floor's archive, ``runs`` times each.

    ``pages``: the site's pages already loaded (run_all.py measures one round at a time).
    """
    figures = {} if figures is None else figures
    floor = figures.setdefault("floor_cpu", harness.Figure(
        "floor: parse + store, no Scrapy", "CPU ms/article", higher_is_better=False,
        note="listing links, article parse, origin answer, upsert into SQLite"))
    parse = figures.setdefault("floor_parse_cpu", harness.Figure(
        "floor: parse only", "CPU ms/article", higher_is_better=False))
    whole = figures.setdefault("floor_work_cpu", harness.Figure(
        "whole-work floor: + links resolved, validate, normalise, dedupe, WARC", "CPU ms/article",
        higher_is_better=False,
        note="the project's pipelines and WARC writer on the same pages, no Scrapy"))
    try:
        ProjectWork(None)
        harness.optional_import("newscrawl.storage", "Archive")
    except harness.NotAvailable as exc:
        floor.missing = parse.missing = whole.missing = str(exc)
        return figures
    pages = pages or SavedPages.load(site)
    for _ in range(runs):
        # Each run in a folder of its own, removed at exit (harness.discard_later says why).
        tmp = harness.scratch_dir("newscrawl-floor-")
        r = measure(pages, tmp / "bench.sqlite3")
        floor.add(1000 * r.cpu_per_article)
        parse.add(1000 * r.parse_cpu_seconds / r.articles)
        # The archive a complete crawl of this site holds, made by the same parser and storage:
        # export is measured on it, so its figure does not wait for (or depend on) a full crawl.
        export_figure(figures, tmp, f"archive of {r.articles:,} posts built by the floor run")
        whole.add(1000 * measure_work(pages, harness.scratch_dir("newscrawl-work-")).cpu_per_article)
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
    figures = run(site, runs=args.runs)
    print(harness.table(list(figures.values())))
    harness.write_record("floor", {"arguments": vars(args), "figures": figures})
    return 0


if __name__ == "__main__":
    sys.exit(main())
