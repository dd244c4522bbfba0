"""Monitors of a crawl run, with Spidermon: field coverage, the origin's answers, a stale site, validation
drops. A run they find wrong is **degraded** (docs/operations.md, "Monitoring").

* ``CoverageExtension`` counts, for every article item that leaves the pipelines (kept or dropped), where
  each of its fields came from (``newscrawl.coverage``), from the item's own values and parser flags: no
  pipeline changes.
* ``RunMonitorSuite`` is a Spidermon ``MonitorSuite``: one monitor per rule of ``newscrawl.health``, each a
  unittest-style test whose failure message is the reason's line; its failed action logs them, and the
  Spidermon actions named in NEWSCRAWL_MONITOR_ACTIONS (Slack, e-mail, …: Spidermon's own or yours) run
  too, with the run's ``reasons`` in their data.
* ``assess_run`` gathers a run's evidence (its stats, its coverage, the archive's earlier runs), runs the
  suite and returns the reasons; ``RunRecordExtension`` calls it when the spider closes, so the outcome
  stored in ``crawl_runs`` and the exit status of ``newscrawl crawl`` say degraded.
Only Spidermon's core (suites, monitors, runner, actions) is used, not its Scrapy extension: that one
imports jsonschema for item validation (~73 ms of CPU at every start, benchmarks/startup_monitors.py)
and logs a failed monitor at ERROR, which the run summary would count as an error.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.utils.misc import load_object
from spidermon import Action, Monitor, MonitorRunner, MonitorSuite, monitors

from newscrawl import health
from newscrawl.config import get_list
from newscrawl.coverage import Coverage
from newscrawl.items import Article

if TYPE_CHECKING:
    from newscrawl.storage import Archive

logger = logging.getLogger(__name__)

VALIDATE_DROPPED = "newscrawl/validate/dropped/"


class CoverageExtension:
    """Counts the field coverage of every article item of the run, and examples of validation drops."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.coverage = Coverage()
        self.drop_examples: list[str] = []
        crawler.signals.connect(self.item_done, signal=signals.item_scraped)
        crawler.signals.connect(self.item_done, signal=signals.item_error)
        crawler.signals.connect(self.item_dropped, signal=signals.item_dropped)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CoverageExtension:
        return cls(crawler)

    def item_done(self, item: Any) -> None:
        if isinstance(item, Article):
            self.coverage.add(item)

    def item_dropped(self, item: Any, exception: BaseException) -> None:
        if not isinstance(item, Article):
            return
        self.coverage.add(item)
        # The validate pipeline's DropItem says "<reason>: <url>"; a duplicate dropped by the dedupe is no
        # validation drop.
        reason = str(exception).partition(":")[0]
        assert self.crawler.stats is not None
        if len(self.drop_examples) < 2 and self.crawler.stats.get_value(VALIDATE_DROPPED + reason):
            self.drop_examples.append(item.url)


# -- the Spidermon suite --------------------------------------------------------------------------------


class _ReasonMonitor(Monitor):  # type: ignore[misc]  # spidermon has no type hints
    def report(self, reasons: list[health.Reason]) -> None:
        self.data.reasons.extend(reasons)
        if reasons:
            self.fail("\n".join(reason.line() for reason in reasons))


@monitors.name("field coverage")
class FieldCoverageMonitor(_ReasonMonitor):
    """Each field comes from the page's own rule about as often as in the last ok runs."""

    def test_fields_come_from_their_rules(self) -> None:
        self.report(health.field_reasons(self.data.evidence.coverage, self.data.history, self.data.thresholds))


@monitors.name("origin")
class OriginMonitor(_ReasonMonitor):
    """The origin answers share links about as well as in the last ok runs."""

    def test_origin_answers(self) -> None:
        self.report(health.origin_reasons(self.data.evidence.coverage, self.data.history, self.data.thresholds))


@monitors.name("stale site")
class StaleSiteMonitor(_ReasonMonitor):
    """The site still publishes: a crawl found a new article recently enough."""

    def test_site_publishes(self) -> None:
        self.report(health.stale_reasons(self.data.evidence, self.data.thresholds))


@monitors.name("validation")
class ValidationMonitor(_ReasonMonitor):
    """Validation keeps nearly every article page parsed."""

    def test_few_drops(self) -> None:
        self.report(health.drop_reasons(self.data.evidence, self.data.thresholds))


class LogReasons(Action):  # type: ignore[misc]
    """One WARNING line per reason the run is degraded."""

    def run_action(self) -> None:
        for reason in self.data.reasons:
            logger.warning("degraded: %s", reason.line())


class RunMonitorSuite(MonitorSuite):  # type: ignore[misc]
    monitors = [FieldCoverageMonitor, OriginMonitor, StaleSiteMonitor, ValidationMonitor]  # noqa: RUF012
    monitors_failed_actions = [LogReasons]  # noqa: RUF012


# -- running it at the end of a run ---------------------------------------------------------------------


@dataclass
class Assessment:
    """What the monitors made of a run: its coverage (to store) and the reasons it is degraded."""

    coverage: Coverage
    reasons: list[health.Reason] = field(default_factory=list)


def assess_run(crawler: Crawler, spider: Spider, archive: Archive, summary_new: int) -> Assessment:
    """Run the monitors over the run's evidence and the archive's earlier ok runs."""
    settings = crawler.settings
    assert crawler.stats is not None
    stats = crawler.stats.get_stats()
    extension = crawler.get_extension(CoverageExtension)
    coverage = extension.coverage if extension is not None else Coverage()
    thresholds = health.Thresholds.from_settings(settings)
    earlier = archive.finished_runs(limit=max(thresholds.history * 4, 20), outcomes=("ok",))
    history = [Coverage.from_json(run.coverage) for run in earlier if run.coverage]
    evidence = health.Evidence(
        coverage=coverage,
        validated=int(stats.get("newscrawl/validate/ok", 0) or 0),
        validation_drops={key[len(VALIDATE_DROPPED):]: int(value) for key, value in stats.items()
                          if key.startswith(VALIDATE_DROPPED)},
        drop_examples=list(extension.drop_examples) if extension is not None else [],
        site_answered=bool(stats.get("newscrawl/spider/listing_read") or stats.get(
            "newscrawl/spider/listing_not_modified")),
        new_articles=summary_new,
        now=datetime.now(UTC),
    )
    if evidence.site_answered and not summary_new and thresholds.stale_hours > 0:
        # Only asked when it matters: an unchanged site that answered.
        evidence.last_new_article_at = archive.last_new_article_at()
        evidence.newest_urls = archive.newest_urls(2)
    reasons: list[health.Reason] = []
    actions = [load_object(path) for path in get_list(settings, "NEWSCRAWL_MONITOR_ACTIONS")]
    suite = RunMonitorSuite(crawler=crawler, monitors_failed_actions=actions)
    result = MonitorRunner().run(suite, stats=stats, crawler=crawler, spider=spider, evidence=evidence,
                                 history=history, thresholds=thresholds, reasons=reasons)
    for item in result.monitors_failed_results:
        if item.status == "ERROR":  # a monitor that crashed: a bug, not a verdict on the run
            logger.error("monitor %s could not run: %s", item.item.name, item.error)
    for item in result.monitors_failed_action_results:
        if item.status == "ERROR":
            logger.error("monitor action %s failed: %s", item.item.name, item.error)
    return Assessment(coverage=coverage, reasons=reasons)
