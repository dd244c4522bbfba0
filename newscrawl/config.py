"""Every ``NEWSCRAWL_*`` knob in one place: its default, its meaning and the values it accepts.

Each setting is a Scrapy setting and is also read from the environment variable of the same name;
``-s NAME=value`` wins over the environment, which wins over the default (see docs/settings.md, which a
test keeps in step with this table). ``check_settings`` judges every value once, before a crawl does
anything: ``newscrawl crawl`` and ``scrapy crawl finews`` both refuse a bad one with one line naming the
setting, the value and the accepted form (docs/cli.md, "Checks before a run").
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit


class BadSetting(ValueError):
    """A setting's value is not of the accepted form; the message names the setting, the value and the form."""


@dataclass(frozen=True)
class Kind:
    """What values a setting accepts: ``form`` says it to the user, ``accepts`` judges a value."""

    form: str
    accepts: Callable[[Any], bool]


def _bool(value: Any) -> bool:
    # Exactly what Scrapy's Settings.getbool reads without raising.
    if isinstance(value, bool) or value in ("True", "true", "False", "false"):
        return True
    try:
        return int(value) in (0, 1)
    except (TypeError, ValueError):
        return False


def _number(value: Any, *, whole: bool, low: float, high: float = math.inf) -> bool:
    # What Settings.getint / getfloat read, within bounds; a bool is not a number here.
    if isinstance(value, bool):
        return False
    try:
        number = int(value) if whole else float(value)
    except (TypeError, ValueError, OverflowError):
        return False
    return math.isfinite(number) and low <= number <= high


def _url(value: Any, schemes: tuple[str, ...]) -> bool:
    if not isinstance(value, str) or any(c.isspace() for c in value):
        return False
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return False
    if parts.scheme.lower() not in schemes:
        return False
    return bool(parts.hostname) or parts.scheme.lower() == "unix"


# A DNS name: dot-separated labels of letters, digits and inner hyphens (no scheme, port or path).
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOST_NAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*$")


def _hosts(value: Any) -> bool:
    hosts = value.split(",") if isinstance(value, str) else value
    if not isinstance(hosts, list | tuple):
        return False
    names = [str(h).strip() for h in hosts]
    return all(HOST_NAME.match(name) for name in names if name)


#: The archive's database URLs: SQLite (pysqlite) or PostgreSQL (psycopg 3). Judged here by their form,
#: without importing SQLAlchemy: a crawl checks its settings before it takes its lock, and a second run
#: must find the lock held at once. tests/test_settings.py checks that newscrawl.storage.engine, which asks
#: SQLAlchemy, agrees with both functions below.
DB_SCHEMES = ("sqlite", "sqlite+pysqlite", "postgresql", "postgresql+psycopg")


def _db_url(value: Any) -> bool:
    if not isinstance(value, str) or value != value.strip():  # a path may hold spaces; a pasted URL's ends not
        return False
    scheme, sep, _ = value.partition("://")
    if not sep or scheme.lower() not in DB_SCHEMES:
        return False
    # SQLAlchemy's own URL grammar: a password may hold "#", "?" and "/" (urlsplit would cut the host there).
    parts = _SQLALCHEMY_URL.match(value)
    if parts is None:
        return False
    port = parts.group("port")
    return not port or port.isdigit()


_SQLALCHEMY_URL = re.compile(
    r"[\w+]+://(?:[^:/]*(?::[^@]*)?@)?(?:\[[^/?]+\]|[^/:?]+)?(?::(?P<port>[^/?]*))?(?:[/?].*)?$", re.S)


def sqlite_path(db_url: str) -> str | None:
    """The file a SQLite URL names (as written: relative to the working folder or absolute); None for any
    other database, or SQLite in memory."""
    scheme, sep, rest = db_url.partition("://")
    if not sep or not scheme.lower().startswith("sqlite") or not rest.startswith("/"):
        return None
    database = rest[1:].split("?", 1)[0]
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return database


_DOTTED = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+$")


_EMAIL = re.compile(r"^(?:mailto:)?[^@\s<>()\[\];:,]+@" + _LABEL + r"(?:\." + _LABEL + r")+$")


def _contact(value: Any) -> bool:
    # Sent in every request's User-Agent header: nothing that could end the header or the comment. Empty: unset.
    if not isinstance(value, str) or ")" in value:
        return False
    return value == "" or _url(value, ("http", "https")) or bool(_EMAIL.match(value))


