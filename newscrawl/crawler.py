"""Run one crawl in this process and return its summary: what ``newscrawl crawl`` and the demo call.

Settings come from ``newscrawl.settings`` (environment overlaid on the documented defaults), then the
caller's overrides at command-line priority, exactly as ``scrapy crawl -s`` would. docs/operations.md
describes the run rules.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from newscrawl.config import get_url
from newscrawl.runs import RunSummary

if TYPE_CHECKING:
    from scrapy.settings import Settings


class CrawlFailed(Exception):
    """The crawl could not start or ended without a summary; the message says why."""


def crawl_settings(overrides: Mapping[str, str]) -> Settings:
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "newscrawl.settings")
    from scrapy.utils.project import get_project_settings

    settings = get_project_settings()
    settings.setdict(dict(overrides), priority="cmdline")
    return settings


def run_crawl(overrides: Mapping[str, str]) -> RunSummary:
    from scrapy.crawler import CrawlerProcess

    from newscrawl.extensions import RunRecordExtension
    from newscrawl.storage import Archive, SchemaOutOfDate

    settings = crawl_settings(overrides)
    db_url = get_url(settings, "NEWSCRAWL_DB_URL")
    try:
        # Creates the schema of a new database; refuses one that is behind the code's schema.
        Archive.open(db_url).close()
    except SchemaOutOfDate as error:
        raise CrawlFailed(str(error)) from None
    except Exception as error:
        from newscrawl.logredact import redact
        from newscrawl.messages import one_line

        raise CrawlFailed(redact(f"cannot open the archive {db_url}: {one_line(error)}")) from None
    process = CrawlerProcess(settings)
    crawler = process.create_crawler("finews")
    process.crawl(crawler)
    process.start()
    try:
        extension = crawler.get_extension(RunRecordExtension)
    except RuntimeError:  # the crawl stopped before Scrapy made its extensions
        extension = None
    if extension is None or extension.summary is None:
        raise CrawlFailed("the crawl ended before it could report (see the log above)")
    return extension.summary
