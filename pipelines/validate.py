"""Validate: an article needs an id, a title and a date; anything else is dropped with its reason.

The rule is ``newscrawl.processing.problem`` (reparse applies the same one). Counts
``newscrawl/validate/ok`` and ``newscrawl/validate/dropped/<reason>``. A page that is not an article page
at all is named for what it is rather than for the first field it lacks: ``empty_page`` (an empty body),
``not_html`` (binary content served as a page), ``no_section`` (no article part in the page's layout). An
article kept although the parser or the spider noticed a problem (a page cut short, a date read from the
metadata, …) is counted in ``newscrawl/validate/flagged/<flag>`` and logged with its flags, which are
stored with it for review. See docs/pipelines.md and docs/reliability.md.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy.exceptions import DropItem

from newscrawl.components import CountingComponent
from newscrawl.items import Article
from newscrawl.processing import notable_flags, problem

logger = logging.getLogger(__name__)


class ValidatePipeline(CountingComponent):
    def process_item(self, item: Any) -> Any:
        if not isinstance(item, Article):
            return item
        reason = problem(item)
        if reason:
            self.stats.inc_value(f"newscrawl/validate/dropped/{reason}")
            raise DropItem(f"{reason}: {item.url}")
        self.stats.inc_value("newscrawl/validate/ok")
        notable = notable_flags(item)
        if notable:
            for flag in notable:
                self.stats.inc_value(f"newscrawl/validate/flagged/{flag}")
            logger.warning("kept with flags %s: %s", ",".join(notable), item.url)
        return item