def _import_paths(value: Any) -> bool:
    paths = value.split(",") if isinstance(value, str) else value
    if not isinstance(paths, list | tuple):
        return False
    return all(_DOTTED.match(str(path).strip()) for path in paths if str(path).strip())


KINDS: Mapping[str, Kind] = {
    "text": Kind("any text", lambda value: True),
    "path": Kind("a file or folder path", lambda value: isinstance(value, str) and "\x00" not in value),
    "bool": Kind("true or false (also 1 or 0)", _bool),
    "site_url": Kind("an absolute http:// or https:// URL, such as https://finews.withounder.com/",
                     lambda value: _url(value, ("http", "https"))),
    "db_url": Kind("a database URL: sqlite:///PATH or postgresql+psycopg://USER:PASSWORD@HOST:PORT/DB", _db_url),
    "redis_url": Kind("a Redis URL: redis://HOST:PORT/DB (or rediss://, unix://)",
                      lambda value: _url(value, ("redis", "rediss", "unix"))),
    "hosts": Kind("host names separated by commas, such as finews.zning.xyz,choicewzp1.eastmoney.com", _hosts),
    "seconds": Kind("a number of seconds, 0 or more, such as 30", lambda v: _number(v, whole=False, low=0)),
    # Bounded so that now minus the span is still a date (datetime.now() - timedelta(days=1e6) is before year 1).
    "days": Kind("a number of days from 0 to 700000, such as 3",
                 lambda v: _number(v, whole=False, low=0, high=700_000)),
    "count": Kind("a whole number, 0 or more", lambda v: _number(v, whole=True, low=0)),
    "bytes": Kind("a whole number of bytes, 1 or more, such as 10485760", lambda v: _number(v, whole=True, low=1)),
    "distance": Kind("a whole number from 0 to 64", lambda v: _number(v, whole=True, low=0, high=64)),
    "share": Kind("a share from 0 to 1, such as 0.2", lambda v: _number(v, whole=False, low=0, high=1)),
    "hours": Kind("a number of hours from 0 to 16800000, such as 24",
                  lambda v: _number(v, whole=False, low=0, high=16_800_000)),
    "contact": Kind("an http:// or https:// URL or an e-mail address, such as mailto:archive@example.org", _contact),
    "import_paths": Kind("Python import paths of classes, separated by commas, such as "
                         "spidermon.contrib.actions.slack.notifiers.SendSlackMessageSpiderFinished", _import_paths),
}


@dataclass(frozen=True)
class Setting:
    name: str
    default: str | None
    meaning: str
    #: A key of KINDS: the values the setting accepts.
    kind: str = "text"


