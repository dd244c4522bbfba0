"""The one redactor: no password newscrawl is given reaches a log line, an output or the archive.

A database or Redis URL carries its password, and any text newscrawl writes may end up quoting it: Scrapy's
settings dump, an exception message, a traceback, a run record, ``newscrawl db upgrade``'s answer. Every
such path goes through ``redact``, which replaces the password with ``***`` in each form it may take:

* a URL's user info, ``scheme://user:PASSWORD@host``, whatever the password holds (``#``, ``?``, ``/``,
  ``:``, percent-escapes, even a raw ``@``): it ends at the last ``@`` before the host, and the host,
  port, database and query are kept;
* a URL query or libpq key/value string, ``?password=…``, ``&sslpassword=…``, ``host=h password='a b'``;
* a Python or JSON mapping, ``{'password': '…'}``;
* and, once ``remember`` has been told a URL (the archive's engine and the Redis add-on tell it theirs,
  ``install`` the environment's), that URL's password anywhere in any text, decoded or percent-encoded.

``redact_settings`` applies it to a settings mapping (and blanks settings named like a secret) for the run
records. ``install`` makes every log record and an uncaught exception's traceback redacted; it is called
by ``newscrawl.settings``, which Scrapy imports before it configures logging, and by the ``newscrawl``
command. docs/operations.md ("Secrets") describes what is covered.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import traceback
from collections.abc import Mapping
from types import TracebackType
from typing import Any
from urllib.parse import quote, quote_plus, unquote

MASK = "***"
# Characters that end a URL in running text: white space, quotes and angle brackets.
_END = r"\s'\"<>"
# scheme://user:PASSWORD@ — the password runs to its first "@", then on through every further "@" met
# before the host part ends ("/", "?", "#"): SQLAlchemy takes the first "@", urllib (redis-py) the last
# one of the host part, and both readings are covered. The user name may hold anything but ":" and "/".
PASSWORD_IN_URL = re.compile(
    rf"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^{_END}:/]*:)[^{_END}@]*@(?:[^{_END}@/?#]*@)*")
_SECRET_KEY = r"[\w.\-]*(?:password|passwd|pwd)"
# ?password=… and &password=… in a URL query: the value ends at the next "&".
PASSWORD_IN_QUERY = re.compile(rf"(?P<head>(?<=[?&;]){_SECRET_KEY}=)[^&{_END}]*", re.IGNORECASE)
# libpq's key=value connection strings (host=h password=secret, password = 'quoted \' value'); quoted or
# not, a backslash escapes the next character.
PASSWORD_KEYWORD = re.compile(
    rf"(?P<head>(?<![?&;\w.\-]){_SECRET_KEY}\s*=\s*)(?:'(?:[^'\\]|\\.)*'|(?:[^\s\\]|\\.)+)", re.IGNORECASE)
# {'password': '…'} and {"password": "…"}: a mapping printed as Python or JSON.
PASSWORD_IN_MAPPING = re.compile(
    rf"(?P<head>(?P<q>['\"]){_SECRET_KEY}(?P=q)\s*:\s*)(?P<v>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")",
    re.IGNORECASE)
# Settings whose names say they hold a secret are blanked whatever their value.
SECRET_SETTING_WORDS = ("PASSWORD", "SECRET", "TOKEN")
# The environment variables whose URLs ``install`` remembers.
URL_VARIABLES = ("NEWSCRAWL_DB_URL", "NEWSCRAWL_REDIS_URL")
# A remembered password shorter than this is only redacted where it stands in a URL or key/value: as a
# bare word it would blank ordinary text.
MIN_REMEMBERED = 6
# SQLAlchemy's reading of a URL's user info (sqlalchemy.engine.url._parse_url): user, then ":password",
# up to the first "@".
_SQLALCHEMY_USERINFO = re.compile(r"[\w+]+://(?P<user>[^:/]*)(?::(?P<password>[^@]*))?@")

_KEY_HINT = re.compile("pass|pwd", re.IGNORECASE)
# Remembered spellings of passwords, longest first (so that none is left half-redacted by a shorter one).
_remembered: list[str] = []


def redact(text: str) -> str:
    """``text`` with every password in it replaced by ``***`` (see the module docstring for the forms)."""
    for secret in _remembered:
        if secret in text:
            text = text.replace(secret, MASK)
    # Each pattern only where it can match: most log lines hold no "@" and no password keyword, and a
    # DEBUG line may quote a whole page.
    if "@" in text and "://" in text:
        text = PASSWORD_IN_URL.sub(rf"\g<head>{MASK}@", text)
    if _KEY_HINT.search(text):
        text = PASSWORD_IN_QUERY.sub(rf"\g<head>{MASK}", text)
        text = PASSWORD_IN_MAPPING.sub(lambda m: f"{m['head']}{m['v'][0]}{MASK}{m['v'][0]}", text)
        text = PASSWORD_KEYWORD.sub(rf"\g<head>{MASK}", text)
    return text


def redact_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Settings as JSON-ready values with passwords removed: strings ``redact``ed, and the value of any
    setting (or mapping key) named like a secret (``…PASSWORD…``, ``…SECRET…``, ``…TOKEN…``) blanked."""

    def clean(key: str, value: Any) -> Any:
        if value is not None and any(word in key.upper() for word in SECRET_SETTING_WORDS):
            return MASK
        if isinstance(value, str):
            return redact(value)
        if isinstance(value, Mapping):
            return {str(k): clean(str(k), v) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [clean(key, v) for v in value]
        if value is None or isinstance(value, bool | int | float):
            return value
        return redact(str(value))

    return {str(key): clean(str(key), value) for key, value in settings.items()}


def remember(url: str | None) -> None:
    """Redact the password of ``url`` from now on wherever it appears, in any of its spellings.

    A URL's password is redacted by ``redact`` where it stands in the URL; remembered, it is also
    redacted where a message quotes it without its URL (decoded, percent-encoded, or cut out of a URL
    that did not parse).
    """
    if not url:
        return
    found: set[str] = set()
    userinfo = _SQLALCHEMY_USERINFO.match(url)
    if userinfo and userinfo["password"] and userinfo["password"] != userinfo["user"]:
        found.add(userinfo["password"])
    # urllib's reading (redis-py): the user info ends at the last "@" before "/", "?" or "#".
    _, sep, rest = url.partition("://")
    netloc = re.split(r"[/?#]", rest, maxsplit=1)[0] if sep else ""
    info, at, _ = netloc.rpartition("@")
    user, colon, password = info.partition(":")
    if at and colon and password and password != user:
        found.add(password)
    found.update(m.group(0)[len(m["head"]):] for m in PASSWORD_IN_QUERY.finditer(url))
    spellings: set[str] = set()
    for secret in found:
        for plain in (secret, unquote(secret)):
            spellings.update((plain, quote(plain, safe=""), quote_plus(plain, safe=""), quote(plain, safe=" +")))
    new = {s for s in spellings if len(s) >= MIN_REMEMBERED} - set(_remembered)
    if new:
        _remembered[:] = sorted([*_remembered, *new], key=len, reverse=True)


class RedactingLogRecord(logging.LogRecord):
    """A log record whose formatted message, exception text and stack text never hold a password."""

    _exc_text: str | None = None
    _stack_info: str | None = None

    def getMessage(self) -> str:
        return redact(super().getMessage())

    # logging.Formatter caches a formatted traceback in exc_text: redacting on assignment covers it.
    @property
    def exc_text(self) -> str | None:
        return self._exc_text

    @exc_text.setter
    def exc_text(self, value: str | None) -> None:
        self._exc_text = redact(value) if value else value

    @property
    def stack_info(self) -> str | None:
        return self._stack_info

    @stack_info.setter
    def stack_info(self, value: str | None) -> None:
        self._stack_info = redact(value) if value else value


def install() -> None:
    """Make every log record (and an uncaught exception's traceback) redact passwords, and remember the
    URLs of the environment (``URL_VARIABLES``); idempotent."""
    for name in URL_VARIABLES:
        remember(os.environ.get(name))
    if logging.getLogRecordFactory() is not RedactingLogRecord:
        logging.setLogRecordFactory(RedactingLogRecord)
    if sys.excepthook is not _redacting_excepthook:
        sys.excepthook = _redacting_excepthook


def _redacting_excepthook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
    sys.stderr.write(redact("".join(traceback.format_exception(kind, value, tb))))
