"""`newscrawl stats` as tables: columns line up (Chinese text takes two columns), every run says why it was
not ok, and a long archive shows its last days with a pointer to --json."""

from __future__ import annotations

import unicodedata

from newscrawl.statsview import RECENT_DAYS, render_stats


def width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def run(run_id: int, outcome: str, **counts: object) -> dict[str, object]:
    return {"run_id": run_id, "started_at": "2026-12-06T10:54:00+08:00", "finished_at": "2026-12-06T10:55:00+08:00",
            "outcome": outcome, "new": 3, "updated": 0, "unchanged": 1, "dropped": 0, "errors": 0, "pid": 42,
            "hostname": "box", "counts": {"duration_s": 4.61, **counts}}


def test_runs_categories_and_days_are_tables_with_reasons() -> None:
    stats = {
        "articles": 12, "revisions": 1, "stories": 11,
        "per_category": {"emnews": 10, "中国发展网": 1, None: 1},
        "per_day": {f"2022-01-{day:02d}": 1 for day in range(1, 21)} | {None: 2},
        "runs": [run(3, "failed", reason="no page of the site could be read (site unreachable?)"),
                 run(2, "interrupted"), run(1, "ok")],
    }
    lines = render_stats(stats, "sqlite:///data/newscrawl.sqlite3").splitlines()
    assert lines[0] == "archive sqlite:///data/newscrawl.sqlite3: 12 articles, 1 earlier versions, 11 stories"
    runs = lines[lines.index("last runs") + 1:lines.index("last runs") + 5]
    assert runs[0] == ("  run  started                 took  outcome      new  updated  unchanged  dropped  errors"
                       "  reason")
    assert runs[1] == ("  #3   2026-12-06 10:54 +0800  4.6s  failed         3        0          1        0       0"
                       "  no page of the site could be read (site unreachable?)")
    assert runs[2].endswith("interrupted    3        0          1        0       0  ended without finishing (killed?)")
    assert runs[3].endswith("  ok             3        0          1        0       0")
    categories = lines[lines.index("articles per category") + 1:lines.index("articles per category") + 5]
    assert [line.split() for line in categories] == [["category", "articles"], ["emnews", "10"], ["中国发展网", "1"],
                                                     ["(none)", "1"]]
    assert len({width(line) for line in categories}) == 1  # right-aligned counts end in one column
    day_title = next(line for line in lines if line.startswith("articles per publication day"))
    assert day_title.endswith(f"the last {RECENT_DAYS} of 20 days (--json has all)")
    days = lines[lines.index(day_title) + 2:]
    assert [line.split()[0] for line in days] == [f"2022-01-{d:02d}" for d in range(7, 21)] + ["(no"]


def test_an_empty_archive_says_so() -> None:
    text = render_stats({"articles": 0, "per_category": {}, "per_day": {}, "runs": []}, "x")
    assert "last runs: none yet" in text and "articles per category: none" in text
    assert "articles per publication day: none" in text
