"""Normalise: one form for every field, and the fingerprints the later pipelines rely on.

``newscrawl.processing.normalise`` (reparse applies the same one): times are expressed in the site's zone
(UTC+8); text fields lose surrounding white space and nothing else (the archive keeps what the page says,
so an export gives the page back); ``content_hash`` (newscrawl.revisions) and ``simhash``
(newscrawl.stories). Counts ``newscrawl/normalise/ok``. See docs/pipelines.md.
"""

from __future__ import annotations

from typing import Any

from newscrawl.components import CountingComponent
from newscrawl.items import Article
from newscrawl.processing import normalise


class NormalisePipeline(CountingComponent):
    def process_item(self, item: Any) -> Any:
        if isinstance(item, Article):
            normalise(item)
            self.stats.inc_value("newscrawl/normalise/ok")
        return item
