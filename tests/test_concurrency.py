"""Two writers on one archive at once, and a writer killed mid-transaction (docs/schema.md, "Writes").

Real processes on a real database, on each backend: two crawls that store the same articles at the same
moment leave one row per article, every version change recorded once, and no error; a process killed with
SIGKILL leaves every transaction either whole or absent.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections import Counter
from dataclasses import replace
from datetime import timedelta
from multiprocessing.connection import Connection
from typing import Any

from sqlalchemy import text
from test_storage import T0, emnews_article

from newscrawl.items import Article
from newscrawl.storage import Archive

ARTICLES = 120
SPAWN = multiprocessing.get_context("spawn")


def _articles(version: str) -> list[Article]:
    return [
        emnews_article(f"2021120822{i:08d}", 8, f"快讯{i}：版本{version}", f"第{i}条正文，政务服务，版本{version}。",
                       content_hash=f"{i}-{version}")
        for i in range(ARTICLES)
    ]


def _writer(db_url: str, version: str, batch: int, reverse: bool, rounds: int,
            start: Any, results: Any) -> None:
    """One crawl: open the (maybe empty) archive, wait for the other, store every article ``rounds`` times."""
    try:
        with Archive.open(db_url) as archive:
            outcomes: Counter[str] = Counter()
            start.wait(timeout=60)
            for round_number in range(rounds):
                articles = _articles(f"{version}{round_number}")
                if reverse:
                    articles.reverse()
                for at in range(0, len(articles), batch):
                    seen_at = T0 + timedelta(seconds=round_number)
                    outcomes.update(archive.upsert_articles(articles[at:at + batch], seen_at))
            results.put(("ok", dict(outcomes)))
    except BaseException as error:  # reported to the test, which fails on it
        results.put(("error", repr(error)))


def _run_two_writers(db_url: str, first: dict[str, Any], second: dict[str, Any]) -> list[dict[str, int]]:
    start = SPAWN.Barrier(2)
    results = SPAWN.Queue()
    processes = [
        SPAWN.Process(target=_writer, args=(db_url, *spec.values(), start, results)) for spec in (first, second)
    ]
    for process in processes:
        process.start()
    reports = [results.get(timeout=240) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    assert [status for status, _ in reports] == ["ok", "ok"], reports
    return [outcomes for _, outcomes in reports]


def test_two_crawls_store_the_same_articles(db_url: str) -> None:
    """Same content from both: each article is new exactly once, and stored once."""
    reports = _run_two_writers(
        db_url,
        {"version": "same", "batch": 10, "reverse": False, "rounds": 1},
        {"version": "same", "batch": 1, "reverse": True, "rounds": 1},
    )
    total = Counter[str]()
    for outcomes in reports:
        total.update(outcomes)
    assert total == {"new": ARTICLES, "unchanged": ARTICLES}
    with Archive.open(db_url) as archive:
        assert archive.count_articles() == ARTICLES
        assert sorted(a.article_id for a in archive.iter_articles()) == sorted(a.article_id for a in _articles("x"))
        with archive.engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM article_revisions")).scalar_one() == 0


def test_two_crawls_with_changing_content_lose_no_revision(db_url: str) -> None:
    """Different content from each, three rounds: every change is one revision, none lost or doubled."""
    reports = _run_two_writers(
        db_url,
        {"version": "a", "batch": 7, "reverse": False, "rounds": 3},
        {"version": "b", "batch": 1, "reverse": True, "rounds": 3},
    )
    total = Counter[str]()
    for outcomes in reports:
        total.update(outcomes)
    assert total["new"] == ARTICLES
    assert sum(total.values()) == 2 * 3 * ARTICLES
    with Archive.open(db_url) as archive, archive.engine.connect() as connection:
        rows = connection.execute(text("SELECT article_id, revision FROM articles")).all()
        assert len(rows) == ARTICLES
        revisions = {
            article_id: sorted(r for (r,) in connection.execute(
                text("SELECT revision FROM article_revisions WHERE article_id = :a"), {"a": article_id}))
            for article_id, _ in rows
        }
        for article_id, revision in rows:
            assert revisions[article_id] == list(range(1, revision)), article_id
        # Each "updated" outcome made exactly one revision row.
        assert sum(revision - 1 for _, revision in rows) == total["updated"]


def _endless_writer(db_url: str, progress: Connection) -> None:
    """Rewrites every article in one transaction per round, for ever; reports each committed round."""
    with Archive.open(db_url) as archive:
        round_number = 0
        while True:
            round_number += 1
            archive.upsert_articles(_articles(str(round_number)), T0 + timedelta(seconds=round_number))
            progress.send(round_number)


def test_killed_writer_leaves_whole_transactions(db_url: str) -> None:
    receiver, sender = SPAWN.Pipe(duplex=False)
    process = SPAWN.Process(target=_endless_writer, args=(db_url, sender))
    process.start()
    committed = 0
    while committed < 3:
        assert receiver.poll(120), "the writer stopped reporting"
        committed = receiver.recv()
    assert process.pid is not None
    os.kill(process.pid, signal.SIGKILL)  # most likely in the middle of round 4's transaction
    process.join(timeout=60)
    assert process.exitcode == -signal.SIGKILL

    with Archive.open(db_url) as archive:
        if archive.dialect == "sqlite":
            with archive.engine.connect() as connection:
                assert connection.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"
                connection.execute(text("INSERT INTO search_fts(search_fts) VALUES('integrity-check')"))
        articles = list(archive.iter_articles())
        assert len(articles) == ARTICLES
        with archive.engine.connect() as connection:
            revisions = set(connection.execute(text("SELECT revision FROM articles")).scalars())
            revision_rows = connection.execute(text("SELECT count(*) FROM article_revisions")).scalar_one()
        # All or nothing: every article is at the same round, which is a committed one.
        assert len(revisions) == 1
        (revision,) = revisions
        assert revision >= committed
        assert {a.content_hash for a in articles} == {f"{i}-{revision}" for i in range(ARTICLES)}
        assert revision_rows == ARTICLES * (revision - 1)
        assert len(archive.search(f"版本{revision}", limit=ARTICLES + 1)) == ARTICLES
        assert archive.search(f"版本{revision + 1}") == []
        # The archive takes writes again at once.
        assert archive.upsert_article(replace(articles[0], content_hash="after"), T0 + timedelta(days=1)) == "updated"
