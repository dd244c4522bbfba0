"""Write the archive back out as Jekyll ``_posts`` files, in the site's own layout (docs/export.md).

Used by ``newscrawl export`` and by the export pipeline. Files are written atomically and only when their
text changes, so exporting twice changes nothing; names come from newscrawl.jekyll, which refuses any
name that could leave the target folder, and this module keeps two posts from one name on a file system
that folds case. One post that cannot be written never stops the others.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import secrets
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

from newscrawl.config import SITE_TZ
from newscrawl.items import Article
from newscrawl.jekyll import UnsafePostName, marked_filename, post_name, render

logger = logging.getLogger(__name__)

# Temporary files: ".newscrawl-<pid>-<8 hex>.tmp" beside the posts, renamed over the post when complete.
# A writer that is killed leaves its file; the next writer removes those of processes no longer running,
# and the ".XXXXXXXX.tmp" files (tempfile.mkstemp's names) that versions before this one left.
_TMP_PREFIX = ".newscrawl-"
_OURS = re.compile(r"\.newscrawl-(?P<pid>[0-9]+)-[0-9a-f]{8}\.tmp\Z")
_EARLIER_RELEASE = re.compile(r"\.[A-Za-z0-9_]{8}\.tmp\Z")
# Errors that say the name, not the disk, is what the file system refuses: such a post is never retried.
_NAME_ERRORS = frozenset({errno.ENAMETOOLONG, errno.EILSEQ, errno.EINVAL})

# What a writer tells its caller beside written/unchanged: ("renamed", reason) or ("bounded", reason).
Notice = Callable[[str, Article, str], None]


@dataclass
class ExportReport:
    written: int = 0
    unchanged: int = 0
    unsafe: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (article_id, reason)
    renamed: list[str] = field(default_factory=list)
    bounded: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.written + self.unchanged


class PostWriter:
    """Writes posts into one folder, created and resolved once (not for every post).

    The folder is listed once, when the writer starts: for the names it holds on a file system that may
    fold case (see ``_twin_key``), and, with ``list_folder``, to spare the read of each post not there
    yet, which is what a whole export mostly writes. The listing is only a saving: a listed file that has
    gone since is written anew, and a post whose name is not listed is written (atomically, as any other)
    without comparing, so the written/unchanged counts can only be off for a folder another process writes
    to at the same time. (A 20,000-post export made 224,000 ``stat`` calls resolving each post's path, and
    tried a read and a ``mkdir`` per post: docs/performance.md, "Export".) Starting, it removes the
    temporary files a killed writer left.
    """

    def __init__(self, out_dir: Path, *, list_folder: bool = False, notice: Notice | None = None) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        self.root = out_dir.resolve()
        self.notice = notice
        names = [entry.name for entry in os.scandir(self.root)]
        self.listed = set(names) if list_folder else None
        self.twins: dict[str, set[str]] = {}
        for name in names:
            if name.endswith(".md"):
                self.twins.setdefault(_twin_key(name), set()).add(name)
        _remove_leftovers(self.root, names)

    def write(self, article: Article) -> bool:
        """Write ``article`` as a post file; False when the file already says the same.

        Raises UnsafePostName for an article whose id or date cannot make a safe name (post_name refuses
        any name with a separator, "..", or a leading dot, so the file is always in the folder), and for a
        name the file system itself refuses (too long for it, or not in its encoding).
        """
        imported = imported_post(article)
        if imported is not None:
            # The site's own file, as imported (docs/import.md): its own name, byte for byte.
            filename, text = imported
            written = self._write(filename, text.encode("utf-8"))
            self.twins.setdefault(_twin_key(filename), set()).add(filename)
            return written
        name = post_name(article)
        filename = name.filename
        if name.renamed:
            self._notify("renamed", article, f"{name.renamed}: written as {filename}")
        present = self.twins.get(_twin_key(filename), set())
        if present and filename not in present:  # the name of another post, on a case-folding system
            others = present
            filename = marked_filename(filename[:10], article.article_id)
            self._notify("renamed", article, f"a case twin of {sorted(others)[0]}: written as {filename}")
        rendered = render(article)
        if rendered.bounded:
            self._notify("bounded", article, f"{rendered.bounded}: exported unparsed by kramdown")
        try:
            written = self._write(filename, rendered.text.encode("utf-8"))
        except OSError as error:
            if error.errno in _NAME_ERRORS:
                raise UnsafePostName(f"the file system refuses the name {filename!r}: {error.strerror}") from error
            raise
        self.twins.setdefault(_twin_key(filename), set()).add(filename)
        return written

    def _write(self, filename: str, data: bytes) -> bool:
        path = self.root / filename
        if self.listed is None or filename in self.listed:
            try:
                if path.read_bytes() == data:
                    return False
            except FileNotFoundError:
                pass
        # Write beside the target and rename, so a reader (or a killed run) never sees half a post. The
        # file is created 0666 less the umask, as any tool's output (mkstemp would make it 0600).
        fd, tmp = self._temporary()
        try:
            with os.fdopen(fd, "wb") as stream:
                stream.write(data)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        if self.listed is not None:
            self.listed.add(filename)
        return True

    def _temporary(self) -> tuple[int, Path]:
        while True:
            path = self.root / f"{_TMP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}.tmp"
            try:
                return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666), path
            except FileExistsError:
                continue

    def _notify(self, kind: str, article: Article, reason: str) -> None:
        logger.warning("post %s %s (%s)", article.article_id, kind, reason)
        if self.notice is not None:
            self.notice(kind, article, reason)


def _twin_key(filename: str) -> str:
    # What case-insensitive file systems (APFS, NTFS, FAT) compare: case folded, composed (APFS also
    # ignores the normalisation form). Wider than each of them, which can only mark a name needlessly.
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", filename).casefold())


def _remove_leftovers(root: Path, names: list[str]) -> None:
    for name in names:
        ours = _OURS.match(name)
        if ours is not None:
            if os.name != "posix" or _running(int(ours.group("pid"))):
                continue
        elif not _EARLIER_RELEASE.match(name):
            continue
        try:
            (root / name).unlink()
        except FileNotFoundError:
            continue  # another writer removed it first
        logger.info("removed %s, left by an export that was killed", name)


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def imported_post(article: Article) -> tuple[str, str] | None:
    """The post file an article was imported from, name and text as written, while the archive still
    holds the content imported from it (docs/import.md): the export gives the site's own file back."""
    post = article.post_file
    if post is None or post.content_hash is None or post.content_hash != article.content_hash:
        return None
    name = post.file_name
    if "/" in name or "\\" in name or "\x00" in name or name.startswith(".") or not name.endswith((".md", ".markdown")):
        return None  # not a plain file name: the export names the post itself
    return name, post.text


def export_articles(out_dir: Path, articles: Iterable[Article]) -> ExportReport:
    """Write every article into ``out_dir``; one that cannot be written is reported, never stops the rest."""
    report = ExportReport()

    def notice(kind: str, article: Article, reason: str) -> None:
        (report.renamed if kind == "renamed" else report.bounded).append(article.article_id)

    writer = PostWriter(out_dir, list_folder=True, notice=notice)
    for article in articles:
        try:
            changed = writer.write(article)
        except UnsafePostName as error:
            logger.warning("not exported: %s", error)
            report.unsafe.append(article.article_id)
            continue
        except OSError as error:
            logger.error("not exported: post %s: %s", article.article_id, error)
            report.failed.append((article.article_id, error.strerror or str(error)))
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
