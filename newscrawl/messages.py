"""Errors as the one line a user reads (docs/cli.md): a driver's own words, no trailer, no password."""

from __future__ import annotations

from newscrawl import logredact


def one_line(error: BaseException) -> str:
    """``error``'s message on one line: a database driver's own words, without SQLAlchemy's trailer."""
    original = getattr(error, "orig", None)  # a DBAPIError's driver exception says what happened
    text = str(original if original is not None else error) or type(error).__name__
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("(Background")]
    return logredact.redact("; ".join(lines))
