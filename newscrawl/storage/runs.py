"""Crawl and import runs: their start, their end and what they counted (``crawl_runs``), and the git commits
an import has read (``import_commits``; docs/schema.md, docs/operations.md)."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast

from sqlalchemy import func, select, update

from newscrawl.logredact import redact, redact_settings
from newscrawl.storage.base import ArchiveBase
from newscrawl.storage.migrate import ArchiveError
from newscrawl.storage.models import RUN_OUTCOMES
from newscrawl.storage.sql import IMPORT_COMMITS, RUNS, now, upsert_statement
from newscrawl.storage.types import to_site_time

RunOutcome = Literal["running", "ok", "degraded", "failed", "interrupted"]

#: The counts that have their own column in crawl_runs; every count is also kept in its JSON ``counts``.
RUN_COUNT_COLUMNS = ("new", "updated", "unchanged", "dropped", "errors")


@dataclass(frozen=True)
class CrawlRun:
    """One row of ``crawl_runs``."""

    run_id: int
    started_at: datetime
    finished_at: datetime | None
    outcome: str
    new: int
    updated: int
    unchanged: int
    dropped: int
    errors: int
    counts: dict[str, Any]
    settings: dict[str, Any]
    site_url: str | None
    pid: int | None
    hostname: str | None
    coverage: dict[str, Any] | None = None
    reasons: list[str] | None = None
    kind: str = "crawl"

    def as_json(self) -> dict[str, Any]:
        """The run as JSON-ready values (times in ISO 8601)."""
        values = {name: getattr(self, name) for name in self.__dataclass_fields__}
        for name in ("started_at", "finished_at"):
            moment = values[name]
            values[name] = moment.isoformat() if moment is not None else None
        return values


class RunLog(ArchiveBase):
    """The ``Archive``'s record of runs (``crawl_runs``) and of the commits imports have read."""

    def start_run(self, site_url: str, settings: Mapping[str, Any], kind: str = "crawl") -> int:
        """Record the start of a run (``kind``: crawl or import); returns its ``run_id``. Passwords in
        settings are redacted."""
        values = {
            "started_at": now(), "finished_at": None, "outcome": "running",
            **dict.fromkeys(RUN_COUNT_COLUMNS, 0), "counts": {},
            "settings": redact_settings(settings), "site_url": redact(site_url),
            "pid": os.getpid(), "hostname": socket.gethostname(),
        }
        if kind != "crawl":
            values["kind"] = kind  # a crawl is the column's default (and all a schema before 0008 knows)
        with self._engine.begin() as connection:
            run_id = connection.execute(RUNS.insert().values(values).returning(RUNS.c.run_id)).scalar_one()
        return int(run_id)

    def finish_run(self, run_id: int, outcome: RunOutcome, counts: Mapping[str, Any], *,
                   coverage: Mapping[str, Any] | None = None, reasons: Sequence[str] | None = None,
                   finished_at: datetime | None = None, pid: int | None = None) -> bool:
        """Record how a run ended. ``counts``: new/updated/unchanged/dropped/errors (a number, or for
        ``dropped`` a mapping of reason to number) and anything else worth keeping, all kept as JSON;
        ``coverage``: where its fields came from (newscrawl.coverage); ``reasons``: why it was degraded
        or failed, one line each.

        With ``pid``, a late record of a run that could not record its own end: written only if the run
        is still ``running`` and was started by that process; returns whether it was written.
        """
        if outcome not in RUN_OUTCOMES or outcome == "running":
            raise ValueError(f"a run ends as one of ok, degraded, failed, interrupted, not {outcome!r}")
        values: dict[str, Any] = {name: _count(counts.get(name)) for name in RUN_COUNT_COLUMNS}
        values.update(finished_at=to_site_time(finished_at) if finished_at is not None else now(),
                      outcome=outcome, counts=_jsonable(counts))
        # Only when given: a JSON None would be stored as the JSON text 'null', not as SQL NULL.
        if coverage is not None:
            values["coverage"] = _jsonable(coverage)
        if reasons is not None:
            values["reasons"] = list(reasons)
        statement = update(RUNS).where(RUNS.c.run_id == run_id)
        if pid is not None:
            statement = statement.where(RUNS.c.outcome == "running", RUNS.c.pid == pid)
        with self._engine.begin() as connection:
            result = connection.execute(statement.values(values))
            if result.rowcount == 0 and pid is None:
                raise ArchiveError(f"there is no crawl run {run_id}")
            return bool(result.rowcount)

    def interrupt_stale_runs(self) -> list[int]:
        """Mark as ``interrupted`` the runs of this host still ``running`` whose process is gone
        (killed before ``finish_run``); returns their ids. Call it while holding the crawl lock."""
        hostname = socket.gethostname()
        with self._engine.begin() as connection:
            rows = connection.execute(
                select(RUNS.c.run_id, RUNS.c.pid)
                .where(RUNS.c.outcome == "running", RUNS.c.hostname == hostname)
            ).all()
            stale = [run_id for run_id, pid in rows if pid is None or not _process_alive(pid)]
            if stale:
                connection.execute(
                    update(RUNS)
                    .where(RUNS.c.run_id.in_(stale))
                    .values(outcome="interrupted", finished_at=now())
                )
        return stale

    def runs(self, limit: int = 10) -> list[CrawlRun]:
        """The latest crawl runs, newest first."""
        return self._latest_runs(limit)

    def finished_runs(self, limit: int = 10, outcomes: Sequence[str] = ("ok", "degraded")) -> list[CrawlRun]:
        """The latest finished runs whose outcome is one of ``outcomes``, newest first."""
        return self._latest_runs(limit, RUNS.c.outcome.in_(list(outcomes)), RUNS.c.finished_at.is_not(None))

    def _latest_runs(self, limit: int, *conditions: Any) -> list[CrawlRun]:
        with self._read() as connection:
            rows = connection.execute(
                select(RUNS).where(*conditions)
                .order_by(RUNS.c.started_at.desc(), RUNS.c.run_id.desc()).limit(limit)
            ).mappings().all()
        return [CrawlRun(**{name: row[name] for name in CrawlRun.__dataclass_fields__}) for row in rows]

    def last_new_article_at(self) -> datetime | None:
        """When a crawl run last archived a new article (the end of the latest run with ``new`` > 0), or,
        when none ever did, when the first run started; None without runs. Read from ``crawl_runs`` alone."""
        with self._read() as connection:
            found = connection.execute(select(func.max(RUNS.c.finished_at)).where(RUNS.c.new > 0)).scalar()
            if found is None:
                found = connection.execute(select(func.min(RUNS.c.started_at))).scalar()
        return cast("datetime | None", found)

    def seen_commits(self) -> set[str]:
        """The git commits whose post files an import has read."""
        with self._read() as connection:
            return set(connection.execute(select(IMPORT_COMMITS.c.commit_id)).scalars())

    def add_seen_commits(self, commits: Sequence[str], run_id: int | None = None) -> None:
        """Remember that every post file of ``commits`` is archived."""
        rows = [{"commit_id": commit, "run_id": run_id, "imported_at": now()} for commit in commits]
        if rows:
            with self._write() as connection:
                connection.execute(upsert_statement(connection.dialect.name, IMPORT_COMMITS, ("commit_id", "run_id",
                                   "imported_at"), ("commit_id",), ("run_id", "imported_at")), rows)


def _count(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, Mapping):
        return sum(_count(v) for v in value.values())
    return int(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