SETTINGS: tuple[Setting, ...] = (
    Setting("NEWSCRAWL_SITE_URL", "https://finews.withounder.com/",
            "root of the mirror site; the spider starts there", kind="site_url"),
    Setting("NEWSCRAWL_DB_URL", "sqlite:///data/newscrawl.sqlite3",
            "SQLAlchemy URL of the archive database", kind="db_url"),
    Setting("NEWSCRAWL_POSTS_DIR", None,
            "when set, every new or changed article is also written there as a Jekyll post", kind="path"),
    Setting("NEWSCRAWL_CONTACT", None,
            "how the site's operator reaches whoever runs the crawl, named in the User-Agent of every request",
            kind="contact"),
    Setting("NEWSCRAWL_FOLLOW_SHARE_LINKS", "true",
            "follow each article's share link to its origin's text API", kind="bool"),
    Setting("NEWSCRAWL_ORIGIN_HOSTS", "finews.zning.xyz,choicewzp1.eastmoney.com",
            "the only hosts whose share links are followed; other share links are recorded, not requested",
            kind="hosts"),
    Setting("NEWSCRAWL_INCREMENTAL", "true",
            "do not download again, in full, article pages already archived and unchanged", kind="bool"),
    Setting("NEWSCRAWL_RECHECK_DAYS", "3",
            "archived posts younger than this are re-checked even when the listings that link them are unchanged",
            kind="days"),
    Setting("NEWSCRAWL_RAW_ARCHIVE", "true",
            "keep the raw responses of article pages and origin answers as WARC files", kind="bool"),
    Setting("NEWSCRAWL_WARC_DIR", "data/warc",
            "where the raw responses are written, as gzip-compressed WARC files", kind="path"),
    Setting("NEWSCRAWL_REDIS_URL", None,
            "when set, the crawl frontier and duplicate filter live in Redis (scrapy-redis)", kind="redis_url"),
    Setting("NEWSCRAWL_REDIS_CRAWL_ID", None,
            "with NEWSCRAWL_REDIS_URL: processes given the same id share one crawl; unset, each process crawls alone",
            kind="text"),
    Setting("NEWSCRAWL_REDIS_IDLE_SECONDS", "15",
            "in a shared crawl: how long a process whose shared frontier is empty waits for more work before it ends",
            kind="seconds"),
    Setting("NEWSCRAWL_REDIS_LEASE_SECONDS", "10",
            "in a shared crawl: how long a process that stops renewing its lease keeps the requests it took",
            kind="seconds"),
    Setting("NEWSCRAWL_MAX_PAGE_BYTES", "10485760",
            "largest response accepted, in bytes; larger ones are dropped with a reason", kind="bytes"),
    Setting("NEWSCRAWL_MAX_LINKS_PER_PAGE", "50000",
            "most pages one page may lead to; a page linking more is followed for its first ones only (0: no limit)",
            kind="count"),
    Setting("NEWSCRAWL_DB_RETRY_SECONDS", "60",
            "how long a crawl waits for an unavailable or locked database before it stops, failed", kind="seconds"),
    Setting("NEWSCRAWL_PROGRESS_INTERVAL", "30",
            "seconds between progress lines in the log; 0 turns them off", kind="seconds"),
    Setting("NEWSCRAWL_LOCK_FILE", "data/newscrawl.lock",
            "the lock file `newscrawl crawl` holds so runs never overlap", kind="path"),
    Setting("NEWSCRAWL_STATS_FILE", None,
            "when set, each run's final Scrapy stats are written there as JSON (monitoring)", kind="path"),
    Setting("NEWSCRAWL_METRICS_FILE", None,
            "when set, each run writes Prometheus text metrics there (atomically), for node exporter's textfile "
            "collector", kind="path"),
    Setting("NEWSCRAWL_MONITOR_ACTIONS", None,
            "comma-separated import paths of Spidermon actions to run when a run is degraded (e.g. Spidermon's Slack "
            "or e-mail notifiers, configured by their SPIDERMON_* settings)", kind="import_paths"),
    Setting("NEWSCRAWL_MONITOR_RISE", "0.2",
            "a run is degraded when a field's fallback-or-missing share, or the origin's failure share, is more than "
            "this (0-1) above its usual level", kind="share"),
    Setting("NEWSCRAWL_MONITOR_FIELD_SHARE", "0.2",
            "before there is a history: the largest fallback-or-missing share (0-1) of a field every page carries "
            "(title, published_at, body, tags, publisher)", kind="share"),
    Setting("NEWSCRAWL_MONITOR_ORIGIN_SHARE", "0.2",
            "before there is a history: the largest share (0-1) of origin requests that may give no usable text",
            kind="share"),
    Setting("NEWSCRAWL_MONITOR_DROP_SHARE", "0.1",
            "a run is degraded when validation drops more than this share (0-1) of the article pages it parsed",
            kind="share"),
    Setting("NEWSCRAWL_MONITOR_STALE_HOURS", "24",
            "a run is degraded when the site answered but no run found a new article for longer than this; 0 turns it "
            "off", kind="hours"),
    Setting("NEWSCRAWL_MONITOR_HISTORY", "5",
            "how many of the latest ok runs (that parsed enough articles) make a field's usual level (their median)",
            kind="count"),
    Setting("NEWSCRAWL_MONITOR_MIN_RUNS", "3",
            "fewer such runs than this: no usual level yet, the fixed first-run limits apply", kind="count"),
    Setting("NEWSCRAWL_MONITOR_MIN_ARTICLES", "10",
            "a run that parsed fewer article pages (or asked the origin fewer times) is not judged on shares",
            kind="count"),
    Setting("NEWSCRAWL_NEAR_DUPLICATE_DISTANCE", "3",
            "largest simhash distance (of 64 bits) at which two posts count as one story", kind="distance"),
)

DEFAULTS: Mapping[str, str | None] = {s.name: s.default for s in SETTINGS}


BY_NAME: Mapping[str, Setting] = {s.name: s for s in SETTINGS}


def from_environment(environ: Mapping[str, str] | None = None) -> dict[str, str | None]:
    """The NEWSCRAWL_* values as the environment sets them, falling back to the defaults."""
    env = os.environ if environ is None else environ
    return {name: env.get(name, default) for name, default in DEFAULTS.items()}


