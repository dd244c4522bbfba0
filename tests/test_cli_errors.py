"""Every mistake an operator can make gets one clear line, the right exit status, and creates nothing.

One table, one row per mistake (the rows of issue 22's table first, then every other bad input we could
think of). Each case runs the real command in a child process whose working directory, HOME and TMPDIR
are in the test's temporary folder, and asserts: the exit status; stderr is one or two lines (none where
the case says so) with no traceback; the message says what the case is about; and no file or folder
appeared or changed — in the temporary folder (snapshotted before and after, contents included) or at
the paths outside it that the command was given.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SECRET = "s3cr3t-pw"


@dataclass(frozen=True)
class Case:
    id: str
    argv: list[str]
    status: int
    message: str = ""  # a regular expression the stderr must match
    setup: Callable[[Path], None] | None = None
    env: dict[str, str] = field(default_factory=dict)
    stderr_lines: tuple[int, int] = (1, 2)
    program: str = "newscrawl"  # or "scrapy"
    closed_stdout: bool = False  # the reader of stdout went away before the command wrote
    hold_lock: bool = False


def make_file(name: str, content: bytes = b"some text\n") -> Callable[[Path], None]:
    def setup(work: Path) -> None:
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_bytes(content)
    return setup


def make_dir(name: str) -> Callable[[Path], None]:
    return lambda work: (work / name).mkdir(parents=True)


def make_archive(name: str = "data/newscrawl.sqlite3") -> Callable[[Path], None]:
    def setup(work: Path) -> None:
        from newscrawl.storage import upgrade_database

        (work / name).parent.mkdir(parents=True, exist_ok=True)
        upgrade_database(f"sqlite:///{work / name}")
    return setup


def make_foreign_database(work: Path) -> None:
    import sqlite3

    connection = sqlite3.connect(work / "other.sqlite3")
    connection.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY)")
    connection.commit()
    connection.close()


def make_locked_folder(work: Path) -> None:
    (work / "locked").mkdir()
    (work / "locked").chmod(0o500)


not_root = pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                              reason="root writes in a folder whatever its mode")

CASES = [
    # -- the rows of issue 22's table ------------------------------------------------------------------
    Case("export-out-under-a-file", ["export", "--out", "/dev/null/out"], 2,
         r"--out /dev/null/out: .*/dev/null is not a folder"),
    Case("export-out-is-a-file", ["export", "--out", "afile"], 2, r"--out afile: it is a file, not a folder",
         setup=make_file("afile")),
    Case("export-out-in-proc", ["export", "--out", "/proc/x"], 2, r"--out /proc/x: nothing can be written in /proc"),
    Case("export-out-in-sys", ["export", "--out", "/sys/x/y"], 2, r"--out /sys/x/y: nothing can be written in /sys"),
    Case("demo-data-dir-under-a-file", ["demo", "--data-dir", "/dev/null/x"], 2,
         r"--data-dir /dev/null/x: .*not a folder"),
    Case("crawl-data-is-a-file", ["crawl"], 2,
         r"NEWSCRAWL_LOCK_FILE data/newscrawl.lock \(in .*\): .*data is not a folder",
         setup=make_file("data")),
    Case("crawl-lock-under-a-file", ["crawl", "-s", "NEWSCRAWL_LOCK_FILE=/dev/null/lock"], 2,
         r"NEWSCRAWL_LOCK_FILE /dev/null/lock: .*/dev/null is not a folder; set NEWSCRAWL_LOCK_FILE"),
    Case("crawl-progress-interval-abc", ["crawl", "-s", "NEWSCRAWL_PROGRESS_INTERVAL=abc"], 2,
         r"NEWSCRAWL_PROGRESS_INTERVAL='abc' is not valid: expected a number of seconds"),
    Case("crawl-incremental-maybe", ["crawl", "-s", "NEWSCRAWL_INCREMENTAL=maybe"], 2,
         r"NEWSCRAWL_INCREMENTAL='maybe' is not valid: expected true or false"),
    Case("crawl-site-not-a-url", ["crawl", "--site", "not-a-url"], 2,
         r"--site: not an absolute http:// or https:// URL"),
    Case("crawl-site-ftp", ["crawl", "--site", "ftp://example.com/"], 2, r"--site: not an absolute http"),
    Case("crawl-posts-dir-under-a-file", ["crawl", "--posts-dir", "/dev/null/x"], 2,
         r"--posts-dir /dev/null/x: .*not a folder; give --posts-dir a folder"),
    Case("stats-typo-database", ["stats", "--db", "sqlite:///typo/x.sqlite3"], 1,
         r"no archive database at typo/x.sqlite3 \(looked for /.*/typo/x.sqlite3\)"),
    Case("stats-in-an-empty-folder", ["stats"], 1, r"no archive database at data/newscrawl.sqlite3"),
    Case("search-into-a-closed-pipe", ["search", "证券"], 141, stderr_lines=(0, 0), closed_stdout=True,
         setup=make_archive()),
    Case("crawl-lock-is-a-folder", ["crawl", "-s", "NEWSCRAWL_LOCK_FILE=adir"], 2,
         r"NEWSCRAWL_LOCK_FILE adir \(in .*\): it is a folder, not a file", setup=make_dir("adir")),
    Case("version", ["--version"], 0, stderr_lines=(0, 0)),
    Case("stats-verbose-after-the-command", ["stats", "-v"], 1, r"no archive database"),
    Case("stats-verbose-before-the-command", ["-vv", "stats"], 1, r"no archive database"),
    Case("crawl-quiet-before-the-command", ["-q", "crawl", "-s", "NEWSCRAWL_INCREMENTAL=2"], 2,
         r"NEWSCRAWL_INCREMENTAL='2' is not valid"),
    # -- settings ---------------------------------------------------------------------------------------
    Case("crawl-set-without-equals", ["crawl", "-s", "FOO"], 2, r"-s takes NAME=VALUE, not 'FOO'"),
    Case("crawl-unknown-setting", ["crawl", "-s", "NEWSCRAWL_PROGRES_INTERVAL=5"], 2,
         r"NEWSCRAWL_PROGRES_INTERVAL is not a newscrawl setting \(did you mean NEWSCRAWL_PROGRESS_INTERVAL\?\)"),
    Case("crawl-max-page-bytes-zero", ["crawl", "-s", "NEWSCRAWL_MAX_PAGE_BYTES=0"], 2,
         r"NEWSCRAWL_MAX_PAGE_BYTES='0' is not valid: expected a whole number of bytes, 1 or more"),
    Case("crawl-distance-65", ["crawl", "-s", "NEWSCRAWL_NEAR_DUPLICATE_DISTANCE=65"], 2, r"from 0 to 64"),
    Case("crawl-origin-hosts-url", ["crawl", "-s", "NEWSCRAWL_ORIGIN_HOSTS=http://x.com/"], 2,
         r"NEWSCRAWL_ORIGIN_HOSTS=.* expected host names separated by commas"),
    Case("crawl-redis-url-without-scheme", ["crawl", "-s", "NEWSCRAWL_REDIS_URL=localhost:6379"], 2,
         r"NEWSCRAWL_REDIS_URL='localhost:6379' is not valid: expected a Redis URL"),
    Case("crawl-follow-share-links-yes", ["crawl", "-s", "NEWSCRAWL_FOLLOW_SHARE_LINKS=yes"], 2,
         r"NEWSCRAWL_FOLLOW_SHARE_LINKS='yes'"),
    Case("crawl-recheck-days-negative", ["crawl", "-s", "NEWSCRAWL_RECHECK_DAYS=-1"], 2,
         r"NEWSCRAWL_RECHECK_DAYS='-1'"),
    Case("crawl-site-setting-ftp", ["crawl", "--full", "-s", "NEWSCRAWL_SITE_URL=ftp://x/"], 2,
         r"NEWSCRAWL_SITE_URL='ftp://x/' is not valid"),
    Case("crawl-bad-setting-from-environment", ["crawl"], 2, r"NEWSCRAWL_DB_RETRY_SECONDS='-1' is not valid",
         env={"NEWSCRAWL_DB_RETRY_SECONDS": "-1"}),
    Case("crawl-bad-page-bytes-from-environment", ["crawl"], 2, r"NEWSCRAWL_MAX_PAGE_BYTES='abc' is not valid",
         env={"NEWSCRAWL_MAX_PAGE_BYTES": "abc"}),
    Case("crawl-bad-db-url-from-environment", ["crawl"], 2, r"NEWSCRAWL_DB_URL='mysql://u:\*\*\*@h/db' is not valid",
         env={"NEWSCRAWL_DB_URL": f"mysql://u:{SECRET}@h/db"}),
    Case("crawl-scrapy-number-setting", ["crawl", "-s", "CONCURRENT_REQUESTS=many"], 2,
         r"CONCURRENT_REQUESTS='many' is not valid: expected a number$"),
    Case("crawl-scrapy-bool-setting", ["crawl", "-s", "ROBOTSTXT_OBEY=perhaps"], 2, r"ROBOTSTXT_OBEY='perhaps'"),
    Case("crawl-log-level", ["crawl", "-s", "LOG_LEVEL=LOUD"], 2, r"LOG_LEVEL='LOUD' is not valid"),
    # -- options and paths ------------------------------------------------------------------------------
    Case("crawl-db-unsupported", ["crawl", "--db", f"mysql://u:{SECRET}@h/db"], 2,
         r"argument --db: not an archive database URL: 'mysql://u:\*\*\*@h/db'; expected sqlite:///PATH or postgresql"),
    Case("crawl-db-not-a-url", ["crawl", "--db", "data/newscrawl.sqlite3"], 2,
         r"argument --db: not an archive database URL: 'data/newscrawl.sqlite3'"),
    Case("crawl-db-under-a-file", ["crawl", "--db", "sqlite:////dev/null/x.sqlite3"], 2,
         r"--db /dev/null/x.sqlite3: .*not a folder"),
    Case("crawl-db-is-a-folder", ["crawl", "--db", "sqlite:///adir"], 2, r"--db adir \(in .*\): it is a folder",
         setup=make_dir("adir")),
    Case("crawl-db-is-a-device", ["crawl", "--db", "sqlite:////dev/null"], 2,
         r"--db /dev/null: it is not an ordinary file"),
    Case("crawl-log-file-under-a-file", ["crawl", "-s", "LOG_FILE=/dev/null/crawl.log"], 2,
         r"LOG_FILE /dev/null/crawl.log"),
    Case("crawl-warc-dir-under-a-file", ["crawl", "-s", "NEWSCRAWL_WARC_DIR=/dev/null/warc"], 2,
         r"NEWSCRAWL_WARC_DIR /dev/null/warc"),
    Case("crawl-stats-file-in-proc", ["crawl", "-s", "NEWSCRAWL_STATS_FILE=/proc/x/stats.json"], 2,
         r"NEWSCRAWL_STATS_FILE /proc/x/stats.json: nothing can be written in /proc"),
    Case("crawl-posts-dir-is-a-file", ["crawl", "--posts-dir", "afile"], 2,
         r"--posts-dir afile \(in .*\): it is a file",
         setup=make_file("afile")),
    Case("crawl-site-without-host", ["crawl", "--site", "http://"], 2, r"--site: not an absolute"),
    Case("crawl-lock-held", ["crawl"], 75, r"another newscrawl crawl holds data/newscrawl.lock", hold_lock=True),
    pytest.param(Case("crawl-data-not-writable", ["crawl", "-s", "NEWSCRAWL_LOCK_FILE=locked/sub/crawl.lock"], 2,
                      r"nothing can be written in .*locked \(Permission denied\)", setup=make_locked_folder),
                 marks=not_root, id="crawl-data-not-writable"),
    # -- usage ------------------------------------------------------------------------------------------
    Case("no-command", [], 2, r"error: the following arguments are required: COMMAND"),
    Case("unknown-command", ["nosuchcommand"], 2, r"invalid choice: 'nosuchcommand'"),
    Case("unknown-option", ["crawl", "--bogus"], 2, r"unrecognized arguments: --bogus"),
    Case("quiet-and-verbose", ["-q", "crawl", "-v"], 2, r"-q and -v cannot be used together"),
    Case("export-without-out", ["export"], 2, r"the following arguments are required: --out"),
    Case("export-since-not-a-date", ["export", "--out", "x", "--since", "yesterday"], 2, r"not a date \(YYYY-MM-DD\)"),
    Case("export-since-after-until", ["export", "--out", "x", "--since", "2022-02-01", "--until", "2022-01-01"], 2,
         r"--since is after --until"),
    Case("export-missing-database", ["export", "--out", "out"], 1, r"no archive database at data/newscrawl.sqlite3"),
    Case("search-empty-query", ["search", " "], 2, r"the query is empty"),
    Case("search-limit-zero", ["search", "x", "--limit", "0"], 2, r"not a positive whole number: '0'"),
    Case("db-without-action", ["db"], 2, r"required: ACTION"),
    Case("db-upgrade-under-a-file", ["db", "upgrade", "--db", "sqlite:////dev/null/x.db"], 2,
         r"--db /dev/null/x.db: .*not a folder"),
    Case("reparse-without-warc-folder", ["reparse", "--warc-dir", "nowarc"], 1, r"no WARC folder at nowarc"),
    Case("demo-data-dir-is-a-file", ["demo", "--data-dir", "afile"], 2, r"--data-dir afile: it is a file",
         setup=make_file("afile")),
    # -- databases that are not (yet) an archive ----------------------------------------------------------
    Case("stats-empty-file", ["stats", "--db", "sqlite:///empty.sqlite3"], 1,
         r"holds no archive: if the URL is right and the archive is new, create it with `newscrawl db upgrade`.*typo",
         setup=make_file("empty.sqlite3", b"")),
    Case("search-foreign-database", ["search", "x", "--db", "sqlite:///other.sqlite3"], 1, r"not a newscrawl archive",
         setup=make_foreign_database),
    Case("stats-text-file", ["stats", "--db", "sqlite:///notes.txt"], 1, r"cannot open the archive .*not a database",
         setup=make_file("notes.txt", b"these are notes, not a database\n" * 100)),
    Case("stats-database-is-a-folder", ["stats", "--db", "sqlite:///adir"], 1,
         r"cannot open the archive sqlite:///adir",
         setup=make_dir("adir")),
    Case("stats-postgres-unreachable", ["stats", "--db", f"postgresql+psycopg://u:{SECRET}@127.0.0.1:1/db"], 1,
         r"cannot open the archive postgresql\+psycopg://u:\*\*\*@127.0.0.1:1/db: .*"),
    Case("stats-into-a-closed-pipe", ["stats"], 141, stderr_lines=(0, 0), closed_stdout=True, setup=make_archive()),
    # -- scrapy crawl refuses the same way ---------------------------------------------------------------
    Case("scrapy-incremental-maybe", ["crawl", "finews", "-s", "NEWSCRAWL_INCREMENTAL=maybe"], 2,
         r"^scrapy crawl: NEWSCRAWL_INCREMENTAL='maybe' is not valid", program="scrapy"),
    Case("scrapy-posts-dir-under-a-file", ["crawl", "finews", "-s", "NEWSCRAWL_POSTS_DIR=/dev/null/x"], 2,
         r"NEWSCRAWL_POSTS_DIR /dev/null/x: .*not a folder", program="scrapy"),
    Case("scrapy-bad-setting-from-environment", ["crawl", "finews"], 2, r"NEWSCRAWL_PROGRESS_INTERVAL='abc'",
         env={"NEWSCRAWL_PROGRESS_INTERVAL": "abc"}, program="scrapy"),
    Case("scrapy-url-not-an-article", ["crawl", "finews", "-a", "url=http://x/"], 2,
         r"-a url='http://x/' is not an article page", program="scrapy"),
]


def snapshot(top: Path) -> dict[str, str]:
    """Every file and folder under ``top``: its kind, and a file's content hash."""
    seen: dict[str, str] = {}
    for folder, folders, files in os.walk(top):
        for name in folders:
            seen[os.path.relpath(os.path.join(folder, name), top)] = "folder"
        for name in files:
            path = os.path.join(folder, name)
            seen[os.path.relpath(path, top)] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return seen


