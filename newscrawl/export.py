"""Write the archive back out as Jekyll ``_posts`` files, in the site's own layout (docs/export.md).

Used by ``newscrawl export`` and by the export pipeline. Files are written atomically and only when their
text changes, so exporting twice changes nothing; names come from newscrawl.jekyll, which refuses any
name that could leave the target folder.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

from newscrawl.config import SITE_TZ
from newscrawl.items import Article
from newscrawl.jekyll import UnsafePostName, post_path, render_post

logger = logging.getLogger(__name__)


@dataclass
class ExportReport:
    written: int = 0
    unchanged: int = 0
    unsafe: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.written + self.unchanged


def write_post(out_dir: Path, article: Article) -> bool:
    """Write ``article`` as a post file under ``out_dir``; False when the file already says the same."""
    path = post_path(out_dir, article)
    data = render_post(article).encode("utf-8")
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write beside the target and rename, so a reader (or a killed run) never sees half a post.
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(data)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return True


def export_articles(out_dir: Path, articles: Iterable[Article]) -> ExportReport:
    report = ExportReport()
    out_dir.mkdir(parents=True, exist_ok=True)
    for article in articles:
        try:
            changed = write_post(out_dir, article)
        except UnsafePostName as error:
            logger.warning("not exported: %s", error)
            report.unsafe.append(article.article_id)
            continue
        if changed:
            report.written += 1
        else:
            report.unchanged += 1
    return report


def export_archive(db_url: str, out_dir: Path, since: date | None = None, until: date | None = None,
                   category: str | None = None) -> ExportReport:
    """Export every archived article (optionally a date range or one category) to ``out_dir``."""
    from newscrawl.storage import Archive

    archive = Archive.open(db_url)
    try:
        return export_articles(out_dir, archive.iter_articles(*day_range(since, until), category=category))
    finally:
        archive.close()


def day_range(since: date | None, until: date | None) -> tuple[datetime | None, datetime | None]:
    """Publication days ``since``..``until`` (both included, site time) as the archive's [start, end)."""
    start = datetime.combine(since, time.min, SITE_TZ) if since else None
    end = datetime.combine(until + timedelta(days=1), time.min, SITE_TZ) if until else None
    return start, end
