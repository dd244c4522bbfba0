"""``article_counts`` (newscrawl.storage.summary) against the articles themselves, on both backends.

``newscrawl stats`` reads its per-day and per-category counts from the summary the archive keeps; each
test compares what ``Archive.stats()`` answers with what the database computes from ``articles`` with its
own date functions, ordered by the database as ``stats`` orders them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import text
from test_storage import CST, T0, emnews_article, sample_articles, seed_article

from newscrawl.items import PostFile
from newscrawl.storage import Archive


@pytest.fixture
def archive(db_url: str) -> Iterator[Archive]:
    with Archive.open(db_url) as opened:
        yield opened


def grouped(archive: Archive) -> dict[str, Any]:
    """articles, per_category and per_day as the database counts them from ``articles``."""
    if archive.dialect == "postgresql":
        day = "CAST(CAST(published_at AT TIME ZONE 'Etc/GMT-8' AS date) AS text)"
    else:
        day = "date(published_at, '+8 hours')"  # the stored text's offset applied, then UTC+8's
    with archive.engine.connect() as connection:
        total = connection.execute(text("SELECT count(*) FROM articles")).scalar_one()
        per_category = connection.execute(text(
            "SELECT category, count(*) FROM articles GROUP BY category ORDER BY category ASC NULLS LAST")).all()
        per_day = connection.execute(text(f"SELECT {day} AS d, count(*) FROM articles GROUP BY d ORDER BY d")).all()
    return {"articles": total, "per_category": list(map(tuple, per_category)), "per_day": list(map(tuple, per_day))}


def counted(archive: Archive) -> dict[str, Any]:
    stats = archive.stats(recent_runs=0)
    return {"articles": stats["articles"], "per_category": list(stats["per_category"].items()),
            "per_day": list(stats["per_day"].items())}


def test_counts_follow_every_write(archive: Archive) -> None:
    # The last millisecond of a day (SQLite's date functions, the oracle, round to milliseconds).
    first = emnews_article("202112082206000001", 8, "午夜前", "午夜前一毫秒。",
                           published_at=datetime(2021, 12, 8, 23, 59, 59, 999000, tzinfo=CST))
    midnight = emnews_article("202112092206000002", 9, "午夜", "UTC+8 的零点，UTC 的前一天。",
                              published_at=datetime(2021, 12, 8, 16, 0, tzinfo=UTC))
    undated = emnews_article("202112092206000003", 9, "无日期", "没有发布时间。", published_at=None)
    uncategorised = emnews_article("202112092206000004", 9, "无分类", "没有分类。", category=None,
                                   published_at=datetime(2021, 12, 9, 7, 59, tzinfo=timezone(timedelta(hours=-5))))
    # Out of the range both backends hold: stored undated (date_out_of_range).
    ancient = emnews_article("202112092206000005", 9, "太早", "公元一年之前。",
                             published_at=datetime(1, 1, 1, 2, 0, tzinfo=timezone(timedelta(hours=5))))
    archive.upsert_articles([*sample_articles(), first, midnight, undated, uncategorised, ancient], T0)
    assert counted(archive) == grouped(archive)
    assert counted(archive)["articles"] == 9
    assert ("2021-12-09", 3) in counted(archive)["per_day"]  # the midnight post is the 9th's in UTC+8

    # Revisions that move an article to another day, to another category, to no date, and back.
    archive.upsert_article(replace(first, published_at=datetime(2021, 12, 10, 1, 0, tzinfo=CST),
                                   content_hash="moved-day"), T0 + timedelta(hours=1))
    archive.upsert_article(replace(midnight, category="cailianshe", content_hash="moved-category"),
                           T0 + timedelta(hours=1))
    archive.upsert_article(replace(seed_article(), published_at=None, content_hash="undated"), T0 + timedelta(hours=1))
    archive.upsert_article(replace(undated, published_at=datetime(2022, 1, 1, tzinfo=CST), content_hash="dated"),
                           T0 + timedelta(hours=1))
    # Unchanged and seen again: no count moves.
    archive.upsert_articles(sample_articles()[1:], T0 + timedelta(hours=2))
    archive.mark_seen_many([first.article_id], T0 + timedelta(hours=3))
    assert counted(archive) == grouped(archive)
    assert ("2022-02-14", 1) not in counted(archive)["per_day"]  # the seed's only day: its count is gone
    with archive.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM article_counts WHERE articles <= 0")).scalar_one() == 0

    # An imported post file counts as any other article.
    post = emnews_article("202201032206000006", 3, "导入", "从文章文件导入。",
                          published_at=datetime(2022, 1, 3, tzinfo=CST))
    post.post_file = PostFile(file_name="2022-01-03-202201032206000006.md", text="---\n---\n", folder="_posts")
    archive.upsert_imported(post, T0)
    assert counted(archive) == grouped(archive)
    assert counted(archive)["articles"] == 10


def test_counts_of_concurrent_writers(db_url: str) -> None:
    """Writers adding the first articles of the same days and categories at once, in opposite orders:
    none fails or deadlocks, and every article is counted once."""
    archives = [Archive.open(db_url) for _ in range(4)]
    errors: list[BaseException] = []
    rounds = 6
    barrier = threading.Barrier(len(archives))

    def write(number: int, archive: Archive) -> None:
        try:
            for round_ in range(rounds):
                # Each writer's own publication seconds: the search index numbers its documents per second.
                batch = [emnews_article(f"2021120{round_}{number}{i:012d}", 1, "并发", f"第{i}条。",
                                        category=None if i % 3 == 0 else "emnews",
                                        published_at=datetime(2021, 12, 1 + round_ + i % 2, 10, number, i, tzinfo=CST))
                         for i in range(6)]
                barrier.wait()
                archive.upsert_articles(batch if number % 2 else batch[::-1], T0)
        except BaseException as error:
            errors.append(error)
            barrier.abort()

    threads = [threading.Thread(target=write, args=(n, a)) for n, a in enumerate(archives)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        assert counted(archives[0]) == grouped(archives[0])
        assert counted(archives[0])["articles"] == len(archives) * rounds * 6
    finally:
        for archive in archives:
            archive.close()


@pytest.mark.parametrize("linked", [0, 3])
def test_story_count(archive: Archive, linked: int) -> None:
    articles = sample_articles()
    archive.upsert_articles([replace(a, story_id=articles[0].article_id) if i < linked else a
                             for i, a in enumerate(articles)], T0)
    with archive.engine.connect() as connection:
        stories = connection.execute(text("SELECT count(DISTINCT story_id) FROM articles")).scalar_one()
    assert archive.stats(recent_runs=0)["stories"] == stories == (1 if linked else 0)
