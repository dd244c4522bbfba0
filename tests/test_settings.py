"""Settings precedence: `-s` on the command line > environment variable > documented default."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROBE = (
    "import json; from scrapy.utils.project import get_project_settings; s = get_project_settings(); "
    "import sys; s.setdict(dict(a.split('=', 1) for a in sys.argv[1:]), priority='cmdline'); "
    "print(json.dumps({k: s.get(k) for k in ('NEWSCRAWL_SITE_URL', 'NEWSCRAWL_DB_URL', 'NEWSCRAWL_POSTS_DIR')}))"
)


def settings_seen(env: dict[str, str], *overrides: str) -> dict[str, str | None]:
    child = {k: v for k, v in os.environ.items() if not k.startswith("NEWSCRAWL_")}
    child.update(env)
    done = subprocess.run([sys.executable, "-c", PROBE, *overrides], env=child, cwd=ROOT, capture_output=True,
                          text=True, check=True)
    result: dict[str, str | None] = json.loads(done.stdout)
    return result


def test_defaults_apply_without_environment() -> None:
    assert settings_seen({}) == {"NEWSCRAWL_SITE_URL": "https://finews.withounder.com/",
                                 "NEWSCRAWL_DB_URL": "sqlite:///data/newscrawl.sqlite3", "NEWSCRAWL_POSTS_DIR": None}


def test_environment_overrides_default_and_command_line_overrides_environment() -> None:
    env = {"NEWSCRAWL_SITE_URL": "http://127.0.0.1:9/", "NEWSCRAWL_POSTS_DIR": "/tmp/posts"}
    assert settings_seen(env) == {"NEWSCRAWL_SITE_URL": "http://127.0.0.1:9/",
                                  "NEWSCRAWL_DB_URL": "sqlite:///data/newscrawl.sqlite3",
                                  "NEWSCRAWL_POSTS_DIR": "/tmp/posts"}
    assert settings_seen(env, "NEWSCRAWL_SITE_URL=http://example.invalid/")["NEWSCRAWL_SITE_URL"] == \
        "http://example.invalid/"


def test_the_remote_control_is_neither_enabled_nor_imported(tmp_path: Path) -> None:
    # Scrapy 2.19's remote control (code execution over a local HTTP port) has no place in an unattended
    # archiver; left out of the extension list, its module (and aiohttp) is not even imported.
    probe = (
        "import sys; from scrapy.utils.project import get_project_settings; "
        "from scrapy.utils.test import get_crawler; from newscrawl.spiders.finews import FinewsSpider; "
        "from scrapy.utils.reactor import install_reactor; settings = get_project_settings(); "
        "install_reactor(settings['TWISTED_REACTOR']); crawler = get_crawler(FinewsSpider, settings.copy_to_dict()); "
        "names = [type(e).__name__ for e in crawler.extensions.middlewares]; "
        "print(''.join(names), 'scrapy.extensions.remote_control' in sys.modules, 'aiohttp' in sys.modules)"
    )
    child = {k: v for k, v in os.environ.items() if not k.startswith("NEWSCRAWL_")}
    child["NEWSCRAWL_DB_URL"] = f"sqlite:///{tmp_path / 'archive.sqlite3'}"  # the crawl state opens it
    done = subprocess.run([sys.executable, "-c", probe], env=child, cwd=ROOT, capture_output=True, text=True,
                          check=True)
    names, remote_imported, aiohttp_imported = done.stdout.rsplit(" ", 2)
    assert "CrawlStateRunRecordExtension" in names and "ConditionalAutoThrottle" in names
    assert "RemoteControl" not in names
    assert (remote_imported, aiohttp_imported.strip()) == ("False", "False")


def test_every_default_passes_its_own_check() -> None:
    from newscrawl.config import SETTINGS, check_setting

    for setting in SETTINGS:
        check_setting(setting.name, setting.default)


SAMPLES = ["0", "1", "2", "-1", "30", "0.5", "1e3", "abc", "", " 7 ", "true", "True", "TRUE", "false", "yes",
           "nan", "inf", "64", "65", True, False, 3, 2.5, None]


def test_what_a_check_accepts_scrapy_reads_without_error() -> None:
    # The oracle is Scrapy's own typed getters: a value the check lets through must never fail there.
    from scrapy.settings import Settings

    from newscrawl.config import KINDS

    getters = {"bool": "getbool", "seconds": "getfloat", "days": "getfloat", "count": "getint", "bytes": "getint",
               "distance": "getint"}
    for kind, getter in getters.items():
        accepted = [value for value in SAMPLES if value is not None and KINDS[kind].accepts(value)]
        assert accepted, kind
        for value in accepted:
            getattr(Settings({"X": value}), getter)("X")
    assert not KINDS["bool"].accepts("maybe") and not KINDS["seconds"].accepts("abc")
    assert not KINDS["seconds"].accepts("nan") and not KINDS["count"].accepts("-1")


def test_an_accepted_span_of_days_or_hours_reaches_back_to_a_date_that_exists() -> None:
    # The oracle is datetime itself: the crawl subtracts these spans from now (a recheck horizon).
    from datetime import UTC, datetime, timedelta

    from newscrawl.config import KINDS

    for kind, unit in (("days", "days"), ("hours", "hours")):
        for value in [*SAMPLES, "100000", "700000", "16800000", "1000000", "1e9", "1e300"]:
            if value is not None and KINDS[kind].accepts(value):
                datetime.now(UTC) - timedelta(**{unit: float(value)})
    assert KINDS["days"].accepts("100000") and not KINDS["days"].accepts("1000000")


def test_a_bad_value_is_named_with_its_setting_and_form_and_no_password() -> None:
    import pytest

    from newscrawl.config import BadSetting, check_settings

    with pytest.raises(BadSetting) as refused:
        check_settings({"NEWSCRAWL_DB_URL": "mysql://crawler:hunter2@db/news"})
    assert str(refused.value) == ("NEWSCRAWL_DB_URL='mysql://crawler:***@db/news' is not valid: expected a database "
                                  "URL: sqlite:///PATH or postgresql+psycopg://USER:PASSWORD@HOST:PORT/DB")


DB_URLS = ["sqlite:///data/newscrawl.sqlite3", "sqlite:////abs/x.sqlite3", "sqlite+pysqlite:///x.db", "sqlite://",
           "sqlite:///:memory:", "sqlite:///x.db?timeout=5", "postgresql+psycopg://u:p@h:5432/db", "postgresql://h/db",
           "postgresql+psycopg2://h/db", "mysql://u:p@h/db", "sqlite+aiosqlite:///x.db", "data/newscrawl.sqlite3",
           "postgresql://h:port/db", "", "sqlite:///a b.db", "sqlite:///data/x.sqlite3?mode=ro"]


def test_the_database_url_check_agrees_with_sqlalchemy() -> None:
    # config judges URLs by their form, without importing SQLAlchemy (the crawl's lock must come at once);
    # SQLAlchemy, which opens them, is the oracle.
    from sqlalchemy.engine import make_url

    from newscrawl.config import KINDS, sqlite_path
    from newscrawl.storage.engine import database_file

    for url in DB_URLS:
        try:
            parsed = make_url(url)
            parsed.port  # noqa: B018
            usable = (parsed.get_backend_name(), parsed.get_driver_name()) in {("sqlite", "pysqlite"),
                                                                              ("postgresql", "psycopg")}
        except Exception:
            usable = False
        assert KINDS["db_url"].accepts(url) == usable, url
        if usable:
            file = database_file(url)
            assert sqlite_path(url) == (str(file) if file is not None else None), url


def test_scrapy_defaults_read_as_data_match_the_module() -> None:
    # preflight reads Scrapy's default_settings.py without running it (running it imports Scrapy, and the
    # crawl's lock must come at once); the module itself, run, is the oracle.
    import scrapy.settings.default_settings as defaults

    from newscrawl.preflight import _scrapy_default_types

    types = _scrapy_default_types()
    assert {"CONCURRENT_REQUESTS", "ROBOTSTXT_OBEY", "DOWNLOAD_TIMEOUT", "RETRY_TIMES"} <= set(types)
    assert {name: kind for name, kind in types.items()} == {name: type(getattr(defaults, name)) for name in types}


def test_typed_accessors_read_values_and_the_documented_defaults() -> None:
    from newscrawl.config import (
        get_bool,
        get_float,
        get_int,
        get_list,
        get_optional_path,
        get_path,
        get_str,
        get_url,
    )

    unset: dict[str, str] = {}
    assert get_bool(unset, "NEWSCRAWL_INCREMENTAL") is True
    assert get_float(unset, "NEWSCRAWL_DB_RETRY_SECONDS") == 60.0
    assert get_int(unset, "NEWSCRAWL_NEAR_DUPLICATE_DISTANCE") == 3
    assert get_list(unset, "NEWSCRAWL_ORIGIN_HOSTS") == ["finews.zning.xyz", "choicewzp1.eastmoney.com"]
    assert get_url(unset, "NEWSCRAWL_DB_URL") == "sqlite:///data/newscrawl.sqlite3"
    assert get_path({"NEWSCRAWL_WARC_DIR": ""}, "NEWSCRAWL_WARC_DIR") == Path("data/warc")
    assert (get_optional_path(unset, "NEWSCRAWL_POSTS_DIR"), get_str(unset, "NEWSCRAWL_CONTACT")) == (None, None)
    given = {"NEWSCRAWL_INCREMENTAL": "false", "NEWSCRAWL_RAW_ARCHIVE": 0, "NEWSCRAWL_RECHECK_DAYS": "1.5",
             "NEWSCRAWL_MONITOR_ACTIONS": "a.B, ,c.D", "NEWSCRAWL_POSTS_DIR": "out"}
    assert (get_bool(given, "NEWSCRAWL_INCREMENTAL"), get_bool(given, "NEWSCRAWL_RAW_ARCHIVE")) == (False, False)
    assert get_float(given, "NEWSCRAWL_RECHECK_DAYS") == 1.5
    assert get_list(given, "NEWSCRAWL_MONITOR_ACTIONS") == ["a.B", "c.D"]
    assert get_optional_path(given, "NEWSCRAWL_POSTS_DIR") == Path("out")
    # A setting read as what it is not, or a name that is no setting, is a bug caught at once.
    with pytest.raises(TypeError):
        get_int(unset, "NEWSCRAWL_INCREMENTAL")
    with pytest.raises(KeyError):
        get_bool(unset, "NEWSCRAWL_INCREMENTALL")
