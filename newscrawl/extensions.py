"""Scrapy extensions of newscrawl: run records, raw-page archiving and progress lines.

* ``RunRecordExtension`` writes a ``crawl_runs`` row when the spider opens and completes it when it
  closes, with the outcome, counts and reason of newscrawl.runs, the field coverage and what the monitors of
  newscrawl.monitors found (a degraded run), writes the metrics file (newscrawl.metrics) with
  NEWSCRAWL_METRICS_FILE, and logs the run's summary line last.
* ``RawArchiveExtension`` (NEWSCRAWL_RAW_ARCHIVE) appends article pages and origin answers to WARC files.
* ``ProgressExtension`` logs one progress line every NEWSCRAWL_PROGRESS_INTERVAL seconds.
* ``ConditionalAutoThrottle`` is Scrapy's AutoThrottle, also learning from 304 answers.
See docs/operations.md, docs/warc.md and docs/distributed.md.
"""

from __future__ import annotations

import json
import logging
import os
import time
from datetime import UTC, datetime
from functools import partial
from http import HTTPStatus
from pathlib import Path
from typing import Any, ClassVar

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.extensions.throttle import AutoThrottle
from scrapy.http import Response, TextResponse
from twisted.internet import task

from newscrawl.config import DEFAULTS, get_bool, get_float, get_optional_path, get_path, get_url
from newscrawl.crawlstate import CrawlState, is_unavailable
from newscrawl.logredact import redact
from newscrawl.runs import RunSummary, summarise
from newscrawl.urls import article_id_from_url
from newscrawl.warc import WarcArchive

logger = logging.getLogger(__name__)

# The settings a run record keeps: what decides what a run did.
RECORDED_SETTINGS = (*DEFAULTS, "CONCURRENT_REQUESTS", "DOWNLOAD_DELAY", "AUTOTHROTTLE_ENABLED", "RETRY_TIMES")


class RunRecordExtension:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.started = time.monotonic()
        self.summary: RunSummary | None = None
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(self.engine_stopped, signal=signals.engine_stopped)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RunRecordExtension:
        return cls(crawler)

    async def spider_opened(self, spider: Spider) -> None:
        state = CrawlState.of(self.crawler)
        settings = self.crawler.settings
        # Passwords are taken out by the archive (logredact.redact_settings), the one place that writes runs.
        recorded: dict[str, Any] = {name: settings.get(name) for name in RECORDED_SETTINGS}
        recorded["spider_args"] = {k: getattr(spider, k) for k in ("only_category", "only_url") if hasattr(spider, k)}
        # A run that ended while the database was away recorded its end in a file: record it now.
        pending = unrecorded_runs_file(settings)
        for run in read_unrecorded_runs(pending, get_url(settings, "NEWSCRAWL_DB_URL")):
            recorded_late = await state.in_thread(partial(
                state.archive.finish_run, run["run_id"], run["outcome"], run["counts"],
                finished_at=datetime.fromisoformat(run["finished_at"]), pid=run["pid"]),
                "recording the end of an earlier run")
            if recorded_late:
                logger.warning("run %d ended while the database was unavailable; recorded now as %s",
                               run["run_id"], run["outcome"])
        # A run killed before it could record its end is still "running"; say what became of it.
        for run_id in await state.in_thread(state.archive.interrupt_stale_runs, "recording stale runs"):
            logger.warning("run %d ended without finishing (killed?); recorded as interrupted", run_id)
        state.run_id = await state.in_thread(
            lambda: state.archive.start_run(site_url=get_url(settings, "NEWSCRAWL_SITE_URL"), settings=recorded),
            "recording the start of the run")
        self.started = time.monotonic()

    async def spider_closed(self, spider: Spider, reason: str) -> None:
        state = CrawlState.of(self.crawler)
        settings = self.crawler.settings
        assert self.crawler.stats is not None
        self.summary = summarise(self.crawler.stats.get_stats(), reason, time.monotonic() - self.started)
        coverage = await state.in_thread(lambda: self._monitor(spider, state), "assessing the run")
        run_id, summary = state.run_id, self.summary
        if run_id is not None:
            # The reason of a run that was not ok is kept with its counts, for `newscrawl stats`.
            counts = {**summary.counts(), **({"reason": summary.reason} if summary.reason else {})}
            reasons = summary.explanation()
            finished_at = datetime.now(UTC)
            try:
                await state.in_thread(lambda: state.archive.finish_run(
                    run_id, summary.outcome, counts, finished_at=finished_at,  # type: ignore[arg-type]
                    coverage=coverage, reasons=reasons),
                    "recording the end of the run")
            except Exception as error:
                if not is_unavailable(error):
                    raise
                # Left "running", the next run would call it interrupted: its end is kept in a file instead,
                # and the next run records it (the database is given up or still away; no point waiting).
                pending = unrecorded_runs_file(settings)
                keep_unrecorded_run(pending, get_url(settings, "NEWSCRAWL_DB_URL"), {
                    "run_id": run_id, "pid": os.getpid(), "outcome": summary.outcome, "counts": counts,
                    "finished_at": finished_at.isoformat()})
                logger.error("the end of run %d (%s) could not be recorded, the database is unavailable; kept in "
                             "%s for the next run to record", run_id, summary.outcome, pending)
        metrics_file = get_optional_path(settings, "NEWSCRAWL_METRICS_FILE")
        if metrics_file:
            from newscrawl.metrics import write_run_metrics

            warc_dir = get_path(settings, "NEWSCRAWL_WARC_DIR")
            try:
                await state.in_thread(lambda: write_run_metrics(metrics_file, summary, coverage, state.archive,
                                                                warc_dir), "writing the metrics file")
            except Exception as error:  # the metrics file must not hide the run's own outcome
                logger.error("the metrics file %s could not be written: %s: %s", metrics_file,
                             type(error).__name__, error)
        stats_file = get_optional_path(settings, "NEWSCRAWL_STATS_FILE")
        if stats_file:
            record = {"summary": self.summary.counts(), "outcome": self.summary.outcome,
                      "reason": self.summary.reason, "run_id": state.run_id,
                      "stats": self.crawler.stats.get_stats()}
            stats_file.parent.mkdir(parents=True, exist_ok=True)
            stats_file.write_text(json.dumps(record, default=str, ensure_ascii=False, indent=1), "utf-8")

    def engine_stopped(self) -> None:
        # The last line of the log, after Scrapy's stats dump: `scrapy crawl finews` ends with the same
        # summary line as `newscrawl crawl` prints.
        if self.summary is not None:
            logger.info("run summary: %s", self.summary.line())

    def _monitor(self, spider: Spider, state: CrawlState) -> dict[str, Any] | None:
        """Run the monitors (a degraded run); the run's field coverage as stored, None if unknown."""
        from newscrawl.monitors import assess_run

        assert self.summary is not None
        try:
            assessment = assess_run(self.crawler, spider, state.archive, self.summary.new)
        except Exception as error:  # the run's record matters more than its monitors
            logger.error("the run's monitors could not run: %s: %s", type(error).__name__, error)
            return None
        self.summary.degrade([reason.line() for reason in assessment.reasons])
        return assessment.coverage.as_json()