def child_environment(tmp_path: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("NEWSCRAWL_", "SCRAPY_", "XDG_")) and not k.lower().endswith("_proxy")}
    home = tmp_path / "home"
    env.update(HOME=str(home), TMPDIR=str(tmp_path / "tmp"), XDG_CONFIG_HOME=str(home / ".config"),
               XDG_CACHE_HOME=str(home / ".cache"), XDG_DATA_HOME=str(home / ".local"),
               PYTHONDONTWRITEBYTECODE="1", SCRAPY_SETTINGS_MODULE="newscrawl.settings",
               # Nothing may be fetched: any request would go to a port where nothing listens.
               http_proxy="http://127.0.0.1:9", https_proxy="http://127.0.0.1:9")
    env.update(extra)
    return env


@contextmanager
def held_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.write(fd, b"pid 1 since 2026-01-01T00:00:00+0000\n")
    try:
        yield
    finally:
        os.close(fd)


def run_case(case: Case, tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, str], dict[str, str]]:
    work = tmp_path / "work"
    for folder in (work, tmp_path / "home", tmp_path / "tmp"):
        folder.mkdir()
    if case.setup:
        case.setup(work)
    command = [sys.executable, "-m", "newscrawl"] if case.program == "newscrawl" else \
        [sys.executable, "-m", "scrapy"]
    env = child_environment(tmp_path, case.env)
    with held_lock(work / "data" / "newscrawl.lock") if case.hold_lock else _nothing():
        before = snapshot(tmp_path)
        stdout: int = subprocess.PIPE
        read_end = None
        if case.closed_stdout:
            read_end, stdout = os.pipe()
            os.close(read_end)
        try:
            done = subprocess.run([*command, *case.argv], cwd=work, env=env, stdout=stdout,
                                  stderr=subprocess.PIPE, text=True, timeout=120)
        finally:
            if case.closed_stdout:
                os.close(stdout)
        after = snapshot(tmp_path)
    return done, before, after


