"""Telling the operator when the site or the data goes wrong: field coverage, the degraded outcome, the
metrics file and ``newscrawl check`` (docs/operations.md, "Monitoring").

The crawls run against a small site of our own whose theme drifts (tests/drift_site.py): its posts'
fields are known, so the coverage a run reports is checked against what the pages really are.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from crawling import SITE_URL, crawl, query
from drift_site import Post, build_site, posts, render_post, serve, with_theme
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text

from newscrawl import health
from newscrawl.cli import main
from newscrawl.coverage import FALLBACK, MISSING, PRIMARY, Coverage, field_sources
from newscrawl.health import Evidence, Reason, RunRecord, Thresholds, check
from newscrawl.parsers import parse_article
from newscrawl.storage import Archive

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
TESTS = Path(__file__).resolve().parent
URLS = [f"http://finews.withounder.com/a/2022/03/01/{n}.html" for n in range(4)]


def assess(evidence: Evidence, history: list[Coverage], thresholds: Thresholds) -> list[Reason]:
    """Every reason the rules give, in the monitors' order (newscrawl.monitors runs each as a monitor)."""
    return [*health.field_reasons(evidence.coverage, history, thresholds),
            *health.origin_reasons(evidence.coverage, history, thresholds),
            *health.stale_reasons(evidence, thresholds), *health.drop_reasons(evidence, thresholds)]


def parsed(post: Post) -> Any:
    return parse_article(render_post(post), SITE_URL.rstrip("/") + post.path)


def coverage_of(articles: int, not_primary: dict[str, int], origin: tuple[int, int] = (0, 0)) -> Coverage:
    """A run's coverage: ``articles`` parsed, ``not_primary[field]`` of them from a fallback."""
    coverage = Coverage(articles=articles)
    for name, counts in coverage.counts.items():
        counts[FALLBACK] = not_primary.get(name, 0)
        counts[PRIMARY] = articles - counts[FALLBACK]
        coverage.examples[name] = URLS[:2] if not_primary.get(name) else []
    coverage.origin_asked, coverage.origin_failed = origin
    coverage.origin_examples = URLS[2:] if origin[1] else []
    return coverage


def lines(reasons: list[Reason]) -> list[str]:
    return [reason.line() for reason in reasons]


# -- field coverage, from the real parser on the drift site's pages ----------------------------------------


def test_each_theme_s_fields_come_from_the_rule_a_fallback_or_nothing() -> None:
    original, date_changed, new_theme = (with_theme(posts(1), theme)[0] for theme in
                                         ("original", "date_changed", "new_theme"))
    assert set(field_sources(parsed(original)).values()) == {PRIMARY}
    # The date line changed form: the date comes from the page's article:published_time.
    changed = field_sources(parsed(date_changed))
    assert changed.pop("published_at") == FALLBACK and set(changed.values()) == {PRIMARY}
    assert parsed(date_changed).published_at == date_changed.published_at
    # A new theme: the title from og:title, the date nowhere (that theme has no date metadata), and the
    # summary lost (the article part now starts with the unknown date line, before the summary paragraph).
    moved = field_sources(parsed(new_theme))
    assert (moved.pop("title"), moved.pop("published_at"), moved.pop("summary")) == (FALLBACK, MISSING, MISSING)
    assert set(moved.values()) == {PRIMARY}


def test_coverage_counts_and_keeps_two_examples_and_survives_json() -> None:
    coverage = Coverage()
    chosen = posts(3) + with_theme(posts(3, first=3), "date_changed")
    for post in chosen:
        coverage.add(parsed(post))
    assert coverage.articles == 6
    assert coverage.counts["published_at"] == {PRIMARY: 3, FALLBACK: 3, MISSING: 0}
    assert coverage.share("published_at") == 0.5 and coverage.share("title") == 0.0
    assert coverage.examples["published_at"] == [SITE_URL.rstrip("/") + p.path for p in chosen[3:5]]
    assert Coverage.from_json(coverage.as_json()) == coverage


# -- the rules (newscrawl.health) ------------------------------------------------------------------------


