"""The metrics file: each run's figures as Prometheus text, for node exporter's textfile collector
(NEWSCRAWL_METRICS_FILE; docs/operations.md, "Monitoring").

Written with prometheus-client's ``write_to_textfile``, which writes a temporary file beside the target and
renames it over the target: the collector never reads half a file. Every metric is a gauge describing the
latest run (Prometheus keeps the history), plus the time of the latest successful run, which a rule such as
``time() - newscrawl_last_success_timestamp_seconds > 26 * 3600`` turns into a staleness alert.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from newscrawl.coverage import FIELD_NAMES, SOURCES, Coverage

if TYPE_CHECKING:
    from newscrawl.runs import RunSummary
    from newscrawl.storage import Archive

logger = logging.getLogger(__name__)

OUTCOMES = ("ok", "degraded", "failed")


def write_run_metrics(path: Path, summary: RunSummary, coverage: dict[str, Any] | None, archive: Archive,
                      warc_dir: Path | None) -> bool:
    """Write the metrics of the run that just ended; False (and one ERROR line) if that failed."""
    try:
        registry = _registry(summary, Coverage.from_json(coverage), archive, warc_dir)
        from prometheus_client import write_to_textfile

        path.parent.mkdir(parents=True, exist_ok=True)
        write_to_textfile(str(path), registry)
    except Exception as error:  # the run is archived; a missing metrics file is for the monitor to notice
        logger.error("metrics file %s not written: %s: %s", path, type(error).__name__, error)
        return False
    return True


def _registry(summary: RunSummary, coverage: Coverage, archive: Archive, warc_dir: Path | None) -> Any:
    from prometheus_client import CollectorRegistry, Gauge

    registry = CollectorRegistry()

    def gauge(name: str, documentation: str, labels: tuple[str, ...] = ()) -> Gauge:
        return Gauge(name, documentation, labels, registry=registry)

    latest = archive.runs(1)
    last = latest[0] if latest else None
    if last is not None and last.finished_at is not None:
        gauge("newscrawl_last_run_timestamp_seconds", "when the latest run ended (Unix time)").set(
            last.finished_at.timestamp())
    outcome = gauge("newscrawl_last_run_outcome", "1 for the latest run's outcome, 0 for the others", ("outcome",))
    for name in OUTCOMES:
        outcome.labels(name).set(1 if summary.outcome == name else 0)
    success = archive.finished_runs(limit=1, outcomes=("ok",))
    if success and success[0].finished_at is not None:
        gauge("newscrawl_last_success_timestamp_seconds", "when the latest ok run ended (Unix time)").set(
            success[0].finished_at.timestamp())
    gauge("newscrawl_last_run_duration_seconds", "wall time of the latest run").set(summary.duration_s)
    articles = gauge("newscrawl_last_run_articles", "articles of the latest run by what became of them", ("state",))
    articles.labels("new").set(summary.new)
    articles.labels("updated").set(summary.updated)
    articles.labels("unchanged").set(summary.unchanged)
    articles.labels("dropped").set(sum(summary.dropped.values()))
    dropped = gauge("newscrawl_last_run_dropped", "articles the latest run did not archive, by reason", ("reason",))
    for reason, count in sorted(summary.dropped.items()):
        dropped.labels(reason).set(count)
    gauge("newscrawl_last_run_errors", "errors of the latest run").set(summary.errors)
    gauge("newscrawl_last_run_retries", "requests retried in the latest run").set(summary.retries)
    gauge("newscrawl_last_run_requests", "requests of the latest run").set(summary.requests)
    gauge("newscrawl_last_run_degraded_reasons", "reasons the latest run was degraded").set(len(summary.reasons))
    gauge("newscrawl_last_run_parsed_articles", "article pages the latest run parsed").set(coverage.articles)
    fields = gauge("newscrawl_last_run_field_articles",
                   "articles of the latest run by where a field came from", ("field", "source"))
    share = gauge("newscrawl_last_run_field_fallback_or_missing_ratio",
                  "share of the latest run's articles whose field came from a fallback or was missing", ("field",))
    for name in FIELD_NAMES:
        for source in SOURCES:
            fields.labels(name, source).set(coverage.counts[name][source])
        share.labels(name).set(coverage.share(name))
    gauge("newscrawl_last_run_origin_requests", "share links whose origin text the latest run asked").set(
        coverage.origin_asked)
    gauge("newscrawl_last_run_origin_failures", "origin requests of the latest run with no usable text").set(
        coverage.origin_failed)
    total, database_bytes = archive.size()
    gauge("newscrawl_archive_articles", "articles in the archive").set(total)
    size = gauge("newscrawl_archive_bytes", "bytes the archive takes on disk", ("part",))
    if database_bytes is not None:
        size.labels("database").set(database_bytes)
    if warc_dir is not None and warc_dir.is_dir():
        size.labels("warc").set(sum(p.stat().st_size for p in warc_dir.glob("*.warc.gz") if p.is_file()))
    return registry