def unrecorded_runs_file(settings: Any) -> Path:
    """Where run ends that could not be recorded wait for the next run: beside the run lock file."""
    lock_file = get_path(settings, "NEWSCRAWL_LOCK_FILE")
    return lock_file.with_name(lock_file.name + ".unrecorded-runs.json")


def keep_unrecorded_run(path: Path, db_url: str | None, run: dict[str, Any]) -> None:
    """Add ``run`` (its id, pid, outcome, counts, finished_at) to the file of unrecorded run ends."""
    runs = _unrecorded(path)
    runs.append({"db": redact(db_url or ""), **run})
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(runs, default=str, ensure_ascii=False), "utf-8")
    os.replace(tmp, path)


def read_unrecorded_runs(path: Path, db_url: str | None) -> list[dict[str, Any]]:
    """Take the unrecorded run ends of the archive at ``db_url`` out of the file (others stay)."""
    runs = _unrecorded(path)
    if not runs:
        return []
    mine = [run for run in runs if run.get("db") == redact(db_url or "")]
    others = [run for run in runs if run not in mine]
    if others:
        path.write_text(json.dumps(others, default=str, ensure_ascii=False), "utf-8")
    else:
        path.unlink(missing_ok=True)
    return mine


def _unrecorded(path: Path) -> list[dict[str, Any]]:
    try:
        runs = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return []
    except ValueError:
        logger.warning("ignoring %s: not the JSON newscrawl writes", path)
        return []
    return [run for run in runs if isinstance(run, dict)] if isinstance(runs, list) else []