def test_first_runs_judge_fields_every_page_carries_by_a_fixed_limit() -> None:
    thresholds = Thresholds()
    assert assess(Evidence(coverage_of(12, {"published_at": 2})), [], thresholds) == []  # 17% <= 20%
    reasons = assess(Evidence(coverage_of(12, {"published_at": 6, "summary": 12})), [], thresholds)
    # Half the dates from a fallback: one line, naming the field, its share and two examples. Summaries,
    # which most real posts lack, have no fixed limit.
    assert lines(reasons) == [f"published_at: from a fallback or missing in 50% of 12 articles "
                              f"(before: no history yet, limit 20%); e.g. {URLS[0]}, {URLS[1]}"]


def test_a_field_is_judged_against_its_usual_level_once_there_is_a_history() -> None:
    thresholds = Thresholds()
    usual = [coverage_of(20, {"published_at": 10, "summary": 4}) for _ in range(3)]  # 50%, 20%
    # Where half the dates always came from the metadata, 60% is no news; 80% is.
    assert assess(Evidence(coverage_of(10, {"published_at": 6, "summary": 2})), usual, thresholds) == []
    reasons = assess(Evidence(coverage_of(10, {"published_at": 8, "summary": 5})), usual, thresholds)
    assert lines(reasons) == [
        f"published_at: from a fallback or missing in 80% of 10 articles (before 50%); e.g. {URLS[0]}, {URLS[1]}",
        f"summary: from a fallback or missing in 50% of 10 articles (before 20%); e.g. {URLS[0]}, {URLS[1]}",
    ]
    # Runs that parsed too few articles carry no evidence, neither as history nor as the run judged.
    few = [coverage_of(5, {}) for _ in range(5)]
    assert lines(assess(Evidence(coverage_of(10, {"summary": 10})), few, thresholds)) == []
    assert assess(Evidence(coverage_of(9, {"published_at": 9})), usual, thresholds) == []


def test_the_origin_failing_more_than_usual_degrades_a_run() -> None:
    thresholds = Thresholds()
    assert assess(Evidence(coverage_of(12, {}, origin=(12, 2))), [], thresholds) == []
    reasons = assess(Evidence(coverage_of(12, {}, origin=(12, 6))), [], thresholds)
    assert lines(reasons) == [f"origin: text failed for 50% of 12 share links asked "
                              f"(before: no history yet, limit 20%); e.g. {URLS[2]}, {URLS[3]}"]
    flaky = [coverage_of(20, {}, origin=(20, 8)) for _ in range(3)]
    assert assess(Evidence(coverage_of(12, {}, origin=(12, 6))), flaky, thresholds) == []


def test_a_site_that_answers_without_new_articles_for_too_long_is_stale() -> None:
    thresholds = Thresholds(stale_hours=24)

    def evidence(hours_ago: float, answered: bool = True, new: int = 0) -> Evidence:
        return Evidence(Coverage(), site_answered=answered, new_articles=new, now=NOW,
                        last_new_article_at=NOW - timedelta(hours=hours_ago), newest_urls=URLS[:2])

    assert assess(evidence(10), [], thresholds) == []
    assert lines(assess(evidence(30), [], thresholds)) == [
        f"site: answered, but no new article for 30.0 hours (limit 24 hours); newest archived: {URLS[0]}, {URLS[1]}"]
    assert assess(evidence(30, answered=False), [], thresholds) == []  # unreachable: the run fails instead
    assert assess(evidence(30, new=1), [], thresholds) == []
    assert assess(evidence(30), [], Thresholds(stale_hours=0)) == []  # switched off


def test_validation_dropping_too_many_pages_degrades_a_run() -> None:
    thresholds = Thresholds(drop_share=0.1)
    ok = Evidence(Coverage(), validated=19, validation_drops={"missing_title": 1})
    assert assess(ok, [], thresholds) == []
    bad = Evidence(Coverage(), validated=15, validation_drops={"missing_title": 3, "missing_date": 2},
                   drop_examples=URLS[:2])
    assert lines(assess(bad, [], thresholds)) == [
        f"validation: 25% of 20 article pages dropped (limit 10%); e.g. {URLS[0]}, {URLS[1]}"]


