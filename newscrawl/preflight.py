"""Checks made before a command does any work: can it write where it will write (docs/cli.md).

A crawl that cannot write its lock, its database, its WARC files or its posts fails late and loudly: a
traceback, or one error per article. These checks find that first, and create nothing: a folder that
does not exist yet is judged by the nearest folder above it that does, and writing is tried with a
probe file that is removed at once. Each problem is one line that names the path and what is wrong.
Nothing here imports Scrapy or SQLAlchemy: ``newscrawl crawl`` runs these checks before it takes its
lock, which a second run must find held at once.
"""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

from newscrawl.config import SettingsLike, get_bool, get_optional_path, get_path, get_url, sqlite_path


def folder_problem(path: Path) -> str | None:
    """Why newscrawl could not create ``path`` as a folder, or write files in it; None when it can."""
    if path.exists():
        if not path.is_dir():
            return "it is a file, not a folder"
        return _unwritable(path, path)
    return _uncreatable(path)


def file_problem(path: Path, *, regular: bool = False) -> str | None:
    """Why newscrawl could not create ``path`` as a file, or write to it and beside it; None when it can.

    ``regular``: the file must be an ordinary file (a lock, a database), not a device such as /dev/null.
    """
    if path.is_dir():
        return "it is a folder, not a file"
    if regular and path.exists() and not path.is_file():
        return "it is not an ordinary file"
    if path.exists() or path.is_symlink():
        try:
            os.close(os.open(path, os.O_RDWR))
        except OSError as error:
            return f"it cannot be written ({error.strerror})"
        return _unwritable(path.parent, path.parent)
    return _uncreatable(path)


def _uncreatable(path: Path) -> str | None:
    # The nearest existing folder above decides: every missing folder below it would be made there.
    absolute = Path(os.path.abspath(path))
    for above in absolute.parents:
        if above.exists():
            if not above.is_dir():
                return f"it cannot be created: {above} is not a folder"
            return _unwritable(above, path)
        if above.is_symlink():
            return f"it cannot be created: {above} is a broken link"
    return None  # not reached: the root exists


def _unwritable(folder: Path, path: Path) -> str | None:
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".newscrawl-probe-")
    except OSError as error:
        where = "in it" if folder == path else f"in {folder}"
        return f"nothing can be written {where} ({error.strerror or error})"
    os.close(fd)
    os.unlink(probe)
    return None


def crawl_paths(settings: SettingsLike, *, lock: bool) -> Iterator[tuple[str, Path, str]]:
    """(setting, path, kind) for everything a crawl with ``settings`` writes; kind is "folder", "file", or
    "regular file" (a lock or a database: no device will do)."""
    if lock:
        yield "NEWSCRAWL_LOCK_FILE", get_path(settings, "NEWSCRAWL_LOCK_FILE"), "regular file"
    database = sqlite_path(get_url(settings, "NEWSCRAWL_DB_URL"))
    if database is not None:
        yield "NEWSCRAWL_DB_URL", Path(database), "regular file"
    if get_bool(settings, "NEWSCRAWL_RAW_ARCHIVE"):
        yield "NEWSCRAWL_WARC_DIR", get_path(settings, "NEWSCRAWL_WARC_DIR"), "folder"
    for name, kind in (("NEWSCRAWL_POSTS_DIR", "folder"), ("NEWSCRAWL_STATS_FILE", "file"),
                       ("NEWSCRAWL_METRICS_FILE", "file")):
        path = get_optional_path(settings, name)
        if path is not None:
            yield name, path, kind
    log_file = settings.get("LOG_FILE")  # Scrapy's own setting
    if log_file:
        yield "LOG_FILE", Path(log_file), "file"


def crawl_path_problem(settings: SettingsLike, *, lock: bool) -> tuple[str, Path, str, str] | None:
    """The first path a crawl could not write: (setting, path, "file" or "folder", the problem); or None."""
    for name, path, kind in crawl_paths(settings, lock=lock):
        problem = folder_problem(path) if kind == "folder" else file_problem(path, regular=kind == "regular file")
        if problem:
            return name, path, kind, problem
    return None


def _finite_number(value: str) -> bool:
    import math

    try:
        return math.isfinite(float(value))
    except ValueError:
        return False


def scrapy_setting_problem(name: str, value: str) -> str | None:
    """For a Scrapy setting given on the command line, why its value cannot work (by its default's type)."""
    import logging

    from newscrawl.config import KINDS

    if name in ("LOG_LEVEL", "RETRY_GIVE_UP_LOG_LEVEL"):
        if isinstance(logging.getLevelName(value.upper()), int) and value.upper() == value:
            return None
        return f"{name}={value!r} is not valid: expected one of CRITICAL, ERROR, WARNING, INFO, DEBUG"
    # A number is checked as a number only, of either sign: Scrapy reads some settings whose default is a
    # whole number as fractions (DOWNLOAD_DELAY = 0, read with getfloat), and some take negative ones
    # (RETRY_PRIORITY_ADJUST = -1).
    default_type = _scrapy_default_types().get(name)
    if default_type is bool:
        accepted, form = KINDS["bool"].accepts(value), KINDS["bool"].form
    elif default_type in (int, float):
        accepted, form = _finite_number(value), "a number"
    else:
        return None
    if accepted:
        return None
    return f"{name}={value!r} is not valid: expected {form}"


@functools.cache
def _scrapy_default_types() -> dict[str, type]:
    """The type of each Scrapy setting whose default is a plain bool, int or float, by name.

    Read from Scrapy's default_settings.py as data (its syntax tree), not run: running it imports Scrapy
    (its USER_AGENT names Scrapy's version), which costs a second, and ``newscrawl crawl`` checks before it
    takes its lock (a second run must exit 75 at once).
    """
    import ast
    import importlib.util

    package = importlib.util.find_spec("scrapy")
    assert package is not None and package.submodule_search_locations
    path = Path(next(iter(package.submodule_search_locations))) / "settings" / "default_settings.py"
    types: dict[str, type] = {}
    for node in ast.parse(path.read_text("utf-8")).body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name) and type(node.value.value) in (bool, int, float):
                    types[target.id] = type(node.value.value)
    return types


def crawl_refusal(settings: SettingsLike, *, lock: bool, given: Mapping[str, str],
                  options: Mapping[str, str] | None = None) -> str | None:
    """One line saying why a crawl with ``settings`` must not start, or None when it may.

    ``given``: the settings set on the command line (``-s``), whose names are checked too; ``options``: the
    settings that came from an option (``NEWSCRAWL_POSTS_DIR`` from ``--posts-dir``), named as such.
    """
    from newscrawl.config import BadSetting, check_settings, unknown_setting

    options = options or {}
    for name, value in given.items():
        problem = unknown_setting(name) or scrapy_setting_problem(name, value)
        if problem:
            return problem
    try:
        check_settings(settings)
    except BadSetting as error:
        return str(error)
    found = crawl_path_problem(settings, lock=lock)
    if found is None:
        return None
    name, path, kind, problem = found
    shown = str(path) if path.is_absolute() else f"{path} (in {Path.cwd()})"
    kind = "file" if kind == "regular file" else kind
    fix = (f"give {options[name]} a {kind} you can write" if name in options
           else f"set {name} to a {kind} you can write")
    return f"{options.get(name, name)} {shown}: {problem}; {fix}"
