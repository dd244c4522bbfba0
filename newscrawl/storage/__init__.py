"""The archive database: models, migrations and the ``Archive`` repository (docs/schema.md).

This package is the only code in newscrawl that knows SQL or a database dialect; everything else uses
``Archive`` (docs/architecture.md, "The storage API").
"""

from __future__ import annotations

from newscrawl.storage.archive import Archive
from newscrawl.storage.articles import ArticleRevision, KnownArticle, UpsertOutcome
from newscrawl.storage.migrate import (
    ArchiveError,
    ArchiveMissing,
    SchemaOutOfDate,
    SchemaTooNew,
    current_revision,
    head_revision,
    upgrade_database,
)
from newscrawl.storage.models import Base
from newscrawl.storage.pages import PageRecord
from newscrawl.storage.runs import CrawlRun, RunOutcome
from newscrawl.storage.search import SearchHit
from newscrawl.storage.stories import StoryCandidate

__all__ = [
    "Archive",
    "ArchiveError",
    "ArchiveMissing",
    "ArticleRevision",
    "Base",
    "CrawlRun",
    "KnownArticle",
    "PageRecord",
    "RunOutcome",
    "SchemaOutOfDate",
    "SchemaTooNew",
    "SearchHit",
    "StoryCandidate",
    "UpsertOutcome",
    "current_revision",
    "head_revision",
    "upgrade_database",
]
