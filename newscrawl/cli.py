"""The ``newscrawl`` command: a thin layer that parses arguments, calls the library and turns its errors
into one clear message and an exit status (docs/cli.md).

Exit status: 0 success; 1 the run or command failed (the message says why); 2 usage error, bad setting,
or a path the command could not write (nothing was done); 3 the crawl run was degraded (``crawl`` and
``check``); 75 (EX_TEMPFAIL) another ``newscrawl crawl`` holds the lock; 141 the reader of the output went
away (``| head``); 130 interrupted.

Adding a command is one block in ``build_parser`` (``command(...)``, its options, ``set_defaults(handler=…)``)
and one ``cmd_<name>`` function; a handler raises ``CommandError`` for a failure the user can act on.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any, NoReturn

from newscrawl import __version__, crawllog, logredact
from newscrawl.config import from_environment
from newscrawl.messages import one_line

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_LOCKED = 0, 1, 2, 75
EXIT_INTERRUPTED = 128 + signal.SIGINT  # 130, as a shell reports a command stopped by Ctrl-C
EXIT_PIPE = 128 + signal.SIGPIPE  # 141, as a shell reports a command whose reader went away
# A run that archived what it could, but whose data or site looked wrong (newscrawl.health).
EXIT_DEGRADED = 3

logger = logging.getLogger("newscrawl")


class CommandError(Exception):
    """A failure the user can act on: its message is printed as is; ``status`` is the exit status."""

    def __init__(self, message: str, status: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.status = status


def main(argv: Sequence[str] | None = None) -> int:
    # Before anything can log: no password of a database URL may reach a log line or a traceback.
    logredact.install()
    crawllog.install()
    try:
        return _run(argv)
    except BrokenPipeError:
        # The reader went away (`newscrawl search … | head -1`): stop quietly, as Unix tools do, and keep
        # the interpreter's last flush of stdout from failing again on the closed pipe.
        _stdout_to_devnull()
        return EXIT_PIPE
    except KeyboardInterrupt:
        print("newscrawl: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    verbosity = args.verbose + getattr(args, "verbose_after", 0)
    args.quiet = args.quiet or getattr(args, "quiet_after", False)
    if args.quiet and verbosity:
        parser.error("-q and -v cannot be used together")
    args.verbosity = -1 if args.quiet else verbosity
    if args.command not in ("crawl", "demo"):
        # Crawls log through Scrapy's own handler (LOG_LEVEL, LOG_FILE); other commands log here.
        level = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(args.verbosity, logging.DEBUG)
        handler = logging.StreamHandler()
        handler.setLevel(level)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logging.getLogger().addHandler(handler)
        logging.getLogger().setLevel(level)
    name = " ".join(filter(None, (args.command, getattr(args, "db_command", None))))
    try:
        result: int = args.handler(args)
        sys.stdout.flush()  # here, not at exit, so that a closed pipe is met inside main
        return result
    except CommandError as error:
        # A message may quote a URL or a driver's error: it is redacted like every log line.
        print(logredact.redact(f"newscrawl {name}: {error}"), file=sys.stderr)
        return error.status
    except OSError as error:
        if isinstance(error, BrokenPipeError):
            raise
        # The disk filled up, a folder was removed under a running export…: the OS says what and where.
        where = f": {error.filename}" if error.filename else ""
        print(f"newscrawl {name}: {error.strerror or error}{where}", file=sys.stderr)
        return EXIT_FAILED


def _stdout_to_devnull() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is no real file (a test's capture): nothing will flush to a pipe
        pass


class Parser(argparse.ArgumentParser):
    """argparse, with a usage error in two lines: the usage on one line (never wrapped), then the error."""

    def error(self, message: str) -> NoReturn:
        formatter = argparse.HelpFormatter(self.prog, width=10_000)
        formatter.add_usage(self.usage, self._actions, self._mutually_exclusive_groups)
        sys.stderr.write(formatter.format_help().strip() + "\n")
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    env = from_environment()
    parser = Parser(
        prog="newscrawl", description="Archive the finews mirror: crawl, export, search, inspect.",
        epilog="Example: newscrawl crawl --db sqlite:///data/newscrawl.sqlite3",
    )
    parser.add_argument("--version", action="version", version=_version())
    # -v / -q are accepted before the command and after it (newscrawl -q crawl, newscrawl crawl -q).
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more output: progress at INFO level (-vv: DEBUG)")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="only failures: a successful crawl prints nothing (for cron mail)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)

    def command(name: str, help_text: str, example: str, *, verbosity: bool = True) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text, epilog=f"Example: {example}")
        if verbosity:  # a command with actions of its own (db) leaves -v / -q to them
            verbosity_options(sub)
        return sub

    def verbosity_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("-v", "--verbose", dest="verbose_after", action="count", default=0,
                         help="more output (-vv: DEBUG)")
        sub.add_argument("-q", "--quiet", dest="quiet_after", action="store_true", help="only failures")

    def db_option(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--db", default=env["NEWSCRAWL_DB_URL"], type=_db_url, metavar="URL",
                         help="SQLAlchemy URL of the archive (default: NEWSCRAWL_DB_URL or %(default)s)")

    crawl = command("crawl", "one unattended crawl run (for cron): lock, crawl incrementally, summary",
                    "newscrawl crawl --site https://finews.withounder.com/ --posts-dir site/_posts")
    crawl.add_argument("--site", metavar="URL", type=_site_url,
                       help="root of the mirror, an http(s) URL (default: NEWSCRAWL_SITE_URL)")
    crawl.add_argument("--db", type=_db_url, metavar="URL",
                       help="SQLAlchemy URL of the archive (default: NEWSCRAWL_DB_URL or sqlite:///data/newscrawl.sqlite3)")
    crawl.add_argument("--posts-dir", metavar="DIR", help="also write new or changed articles as Jekyll posts")
    crawl.add_argument("--full", action="store_true", help="re-fetch everything, ignoring what is archived")
    crawl.add_argument("-s", "--set", action="append", default=[], metavar="NAME=VALUE",
                       help="any Scrapy or NEWSCRAWL_* setting, as with scrapy crawl -s")
    crawl.set_defaults(handler=cmd_crawl)

    export = command("export", "write the archive as Jekyll _posts files (idempotent)",
                     "newscrawl export --db sqlite:///data/newscrawl.sqlite3 --out site/_posts --since 2022-01-01")
    db_option(export)
    export.add_argument("--out", required=True, type=Path, metavar="DIR", help="target folder")
    export.add_argument("--since", type=_date, metavar="DATE", help="first publication day (YYYY-MM-DD)")
    export.add_argument("--until", type=_date, metavar="DATE", help="last publication day (YYYY-MM-DD)")
    export.add_argument("--category", metavar="SLUG", help="one category only")
    export.set_defaults(handler=cmd_export)

    stats = command("stats", "articles per category and per day, and the last runs", "newscrawl stats --json")
    db_option(stats)
    stats.add_argument("--json", action="store_true", help="machine-readable output")
    stats.set_defaults(handler=cmd_stats)

    search = command("search", "full-text search that works for Chinese text", "newscrawl search 政务服务 --limit 5")
    search.add_argument("query", type=_query)
    db_option(search)
    search.add_argument("--limit", type=_positive, default=20, metavar="N")
    search.add_argument("--category", metavar="SLUG", help="only articles of this category")
    search.add_argument("--since", type=_date, metavar="DATE", help="first publication day (YYYY-MM-DD)")
    search.add_argument("--until", type=_date, metavar="DATE", help="last publication day (YYYY-MM-DD)")
    search.set_defaults(handler=cmd_search)

    db = command("db", "database maintenance", "newscrawl db upgrade --db sqlite:///data/newscrawl.sqlite3",
                 verbosity=False)
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION", parser_class=Parser)
    upgrade = db_commands.add_parser("upgrade", help="create or migrate the schema to the newest revision",
                                     epilog="Example: newscrawl db upgrade --db postgresql+psycopg://u:p@host/db")
    verbosity_options(upgrade)
    db_option(upgrade)
    upgrade.set_defaults(handler=cmd_db_upgrade)

    reparse = command("reparse", "re-extract every article from its stored raw pages, with no network",
                      "newscrawl reparse --db sqlite:///data/newscrawl.sqlite3")
    db_option(reparse)
    reparse.add_argument("--warc-dir", type=Path, default=Path(env["NEWSCRAWL_WARC_DIR"] or "data/warc"),
                         metavar="DIR", help="where the WARC files are (default: %(default)s)")
    reparse.set_defaults(handler=cmd_reparse)

    check = command("check", "for monitoring: exit 0 when the last run was ok and recent, else one line and "
                    "non-zero (1 failed or too old, 3 degraded)", "newscrawl check --max-age 26")
    db_option(check)
    check.add_argument("--max-age", type=_positive_hours, default=24.0, metavar="HOURS",
                       help="the last successful run may be this old at most (default: %(default)g)")
    check.set_defaults(handler=cmd_check)

    # newscrawl import (docs/import.md)
    importing = command("import", "archive the site's own post files, or every version of them in its git "
                        "history; no network", "newscrawl import ../finews  |  newscrawl import --git ../finews")
    importing.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                           help="a site source folder (_posts/, old_post/), a folder of *.md posts, or post files")
    importing.add_argument("--git", type=Path, metavar="REPO", help="a git repository of the site's source")
    importing.add_argument("--site", default=env["NEWSCRAWL_SITE_URL"], metavar="URL",
                           help="the site the posts are published on (default: NEWSCRAWL_SITE_URL or %(default)s)")
    db_option(importing)
    importing.set_defaults(handler=cmd_import)

    demo = command("demo", "crawl a bundled sample of the site on loopback, with no network", "newscrawl demo")
    demo.add_argument("--data-dir", type=Path, default=Path("data"), metavar="DIR",
                      help="where demo.sqlite3 and demo_posts/ go (default: %(default)s)")
    demo.set_defaults(handler=cmd_demo)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        scrapy = version("scrapy")
    except PackageNotFoundError:
        scrapy = "not installed"
    return f"newscrawl {__version__} (Scrapy {scrapy}, Python {sys.version.split()[0]})"


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"not a positive whole number: {text!r}")
    return value


def _site_url(text: str) -> str:
    from newscrawl.config import KINDS

    if not KINDS["site_url"].accepts(text):
        raise argparse.ArgumentTypeError(f"not an absolute http:// or https:// URL: {text!r}")
    return text


def _db_url(text: str) -> str:
    from newscrawl.config import KINDS

    if not KINDS["db_url"].accepts(text):
        raise argparse.ArgumentTypeError(f"not an archive database URL: {logredact.redact(repr(text))}; "
                                         f"expected {KINDS['db_url'].form.removeprefix('a database URL: ')}")
    return text


def _query(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("the query is empty")
    return text


def _positive_hours(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"not a positive number of hours: {text!r}")
    return value


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


# -- commands ------------------------------------------------------------------------------------------


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
    lock_path = Path(settings.get("NEWSCRAWL_LOCK_FILE") or "data/newscrawl.lock")
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


if __name__ == "__main__":
    sys.exit(main())
