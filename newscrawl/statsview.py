"""``newscrawl stats`` for people: the archive's counts as plain-text tables (docs/cli.md).

``render_stats`` takes what ``Archive.stats()`` returns (the same object ``--json`` prints) and lays it
out: the totals, the last runs with their outcome and the reason of a run that was not ok (a degraded run's
reasons below the table, one line each), the field coverage of the latest run that parsed article pages,
articles per category, and articles per publication day (the most recent days; ``--json`` has every day).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

#: How many publication days the table shows, newest last.
RECENT_DAYS = 14


def render_stats(stats: Mapping[str, Any], where: str) -> str:
    """The report, as lines of text."""
    lines = [f"archive {where}: {stats.get('articles', 0)} articles, {stats.get('revisions', 0)} earlier "
             f"versions, {stats.get('stories', 0)} stories", ""]
    runs = stats.get("runs") or []
    lines.append("last runs" if runs else "last runs: none yet")
    if runs:
        rows = [_run_row(run) for run in runs]
        lines += _table(["run", "started", "took", "outcome", "new", "updated", "unchanged", "dropped", "errors",
                         "reason"], rows, numeric={4, 5, 6, 7, 8})
        for run in runs:
            if run.get("outcome") == "degraded":
                lines += [f"  #{run.get('run_id')} {reason}" for reason in run.get("reasons") or []]
    lines += _coverage(runs)
    lines.append("")
    per_category = stats.get("per_category") or {}
    lines.append("articles per category" if per_category else "articles per category: none")
    if per_category:
        lines += _table(["category", "articles"], [[category or "(none)", str(n)] for category, n in
                                                   per_category.items()], numeric={1})
    lines.append("")
    per_day = list((stats.get("per_day") or {}).items())
    dated = [(day, n) for day, n in per_day if day]
    shown = dated[-RECENT_DAYS:]
    title = "articles per publication day (UTC+8)"
    if len(dated) > len(shown):
        title += f", the last {len(shown)} of {len(dated)} days (--json has all)"
    lines.append(title if per_day else "articles per publication day: none")
    rows = [[day, str(n)] for day, n in shown] + [["(no date)", str(n)] for day, n in per_day if not day]
    if rows:
        lines += _table(["day", "articles"], rows, numeric={1})
    return "\n".join(lines)


def _run_row(run: Mapping[str, Any]) -> list[str]:
    counts = run.get("counts") or {}
    took = counts.get("duration_s")
    outcome = run.get("outcome") or "?"
    reason = counts.get("reason") or ""
    if outcome == "running" and not run.get("finished_at"):
        reason = reason or f"pid {run.get('pid')} on {run.get('hostname')}"
    elif outcome == "interrupted":
        reason = reason or "ended without finishing (killed?)"
    elif outcome == "degraded":
        reason = reason or f"{len(run.get('reasons') or [])} reason(s), below"
    return [
        f"#{run.get('run_id')}", _moment(run.get("started_at")),
        f"{took:.1f}s" if isinstance(took, int | float) else "-", outcome,
        *(str(run.get(name, 0) or 0) for name in ("new", "updated", "unchanged", "dropped", "errors")), reason,
    ]


def _coverage(runs: Sequence[Mapping[str, Any]]) -> list[str]:
    from newscrawl.coverage import Coverage, coverage_lines

    # The latest run that parsed article pages (an incremental run of an unchanged site parses none).
    run = next((run for run in runs if (run.get("coverage") or {}).get("articles")), None)
    if run is None:
        return []
    coverage = Coverage.from_json(run["coverage"])
    return ["", f"field coverage of run #{run.get('run_id')} ({coverage.articles} article pages parsed)",
            *(f"  {line}" for line in coverage_lines(coverage))]


def _moment(value: Any) -> str:
    if isinstance(value, str):
        try:
            return f"{datetime.fromisoformat(value):%Y-%m-%d %H:%M %z}"
        except ValueError:
            return value
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M %z}"
    return "-"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], numeric: set[int]) -> list[str]:
    # Widths in terminal columns: a Chinese character takes two.
    widths = [max(_width(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        padded = [(" " * (widths[i] - _width(c)) + c) if i in numeric else (c + " " * (widths[i] - _width(c)))
                  for i, c in enumerate(cells)]
        return ("  " + "  ".join(padded)).rstrip()

    return [line(header), *(line(row) for row in rows)]


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
