"""Keep passwords out of every log line newscrawl writes (docs/reliability.md, "Hostile input").

A database or proxy URL carries its password (``postgresql+psycopg://user:password@host/db``), and any
log line may end up quoting one: Scrapy's settings dump, an exception message, a traceback. ``install``
replaces the logging module's record class with one whose message, exception text and stack text have
every ``scheme://user:password@`` (and libpq's ``password=…``) password replaced by ``***``, the same
form as ``newscrawl.urls.redact_url``, and wraps ``sys.excepthook`` likewise for a crash's traceback.
Installed by ``newscrawl.settings``, which Scrapy imports before it configures logging or logs anything.
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
from types import TracebackType

# scheme://user:password@ — the password may hold anything but white space, quotes and "/" (an unescaped
# "@" in a password is taken up to the last "@", as SQLAlchemy's URL parser does).
PASSWORD_IN_URL = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@'\"]*:)[^\s/'\"]*@")
# libpq's key=value connection strings, which drivers may quote in their errors.
PASSWORD_KEYWORD = re.compile(r"(?P<head>\bpassword\s*=\s*)(?:'[^']*'|\S+)", re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` with the password of every URL (and ``password=`` value) replaced by ``***``."""
    if "://" not in text and "password" not in text.lower():
        return text  # the common case, kept cheap: most log lines hold neither
    text = PASSWORD_IN_URL.sub(r"\g<head>***@", text)
    return PASSWORD_KEYWORD.sub(r"\g<head>***", text)


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
    """Make every log record (and an uncaught exception's traceback) redact passwords; idempotent."""
    if logging.getLogRecordFactory() is not RedactingLogRecord:
        logging.setLogRecordFactory(RedactingLogRecord)
    if sys.excepthook is not _redacting_excepthook:
        sys.excepthook = _redacting_excepthook


def _redacting_excepthook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
    sys.stderr.write(redact("".join(traceback.format_exception(kind, value, tb))))
