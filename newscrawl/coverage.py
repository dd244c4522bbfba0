"""Field coverage: for each field of an article, whether the page's primary rule gave it, a fallback did,
or nothing did. Pure code, no Scrapy (docs/operations.md, "Monitoring").

The parser names every fallback it took in ``Article.flags`` (``date_from_metadata``: no date line, the
date came from the page's metadata); a field that stayed None is missing. A run's ``Coverage`` counts this
for every article page it parsed and keeps two example URLs per field that did not come from its rule;
it is stored with the run (``crawl_runs.coverage``), shown by ``newscrawl stats`` and judged by
``newscrawl.health``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from newscrawl.items import Article

PRIMARY, FALLBACK, MISSING = "primary", "fallback", "missing"
SOURCES = (PRIMARY, FALLBACK, MISSING)
EXAMPLES_PER_FIELD = 2
# Origin statuses of articles whose origin was not asked: no share link, one to another host, or following
# share links switched off (Article.origin_status).
NOT_ASKED = frozenset({None, "offsite", "not_followed"})


@dataclass(frozen=True)
class FieldRule:
    """How to tell where one field came from."""

    name: str
    attribute: str
    # Flags of the parser that say the value came from a fallback rule.
    fallback_flags: frozenset[str] = frozenset()
    # Every article page of the site's layout carries it: before a run history exists, a fixed limit on its
    # fallback-or-missing share applies (NEWSCRAWL_MONITOR_FIELD_SHARE). Fields many real posts lack (the
    # replica: no summary in 161 of 166 pages, no source in 149) are judged against their history only.
    every_page: bool = True


FIELDS: tuple[FieldRule, ...] = (
    FieldRule("title", "title", frozenset({"title_from_metadata"})),
    FieldRule("published_at", "published_at", frozenset({"date_from_metadata"})),
    # A page cut short (no </section>): the body was taken to the end of the page.
    FieldRule("body", "body_html", frozenset({"truncated"})),
    FieldRule("tags", "tags"),
    FieldRule("publisher", "publisher"),
    FieldRule("share_url", "share_url", every_page=False),
    FieldRule("summary", "summary", every_page=False),
    FieldRule("source", "source", every_page=False),
)
FIELD_NAMES = tuple(rule.name for rule in FIELDS)


def field_sources(article: Article) -> dict[str, str]:
    """``{field: "primary" | "fallback" | "missing"}`` for one parsed article."""
    sources = {}
    flags = set(article.flags)
    for rule in FIELDS:
        value = getattr(article, rule.attribute)
        if value is None or (isinstance(value, str) and not value.strip()):
            sources[rule.name] = MISSING
        elif flags & rule.fallback_flags:
            sources[rule.name] = FALLBACK
        else:
            sources[rule.name] = PRIMARY
    return sources


@dataclass
class Coverage:
    """Where the fields of a run's articles came from: counts per field and source, and examples."""

    articles: int = 0
    counts: dict[str, dict[str, int]] = field(
        default_factory=lambda: {name: dict.fromkeys(SOURCES, 0) for name in FIELD_NAMES})
    # Up to EXAMPLES_PER_FIELD URLs of articles whose field came from a fallback or was missing.
    examples: dict[str, list[str]] = field(default_factory=lambda: {name: [] for name in FIELD_NAMES})
    # Share links whose origin text was asked for, how many of those gave no usable text, and examples.
    origin_asked: int = 0
    origin_failed: int = 0
    origin_examples: list[str] = field(default_factory=list)

    def add(self, article: Article) -> None:
        self.articles += 1
        if article.origin_status not in NOT_ASKED:
            self.origin_asked += 1
            if article.origin_status != "ok":
                self.origin_failed += 1
                if len(self.origin_examples) < EXAMPLES_PER_FIELD:
                    self.origin_examples.append(article.url)
        for name, source in field_sources(article).items():
            self.counts[name][source] += 1
            if source != PRIMARY and len(self.examples[name]) < EXAMPLES_PER_FIELD:
                self.examples[name].append(article.url)

    def not_primary(self, name: str) -> int:
        """How many articles got ``name`` from a fallback or not at all."""
        return self.counts[name][FALLBACK] + self.counts[name][MISSING]

    def share(self, name: str) -> float:
        """The fallback-or-missing share of ``name`` (0 for a run without articles)."""
        return self.not_primary(name) / self.articles if self.articles else 0.0

    def origin_share(self) -> float:
        """The share of origin requests that gave no usable text (0 when none was asked)."""
        return self.origin_failed / self.origin_asked if self.origin_asked else 0.0

    def as_json(self) -> dict[str, Any]:
        return {"articles": self.articles, "fields": {name: dict(c) for name, c in self.counts.items()},
                "examples": {name: list(urls) for name, urls in self.examples.items() if urls},
                "origin": {"asked": self.origin_asked, "failed": self.origin_failed,
                           "examples": list(self.origin_examples)}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Coverage:
        """A coverage as stored; fields unknown to this code are ignored, missing ones count zero."""
        coverage = cls()
        if not data:
            return coverage
        coverage.articles = int(data.get("articles") or 0)
        for name, counts in (data.get("fields") or {}).items():
            if name in coverage.counts and isinstance(counts, Mapping):
                coverage.counts[name] = {source: int(counts.get(source) or 0) for source in SOURCES}
        for name, urls in (data.get("examples") or {}).items():
            if name in coverage.examples and isinstance(urls, list):
                coverage.examples[name] = [str(url) for url in urls][:EXAMPLES_PER_FIELD]
        origin = data.get("origin") or {}
        coverage.origin_asked = int(origin.get("asked") or 0)
        coverage.origin_failed = int(origin.get("failed") or 0)
        coverage.origin_examples = [str(url) for url in origin.get("examples") or []][:EXAMPLES_PER_FIELD]
        return coverage


def coverage_lines(coverage: Coverage) -> list[str]:
    """A small table for people: one line per field, articles from the primary rule, a fallback, nothing."""
    width = max(len(name) for name in FIELD_NAMES)
    lines = [f"{'field':<{width}}  {PRIMARY:>7}  {FALLBACK:>8}  {MISSING:>7}"]
    for name in FIELD_NAMES:
        counts = coverage.counts[name]
        lines.append(f"{name:<{width}}  {counts[PRIMARY]:>7}  {counts[FALLBACK]:>8}  {counts[MISSING]:>7}")
    if coverage.origin_asked:
        lines.append(f"origin text: {coverage.origin_asked - coverage.origin_failed} of {coverage.origin_asked} "
                     "share links answered")
    return lines
