"""The ``newscrawl`` command: a thin layer that parses arguments, calls the library and turns its errors
into one clear message and an exit status (docs/cli.md).

Exit status: 0 success; 1 the run or command failed (the message says why); 2 usage error;
75 (EX_TEMPFAIL) another ``newscrawl crawl`` holds the lock.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from newscrawl import logredact
from newscrawl.config import from_environment

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_LOCKED = 0, 1, 2, 75

logger = logging.getLogger("newscrawl")


class CommandError(Exception):
    """A failure the user can act on; its message is printed as is and the exit status is 1."""


def main(argv: Sequence[str] | None = None) -> int:
    # Before anything can log: no password of a database URL may reach a log line or a traceback.
    logredact.install()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command not in ("crawl", "demo"):
        # Crawls log through Scrapy's own handler (LOG_LEVEL, LOG_FILE); other commands log here.
        handler = logging.StreamHandler()
        handler.setLevel(logging.INFO if args.verbose else logging.WARNING)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logging.getLogger().addHandler(handler)
        logging.getLogger().setLevel(logging.INFO if args.verbose else logging.WARNING)
    try:
        result: int = args.handler(args)
        return result
    except CommandError as error:
        print(f"newscrawl {args.command}: {error}", file=sys.stderr)
        return EXIT_FAILED


def build_parser() -> argparse.ArgumentParser:
    env = from_environment()
    parser = argparse.ArgumentParser(
        prog="newscrawl", description="Archive the finews mirror: crawl, export, search, inspect.",
        epilog="Example: newscrawl crawl --db sqlite:///data/newscrawl.sqlite3",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress at INFO level")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str, example: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text, epilog=f"Example: {example}")
        return sub

    def db_option(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--db", default=env["NEWSCRAWL_DB_URL"], metavar="URL",
                         help="SQLAlchemy URL of the archive (default: NEWSCRAWL_DB_URL or %(default)s)")

    crawl = command("crawl", "one unattended crawl run (for cron): lock, crawl incrementally, summary",
                    "newscrawl crawl --site https://finews.withounder.com/ --posts-dir site/_posts")
    crawl.add_argument("--site", metavar="URL", help="root of the mirror (default: NEWSCRAWL_SITE_URL)")
    db_option(crawl)
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
    search.add_argument("query")
    db_option(search)
    search.add_argument("--limit", type=_positive, default=20, metavar="N")
    search.set_defaults(handler=cmd_search)

    db = command("db", "database maintenance", "newscrawl db upgrade --db sqlite:///data/newscrawl.sqlite3")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = db_commands.add_parser("upgrade", help="create or migrate the schema to the newest revision",
                                     epilog="Example: newscrawl db upgrade --db postgresql+psycopg://u:p@host/db")
    db_option(upgrade)
    upgrade.set_defaults(handler=cmd_db_upgrade)

    reparse = command("reparse", "re-extract every article from its stored raw pages, with no network",
                      "newscrawl reparse --db sqlite:///data/newscrawl.sqlite3")
    db_option(reparse)
    reparse.add_argument("--warc-dir", type=Path, default=Path(env["NEWSCRAWL_WARC_DIR"] or "data/warc"),
                         metavar="DIR", help="where the WARC files are (default: %(default)s)")
    reparse.set_defaults(handler=cmd_reparse)

    demo = command("demo", "crawl a bundled sample of the site on loopback, with no network", "newscrawl demo")
    demo.add_argument("--data-dir", type=Path, default=Path("data"), metavar="DIR",
                      help="where demo.sqlite3 and demo_posts/ go (default: %(default)s)")
    demo.set_defaults(handler=cmd_demo)
    return parser


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


def _open_archive(db_url: str, upgrade: bool = False) -> Any:
    from newscrawl.storage import Archive, SchemaOutOfDate

    try:
        return Archive.open(db_url, upgrade=upgrade)
    except SchemaOutOfDate as error:
        raise CommandError(str(error)) from None
    except Exception as error:
        from newscrawl.urls import redact_url

        raise CommandError(f"cannot open the archive {redact_url(db_url)}: {error}") from None


# -- commands ------------------------------------------------------------------------------------------


def cmd_crawl(args: argparse.Namespace) -> int:
    from newscrawl.crawler import CrawlFailed, run_crawl
    from newscrawl.lock import LockHeld, RunLock

    overrides: dict[str, str] = {}
    for item in args.set:
        name, sep, value = item.partition("=")
        if not sep or not name:
            print(f"newscrawl crawl: -s takes NAME=VALUE, not {item!r}", file=sys.stderr)
            return EXIT_USAGE
        overrides[name] = value
    if args.site:
        overrides["NEWSCRAWL_SITE_URL"] = args.site
    overrides["NEWSCRAWL_DB_URL"] = args.db
    if args.posts_dir:
        overrides["NEWSCRAWL_POSTS_DIR"] = args.posts_dir
    if args.full:
        overrides["NEWSCRAWL_INCREMENTAL"] = "false"
    lock_setting = overrides.get("NEWSCRAWL_LOCK_FILE") or from_environment()["NEWSCRAWL_LOCK_FILE"]
    lock_path = Path(lock_setting or "data/newscrawl.lock")
    try:
        lock = RunLock(lock_path).acquire()
    except LockHeld as error:
        print(f"newscrawl crawl: {error}; not starting a second run", file=sys.stderr)
        return EXIT_LOCKED
    try:
        if lock.previous_holder:
            print(f"newscrawl crawl: took over the lock left by a run that ended without releasing it "
                  f"({lock.previous_holder})", file=sys.stderr)
        try:
            summary = run_crawl(overrides)
        except CrawlFailed as error:
            raise CommandError(str(error)) from None
        print(f"newscrawl crawl: {summary.line()}")
        return EXIT_OK if summary.outcome == "ok" else EXIT_FAILED
    finally:
        lock.release()


def cmd_export(args: argparse.Namespace) -> int:
    from newscrawl.export import day_range, export_articles

    if args.since and args.until and args.since > args.until:
        print("newscrawl export: --since is after --until", file=sys.stderr)
        return EXIT_USAGE
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
    archive = _open_archive(args.db)
    try:
        stats = archive.stats()
    finally:
        archive.close()
    if args.json:
        print(json.dumps(stats, ensure_ascii=False, indent=2, default=str))
        return EXIT_OK
    print(f"articles: {stats.get('articles', 0)}")
    print("per category:")
    for category, count in stats.get("per_category", {}).items():
        print(f"  {category or '(none)'}: {count}")
    print("per day:")
    for day, count in stats.get("per_day", {}).items():
        print(f"  {day}: {count}")
    print("last runs:")
    for run in stats.get("runs", []):
        print(f"  #{run.get('run_id')} {run.get('started_at')} → {run.get('finished_at') or '…'}: "
              f"{run.get('outcome')} {json.dumps(run.get('counts') or {}, ensure_ascii=False)}")
    return EXIT_OK


def cmd_search(args: argparse.Namespace) -> int:
    archive = _open_archive(args.db)
    try:
        hits = archive.search(args.query, limit=args.limit)
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
    from newscrawl.urls import redact_url

    try:
        before, after = upgrade_database(args.db)
    except Exception as error:
        raise CommandError(f"cannot upgrade {redact_url(args.db)}: {error}") from None
    print(f"{redact_url(args.db)}: schema {before or 'empty'} → {after}")
    return EXIT_OK


def cmd_reparse(args: argparse.Namespace) -> int:
    from newscrawl.reparse import reparse_archive

    if not args.warc_dir.is_dir():
        raise CommandError(f"no WARC folder at {args.warc_dir} (NEWSCRAWL_WARC_DIR); nothing to re-parse")
    # Re-parsing may rebuild an archive from its raw pages alone, so an empty database gets the schema.
    archive = _open_archive(args.db, upgrade=True)
    try:
        report = reparse_archive(archive, args.warc_dir)
    finally:
        archive.close()
    print(f"re-parsed {report.pages} article pages from {args.warc_dir}: {report.line()}")
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from newscrawl.demo.run import run_demo

    return run_demo(args.data_dir, out=sys.stdout)


if __name__ == "__main__":
    sys.exit(main())
