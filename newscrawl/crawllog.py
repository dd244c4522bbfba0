"""What a crawl's log says about failures: one WARNING line per request given up, never a traceback.

A network failure is an expected event for a crawler, not a bug: the spider's errbacks already log one
WARNING line per page given up, with its URL and a reason word (docs/reliability.md), and the run's
summary counts them. Scrapy adds more: "Gave up retrying" at ERROR for the same request (silenced by
RETRY_GIVE_UP_LOG_LEVEL in newscrawl.settings, its count kept in ``retry/max_reached``), and for a
robots.txt that cannot be fetched, an ERROR with the whole traceback. ``install`` turns that one into a
WARNING line without the traceback. Alembic's narration of each migration step is left to DEBUG:
opening an archive logs the one line that says a schema was created. docs/operations.md, "Logs".
"""

from __future__ import annotations

import logging

ROBOTS_LOGGER = "scrapy.downloadermiddlewares.robotstxt"


class RobotsFailureFilter(logging.Filter):
    """Rewrites the robots.txt middleware's "Error downloading" record as one WARNING line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR and record.msg == "Error downloading %(request)s: %(f_exception)s":
            record.levelno, record.levelname = logging.WARNING, logging.getLevelName(logging.WARNING)
            record.msg = ("robots.txt not read for %(request)s (%(f_exception)s); "
                          "its site is crawled as if it allowed all")
            record.exc_info, record.exc_text = None, None
        return True


class AlembicToDebug(logging.Filter):
    """Alembic logs every migration step (and its plugins) at INFO: DEBUG is where that belongs here."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.INFO:
            record.levelno, record.levelname = logging.DEBUG, logging.getLevelName(logging.DEBUG)
        return True


def install() -> None:
    """Add the filters (idempotent). A logger filter sees only its own logger's records, hence one each."""
    robots = logging.getLogger(ROBOTS_LOGGER)
    if not any(isinstance(f, RobotsFailureFilter) for f in robots.filters):
        robots.addFilter(RobotsFailureFilter())
    for name in ("alembic.runtime.migration", "alembic.runtime.plugins"):
        alembic = logging.getLogger(name)
        if not any(isinstance(f, AlembicToDebug) for f in alembic.filters):
            alembic.addFilter(AlembicToDebug())