class RawArchiveExtension:
    """Appends article pages and origin answers to WARC files (NEWSCRAWL_RAW_ARCHIVE).

    A record that cannot be written (a full disk, a folder it may not write to) is gone with its response:
    it is counted in ``newscrawl/warc/failed``, logged, and recorded in the archive's ``missing_outputs``
    (``warc_page`` / ``warc_origin``), so that the next run fetches that article page in full, and so its
    origin answer, even when incremental. A record written for a page recorded missing clears its row.
    The run that lost records is not ok (newscrawl.runs).
    """

    #: The kinds of response kept, and the side output (``missing_outputs.output``) each one is.
    KINDS: ClassVar[dict[str, str]] = {"article": "warc_page", "origin": "warc_origin"}

    def __init__(self, directory: Path, crawler: Crawler) -> None:
        self.directory = directory
        self.crawler = crawler
        self.archive: WarcArchive | None = None
        self.state: CrawlState | None = None
        crawler.signals.connect(self.response_received, signal=signals.response_received)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RawArchiveExtension:
        if not get_bool(crawler.settings, "NEWSCRAWL_RAW_ARCHIVE"):
            raise NotConfigured  # switched off by a setting: no message, so Scrapy logs no warning
        return cls(get_path(crawler.settings, "NEWSCRAWL_WARC_DIR"), crawler)

    def response_received(self, response: Response, request: Request, spider: Spider) -> None:
        kind = request.meta.get("newscrawl_kind")
        # Article pages that arrived in full; origin answers whatever their status (reparse reads the
        # status the crawl stored from them).
        if kind not in self.KINDS or (kind == "article" and response.status != 200):
            return
        assert self.crawler.stats is not None
        article_id = _article_id(request, kind)
        output = self.KINDS[kind]
        state = self.state = self.state or CrawlState.of(self.crawler)
        try:
            if self.archive is None:
                self.archive = WarcArchive(self.directory)
                logger.info("raw responses go to %s", self.archive.path)
            headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, values in response.headers.items()
                       for v in values]
            # An article page's record names the encoding it was read in (newscrawl.encoding): reparse reads it so.
            encoding = response.encoding if kind == "article" and isinstance(response, TextResponse) else None
            self.archive.write(response.url, response.status, _reason(response.status), headers, response.body,
                               kind, encoding, bool(request.meta.get("newscrawl_encoding_guessed")))
        except OSError as error:
            self.crawler.stats.inc_value("newscrawl/warc/failed")
            logger.error("raw response not kept (%s), the next run fetches it again in full: %s", error, response.url)
            if article_id:
                state.unwritten_raw.setdefault(article_id, set()).add(output)
                run_id, reason = state.run_id, str(error)
                state.later(lambda: state.archive.mark_missing(article_id, output, reason, run_id),
                             f"recording the missing raw response of {article_id}")
            return
        self.crawler.stats.inc_value(f"newscrawl/warc/{kind}")
        missing = state.unwritten_raw.get(article_id or "")
        if article_id and missing and output in missing:
            missing.discard(output)
            state.later(lambda: state.archive.output_written(article_id, output),
                         f"recording the raw response of {article_id}")
            self.crawler.stats.inc_value("newscrawl/warc/caught_up")

    def spider_closed(self, spider: Spider) -> None:
        if self.archive is not None:
            self.archive.close()


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _article_id(request: Request, kind: str) -> str | None:
    if kind == "origin":
        article = request.cb_kwargs.get("article")
        return getattr(article, "article_id", None)
    # The page the spider asked for, not the last hop of its redirects.
    return article_id_from_url((request.meta.get("redirect_urls") or [request.url])[0])


class ProgressExtension:
    def __init__(self, crawler: Crawler, interval: float) -> None:
        self.crawler = crawler
        self.interval = interval
        self.loop: task.LoopingCall | None = None
        self.started = time.monotonic()
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ProgressExtension:
        interval = get_float(crawler.settings, "NEWSCRAWL_PROGRESS_INTERVAL")
        if interval <= 0:
            raise NotConfigured  # switched off by a setting: no message, so Scrapy logs no warning
        return cls(crawler, interval)

    def spider_opened(self, spider: Spider) -> None:
        self.started = time.monotonic()
        self.loop = task.LoopingCall(self.log_progress)
        self.loop.start(self.interval, now=False)

    def log_progress(self) -> None:
        assert self.crawler.stats is not None
        summary = summarise(self.crawler.stats.get_stats(), None, time.monotonic() - self.started)
        logger.info("progress: %d new, %d updated, %d unchanged, %d dropped, %d errors, %d requests in %.0fs",
                    summary.new, summary.updated, summary.unchanged, sum(summary.dropped.values()),
                    summary.errors, summary.requests, summary.duration_s)

    def spider_closed(self, spider: Spider) -> None:
        if self.loop is not None and self.loop.running:
            self.loop.stop()


class ConditionalAutoThrottle(AutoThrottle):
    """AutoThrottle that lets a 304 Not Modified lower the delay as a 200 does.

    Scrapy's AutoThrottle never shortens the delay on a non-200 answer, because error pages are small
    and fast and would speed up a struggling crawl. A 304 is no error: it is the normal answer to an
    incremental re-check, and without this an unchanged site is re-checked at the start delay's pace
    (measured: a re-crawl of the replica's 85 unchanged articles took 31 s instead of 5 s).
    """

    def _adjust_delay(self, slot: Any, latency: float, response: Response) -> None:
        if response.status == 304:
            response = response.replace(status=200)
        super()._adjust_delay(slot, latency, response)