# -- newscrawl check ------------------------------------------------------------------------------------


def record(run_id: int, outcome: str, hours_ago: float, reasons: tuple[str, ...] = ()) -> RunRecord:
    return RunRecord(run_id, outcome, NOW - timedelta(hours=hours_ago), reasons)


def test_check_verdicts() -> None:
    ok, degraded = record(3, "ok", 1), record(3, "degraded", 1, ("published_at: …", "origin: …"))
    assert check(ok, ok, NOW, 24) == ("ok", "the last run #3 ok 1.0 hours ago")
    assert check(degraded, degraded, NOW, 24) == (
        "degraded", "the last run #3 degraded 1.0 hours ago: published_at: … (+1 more)")
    failed = record(4, "failed", 1, ("no page of the site could be read (site unreachable?)",))
    assert check(failed, ok, NOW, 24) == (
        "failed", "the last run #4 failed 1.0 hours ago: no page of the site could be read (site unreachable?)")
    assert check(record(4, "interrupted", 1), ok, NOW, 24)[0] == "failed"
    old = record(3, "ok", 30)
    assert check(old, old, NOW, 24) == ("failed", "the last successful run #3 ended 30.0 hours ago (--max-age 24)")
    assert check(old, old, NOW, 48)[0] == "ok"
    assert check(None, None, NOW, 24) == ("failed", "no crawl run has finished in this archive")


def _age_runs(db_url: str, hours: float) -> None:
    """Move every recorded run ``hours`` into the past, as if the archive had not been crawled since."""
    engine = create_engine(db_url)
    shift = timedelta(hours=hours)
    try:
        with engine.begin() as connection:
            rows = connection.execute(text("SELECT run_id, started_at, finished_at FROM crawl_runs")).all()
            for run_id, started, finished in rows:
                def back(moment: Any) -> Any:
                    if moment is None:
                        return None
                    value = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
                    moved = value - shift
                    return moved.isoformat() if isinstance(moment, str) else moved
                connection.execute(text("UPDATE crawl_runs SET started_at = :s, finished_at = :f WHERE run_id = :r"),
                                   {"s": back(started), "f": back(finished), "r": run_id})
    finally:
        engine.dispose()


