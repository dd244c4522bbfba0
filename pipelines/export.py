"""Export: when NEWSCRAWL_POSTS_DIR is set, write each new or changed article as a Jekyll post file.

A post is written only when its text differs from the file already there, so a re-crawl touches no
file. Counts ``newscrawl/export/written`` and ``newscrawl/export/unchanged``; an article whose id or date
cannot make a safe file name is counted in ``newscrawl/export/unsafe_name`` and not written; a post written
under a marked name (an id too long, invisible characters, a case twin) in ``newscrawl/export/renamed``,
one whose markup is written unparsed (too deep or large for kramdown) in ``newscrawl/export/bounded``.
See docs/pipelines.md and docs/export.md.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.statscollectors import StatsCollector

from newscrawl.export import PostWriter
from newscrawl.items import Article
from newscrawl.jekyll import UnsafePostName

logger = logging.getLogger(__name__)


class ExportPipeline:
    def __init__(self, posts_dir: Path, stats: StatsCollector) -> None:
        self.posts_dir = posts_dir
        self.stats = stats
        self.writer: PostWriter | None = None  # the folder is made when the first article comes

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ExportPipeline:
        posts_dir = crawler.settings.get("NEWSCRAWL_POSTS_DIR")
        if not posts_dir:
            raise NotConfigured  # switched off by a setting: no message, so Scrapy logs no warning
        assert crawler.stats is not None
        return cls(Path(posts_dir), crawler.stats)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, Article):
            return item
        try:
            if self.writer is None:
                self.writer = PostWriter(self.posts_dir, notice=self._notice)
            written = self.writer.write(item)
        except UnsafePostName as error:
            self.stats.inc_value("newscrawl/export/unsafe_name")
            logger.warning("not exported: %s", error)
            return item
        self.stats.inc_value("newscrawl/export/written" if written else "newscrawl/export/unchanged")
        return item

    def _notice(self, kind: str, article: Article, reason: str) -> None:
        # A post written under a marked name, or with its markup unparsed: the writer logs which and why.
        self.stats.inc_value(f"newscrawl/export/{kind}")
