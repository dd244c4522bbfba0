"""Validate: an article needs an id, a title and a date; anything else is dropped with its reason.

Counts ``newscrawl/validate/ok`` and ``newscrawl/validate/dropped/<reason>``. A page that is not an article
page at all is named for what it is rather than for the first field it lacks: ``empty_page`` (an empty
body), ``not_html`` (binary content served as a page), ``no_section`` (no article part in the page's
layout). An article kept although the parser or the spider noticed a problem (a page cut short, a date
read from the metadata, …) is counted in ``newscrawl/validate/flagged/<flag>`` and logged with its flags,
which are stored with it for review. See docs/pipelines.md and docs/reliability.md.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.statscollectors import StatsCollector

from newscrawl.items import Article

logger = logging.getLogger(__name__)

# Flags that are routine on the real site and need nobody's attention: older emnews posts have no share
# link, one real post has an empty one ("<>").
ROUTINE_FLAGS = frozenset({"no_share_link", "empty_share_link"})


class ValidatePipeline:
    def __init__(self, stats: StatsCollector) -> None:
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ValidatePipeline:
        assert crawler.stats is not None
        return cls(crawler.stats)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, Article):
            return item
        reason = problem(item)
        if reason:
            self.stats.inc_value(f"newscrawl/validate/dropped/{reason}")
            raise DropItem(f"{reason}: {item.url}")
        self.stats.inc_value("newscrawl/validate/ok")
        notable = [flag for flag in item.flags if flag not in ROUTINE_FLAGS]
        if notable:
            for flag in notable:
                self.stats.inc_value(f"newscrawl/validate/flagged/{flag}")
            logger.warning("kept with flags %s: %s", ",".join(notable), item.url)
        return item


def problem(article: Article) -> str | None:
    """The reason an article cannot be archived, or None."""
    if not article.article_id:
        return "missing_article_id"
    complete = bool((article.title or "").strip()) and article.published_at is not None \
        and article.body_html is not None
    if not complete:
        # What the page was explains the drop better than the first field it lacks.
        for flag in ("empty_page", "not_html", "no_section"):
            if flag in article.flags:
                return flag
    if not (article.title or "").strip():
        return "missing_title"
    if article.published_at is None:
        return "missing_date"
    if article.published_at.tzinfo is None:
        return "naive_date"
    if article.body_html is None:
        return "missing_body"
    return None