def test_newscrawl_check_exits_by_the_last_run_s_outcome(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    def run_check(*extra: str) -> tuple[int, str]:
        status = main(["check", "--db", db_url, *extra])
        out = capsys.readouterr().out.strip()
        assert "\n" not in out
        return status, out

    with Archive.open(db_url) as archive:
        assert run_check() == (1, "newscrawl check: failed: no crawl run has finished in this archive")
        first = archive.start_run("http://finews.withounder.com/", {})
        archive.finish_run(first, "ok", {"new": 3}, coverage={}, reasons=[])
        status, out = run_check()
        assert status == 0 and out.startswith(f"newscrawl check: ok: the last run #{first} ok")
        second = archive.start_run("http://finews.withounder.com/", {})
        archive.finish_run(second, "degraded", {"new": 3}, reasons=["published_at: from a fallback …"])
        status, out = run_check()
        assert status == 3
        assert out.startswith(f"newscrawl check: degraded: the last run #{second} degraded")
        assert out.endswith(": published_at: from a fallback …")
        third = archive.start_run("http://finews.withounder.com/", {})
        archive.finish_run(third, "failed", {}, reasons=["the crawl stopped early (shutdown)"])
        status, out = run_check()
        assert status == 1 and out.endswith("failed 0.0 hours ago: the crawl stopped early (shutdown)")
        fourth = archive.start_run("http://finews.withounder.com/", {})
        archive.finish_run(fourth, "ok", {"new": 0}, reasons=[])
        assert run_check()[0] == 0
    _age_runs(db_url, 30)
    status, out = run_check()
    assert status == 1 and f"the last successful run #{fourth} ended 30.0 hours ago (--max-age 24)" in out
    assert run_check("--max-age", "31")[0] == 0
    for bad in ("0", "-1", "soon"):
        with pytest.raises(SystemExit) as usage:
            main(["check", "--db", db_url, "--max-age", bad])
        assert usage.value.code == 2
        assert "not a positive number of hours" in capsys.readouterr().err


# -- crawls of the drift site -------------------------------------------------------------------------------


def metrics(path: Path) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text file, parsed by prometheus_client's own parser."""
    samples = {}
    for family in text_string_to_metric_families(path.read_text("utf-8")):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_half_the_date_lines_changing_form_makes_the_run_degraded(
        db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    chosen = posts(6) + with_theme(posts(6, first=6), "date_changed")
    build_site(tmp_path, chosen)
    metrics_file = tmp_path / "metrics" / "newscrawl.prom"
    action_file = tmp_path / "action.txt"
    with serve(tmp_path) as server:
        result = crawl(server, db_url, tmp_path, "-s", f"TEST_ACTION_FILE={action_file}",
                       env={"NEWSCRAWL_METRICS_FILE": str(metrics_file), "PYTHONPATH": str(TESTS),
                            "NEWSCRAWL_MONITOR_ACTIONS": "monitor_action.WriteReasons"})
    assert result.returncode == 3, result.stdout + result.stderr[-2000:]
    printed = result.stdout.strip().splitlines()
    assert printed[0].startswith("newscrawl crawl: degraded: 12 new, 0 updated")
    # One line for the one broken field: its share before (no history: the fixed limit) and now, two examples.
    assert len(printed) == 2
    reason = printed[1]
    assert reason.startswith("newscrawl crawl: degraded: published_at: from a fallback or missing in 50% "
                             "of 12 articles (before: no history yet, limit 20%); e.g. ")
    # The Spidermon action named in NEWSCRAWL_MONITOR_ACTIONS ran, with the same reason.
    assert action_file.read_text("utf-8") == reason.removeprefix("newscrawl crawl: degraded: ") + "\n"
    examples = re.findall(r"http://\S+?\.html", reason)
    assert len(examples) == 2 and {SITE_URL.rstrip("/") + p.path for p in chosen[6:]} >= set(examples)
    # Every article is archived all the same, with its right date.
    rows = query(db_url, "SELECT article_id FROM articles")
    assert sorted(r["article_id"] for r in rows) == sorted(p.article_id for p in chosen)
    [run] = query(db_url, "SELECT outcome, coverage, reasons FROM crawl_runs")
    assert run["outcome"] == "degraded"
    stored = Coverage.from_json(run["coverage"] if isinstance(run["coverage"], dict) else json.loads(run["coverage"]))
    assert stored.articles == 12 and stored.counts["published_at"] == {PRIMARY: 6, FALLBACK: 6, MISSING: 0}
    assert stored.origin_asked == 12 and stored.origin_failed == 0
    # The metrics file says the same, in Prometheus' text format.
    samples = metrics(metrics_file)
    assert samples[("newscrawl_last_run_outcome", (("outcome", "degraded"),))] == 1
    assert samples[("newscrawl_last_run_outcome", (("outcome", "ok"),))] == 0
    assert samples[("newscrawl_last_run_articles", (("state", "new"),))] == 12
    assert samples[("newscrawl_last_run_field_articles", (("field", "published_at"), ("source", "fallback")))] == 6
    assert samples[("newscrawl_last_run_field_fallback_or_missing_ratio", (("field", "published_at"),))] == 0.5
    assert samples[("newscrawl_last_run_degraded_reasons", ())] == 1
    assert samples[("newscrawl_archive_articles", ())] == 12
    assert samples[("newscrawl_archive_bytes", (("part", "warc"),))] > 0
    assert ("newscrawl_last_success_timestamp_seconds", ()) not in samples  # no ok run yet
    assert not list(metrics_file.parent.glob("*.tmp*"))  # written through a temporary file, renamed
    assert main(["check", "--db", db_url]) == 3
    capsys.readouterr()
    # newscrawl stats shows the coverage and the reason.
    assert main(["stats", "--db", db_url]) == 0
    shown = capsys.readouterr().out
    assert "field coverage of run #1 (12 article pages parsed)" in shown
    assert re.search(r"^  published_at +6 +6 +0$", shown, re.M) and re.search(r"^  title +12 +0 +0$", shown, re.M)
    assert "origin text: 12 of 12 share links answered" in shown
    assert "  #1 published_at: from a fallback or missing in 50% of 12 articles" in shown
    assert main(["stats", "--db", db_url, "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)["runs"]
    assert listed["outcome"] == "degraded" and listed["coverage"]["fields"]["published_at"]["fallback"] == 6
    assert listed["reasons"] == [reason.removeprefix("newscrawl crawl: degraded: ")]


def test_an_unchanged_site_gives_three_ok_runs(db_url: str, tmp_path: Path) -> None:
    build_site(tmp_path, posts(12))
    metrics_file = tmp_path / "newscrawl.prom"
    action_file = tmp_path / "action.txt"
    with serve(tmp_path) as server:
        results = [crawl(server, db_url, tmp_path, "-s", f"TEST_ACTION_FILE={action_file}",
                         env={"NEWSCRAWL_METRICS_FILE": str(metrics_file), "PYTHONPATH": str(TESTS),
                              "NEWSCRAWL_MONITOR_ACTIONS": "monitor_action.WriteReasons"})
                   for _ in range(3)]
    assert [r.returncode for r in results] == [0, 0, 0], [r.stdout for r in results]
    assert not action_file.exists()  # the actions run for a degraded run only
    assert all(len(r.stdout.strip().splitlines()) == 1 for r in results)
    runs = query(db_url, "SELECT outcome, new, unchanged FROM crawl_runs ORDER BY run_id")
    assert [(r["outcome"], r["new"], r["unchanged"]) for r in runs] == [("ok", 12, 0), ("ok", 0, 12), ("ok", 0, 12)]
    samples = metrics(metrics_file)
    assert samples[("newscrawl_last_run_outcome", (("outcome", "ok"),))] == 1
    assert samples[("newscrawl_last_run_articles", (("state", "unchanged"),))] == 12
    assert samples[("newscrawl_last_success_timestamp_seconds", ())] == samples[
        ("newscrawl_last_run_timestamp_seconds", ())]
    assert main(["check", "--db", db_url]) == 0


def test_a_field_breaking_after_ok_runs_is_measured_against_them(db_url: str, tmp_path: Path) -> None:
    build_site(tmp_path, posts(12))
    with serve(tmp_path) as server:
        before = [crawl(server, db_url, tmp_path, "--full") for _ in range(3)]
        assert [r.returncode for r in before] == [0, 0, 0], [r.stdout for r in before]
        build_site(tmp_path, posts(6) + with_theme(posts(6, first=6), "date_changed"))
        after = crawl(server, db_url, tmp_path, "--full")
    assert after.returncode == 3, after.stdout
    assert after.stdout.strip().splitlines()[1].startswith(
        "newscrawl crawl: degraded: published_at: from a fallback or missing in 50% of 12 articles (before 0%); e.g. ")


def test_an_origin_that_stops_answering_half_the_share_links_makes_the_run_degraded(
        db_url: str, tmp_path: Path) -> None:
    chosen = posts(12)
    build_site(tmp_path, chosen, no_origin=frozenset(p.article_id for p in chosen[::2]))
    with serve(tmp_path) as server:
        result = crawl(server, db_url, tmp_path)
    assert result.returncode == 3, result.stdout
    [_, reason] = result.stdout.strip().splitlines()
    assert reason.startswith("newscrawl crawl: degraded: origin: text failed for 50% of 12 share links asked "
                             "(before: no history yet, limit 20%); e.g. ")
    examples = set(re.findall(r"http://\S+?\.html", reason))
    assert len(examples) == 2 and examples <= {SITE_URL.rstrip("/") + p.path for p in chosen[::2]}
    assert len(query(db_url, "SELECT article_id FROM articles")) == 12  # archived from the mirror all the same


def test_a_site_without_new_articles_for_a_day_is_stale(db_url: str, tmp_path: Path) -> None:
    build_site(tmp_path, posts(12))
    with serve(tmp_path) as server:
        assert crawl(server, db_url, tmp_path).returncode == 0
        _age_runs(db_url, 30)
        result = crawl(server, db_url, tmp_path)
    assert result.returncode == 3, result.stdout
    [_, reason] = result.stdout.strip().splitlines()
    assert re.fullmatch(r"newscrawl crawl: degraded: site: answered, but no new article for 30\.\d hours "
                        r"\(limit 24 hours\); newest archived: http://\S+\.html, http://\S+\.html", reason), reason


def test_a_drifted_theme_is_reported_kept_as_warc_and_recovered_by_reparse(
        db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    earlier = posts(6)
    build_site(tmp_path, earlier)
    with serve(tmp_path) as server:
        assert crawl(server, db_url, tmp_path).returncode == 0
        # The theme changes: every page is rendered anew, with six new posts.
        drifted = with_theme(posts(12), "new_theme")
        build_site(tmp_path, drifted)
        result = crawl(server, db_url, tmp_path)
    # Nothing of the new theme could be archived: the run fails, and says which fields broke.
    assert result.returncode == 1, result.stdout
    printed = result.stdout.strip().splitlines()
    assert "the site listed articles but none could be archived" in printed[0]
    assert any(line.startswith("newscrawl crawl: failed: title: from a fallback or missing in 100% of 12 articles")
               for line in printed), printed
    assert any(line.startswith("newscrawl crawl: failed: published_at: from a fallback or missing in 100% of 12")
               for line in printed), printed
    assert sorted(r["article_id"] for r in query(db_url, "SELECT article_id FROM articles")) == sorted(
        p.article_id for p in earlier)
    # The raw pages are kept all the same.
    from newscrawl.warc import iter_responses

    kept = {raw.url for raw in iter_responses(tmp_path / "warc") if raw.kind == "article"}
    assert kept == {SITE_URL.rstrip("/") + p.path for p in drifted}

    # The parser learns the new layout (what a fix of newscrawl/parsers/xpaths.py does): the date in
    # <time datetime>, the title in <h1 class="post-title">.
    from newscrawl.parsers import xpaths

    monkeypatch.setattr(xpaths, "DATE_LINE", re.compile(
        r"(?:<small>\s*\(GMT\+8,\s*Asia/Shanghai,\s*CST\)\s*|<time datetime=\")"
        r"(?P<date>\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2})?)(?:\s*</small>|\">)", re.I))
    monkeypatch.setattr(xpaths, "H1_OPEN", re.compile(r"<h1(?:\s+class=\"post-title\")?>", re.I))
    assert main(["reparse", "--db", db_url, "--warc-dir", str(tmp_path / "warc")]) == 0
    capsys.readouterr()
    rows = query(db_url, "SELECT article_id, title, published_at, flags FROM articles ORDER BY article_id")
    assert [r["article_id"] for r in rows] == sorted(p.article_id for p in drifted)
    by_id = {p.article_id: p for p in drifted}
    for row in rows:
        post = by_id[row["article_id"]]
        assert row["title"] == post.title
        published = row["published_at"]
        published = datetime.fromisoformat(published) if isinstance(published, str) else published
        assert published == post.published_at
        flags = row["flags"] if isinstance(row["flags"], list) else json.loads(row["flags"])
        assert not {"title_from_metadata", "date_from_metadata", "no_date"} & set(flags)


@pytest.mark.replica
@pytest.mark.slow
def test_the_unchanged_replica_gives_three_ok_runs(tmp_path: Path) -> None:
    from conftest import REPLICA
    from test_replica import acceptance

    if not REPLICA.is_dir():
        pytest.skip("../shared/replica is not beside this checkout")
    result = acceptance(tmp_path, "--snapshots", "full,full,full", "--command", "newscrawl")
    assert [(r["exit"], r["outcome"]) for r in result["runs"]] == [(0, "ok")] * 3, [r["stdout"] for r in result["runs"]]
    assert result["found"] == result["expected"] == 165
