"""One import run: post versions in, articles archived, a summary out, recorded in ``crawl_runs``.

``import_files`` takes folders and files; ``import_git`` a repository's history, commit by commit, each
commit remembered in the archive once every post file it changed is stored, so an interrupted import
resumes where it stopped and a later one reads only new commits. Post files are stored in batches of
``BATCH_FILES``, each one transaction with the commits it completes: nothing is half-imported. See
docs/import.md.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from newscrawl.importer.post import NotAPost, read_post
from newscrawl.importer.processing import Processor
from newscrawl.importer.sources import GitHistory, PostVersion, post_files, read_files
from newscrawl.storage import Archive

logger = logging.getLogger(__name__)
#: Seconds between two progress lines.
PROGRESS_EVERY_S = 2.0
#: Post files stored in one transaction (``Archive.batch``): one commit for many posts instead of one
#: each. On SQLite the batch holds the write lock while it is stored, about a second at most.
BATCH_FILES = 200
#: Blob ids of this run's latest stored post files remembered (about 200 bytes each, 1 MB): the site's
#: rotation moves a post to old_post/ a few hundred posts later, well inside this bound.
BLOB_MEMORY = 5_000


@dataclass
class ImportReport:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    files: int = 0
    commits: int = 0
    commits_known: int = 0
    started: float = field(default_factory=time.monotonic)
    outcome: str = "ok"

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started

    def count(self, outcome: str) -> None:
        if outcome in ("new", "updated", "unchanged"):
            setattr(self, outcome, getattr(self, outcome) + 1)
        else:
            self.skipped[outcome] += 1

    def progress(self) -> str:
        rate = self.files / max(self.seconds, 1e-9)
        return (f"import: {self.files} files, {self.commits} commits, {rate:.0f} files/s; "
                f"{self.new} new, {self.updated} updated, {self.unchanged} unchanged")

    def line(self) -> str:
        skipped = ", ".join(f"{reason} {n}" for reason, n in sorted(self.skipped.items())) or "none"
        commits = f", {self.commits} new commits ({self.commits_known} read before)" if self.commits or \
            self.commits_known else ""
        return (f"import {self.outcome}: {self.new} new, {self.updated} updated, {self.unchanged} unchanged; "
                f"skipped: {skipped}; {self.files} files{commits}; {self.seconds:.1f}s")

    def counts(self) -> dict[str, Any]:
        return {"new": self.new, "updated": self.updated, "unchanged": self.unchanged,
                "dropped": dict(self.skipped), "errors": 0, "files": self.files, "commits": self.commits,
                "commits_known": self.commits_known, "duration_s": round(self.seconds, 3)}


class Importer:
    """Imports post versions into ``archive`` as articles of ``site_url`` (docs/import.md)."""

    def __init__(self, archive: Archive, site_url: str,
                 progress: Callable[[ImportReport], None] | None = None) -> None:
        self.archive = archive
        self.site_url = site_url
        self.on_progress = progress
        self.report = ImportReport()
        self._next_progress = time.monotonic() + PROGRESS_EVERY_S

    def import_files(self, paths: Iterable[Path]) -> ImportReport:
        files = post_files(paths)  # refuses a missing path before anything is imported
        return self._run({"paths": [str(path) for path in paths]},
                         lambda processor: self._store_all(processor, read_files(files)))

    def import_git(self, repo: Path) -> ImportReport:
        history = GitHistory(repo)  # refuses a non-repository or a shallow clone first
        return self._run({"git": str(repo)}, lambda processor: self._store_history(processor, history))

    def _run(self, settings: dict[str, Any], work: Callable[[Processor], None]) -> ImportReport:
        run_id = self.archive.start_run(self.site_url, {"import": settings}, kind="import")
        processor = Processor(self.archive, run_id)
        try:
            work(processor)
        except KeyboardInterrupt:
            self.report.outcome = "interrupted"
            raise
        except BaseException:
            self.report.outcome = "failed"
            raise
        finally:
            counts = {**self.report.counts(), "stories": dict(processor.counts)}
            try:
                self.archive.finish_run(run_id, self.report.outcome, counts)  # type: ignore[arg-type]
            except Exception as error:  # the archive that failed the run may refuse its record too
                logger.error("the import run %s could not be recorded as %s: %s", run_id, self.report.outcome, error)
        return self.report

    def _store_all(self, processor: Processor, versions: Iterator[PostVersion]) -> None:
        batch: list[PostVersion | str] = []
        for version in versions:
            batch.append(version)
            if len(batch) >= BATCH_FILES:
                self._store_batch(processor, batch)
                batch = []
        self._store_batch(processor, batch)

    def _store_history(self, processor: Processor, history: GitHistory) -> None:
        known = self.archive.seen_commits()
        # Blobs already stored in this run are the same post file again (a move to old_post/, a branch):
        # the latest ones, by a bound on memory (one that was forgotten is stored again, unchanged).
        stored_blobs: OrderedDict[str, None] = OrderedDict()
        self.report.commits_known = len(known)
        batch: list[PostVersion | str] = []
        files = 0
        with history.blobs() as blobs:
            for commit in history.commits(known):
                if commit.commit in known:
                    continue
                changes = [(path, blob) for path, blob in commit.changes if blob not in stored_blobs]
                data = blobs.read_many([blob for _, blob in changes])
                for (path, blob), content in zip(changes, data, strict=True):
                    if files >= BATCH_FILES:  # a commit of many files: stored over several batches
                        self._store_batch(processor, batch)
                        batch, files = [], 0
                    folder, _, file_name = path.rpartition("/")
                    batch.append(PostVersion(path, file_name, folder, content, commit.commit, blob))
                    files += 1
                    stored_blobs[blob] = None
                    if len(stored_blobs) > BLOB_MEMORY:
                        stored_blobs.popitem(last=False)
                # The commit is remembered in the transaction that stores its last post file.
                batch.append(commit.commit)
                if files >= BATCH_FILES:
                    self._store_batch(processor, batch)
                    batch, files = [], 0
            self._store_batch(processor, batch)

    def _store_batch(self, processor: Processor, batch: list[PostVersion | str]) -> None:
        """Post versions, and the commits they complete, stored in one transaction: all or none."""
        if not batch:
            return
        outcomes: list[str] = []
        commits = 0
        with self.archive.batch():
            for item in batch:
                if isinstance(item, str):
                    self.archive.add_seen_commits([item], processor.run_id)
                    commits += 1
                else:
                    outcomes.append(self._store(processor, item))
        # Counted once stored: an interrupted batch is not in the archive, nor in the summary.
        self.report.files += len(outcomes)
        self.report.commits += commits
        for outcome in outcomes:
            self.report.count(outcome)
        if self.on_progress is not None and time.monotonic() >= self._next_progress:
            self._next_progress = time.monotonic() + PROGRESS_EVERY_S
            self.on_progress(self.report)

    def _store(self, processor: Processor, version: PostVersion) -> str:
        """The outcome of one post version: ``new``, ``updated``, ``unchanged`` or why it was skipped."""
        try:
            article = read_post(version.file_name, version.data, self.site_url, folder=version.folder,
                                commit=version.commit)
        except NotAPost as error:
            logger.warning("skipped %s: %s", version.path, error)
            return error.reason
        outcome = processor.process(article, datetime.now(UTC))
        if outcome not in ("new", "updated", "unchanged"):
            logger.warning("skipped %s: %s (as the crawl drops such a page)", version.path, outcome)
        return outcome
