"""Export: when NEWSCRAWL_POSTS_DIR is set, write each new or changed article as a Jekyll post file.

A post is written only when its text differs from the file already there, so a re-crawl touches no
file. Counts ``newscrawl/export/written`` and ``newscrawl/export/unchanged``; an article whose id or date
cannot make a safe file name is counted in ``newscrawl/export/unsafe_name`` and not written; a post written
under a marked name (an id too long, invisible characters, a case twin) in ``newscrawl/export/renamed``,
one whose markup is written unparsed (too deep or large for kramdown) in ``newscrawl/export/bounded``.

A post that cannot be written (a full disk, a folder it may not write to) is counted in
``newscrawl/export/failed``, logged, and recorded in the archive's ``missing_outputs`` (``post``); the
run is then not ok (newscrawl.runs). A post recorded missing is written when its article comes again,
or else at the end of the run from the archive, and its row deleted (``newscrawl/export/caught_up``): every
run tries until it exists.
See docs/pipelines.md and docs/export.md.
"""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path
from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.statscollectors import StatsCollector

from newscrawl.config import get_optional_path
from newscrawl.crawlstate import CrawlState, is_unavailable
from newscrawl.export import PostWriter
from newscrawl.items import Article
from newscrawl.jekyll import UnsafePostName

logger = logging.getLogger(__name__)

#: ``missing_outputs.output`` of a post file.
POST = "post"


class ExportPipeline:
    def __init__(self, posts_dir: Path, stats: StatsCollector, state: CrawlState) -> None:
        self.posts_dir = posts_dir
        self.stats = stats
        self.state = state
        self.writer: PostWriter | None = None  # the folder is made when the first article comes
        # Ids of the posts earlier runs could not write (read when the spider opens), and this run's.
        self.missing: set[str] = set()
        # Those this run could not write: not tried again before the next run.
        self.failed: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ExportPipeline:
        posts_dir = get_optional_path(crawler.settings, "NEWSCRAWL_POSTS_DIR")
        if posts_dir is None:
            raise NotConfigured  # switched off by a setting: no message, so Scrapy logs no warning
        assert crawler.stats is not None
        return cls(posts_dir, crawler.stats, CrawlState.of(crawler))

    async def open_spider(self) -> None:
        state = self.state
        try:
            missing = await state.in_thread(partial(state.archive.missing_outputs, POST),
                                            "reading the missing post files")
        except Exception as error:
            if not is_unavailable(error):
                raise
            # The posts still missing stay recorded: a later run writes them.
            logger.warning("database unavailable, missing post files are not written in this run: %s", error)
            return
        self.missing = set(missing)

    async def process_item(self, item: Any) -> Any:
        if isinstance(item, Article):
            self._write(item)
        return item

    async def close_spider(self) -> None:
        """Write the posts earlier runs (or this one) could not, from the archive, while the disk lets it."""
        state = self.state
        if not self.missing:
            return
        for article_id in sorted(self.missing - self.failed):
            article = await state.in_thread(partial(state.archive.get_article, article_id),
                                            f"reading {article_id} to write its post")
            if article is None:
                state.later(partial(state.archive.output_written, article_id, POST),
                            f"forgetting the post of {article_id}")
                continue
            if self._write(article):
                break  # the disk is still full (say): the next run tries again
        remaining = len(self.missing)
        if remaining:
            logger.error("%d post file(s) are still missing from %s; the next run writes them", remaining,
                         self.posts_dir)

    def _write(self, item: Article) -> bool:
        """Write ``item``'s post; True when it could not be written (recorded missing)."""
        try:
            if self.writer is None:
                self.writer = PostWriter(self.posts_dir, notice=self._notice)
            written = self.writer.write(item)
        except UnsafePostName as error:
            self.stats.inc_value("newscrawl/export/unsafe_name")
            logger.warning("not exported: %s", error)
            return False
        except UnicodeEncodeError:
            # A lone surrogate (the origin's JSON can hold one) has no UTF-8 form, so no post file can hold
            # it; the archive keeps it exactly (docs/schema.md).
            self.stats.inc_value("newscrawl/export/unencodable")
            logger.warning("not exported: its text holds a character UTF-8 cannot encode (kept exactly in the "
                           "archive): %s", item.article_id)
            return False
        except OSError as error:
            self._failed(item, error)
            return True
        self.stats.inc_value("newscrawl/export/written" if written else "newscrawl/export/unchanged")
        if item.article_id in self.missing:
            state, article_id = self.state, item.article_id
            self.missing.discard(article_id)
            state.later(lambda: state.archive.output_written(article_id, POST), f"recording the post of {article_id}")
            self.stats.inc_value("newscrawl/export/caught_up")
        return False

    def _failed(self, item: Article, error: OSError) -> None:
        self.stats.inc_value("newscrawl/export/failed")
        logger.error("post file not written (%s), the next run writes it: %s", error, item.article_id)
        state, article_id, reason = self.state, item.article_id, str(error)
        run_id = state.run_id
        self.missing.add(article_id)
        self.failed.add(article_id)
        state.later(lambda: state.archive.mark_missing(article_id, POST, reason, run_id),
                    f"recording the missing post of {article_id}")

    def _notice(self, kind: str, article: Article, reason: str) -> None:
        # A post written under a marked name, or with its markup unparsed: the writer logs which and why.
        self.stats.inc_value(f"newscrawl/export/{kind}")
