"""The rules that call a crawl run **degraded**: it archived what it could, but the site or the data looks
wrong. Pure code over plain values; ``newscrawl.monitors`` runs them as Spidermon monitors at the end of
each run (docs/operations.md, "Monitoring").

A run is degraded when

* a field's fallback-or-missing share rises more than NEWSCRAWL_MONITOR_RISE above its usual level (the
  median over the last NEWSCRAWL_MONITOR_HISTORY ok runs that parsed enough articles); while fewer than
  NEWSCRAWL_MONITOR_MIN_RUNS such runs exist, a field every page carries may not exceed
  NEWSCRAWL_MONITOR_FIELD_SHARE;
* the origin's failure share rises likewise (first runs: NEWSCRAWL_MONITOR_ORIGIN_SHARE);
* the site answered but no crawl has found a new article for more than NEWSCRAWL_MONITOR_STALE_HOURS;
* validation dropped more than NEWSCRAWL_MONITOR_DROP_SHARE of the article pages parsed.

A run that parsed fewer than NEWSCRAWL_MONITOR_MIN_ARTICLES article pages (an incremental run of an
unchanged site parses none) says too little for the share rules, which then pass. Degraded runs do not
feed the usual level: a broken field keeps being reported until the parser is fixed.
Each reason is one line: what, the share before and now, and two example URLs.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from newscrawl.config import SettingsLike, get_float, get_int
from newscrawl.coverage import FIELDS, Coverage


@dataclass(frozen=True)
class Thresholds:
    """The NEWSCRAWL_MONITOR_* settings (docs/settings.md)."""

    rise: float = 0.2
    field_share: float = 0.2
    origin_share: float = 0.2
    drop_share: float = 0.1
    stale_hours: float = 24.0
    history: int = 5
    min_runs: int = 3
    min_articles: int = 10

    @classmethod
    def from_settings(cls, settings: SettingsLike) -> Thresholds:
        """Read from Scrapy settings (or a mapping), unset ones at their documented default."""
        return cls(
            rise=get_float(settings, "NEWSCRAWL_MONITOR_RISE"),
            field_share=get_float(settings, "NEWSCRAWL_MONITOR_FIELD_SHARE"),
            origin_share=get_float(settings, "NEWSCRAWL_MONITOR_ORIGIN_SHARE"),
            drop_share=get_float(settings, "NEWSCRAWL_MONITOR_DROP_SHARE"),
            stale_hours=get_float(settings, "NEWSCRAWL_MONITOR_STALE_HOURS"),
            history=get_int(settings, "NEWSCRAWL_MONITOR_HISTORY"),
            min_runs=get_int(settings, "NEWSCRAWL_MONITOR_MIN_RUNS"),
            min_articles=get_int(settings, "NEWSCRAWL_MONITOR_MIN_ARTICLES"),
        )


@dataclass
class Evidence:
    """What one run saw, beyond its field coverage."""

    coverage: Coverage
    # Articles the validate pipeline kept and dropped (by reason), with example URLs of the drops.
    validated: int = 0
    validation_drops: dict[str, int] = field(default_factory=dict)
    drop_examples: list[str] = field(default_factory=list)
    # Whether any listing page of the site answered (200 or 304), and how many articles were new.
    site_answered: bool = False
    new_articles: int = 0
    # When a crawl last found a new article (None: never), and the newest archived posts' URLs.
    last_new_article_at: datetime | None = None
    newest_urls: list[str] = field(default_factory=list)
    now: datetime | None = None


@dataclass(frozen=True)
class Reason:
    """One reason a run is degraded, as one line for the operator."""

    rule: str  # "field", "origin", "stale", "drops"
    subject: str  # the field's name, "origin", "site" or "validation"
    now: float
    before: float | None  # the usual level; None in the first runs, when ``limit`` is a fixed threshold
    limit: float
    total: int
    examples: tuple[str, ...]

    def line(self) -> str:
        examples = f"; e.g. {', '.join(self.examples)}" if self.examples else ""
        if self.rule == "stale":
            newest = f"; newest archived: {', '.join(self.examples)}" if self.examples else ""
            return f"site: answered, but no new article for {self.now:.1f} hours (limit {self.limit:g} hours){newest}"
        before = (f"before {_percent(self.before)}" if self.before is not None
                  else f"before: no history yet, limit {_percent(self.limit)}")
        if self.rule == "drops":
            return (f"validation: {_percent(self.now)} of {self.total} article pages dropped "
                    f"(limit {_percent(self.limit)}){examples}")
        what = ("origin: text failed for" if self.rule == "origin"
                else f"{self.subject}: from a fallback or missing in")
        unit = "share links asked" if self.rule == "origin" else "articles"
        return f"{what} {_percent(self.now)} of {self.total} {unit} ({before}){examples}"


def _percent(share: float | None) -> str:
    return "?" if share is None else f"{share * 100:.0f}%"


def usual_levels(history: Sequence[Coverage], thresholds: Thresholds) -> dict[str, float | None]:
    """Each field's usual fallback-or-missing share (and ``"origin"``'s failure share): the median over the
    latest ``history`` runs with enough evidence; None while fewer than ``min_runs`` such runs exist."""
    levels: dict[str, float | None] = {}
    with_articles = [c for c in history if c.articles >= thresholds.min_articles][:thresholds.history]
    for rule in FIELDS:
        shares = [c.share(rule.name) for c in with_articles]
        levels[rule.name] = statistics.median(shares) if shares and len(shares) >= thresholds.min_runs else None
    with_origin = [c for c in history if c.origin_asked >= thresholds.min_articles][:thresholds.history]
    origin = [c.origin_share() for c in with_origin]
    levels["origin"] = statistics.median(origin) if origin and len(origin) >= thresholds.min_runs else None
    return levels


def field_reasons(coverage: Coverage, history: Sequence[Coverage], thresholds: Thresholds) -> list[Reason]:
    """The fields whose fallback-or-missing share rose clearly above their usual level."""
    if coverage.articles < thresholds.min_articles:
        return []
    levels = usual_levels(history, thresholds)
    reasons = []
    for rule in FIELDS:
        level = levels[rule.name]
        if level is None and not rule.every_page:
            continue  # no history, and no fixed level that suits a field many real posts lack
        limit = level + thresholds.rise if level is not None else thresholds.field_share
        share = coverage.share(rule.name)
        if share > limit:
            reasons.append(Reason("field", rule.name, share, level, limit, coverage.articles,
                                  tuple(coverage.examples[rule.name])))
    return reasons


def origin_reasons(coverage: Coverage, history: Sequence[Coverage], thresholds: Thresholds) -> list[Reason]:
    """The origin's failure share, when it rose clearly above its usual level."""
    if coverage.origin_asked < thresholds.min_articles:
        return []
    level = usual_levels(history, thresholds)["origin"]
    limit = level + thresholds.rise if level is not None else thresholds.origin_share
    share = coverage.origin_share()
    if share <= limit:
        return []
    return [Reason("origin", "origin", share, level, limit, coverage.origin_asked,
                   tuple(coverage.origin_examples))]


