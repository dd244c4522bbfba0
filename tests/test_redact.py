"""The redactor (newscrawl.logredact): every spelling of a password is gone, the rest of the text is kept.

The oracles are the parsers that read these strings for real: SQLAlchemy's URL parser (the archive's),
redis-py's (the frontier's) and libpq's key/value parser (through psycopg). Each test builds a string the
way a user or a driver would, checks that the real parser finds the password in it, redacts it, and checks
that the same parser then finds ``***`` as the password and the same host, port and database as before.
The whole chain (a crawl and every command with a real PostgreSQL role) is
tests/test_faults_hostile.py::test_database_password_is_in_no_output_or_table.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from redis.connection import parse_url
from sqlalchemy.engine import URL, make_url

from newscrawl import logredact
from newscrawl.logredact import redact, redact_settings, remember

# Passwords of any printable characters but white space and quotes (which a URL given on a command line
# or in an environment variable does not hold unescaped), with every character the URL syntax cares about.
URL_SYNTAX = "#?@%/:&=;+[]!$'()*,~"
PASSWORD = st.text(
    alphabet=st.one_of(st.sampled_from(URL_SYNTAX.replace("'", "")),
                       st.characters(codec="utf-8", categories=("L", "N", "P", "S"),
                                     exclude_characters="'\"<>`\\")),
    min_size=8, max_size=30)
CONTEXT = st.sampled_from([("", ""), ("cannot open the archive ", ": connection refused"),
                           ("{'NEWSCRAWL_DB_URL': '", "'}"), ("url=", " and more"), ("(", ")")])


def assume_nowhere_else(password: str, rest: str) -> None:
    """Only generated passwords that are not part of the text around them (``rest``) can be looked for."""
    assume(password not in rest and quote(password, safe="") not in rest)


def gone(password: str, redacted: str) -> bool:
    """Neither the password nor its percent-encoded spelling is anywhere in ``redacted``."""
    return password not in redacted and quote(password, safe="") not in redacted


@pytest.mark.parametrize(("text", "expected"), [
    ("postgresql+psycopg://crawler:s3cret@db:5432/news", "postgresql+psycopg://crawler:***@db:5432/news"),
    # The forms urlsplit got wrong: it ends the host part at "#" or "?", so it saw no password at all.
    ("postgresql+psycopg://crawler:pa#ss@db/news", "postgresql+psycopg://crawler:***@db/news"),
    ("postgresql+psycopg://crawler:pa?ss@db/news?sslmode=require",
     "postgresql+psycopg://crawler:***@db/news?sslmode=require"),
    ("postgresql://crawler:p%23%3F%40%25w@db:5432/news", "postgresql://crawler:***@db:5432/news"),
    ("postgresql://crawler:a/b:c@db/news", "postgresql://crawler:***@db/news"),
    ("redis://:p@ss@cache:6379/4", "redis://:***@cache:6379/4"),  # redis-py takes the last "@"
    ("redis://default:s3cret@[::1]:6379/0", "redis://default:***@[::1]:6379/0"),
    ("postgresql+psycopg://crawler@db/news?password=s3cret&sslmode=require",
     "postgresql+psycopg://crawler@db/news?password=***&sslmode=require"),
    ("postgresql+psycopg://crawler@db/news?sslmode=require&sslpassword=k3y",
     "postgresql+psycopg://crawler@db/news?sslmode=require&sslpassword=***"),
    ("host=db port=5432 dbname=news user=crawler password=s3cret sslmode=require",
     "host=db port=5432 dbname=news user=crawler password=*** sslmode=require"),
    ("host=db password = 'with \\' quote and space' dbname=news", "host=db password = *** dbname=news"),
    ("{'REDIS_PARAMS': {'password': 's3cret', 'db': 4}}", "{'REDIS_PARAMS': {'password': '***', 'db': 4}}"),
    ('{"password": "s3\\"cret"}', '{"password": "***"}'),
    # No password: kept as it is.
    ("sqlite:///data/newscrawl.sqlite3", "sqlite:///data/newscrawl.sqlite3"),
    ("postgresql+psycopg://crawler@db:5432/news", "postgresql+psycopg://crawler@db:5432/news"),
    ("GET http://finews.withounder.com/emnews/2021/12/08/1.html",) * 2,
    ("redirect from http://site/a.html to mailto:user@example.com",) * 2,
])
def test_each_form_loses_its_password(text: str, expected: str) -> None:
    assert redact(text) == expected


@settings(max_examples=300, deadline=None)
@given(password=PASSWORD, context=CONTEXT, port=st.sampled_from([None, 5432, 6543]),
       query=st.sampled_from([{}, {"sslmode": "require"}, {"application_name": "newscrawl", "connect_timeout": "5"}]))
def test_sqlalchemy_urls_lose_the_password_and_keep_the_rest(
        password: str, context: tuple[str, str], port: int | None, query: dict[str, str]) -> None:
    url = URL.create("postgresql+psycopg", "crawler", password, "db.internal", port, "news", query)
    text = url.render_as_string(hide_password=False)  # percent-encodes what the URL syntax needs
    assume_nowhere_else(password, context[0] + url.set(password="x").render_as_string(hide_password=False) + context[1])
    redacted = redact(f"{context[0]}{text}{context[1]}")
    assert gone(password, redacted)
    assert redacted.startswith(context[0]) and redacted.endswith(context[1])
    read_back = make_url(redacted[len(context[0]):len(redacted) - len(context[1])])
    assert (read_back.password, read_back.host, read_back.port, read_back.database, dict(read_back.query)) == (
        "***", "db.internal", port, "news", query)


@settings(max_examples=300, deadline=None)
@given(password=PASSWORD.filter(lambda p: "@" not in p and "%" not in p))
def test_raw_passwords_in_urls_are_redacted_as_sqlalchemy_reads_them(password: str) -> None:
    # Written by hand, unescaped: SQLAlchemy reads up to the first "@" ("#", "?", "/" included).
    text = f"postgresql+psycopg://crawler:{password}@db.internal:5432/news"
    assume_nowhere_else(password, "postgresql+psycopg://crawler:x@db.internal:5432/news")
    assert make_url(text).password == password
    redacted = redact(text)
    assert gone(password, redacted)
    read_back = make_url(redacted)
    assert (read_back.password, read_back.host, read_back.port, read_back.database) == (
        "***", "db.internal", 5432, "news")


@settings(max_examples=200, deadline=None)
@given(password=PASSWORD)
def test_redis_urls_lose_the_password_and_keep_the_rest(password: str) -> None:
    text = f"redis://default:{quote(password, safe='')}@cache.internal:6379/4"
    assume_nowhere_else(password, "Error connecting to redis://default:x@cache.internal:6379/4.")
    assert parse_url(text)["password"] == password
    redacted = redact(f"Error connecting to {text}.")
    assert gone(password, redacted)
    read_back = parse_url(redacted.removeprefix("Error connecting to ").removesuffix("."))
    assert (read_back["password"], read_back["host"], read_back["port"], read_back["db"]) == (
        "***", "cache.internal", 6379, 4)


@settings(max_examples=200, deadline=None)
@given(password=PASSWORD | st.text(alphabet=" '\\" + URL_SYNTAX, min_size=8, max_size=20))
def test_libpq_strings_lose_the_password_and_keep_the_rest(password: str) -> None:
    conninfo = make_conninfo(host="db.internal", port=5432, dbname="news", user="crawler", password=password)
    assume(password not in "host=db.internal port=5432 dbname=news user=crawler password=")
    assert conninfo_to_dict(conninfo)["password"] == password
    redacted = redact(conninfo)
    assert password not in redacted
    assert conninfo_to_dict(redacted) == {"host": "db.internal", "port": "5432", "dbname": "news",
                                          "user": "crawler", "password": "***"}


@settings(max_examples=200, deadline=None)
@given(password=PASSWORD)
def test_query_passwords_are_redacted(password: str) -> None:
    url = URL.create("postgresql+psycopg", "crawler", None, "db.internal", None, "news",
                     {"password": password, "sslmode": "require"})
    text = url.render_as_string(hide_password=False)
    assume_nowhere_else(password, url.update_query_dict({"password": "x"}).render_as_string(hide_password=False))
    assert make_url(text).query["password"] == password
    redacted = redact(text)
    assert gone(password, redacted)
    assert dict(make_url(redacted).query) == {"password": "***", "sslmode": "require"}


def test_a_remembered_password_is_redacted_wherever_it_is_quoted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logredact, "_remembered", [])
    password = "Tr0ub4dor#?@%x"
    message = f"invalid literal for int() with base 10: '{password}' (also {quote(password, safe='')})"
    assert redact(message) == message  # no URL around it: no pattern can tell it is a password
    remember(URL.create("postgresql+psycopg", "crawler", password, "db", None, "news")
             .render_as_string(hide_password=False))
    assert redact(message) == "invalid literal for int() with base 10: '***' (also ***)"
    # A password that is the user name is no secret from whoever reads the user name: not remembered
    # (it would blank the user name, and every word like it, in every line).
    remember("postgresql+psycopg://newscrawl:newscrawl@db/news")
    assert redact("newscrawl.spiders") == "newscrawl.spiders"


def test_settings_lose_passwords_and_secret_named_values() -> None:
    recorded = redact_settings({
        "NEWSCRAWL_DB_URL": "postgresql+psycopg://crawler:pa#ss@db/news",
        "NEWSCRAWL_REDIS_URL": "redis://:s3cret@cache:6379/0",
        "REDIS_PARAMS": {"password": "s3cret", "db": 4},
        "API_TOKEN": "abc", "CONCURRENT_REQUESTS": 16, "AUTOTHROTTLE_ENABLED": True, "EMPTY_PASSWORD": None,
        "spider_args": {"only_url": None},
    })
    assert recorded == {
        "NEWSCRAWL_DB_URL": "postgresql+psycopg://crawler:***@db/news",
        "NEWSCRAWL_REDIS_URL": "redis://:***@cache:6379/0",
        "REDIS_PARAMS": {"password": "***", "db": 4},
        "API_TOKEN": "***", "CONCURRENT_REQUESTS": 16, "AUTOTHROTTLE_ENABLED": True, "EMPTY_PASSWORD": None,
        "spider_args": {"only_url": None},
    }
