"""How a crawl run is judged and summed up, from its Scrapy stats (docs/operations.md).

One rule decides both the outcome stored in ``crawl_runs`` and the exit status of ``newscrawl crawl``:
a run **fails** when an article could not be stored (the database was unavailable), when a post file or
a raw response (WARC record) could not be written (a full disk: the operator must act), when Scrapy did not
finish normally, when no listing page of the site could be read (site unreachable), when the site listed
articles but none could be archived or re-checked, or when more than ``ERROR_RATE_LIMIT`` of its
requests ended in errors. A run that did not fail is **degraded** when the monitors of newscrawl.monitors
find its data or the site wrong (newscrawl.health: a field from a fallback far more often than usual, the
origin failing, a stale site, many validation drops); ``reasons`` holds one line for each. Otherwise it is
``ok``.

``dropped`` counts, by reason, the articles a run did not archive: pages it could not fetch
(``newscrawl/spider/dropped/<reason>``), items the pipelines refused, items the database did not take.
``errors`` counts what ended in an error: a request given up after its retries (``retry/max_reached``;
the spider logs it as one WARNING line, newscrawl.crawllog) and the ERROR log lines (an exception, an
item not stored); a fault that a retry mended is counted in ``retries`` only.
docs/reliability.md lists the faults and what each costs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ERROR_RATE_LIMIT = 0.2
# Stats whose suffix is the reason an article was not archived in this run.
# Stats whose suffix is a flag the archive added to a stored article (docs/schema.md).
FLAGGED_PREFIX = "newscrawl/store/flagged/"
DROPPED_PREFIXES = ("newscrawl/spider/dropped/", "newscrawl/validate/dropped/", "newscrawl/dedupe/dropped/")


@dataclass
class RunSummary:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    errors: int = 0
    retries: int = 0
    requests: int = 0
    full_downloads: int = 0
    not_modified: int = 0
    duration_s: float = 0.0
    #: Articles stored with a value the backend could not hold as it was, by flag (kept exactly beside it).
    flagged: dict[str, int] = field(default_factory=dict)
    requeued: int = 0  # requests of a shared crawl re-done after the process that took them died
    outcome: str = "ok"
    reason: str = ""
    # One line per reason the monitors found the run degraded (also kept for a failed run).
    reasons: list[str] = field(default_factory=list)

    def degrade(self, reasons: list[str]) -> None:
        """Record what the monitors found; a run that did not fail becomes degraded if they found anything."""
        self.reasons = list(reasons)
        if reasons and self.outcome == "ok":
            self.outcome = "degraded"

    def explanation(self) -> list[str]:
        """Why the run ended as it did, one line each (empty for an ok run): what ``crawl_runs.reasons`` keeps."""
        return ([self.reason] if self.reason else []) + self.reasons

    def counts(self) -> dict[str, Any]:
        return {
            "new": self.new, "updated": self.updated, "unchanged": self.unchanged,
            "dropped": dict(self.dropped), "errors": self.errors, "retries": self.retries,
            "requests": self.requests, "full_downloads": self.full_downloads,
            "not_modified": self.not_modified, "duration_s": round(self.duration_s, 3),
            "flagged": dict(self.flagged),
        }

    def line(self) -> str:
        dropped = ", ".join(f"{k} {v}" for k, v in sorted(self.dropped.items())) or "none"
        return (f"{self.outcome}: {self.new} new, {self.updated} updated, {self.unchanged} unchanged; "
                f"dropped: {dropped}; errors {self.errors}, retries {self.retries}; "
                f"{self.requests} requests ({self.full_downloads} full, {self.not_modified} not modified); "
                f"{self.duration_s:.1f}s"
                + ("; stored in exact form: " + ", ".join(f"{k} {v}" for k, v in sorted(self.flagged.items()))
                   if self.flagged else "")
                + (f"; re-queued from a dead worker: {self.requeued}" if self.requeued else "")
                + (f" — {self.reason}" if self.reason else ""))


def summarise(stats: Mapping[str, Any], finish_reason: str | None, duration_s: float) -> RunSummary:
    def get(key: str) -> int:
        return int(stats.get(key, 0) or 0)

    dropped: dict[str, int] = {}
    for key, value in stats.items():
        for prefix in DROPPED_PREFIXES:
            if key.startswith(prefix):
                dropped[key[len(prefix):]] = dropped.get(key[len(prefix):], 0) + int(value)
    if get("newscrawl/store/failed"):
        dropped["database_unavailable"] = get("newscrawl/store/failed")
    if get("newscrawl/store/error"):
        dropped["store_error"] = get("newscrawl/store/error")
    flagged = {key[len(FLAGGED_PREFIX):]: int(value) for key, value in stats.items()
               if key.startswith(FLAGGED_PREFIX)}
    summary = RunSummary(
        flagged=flagged,
        new=get("newscrawl/store/new"),
        updated=get("newscrawl/store/updated"),
        unchanged=get("newscrawl/store/unchanged") + get("newscrawl/store/seen"),
        dropped=dropped,
        # Not downloader/exception_count: a timeout or reset that a retry mended is a retry, not an error.
        errors=get("log_count/ERROR") + get("retry/max_reached"),
        retries=get("retry/count"),
        requests=get("downloader/request_count"),
        full_downloads=get("downloader/response_status_count/200"),
        not_modified=get("downloader/response_status_count/304"),
        duration_s=duration_s,
        requeued=get("newscrawl/redis/requeued"),
    )
    summary.outcome, summary.reason = judge(stats, finish_reason, summary)
    return summary


def judge(stats: Mapping[str, Any], finish_reason: str | None, summary: RunSummary) -> tuple[str, str]:
    not_stored = int(stats.get("newscrawl/store/failed", 0) or 0)
    if not_stored:
        # Checked first: the store pipeline stops the crawl when the database stays away, and this says why.
        return "failed", (f"{not_stored} article(s) could not be stored (database unavailable); "
                          "the next run fetches them again")
    refused = int(stats.get("newscrawl/store/error", 0) or 0)
    if refused:
        return "failed", (f"{refused} article(s) could not be stored (refused by the database, see the log); "
                          "the next run fetches them again")
    posts, records = (int(stats.get(f"newscrawl/{name}/failed", 0) or 0) for name in ("export", "warc"))
    if posts or records:
        # Every article is archived, but the posts folder or the raw archive lacks some: someone must free
        # the disk (or mend the folder's permissions), so the run alerts as failed. The archive lists them
        # (missing_outputs) and later runs write them.
        return "failed", (f"{posts} post file(s) and {records} raw response(s) could not be written; the "
                          "archive lists them and the next runs write them (see the log)")
    if finish_reason not in ("finished", None):
        return "failed", f"the crawl stopped early ({finish_reason})"
    listings = int(stats.get("newscrawl/spider/listing_read", 0) or 0) + int(
        stats.get("newscrawl/spider/listing_not_modified", 0) or 0)
    archived = summary.new + summary.updated + summary.unchanged
    # A process of a shared crawl (newscrawl.frontier) may be left no listing, or no work at all, by the
    # others; the articles it finds may be archived by another.
    shared = bool(stats.get("newscrawl/redis/shared"))
    if listings == 0 and int(stats.get("newscrawl/spider/article_requested", 0) or 0) == 0 and not (
            shared and (summary.requests == 0 or archived > 0)):
        return "failed", "no page of the site could be read (site unreachable?)"
    if int(stats.get("newscrawl/spider/article_requested", 0) or 0) > 0 and archived == 0 and not shared:
        return "failed", "the site listed articles but none could be archived"
    if summary.requests and summary.errors / summary.requests > ERROR_RATE_LIMIT:
        return "failed", f"{summary.errors} errors in {summary.requests} requests"
    return "ok", ""