def stale_reasons(evidence: Evidence, thresholds: Thresholds) -> list[Reason]:
    """The site answered, but no crawl found a new article for longer than allowed."""
    if thresholds.stale_hours <= 0 or not evidence.site_answered or evidence.new_articles:
        return []
    if evidence.now is None or evidence.last_new_article_at is None:
        return []
    hours = (evidence.now - evidence.last_new_article_at).total_seconds() / 3600
    if hours <= thresholds.stale_hours:
        return []
    return [Reason("stale", "site", hours, None, thresholds.stale_hours, 0, tuple(evidence.newest_urls[:2]))]


def drop_reasons(evidence: Evidence, thresholds: Thresholds) -> list[Reason]:
    """Validation dropped more than the allowed share of the article pages parsed."""
    dropped = sum(evidence.validation_drops.values())
    total = evidence.validated + dropped
    if total < thresholds.min_articles or dropped / total <= thresholds.drop_share:
        return []
    return [Reason("drops", "validation", dropped / total, None, thresholds.drop_share, total,
                   tuple(evidence.drop_examples[:2]))]


@dataclass(frozen=True)
class RunRecord:
    """What ``newscrawl check`` needs of one recorded run."""

    run_id: int
    outcome: str
    finished_at: datetime | None
    reasons: Sequence[str] = ()


def check(latest: RunRecord | None, last_success: RunRecord | None, now: datetime,
          max_age_hours: float) -> tuple[str, str]:
    """``newscrawl check``'s verdict on the recorded runs: (``"ok"`` | ``"degraded"`` | ``"failed"``, one line).

    ``latest`` is the latest finished run, ``last_success`` the latest that ended ok or degraded (it archived
    what the site showed). Failed: no run finished, the latest failed or was interrupted, or the latest
    success is older than ``max_age_hours``; degraded: the latest run was degraded; else ok.
    """
    if latest is None:
        return "failed", "no crawl run has finished in this archive"
    problems = []
    if last_success is None or last_success.finished_at is None:
        problems.append("no run has ever succeeded")
    else:
        age = (now - last_success.finished_at).total_seconds() / 3600
        if age > max_age_hours:
            problems.append(f"the last successful run #{last_success.run_id} ended {age:.1f} hours ago "
                            f"(--max-age {max_age_hours:g})")
    what = f"run #{latest.run_id} {latest.outcome}"
    if latest.finished_at is not None:
        what += f" {(now - latest.finished_at).total_seconds() / 3600:.1f} hours ago"
    first = f": {latest.reasons[0]}" if latest.reasons else ""
    more = f" (+{len(latest.reasons) - 1} more)" if len(latest.reasons) > 1 else ""
    if latest.outcome in ("failed", "interrupted"):
        problems.insert(0, f"the last {what}{first}{more}")
    if problems:
        return "failed", "; ".join(problems)
    if latest.outcome == "degraded":
        return "degraded", f"the last {what}{first}{more}"
    return "ok", f"the last {what}"
