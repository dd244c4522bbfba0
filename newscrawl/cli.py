"""The ``newscrawl`` command: a thin layer that parses arguments, calls the library and turns its errors
into one clear message and an exit status (docs/cli.md).

Exit status: 0 success; 1 the run or command failed (the message says why); 2 usage error, bad setting,
or a path the command could not write (nothing was done); 3 the crawl run was degraded (``crawl`` and
``check``); 75 (EX_TEMPFAIL) another ``newscrawl crawl`` holds the lock; 141 the reader of the output went
away (``| head``); 130 interrupted.

Adding a command is one block in ``build_parser`` (``command(...)``, its options, ``set_defaults(handler=…)``)
and one ``cmd_<name>`` function in newscrawl/subcommands.py; a handler raises ``CommandError`` for a failure
the user can act on.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import NoReturn

from newscrawl import __version__, crawllog, logredact
from newscrawl.config import from_environment
from newscrawl.subcommands import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_PIPE,
    EXIT_USAGE,
    CommandError,
    cmd_check,
    cmd_crawl,
    cmd_db_upgrade,
    cmd_demo,
    cmd_export,
    cmd_import,
    cmd_reparse,
    cmd_search,
    cmd_stats,
)


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


if __name__ == "__main__":
    sys.exit(main())
