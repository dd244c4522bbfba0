"""What each ``newscrawl`` command does once its arguments are parsed (newscrawl.cli): library calls, the
lines printed, and the exit status (docs/cli.md). A handler raises ``CommandError`` for a failure the user
can act on; newscrawl.cli prints it as one line.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from typing import Any

from newscrawl import logredact
from newscrawl.config import from_environment, get_path
from newscrawl.messages import one_line

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_LOCKED = 0, 1, 2, 75
EXIT_INTERRUPTED = 128 + signal.SIGINT  # 130, as a shell reports a command stopped by Ctrl-C
EXIT_PIPE = 128 + signal.SIGPIPE  # 141, as a shell reports a command whose reader went away
# A run that archived what it could, but whose data or site looked wrong (newscrawl.health).
EXIT_DEGRADED = 3


class CommandError(Exception):
    """A failure the user can act on: its message is printed as is; ``status`` is the exit status."""

    def __init__(self, message: str, status: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.status = status


def _open_archive(db_url: str, upgrade: bool = False) -> Any:
    """The archive at ``db_url``. Without ``upgrade`` (the commands that only read) nothing is created:
    a database that is not there is reported, with where it was looked for."""
    from newscrawl.storage import Archive, ArchiveError, ArchiveMissing

    try:
        return Archive.open(db_url, upgrade=upgrade, must_exist=not upgrade)
    except ArchiveMissing as error:
        raise CommandError(
            f"no archive database at {error.path} (looked for {error.path.absolute()}): give its URL with --db "
            "or NEWSCRAWL_DB_URL, or start an archive there with `newscrawl crawl`") from None
    except ArchiveError as error:
        raise CommandError(str(error)) from None
    except Exception as error:
        raise CommandError(f"cannot open the archive {_shown_url(db_url)}: {one_line(error)}") from None


def _shown_url(db_url: str) -> str:
    return logredact.redact(db_url)


def _usage(message: str) -> CommandError:
    return CommandError(message, status=EXIT_USAGE)


def cmd_crawl(args: argparse.Namespace) -> int:
    from newscrawl.crawler import CrawlFailed, run_crawl
    from newscrawl.lock import LockHeld, RunLock
    from newscrawl.preflight import crawl_refusal

    given: dict[str, str] = {}
    for item in args.set:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise _usage(f"-s takes NAME=VALUE, not {item!r}")
        given[name.strip()] = value
    overrides = dict(given)
    options: dict[str, str] = {}  # settings that came from an option, named as such in messages
    for setting, option, value in (("NEWSCRAWL_SITE_URL", "--site", args.site), ("NEWSCRAWL_DB_URL", "--db", args.db),
                                   ("NEWSCRAWL_POSTS_DIR", "--posts-dir", args.posts_dir)):
        if value is not None:
            overrides[setting], options[setting] = value, option
    if args.full:
        overrides["NEWSCRAWL_INCREMENTAL"] = "false"
    # The NEWSCRAWL_* values Scrapy's settings will hold (newscrawl.settings takes them from the
    # environment; -s wins), judged before Scrapy is even imported: the lock is taken at once after.
    settings = {**from_environment(), **overrides}
    refusal = crawl_refusal(settings, lock=True, given=given, options=options)
    if refusal:
        raise _usage(refusal)
    level = None if "LOG_LEVEL" in given else _crawl_log_level(args.verbosity, bool(settings.get("LOG_FILE")))
    if level:
        overrides["LOG_LEVEL"] = level
    lock_path = get_path(settings, "NEWSCRAWL_LOCK_FILE")
    try:
        lock = RunLock(lock_path).acquire()
    except LockHeld as error:
        print(f"newscrawl crawl: {error}; not starting a second run", file=sys.stderr)
        return EXIT_LOCKED
    except OSError as error:
        raise CommandError(f"cannot take the lock {lock_path}: {error.strerror or error}") from None
    try:
        if lock.previous_holder and args.verbosity >= 0:
            print(f"newscrawl crawl: took over the lock left by a run that ended without releasing it "
                  f"({lock.previous_holder})", file=sys.stderr)
        try:
            summary = run_crawl(overrides)
        except CrawlFailed as error:
            raise CommandError(str(error)) from None
        if summary.outcome != "ok" or args.verbosity >= 0:
            print(f"newscrawl crawl: {summary.line()}")
            for reason in summary.reasons:
                print(f"newscrawl crawl: {summary.outcome}: {reason}")
        if summary.outcome == "degraded":
            return EXIT_DEGRADED
        return EXIT_OK if summary.outcome == "ok" else EXIT_FAILED
    finally:
        lock.release()


def _crawl_log_level(verbosity: int, log_file: bool) -> str | None:
    """Scrapy's LOG_LEVEL for a crawl run from the command line; None keeps the configured one.

    A log file is where the details go (INFO, newscrawl.settings); on the terminal the default is the
    warnings only, since the summary line says how the run went, and with -q nothing at all: a failed
    run's summary line says why it failed.
    """
    if verbosity >= 2:
        return "DEBUG"
    if log_file:
        return None
    return {-1: "CRITICAL", 0: "WARNING", 1: "INFO"}[verbosity]


def cmd_export(args: argparse.Namespace) -> int:
    from newscrawl.export import day_range, export_articles
    from newscrawl.preflight import folder_problem

    if args.since and args.until and args.since > args.until:
        raise _usage("--since is after --until")
    problem = folder_problem(args.out)
    if problem:
        raise _usage(f"--out {args.out}: {problem}; give a folder you can write")
    archive = _open_archive(args.db)
    try:
        since, until = day_range(args.since, args.until)
        report = export_articles(args.out, archive.iter_articles(since, until, category=args.category))
    finally:
        archive.close()
    print(f"exported {report.total} posts to {args.out}: {report.written} written, {report.unchanged} unchanged"
          + (f", {len(report.unsafe)} refused (unsafe names: {', '.join(report.unsafe[:5])})" if report.unsafe else "")
          + (f", {len(report.renamed)} under marked names" if report.renamed else "")
          + (f", {len(report.bounded)} with unparsed markup" if report.bounded else ""))
    if report.failed:
        print(f"newscrawl export: {len(report.failed)} posts not written, first: {report.failed[0][0]}: "
              f"{report.failed[0][1]}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def cmd_stats(args: argparse.Namespace) -> int:
    from newscrawl.statsview import render_stats

    archive = _open_archive(args.db)
    try:
        stats = archive.stats()
    finally:
        archive.close()
    if args.json:
        # Run records keep redacted settings; redacting again covers rows written by older versions.
        print(logredact.redact(json.dumps(stats, ensure_ascii=False, indent=2, default=str)))
        return EXIT_OK
    print(render_stats(stats, _shown_url(args.db)))
    return EXIT_OK


def cmd_search(args: argparse.Namespace) -> int:
    from newscrawl.export import day_range

    if args.since and args.until and args.since > args.until:
        print("newscrawl search: --since is after --until", file=sys.stderr)
        return EXIT_USAGE
    since, until = day_range(args.since, args.until)
    archive = _open_archive(args.db)
    try:
        hits = archive.search(args.query, limit=args.limit, category=args.category, since=since, until=until)
    finally:
        archive.close()
    if not hits:
        print(f"no article matches {args.query!r}")
        return EXIT_OK
    for hit in hits:
        when = hit.published_at.strftime("%Y-%m-%d %H:%M") if hit.published_at else "?"
        print(f"{when}  [{hit.category or '-'}]  {hit.title}  ({hit.article_id})\n    {hit.snippet}")
    return EXIT_OK


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from newscrawl.storage import upgrade_database

    _check_database_path(args.db)
    try:
        before, after = upgrade_database(args.db)
    except Exception as error:
        raise CommandError(f"cannot upgrade {_shown_url(args.db)}: {one_line(error)}") from None
    print(f"{_shown_url(args.db)}: schema {before or 'empty'} → {after}")
    return EXIT_OK


def cmd_reparse(args: argparse.Namespace) -> int:
    from newscrawl.reparse import reparse_archive

    if not args.warc_dir.is_dir():
        raise CommandError(f"no WARC folder at {args.warc_dir} (NEWSCRAWL_WARC_DIR); nothing to re-parse")
    # Re-parsing may rebuild an archive from its raw pages alone, so an empty database gets the schema.
    _check_database_path(args.db)
    archive = _open_archive(args.db, upgrade=True)
    try:
        report = reparse_archive(archive, args.warc_dir)
    finally:
        archive.close()
    print(f"re-parsed {report.pages} article pages from {args.warc_dir}: {report.line()}")
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from newscrawl.health import RunRecord, check

    archive = _open_archive(args.db)
    try:
        finished = archive.finished_runs(limit=1, outcomes=("ok", "degraded", "failed", "interrupted"))
        succeeded = archive.finished_runs(limit=1, outcomes=("ok", "degraded"))
    finally:
        archive.close()
    latest, success = (
        RunRecord(run.run_id, run.outcome, run.finished_at, tuple(run.reasons or ())) if run else None
        for run in (finished[0] if finished else None, succeeded[0] if succeeded else None)
    )
    verdict, line = check(latest, success, datetime.now(UTC), args.max_age)
    print(f"newscrawl check: {verdict}: {line}")
    return {"ok": EXIT_OK, "degraded": EXIT_DEGRADED}.get(verdict, EXIT_FAILED)


def cmd_import(args: argparse.Namespace) -> int:
    from newscrawl.importer.run import Importer, ImportReport
    from newscrawl.importer.sources import SourceRefused

    if bool(args.paths) == bool(args.git):
        print("newscrawl import: give post files or folders, or --git REPO (one of the two)", file=sys.stderr)
        return EXIT_USAGE

    def progress(report: ImportReport) -> None:
        print(report.progress(), file=sys.stderr, flush=True)

    archive = _open_archive(args.db, upgrade=True)
    importer = Importer(archive, args.site, progress=progress)
    try:
        report = importer.import_git(args.git) if args.git else importer.import_files(args.paths)
    except SourceRefused as error:
        print(f"newscrawl import: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"newscrawl import: interrupted; {importer.report.line()} (run it again to go on)", file=sys.stderr)
        return 130
    except Exception as error:
        raise CommandError(f"{error}; {importer.report.line()}") from None
    finally:
        archive.close()
    print(f"newscrawl {report.line()}")
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from newscrawl.demo.run import run_demo
    from newscrawl.preflight import folder_problem

    problem = folder_problem(args.data_dir)
    if problem:
        raise _usage(f"--data-dir {args.data_dir}: {problem}; give a folder you can write")
    return run_demo(args.data_dir, out=sys.stdout)


def _check_database_path(db_url: str) -> None:
    """For a command that may create the archive: the SQLite file must be one it can create or write."""
    from newscrawl.preflight import file_problem
    from newscrawl.storage.engine import database_file

    path = database_file(db_url)
    problem = file_problem(path, regular=True) if path is not None else None
    if problem:
        raise _usage(f"--db {path}: {problem}; give a database file you can write")