class SettingsLike(Protocol):
    def get(self, name: str, default: Any = None, /) -> Any: ...


def check_setting(name: str, value: Any) -> None:
    """Raise BadSetting when ``value`` is not of the form setting ``name`` accepts (None: unset, accepted)."""
    setting = BY_NAME.get(name)
    if setting is None or value is None:
        return
    kind = KINDS[setting.kind]
    if not kind.accepts(value):
        raise BadSetting(f"{name}={_shown(value)} is not valid: expected {kind.form}")


def check_settings(settings: SettingsLike) -> None:
    """Judge every NEWSCRAWL_* value of ``settings`` (Scrapy settings or a mapping); the first bad one raises."""
    for setting in SETTINGS:
        check_setting(setting.name, settings.get(setting.name))


def unknown_setting(name: str) -> str | None:
    """For a NEWSCRAWL_* name that is no setting, the message saying so (with the likely one); else None."""
    if not name.startswith("NEWSCRAWL_") or name in BY_NAME:
        return None
    import difflib

    close = difflib.get_close_matches(name, list(BY_NAME), n=1)
    hint = f" (did you mean {close[0]}?)" if close else " (docs/settings.md lists them)"
    return f"{name} is not a newscrawl setting{hint}"


# -- typed accessors: how every component reads a NEWSCRAWL_* setting, the table's default when it is unset --

_FLOATS = frozenset({"seconds", "days", "share", "hours"})
_INTS = frozenset({"count", "bytes", "distance"})
_LISTS = frozenset({"hosts", "import_paths"})


def _raw(settings: SettingsLike, name: str, kinds: frozenset[str]) -> Any:
    setting = BY_NAME[name]  # a name that is no setting is a bug: KeyError
    if setting.kind not in kinds:
        raise TypeError(f"{name} is a {setting.kind} setting")
    value = settings.get(name)
    return setting.default if value is None or value == "" else value


def get_bool(settings: SettingsLike, name: str) -> bool:
    """A true-or-false setting, read as Scrapy's ``Settings.getbool`` reads it."""
    value = _raw(settings, name, frozenset({"bool"}))
    if value in ("True", "true"):
        return True
    if value in ("False", "false"):
        return False
    return bool(int(value))


def get_float(settings: SettingsLike, name: str) -> float:
    """A setting of seconds, days, hours or a share."""
    return float(_raw(settings, name, _FLOATS))


def get_int(settings: SettingsLike, name: str) -> int:
    """A setting that is a whole number (a count, bytes, a distance)."""
    return int(_raw(settings, name, _INTS))


def get_list(settings: SettingsLike, name: str) -> list[str]:
    """A comma-separated setting (host names, import paths), without empty entries."""
    value = _raw(settings, name, _LISTS)
    items = value.split(",") if isinstance(value, str) else value or ()
    return [str(item).strip() for item in items if str(item).strip()]


def get_url(settings: SettingsLike, name: str) -> str:
    """The site's or the archive's URL (both have a default)."""
    return str(_raw(settings, name, frozenset({"site_url", "db_url"})))


def get_str(settings: SettingsLike, name: str) -> str | None:
    """A text, Redis URL or contact setting, None when unset (none has a default)."""
    value = _raw(settings, name, frozenset({"text", "redis_url", "contact"}))
    return None if value is None else str(value)


def get_path(settings: SettingsLike, name: str) -> Path:
    """A file or folder setting that has a default (NEWSCRAWL_WARC_DIR, NEWSCRAWL_LOCK_FILE)."""
    return Path(_raw(settings, name, frozenset({"path"})))


def get_optional_path(settings: SettingsLike, name: str) -> Path | None:
    """A file or folder setting that is off when unset (NEWSCRAWL_POSTS_DIR, NEWSCRAWL_STATS_FILE, ...)."""
    value = _raw(settings, name, frozenset({"path"}))
    return None if value is None else Path(value)


def _shown(value: Any) -> str:
    # A database or Redis URL may carry a password: never in a message.
    from newscrawl.logredact import redact

    return redact(repr(value))


#: The site's time zone (its _config.yml: Asia/Shanghai, China Standard Time, without daylight saving time
#: since 1991): every published_at is expressed in it, and a post file's date says +0800. The one definition.
SITE_TZ = timezone(timedelta(hours=8), "UTC+08:00")