@contextmanager
def _nothing() -> Iterator[None]:
    yield


@pytest.mark.parametrize("case", [c if not isinstance(c, Case) else pytest.param(c, id=c.id) for c in CASES])
def test_mistake_gets_one_line_and_creates_nothing(case: Case, tmp_path: Path) -> None:
    done, before, after = run_case(case, tmp_path)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == case.status, done.stderr
    assert "Traceback" not in done.stderr and "Error:" not in done.stderr.replace("error:", ""), done.stderr
    low, high = case.stderr_lines
    assert low <= len(lines) <= high, done.stderr
    if case.message:
        assert re.search(case.message, done.stderr, re.MULTILINE), done.stderr
    assert SECRET not in done.stderr + (done.stdout or "")
    # Nothing created, removed or changed: not in the working folder, HOME or TMPDIR...
    assert after == before
    # ...nor at any path outside it that the command was given.
    for arg in case.argv:
        for path in re.findall(r"(/(?:dev|proc|sys)/[^\s,]+)", arg):
            assert not os.path.exists(path) or path == "/dev/null", path


def test_the_table_has_every_row_of_the_issue_and_forty_cases_in_all() -> None:
    ids = {c.id for c in CASES}
    assert len(ids) == len(CASES) >= 40
    assert {"export-out-under-a-file", "export-out-is-a-file", "export-out-in-proc", "demo-data-dir-under-a-file",
            "crawl-data-is-a-file", "crawl-lock-under-a-file", "crawl-progress-interval-abc", "crawl-incremental-maybe",
            "crawl-site-not-a-url", "crawl-site-ftp", "crawl-posts-dir-under-a-file", "stats-typo-database",
            "stats-in-an-empty-folder", "search-into-a-closed-pipe", "crawl-lock-is-a-folder", "version",
            "stats-verbose-after-the-command"} <= ids


def test_version_names_newscrawl_and_scrapy() -> None:
    from newscrawl import __version__

    done = subprocess.run([sys.executable, "-m", "newscrawl", "--version"], capture_output=True, text=True, check=True)
    assert done.stdout.startswith(f"newscrawl {__version__} (Scrapy ")


def test_schema_creation_is_one_line_at_info_and_silent_by_default(tmp_path: Path) -> None:
    # Alembic narrates each migration step at INFO; here that is DEBUG (newscrawl.crawllog).
    env = child_environment(tmp_path, {})
    for name, flags in (("quiet", []), ("verbose", ["-v"]), ("debug", ["-vv"])):
        done = subprocess.run([sys.executable, "-m", "newscrawl", *flags, "db", "upgrade", "--db",
                               f"sqlite:///{tmp_path / name}.sqlite3"], capture_output=True, text=True, env=env)
        assert done.returncode == 0, done.stderr
        alembic = [line for line in done.stderr.splitlines() if " alembic." in line]
        if name == "debug":
            assert any("Running upgrade" in line and " DEBUG " in line for line in alembic), done.stderr
        else:
            assert alembic == [], done.stderr
        if name == "quiet":
            assert done.stderr == ""
