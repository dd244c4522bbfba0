"""The Archive repository on real databases: SQLite files and, with NEWSCRAWL_TEST_PG_URL, PostgreSQL.

What is checked is what docs/schema.md and docs/architecture.md promise: upsert outcomes, revisions,
seen-at times, runs, listing pages, story candidates, the jekyll_posts view and the schema checks.
The sample articles (``seed_article`` and friends) are shared by the other storage test modules.
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.exc import DatabaseError, IntegrityError, OperationalError

from newscrawl.items import Article
from newscrawl.storage import (
    Archive,
    ArchiveError,
    SchemaOutOfDate,
    StoryCandidate,
    current_revision,
    head_revision,
    upgrade_database,
)

CST = timezone(timedelta(hours=8))
SEED_ID = "NW202202142275724924"
SEED_TITLE = "南阳市南召县：政务服务事项一日办结赢“好评”"
SEED_SUMMARY = (
    "“全面推广应用政务服务‘好差评’系统，把话语权交给企业和服务对象，实现政务服务事项全覆盖、评价对象全覆盖、"
    "服务渠道全覆盖，2021年有效‘好差评’评价数435746件，咨询、建议、投诉办结率100%，办件涉及业务办理项发生率为100%，"
    "位于南阳市第一方阵。”南召县政务服务和大数据中心主任余国洋说。"
)
SEED_BODY_TEXT = (
    "中国发展网讯南阳市南召县通过推动政务服务标准化和流程再造，打破审批壁垒，实施“四减一造两提”，推进“一件事一次办”"
    "集成服务，设置8个“一件事一次办”功能区专窗、2个“全豫通办”窗口，实现一表申请、合并审查、集约审批，1816项政务服务"
    "事项可“一窗”受理，统一受理率100%，行政许可事项即办件占比81.5%。企业开办套餐钜惠半日“出生”。南召县设立企业开办专区。"
)
SEED_BODY_HTML = (
    f"<p><strong>摘要：</strong>{SEED_SUMMARY}</p>\r\n <p>{SEED_BODY_TEXT}</p>"
    '<p class="em_media">（文章来源：中国发展网）</p>'
)
SEED_SHARE_URL = "http://finews.zning.xyz/html_News/NewsShare.html?infoCode=NW202202142275724924"
SEED_FOOTER = (
    "[返回中国发展网新闻](//finews.withounder.com/category/zhongguofazhanwang.html)｜[返回首页](//finews.withounder.com/)"
)
T0 = datetime(2024, 11, 27, 9, 0, tzinfo=UTC)


def seed_article(**changes: object) -> Article:
    """The seed post (../shared/seed) as the parser gives it, with a few paragraphs of its body."""
    article = Article(
        article_id=SEED_ID,
        url=f"https://finews.withounder.com/zhongguofazhanwang/2022/02/14/{SEED_ID}.html",
        title=SEED_TITLE,
        published_at=datetime(2022, 2, 14, 15, 11, 7, tzinfo=CST),
        category="zhongguofazhanwang",
        tags="中国发展网新闻",
        publisher="中国发展网",
        summary=SEED_SUMMARY,
        source="中国发展网",
        share_url=SEED_SHARE_URL,
        info_code=SEED_ID,
        body_html=SEED_BODY_HTML,
        body_text=SEED_BODY_TEXT,
        footer_md=SEED_FOOTER,
        origin_html=None,
        origin_status="not_followed",
        content_hash="hash-seed-1",
        simhash=-0x0FF2_FFFF_FFFF_FFFF,  # signed, as newscrawl.stories.simhash gives it
        flags=["date_from_metadata"],
    )
    return replace(article, **changes)  # type: ignore[arg-type]


def emnews_article(article_id: str, day: int, title: str, body: str, **changes: object) -> Article:
    """A short emnews flash post of December 2021."""
    article = Article(
        article_id=article_id,
        url=f"https://finews.withounder.com/emnews/2021/12/{day:02d}/{article_id}.html",
        title=title,
        published_at=datetime(2021, 12, day, 10, 30, tzinfo=CST),
        category="emnews",
        tags="东财滚动新闻",
        publisher="东财滚动新闻",
        summary=body[:20],
        body_html=f"<p>{body}</p>",
        body_text=body,
        share_url=f"http://finance.eastmoney.com/news/1355,{article_id}.html",
        content_hash=f"hash-{article_id}",
    )
    return replace(article, **changes)  # type: ignore[arg-type]


def sample_articles() -> list[Article]:
    return [
        seed_article(),
        emnews_article("202112082206672930", 8, "离岸人民币兑美元较周二纽约尾盘跌23点",
                       "离岸人民币兑美元报6.3512，较周二纽约尾盘跌23点。"),
        emnews_article("202112082206748961", 8, "港交所(00388.HK)：北向资金净流入超40亿元",
                       "北向资金净流入超40亿元。南召无关。"),
        emnews_article("202112092207000001", 9, "美债上限问题再起波澜",
                       "美国国会就债务上限展开新一轮谈判，市场关注政务服务之外的风险。"),
    ]


@pytest.fixture
def archive(db_url: str) -> Iterator[Archive]:
    with Archive.open(db_url) as opened:
        yield opened


def test_open_creates_schema_at_head_and_sqlite_folder(tmp_path: Path) -> None:
    db_path = tmp_path / "nested" / "deeper" / "archive.sqlite3"
    with Archive.open(f"sqlite:///{db_path}"):
        pass
    assert db_path.is_file()
    assert current_revision(f"sqlite:///{db_path}") == head_revision()
    connection = sqlite3.connect(db_path)
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    connection.close()


def test_relative_sqlite_path_is_relative_to_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with Archive.open("sqlite:///data/newscrawl.sqlite3") as archive:
        archive.upsert_article(seed_article(), T0)
    assert (tmp_path / "data" / "newscrawl.sqlite3").is_file()


def test_what_is_not_content_changes_without_a_revision(archive: Archive) -> None:
    """docs/schema.md, "What is a revision": flags, validators and an origin failure are no revision."""
    article = seed_article(content_hash=None, origin_status="ok", origin_html="<p>原文</p>")
    assert archive.upsert_article(article, T0) == "new"
    again = seed_article(content_hash=None, flags=["date_from_metadata", "encoding_guessed"], etag='"e2"',
                         origin_status="http_500", origin_html=None)
    assert archive.upsert_article(again, T0 + timedelta(hours=1)) == "unchanged"
    stored = archive.get_article(SEED_ID)
    assert stored is not None and archive.revisions(SEED_ID) == []
    assert stored.flags == ["date_from_metadata", "encoding_guessed"] and stored.etag == '"e2"'
    # The origin failed this time: the archived text stays, and so does its status.
    assert (stored.origin_status, stored.origin_html) == ("ok", "<p>原文</p>")
    # A changed origin text is a revision.
    edited = seed_article(content_hash=None, origin_status="ok", origin_html="<p>改过的原文</p>")
    assert archive.upsert_article(edited, T0 + timedelta(hours=2)) == "updated"
    assert archive.revisions(SEED_ID)[0].article.origin_html == "<p>原文</p>"


def test_new_unchanged_updated(archive: Archive) -> None:
    article = seed_article()
    assert archive.upsert_article(article, T0) == "new"
    assert archive.upsert_article(article, T0 + timedelta(hours=1)) == "unchanged"
    changed = seed_article(title=SEED_TITLE + "（更新）", content_hash="hash-seed-2")
    assert archive.upsert_article(changed, T0 + timedelta(hours=2), run_id=7) == "updated"
    assert archive.count_articles() == 1

    stored = archive.get_article(SEED_ID)
    assert stored is not None
    assert stored.title == SEED_TITLE + "（更新）"
    assert stored.content_hash == "hash-seed-2"

    history = archive.revisions(SEED_ID)
    assert [revision.revision for revision in history] == [1]
    assert history[0].article.title == SEED_TITLE
    assert history[0].article.content_hash == "hash-seed-1"
    assert history[0].seen_from == T0
    assert history[0].seen_until == T0 + timedelta(hours=1)
    assert history[0].replaced_at == T0 + timedelta(hours=2)
    assert history[0].run_id == 7

    with archive.engine.connect() as connection:
        revision, first_seen = connection.execute(text("SELECT revision, first_seen_at FROM articles")).one()
    assert revision == 2
    assert _instant(first_seen) == T0


def test_round_trip_keeps_every_field(archive: Archive) -> None:
    article = seed_article(origin_html="<p>原文</p>\r\n", origin_status="ok", etag='"abc"',
                           last_modified="Mon, 14 Feb 2022 07:11:07 GMT", story_id="story-1")
    archive.upsert_article(article, T0)
    assert archive.get_article(SEED_ID) == article
    assert list(archive.iter_articles()) == [article]


def test_seen_times(archive: Archive) -> None:
    article = seed_article()
    archive.upsert_article(article, T0)
    assert archive.mark_seen_many([SEED_ID], T0 + timedelta(days=1)) == 1
    assert archive.mark_seen_many(["NW000"], T0) == 0
    # An older sighting arriving late never moves last_seen_at back.
    assert archive.mark_seen_many([SEED_ID], T0 - timedelta(days=5)) == 1
    known = archive.known_articles([article.url]).get(article.url)
    assert known is not None and known.last_seen_at == T0 + timedelta(days=1)
    assert archive.upsert_article(article, T0 - timedelta(days=3)) == "unchanged"
    known = archive.known_articles([article.url]).get(article.url)
    assert known is not None and known.last_seen_at == T0 + timedelta(days=1)
    archive.upsert_article(seed_article(content_hash="hash-seed-2"), T0 + timedelta(days=2))
    known = archive.known_articles([article.url]).get(article.url)
    assert known is not None and known.last_seen_at == T0 + timedelta(days=2)
    # The earlier version was current from the first sighting to the last one before the change.
    assert archive.revisions(SEED_ID)[0].seen_from == T0
    assert archive.revisions(SEED_ID)[0].seen_until == T0 + timedelta(days=1)
    with archive.engine.connect() as connection:
        first_seen, changed = connection.execute(text("SELECT first_seen_at, changed_at FROM articles")).one()
    # Raw column values: SQLite text or PostgreSQL datetimes; either way the same instants.
    assert _instant(first_seen) == T0
    assert _instant(changed) == T0 + timedelta(days=2)


def _instant(value: object) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def test_datetimes_come_back_aware_in_site_time(archive: Archive) -> None:
    utc_time = datetime(2022, 2, 14, 7, 11, 7, tzinfo=UTC)
    archive.upsert_article(seed_article(published_at=utc_time), T0)
    stored = archive.get_article(SEED_ID)
    assert stored is not None and stored.published_at is not None
    assert stored.published_at == utc_time
    assert stored.published_at.utcoffset() == timedelta(hours=8)
    assert stored.published_at.hour == 15


def test_naive_datetimes_are_refused(archive: Archive) -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        archive.upsert_article(seed_article(published_at=datetime(2022, 2, 14, 15, 11, 7)), T0)
    assert archive.count_articles() == 0


def test_upsert_articles_batch(archive: Archive) -> None:
    articles = sample_articles()
    assert archive.upsert_articles(articles, T0, run_id=None) == ["new"] * len(articles)
    changed = [*articles[:3], replace(articles[3], body_text="改了", content_hash="changed")]
    assert archive.upsert_articles(changed, T0 + timedelta(hours=1)) == ["unchanged"] * 3 + ["updated"]
    assert archive.count_articles() == len(articles)


def test_failed_batch_leaves_nothing(archive: Archive) -> None:
    good = sample_articles()[1]
    # Same URL under a second id violates uq_articles_url: the whole batch is rolled back.
    clash = replace(sample_articles()[2], url=good.url)
    with pytest.raises(IntegrityError, match=r"(?i)unique"):
        archive.upsert_articles([good, clash], T0)
    assert archive.count_articles() == 0


def test_iter_articles_filters_and_order(archive: Archive) -> None:
    articles = sample_articles()
    undated = emnews_article("202112102207099999", 10, "无日期", "无日期正文", published_at=None)
    archive.upsert_articles([*articles, undated], T0)
    ids = [article.article_id for article in archive.iter_articles()]
    assert ids == [
        "202112082206672930", "202112082206748961", "202112092207000001", SEED_ID, undated.article_id
    ]
    december = list(archive.iter_articles(since=datetime(2021, 12, 9, tzinfo=CST),
                                          until=datetime(2021, 12, 10, tzinfo=CST)))
    assert [a.article_id for a in december] == ["202112092207000001"]
    assert [a.article_id for a in archive.iter_articles(category="zhongguofazhanwang")] == [SEED_ID]
    # "until" is exclusive, at the instant: the seed at 15:11:07 is before 15:11:08 and not before itself.
    seed_time = datetime(2022, 2, 14, 15, 11, 7, tzinfo=CST)
    assert [a.article_id for a in archive.iter_articles(since=seed_time)] == [SEED_ID]
    assert SEED_ID not in [a.article_id for a in archive.iter_articles(until=seed_time)]
    assert list(archive.iter_articles(until=datetime(2021, 12, 8, 10, 30, tzinfo=CST))) == []


def test_reads_inside_reading_share_one_transaction(archive: Archive) -> None:
    archive.upsert_articles([seed_article()], T0)
    begun: list[object] = []
    count = begun.append
    event.listen(archive.engine, "begin", count)
    try:
        archive.story_twins(seed_article())
        archive.published_near(seed_article())
        assert len(begun) == 2
        begun.clear()
        with archive.reading():
            assert [c.article_id for c in archive.story_twins(seed_article())] == [SEED_ID]
            assert archive.published_near(seed_article()) == [SEED_ID]
            with archive.reading():  # a nested block joins the outer one
                assert archive.count_articles() == 1
            assert archive.story_members([SEED_ID])[0].article_id == SEED_ID
        assert len(begun) == 1
        # A write inside the block is its own transaction, and the block's reads go on afterwards.
        begun.clear()
        with archive.reading():
            archive.published_near(seed_article())
            archive.rename_story(SEED_ID, "story-x")
            archive.published_near(seed_article())
        assert len(begun) == 2
    finally:
        event.remove(archive.engine, "begin", count)
    assert archive.story_members([SEED_ID])[0].story_id == "story-x"


def test_reading_on_sqlite_is_one_snapshot(sqlite_url: str) -> None:
    with Archive.open(sqlite_url) as reader, Archive.open(sqlite_url) as writer:
        with reader.reading():
            assert reader.count_articles() == 0
            writer.upsert_articles([seed_article()], T0)  # committed by another connection meanwhile
            assert reader.published_near(seed_article()) == []
        assert reader.published_near(seed_article()) == [SEED_ID]


def test_reading_is_left_when_a_read_fails(archive: Archive) -> None:
    with pytest.raises(ZeroDivisionError), archive.reading():
        archive.count_articles()
        raise ZeroDivisionError
    # The next reads run in transactions of their own again.
    begun: list[object] = []
    count = begun.append
    event.listen(archive.engine, "begin", count)
    try:
        archive.count_articles()
        archive.count_articles()
    finally:
        event.remove(archive.engine, "begin", count)
    assert len(begun) == 2


def test_published_near_inside_a_batch_is_what_is_stored(db_url: str) -> None:
    # Inside Archive.batch() published_near answers from one read of the hours around a question
    # (storage/near.py), kept in step with the batch's own writes: new posts, a post whose publication
    # time changes, questions before, inside and far after the hours read. The oracle is the list of
    # what was stored.
    rng = random.Random(20221208)
    start = datetime(2022, 2, 1, tzinfo=CST)
    stored: dict[str, datetime] = {}

    def near(moment: datetime) -> list[str]:
        window = timedelta(hours=12)
        return [i for t, i in sorted((t, i) for i, t in stored.items() if moment - window <= t <= moment + window)]

    with Archive.open(db_url) as archive:
        archive.upsert_articles([emnews_article(f"2022013100{n:010d}", 1, "先存", "先存正文",
                                                published_at=start + timedelta(minutes=7 * n)) for n in range(50)], T0)
        stored.update((f"2022013100{n:010d}", start + timedelta(minutes=7 * n)) for n in range(50))
        moment = start
        with archive.batch():
            for n in range(400):
                moment += timedelta(minutes=rng.choice([0, 3, 20, 90]))
                when = moment if rng.random() > 0.05 else moment + timedelta(days=rng.choice([-30, -1, 2, 40]))
                # One in ten a correction that moves an earlier post in time.
                article_id = rng.choice(sorted(stored)) if rng.random() < 0.1 else f"2022020100{n:010d}"
                archive.upsert_article(emnews_article(article_id, 1, "正文", f"第{n}版", published_at=when,
                                                      content_hash=f"hash-{n}"), T0)
                stored[article_id] = when
                asked = when + timedelta(hours=rng.choice([-13, 0, 5]))
                question = emnews_article("0", 1, "问", "问", published_at=asked)
                assert archive.published_near(question) == near(question.published_at)  # type: ignore[arg-type]
        assert archive.published_near(question) == near(question.published_at)  # type: ignore[arg-type]


def test_story_twins_and_posts_published_near(archive: Archive) -> None:
    emnews_twin = emnews_article("202202142275724924", 8, "同一篇", "同一篇正文",
                                 published_at=datetime(2022, 3, 30, tzinfo=CST))
    same_hash = emnews_article("202112082206999999", 8, "转载", "转载正文", content_hash="hash-seed-1",
                               published_at=datetime(2021, 1, 1, tzinfo=CST))
    near_in_time = emnews_article("202202152275000000", 8, "次日", "次日正文",
                                  published_at=datetime(2022, 2, 15, 1, 0, tzinfo=CST), simhash=5)
    same_time = emnews_article("202202142275000001", 8, "同时", "同时正文",
                               published_at=datetime(2022, 2, 14, 15, 11, 7, tzinfo=CST))
    next_day = emnews_article("202202162275000000", 8, "次日", "次日正文",
                              published_at=datetime(2022, 2, 16, 9, 0, tzinfo=CST))
    far = emnews_article("202201012275000000", 8, "很早", "很早正文",
                         published_at=datetime(2022, 1, 1, tzinfo=CST))
    assert archive.story_twins(seed_article()) == archive.published_near(seed_article()) == []
    archive.upsert_articles([seed_article(), emnews_twin, same_hash, near_in_time, same_time, next_day, far], T0)
    # By id digits and by content, wherever they were published; oldest first, the article itself included.
    assert archive.story_twins(seed_article()) == [
        StoryCandidate("202112082206999999", None, "hash-seed-1"),
        StoryCandidate(SEED_ID, None, "hash-seed-1"),
        StoryCandidate("202202142275724924", None, "hash-202202142275724924"),
    ]
    # By time: within 12 hours, oldest first and by id at the same instant; next_day and far are further.
    assert archive.published_near(seed_article()) == ["202202142275000001", SEED_ID, "202202152275000000"]
    assert "202202162275000000" in archive.published_near(seed_article(), window=timedelta(days=3))
    assert archive.published_near(seed_article(published_at=None)) == []
    assert archive.story_members(["202202152275000000", "missing", SEED_ID]) == [
        StoryCandidate(SEED_ID, None, "hash-seed-1"),
        StoryCandidate("202202152275000000", None, "hash-202202152275000000"),
    ]
    assert archive.rename_story("202202152275000000", "story-x") == 1  # its own story until now
    assert archive.rename_story("missing", "story-x") == 0
    assert archive.story_members(["202202152275000000"])[0].story_id == "story-x"


def test_rename_story_moves_every_member(archive: Archive) -> None:
    posts = [emnews_article(f"20211208220600000{i}", 8, f"第{i}条", f"第{i}条正文", story_id=story_id)
             for i, story_id in enumerate(["b", "b", None, "c"])]
    archive.upsert_articles(posts, T0)
    assert archive.rename_story("b", "a") == 2
    # A post that is its own story has no story id yet: it moves with the story named after it.
    assert archive.rename_story("202112082206000002", "a") == 1
    assert archive.rename_story("missing", "a") == 0
    stories = {m.article_id: m.story_id for m in archive.story_members(p.article_id for p in posts)}
    assert stories == {"202112082206000000": "a", "202112082206000001": "a",
                       "202112082206000002": "a", "202112082206000003": "c"}


def test_simhash_keeps_all_64_bits(archive: Archive) -> None:
    # Signed (newscrawl.stories' form) round-trips as is; unsigned comes back as the signed same bits.
    for value, expected in ((0, 0), (-1, -1), (-(1 << 63), -(1 << 63)), ((1 << 63) - 1, (1 << 63) - 1),
                            (1 << 63, -(1 << 63)), ((1 << 64) - 1, -1)):
        archive.upsert_article(seed_article(simhash=value, content_hash=f"h{value}"), T0)
        stored = archive.get_article(SEED_ID)
        assert stored is not None and stored.simhash == expected
    with pytest.raises(ValueError, match="64 bits"):
        archive.upsert_article(seed_article(simhash=1 << 64, content_hash="too big"), T0)


def test_known_articles(archive: Archive) -> None:
    article = seed_article(etag='"v1"', last_modified="Mon, 14 Feb 2022 07:11:07 GMT")
    archive.upsert_article(article, T0)
    known = archive.known_articles([article.url]).get(article.url)
    assert known is not None
    assert (known.article_id, known.etag, known.last_modified, known.content_hash, known.origin_status) == (
        SEED_ID, '"v1"', "Mon, 14 Feb 2022 07:11:07 GMT", "hash-seed-1", "not_followed")
    assert "https://finews.withounder.com/nothing.html" not in archive.known_articles(
        ["https://finews.withounder.com/nothing.html"])
    # New validators for unchanged content are kept without a revision.
    archive.upsert_article(replace(article, etag='"v2"'), T0 + timedelta(hours=1))
    nothing = "https://finews.withounder.com/nothing.html"
    assert archive.known_articles([nothing, article.url, article.url])[article.url].etag == '"v2"'
    assert list(archive.known_articles([nothing, article.url])) == [article.url]
    many = [f"https://finews.withounder.com/{n}.html" for n in range(1200)]  # more than one statement's worth
    assert list(archive.known_articles([*many, article.url])) == [article.url]
    assert archive.revisions(SEED_ID) == []


def test_pages(archive: Archive) -> None:
    url = "https://finews.withounder.com/category/zhongguofazhanwang.html"
    assert archive.page(url) is None
    assert archive.page_links(url) is None
    archive.save_page(url, etag='"e1"', last_modified=None, links=["https://a", "https://b"], status=200,
                      fetched_at=T0)
    archive.save_page(url, etag='"e2"', last_modified="x", links=["https://c"], status=200, fetched_at=T0)
    page = archive.page(url)
    assert page is not None
    assert (page.etag, page.last_modified, page.links, page.status, page.fetched_at) == (
        '"e2"', "x", ["https://c"], 200, T0)
    assert archive.page_links(url) == ["https://c"]


def test_runs(archive: Archive) -> None:
    run_id = archive.start_run(
        "https://finews.withounder.com/",
        {
            "NEWSCRAWL_DB_URL": "postgresql+psycopg://crawler:s3cret@db:5432/news",
            "NEWSCRAWL_INCREMENTAL": True,
            "NEWSCRAWL_REDIS_PASSWORD": "hunter2",
        },
    )
    running = archive.runs()[0]
    assert (running.run_id, running.outcome, running.finished_at) == (run_id, "running", None)
    assert "s3cret" not in str(running.settings)
    assert "hunter2" not in str(running.settings)
    assert running.settings["NEWSCRAWL_DB_URL"] == "postgresql+psycopg://crawler:***@db:5432/news"
    assert running.settings["NEWSCRAWL_INCREMENTAL"] is True

    counts = {"new": 3, "updated": 1, "unchanged": 5, "dropped": {"no_title": 2, "too_large": 1}, "errors": 0,
              "requests": 40}
    archive.finish_run(run_id, "ok", counts)
    run = archive.runs()[0]
    assert (run.outcome, run.new, run.updated, run.unchanged, run.dropped, run.errors) == (
        "ok", 3, 1, 5, 3, 0)
    assert run.counts["dropped"] == {"no_title": 2, "too_large": 1}
    assert run.counts["requests"] == 40
    assert run.finished_at is not None and run.finished_at >= run.started_at
    second = archive.start_run("https://finews.withounder.com/", {})
    assert second > run_id
    assert [r.run_id for r in archive.runs()] == [second, run_id]
    with pytest.raises(ValueError):
        archive.finish_run(second, "running", {})  # type: ignore[arg-type]
    with pytest.raises(ArchiveError):
        archive.finish_run(second + 100, "ok", {})


def test_stale_runs_are_interrupted(archive: Archive) -> None:
    run_id = archive.start_run("https://finews.withounder.com/", {})
    assert archive.interrupt_stale_runs() == []  # this process is alive
    with archive.engine.begin() as connection:
        # A pid that cannot be running: above the kernel's pid_max.
        connection.execute(text("UPDATE crawl_runs SET pid = 2147483647 WHERE run_id = :r"), {"r": run_id})
    assert archive.interrupt_stale_runs() == [run_id]
    assert archive.runs()[0].outcome == "interrupted"


def test_stats(archive: Archive) -> None:
    archive.upsert_articles(sample_articles(), T0)
    run_id = archive.start_run("https://finews.withounder.com/", {})
    archive.finish_run(run_id, "failed", {"errors": 2})
    stats = archive.stats()
    assert stats["articles"] == 4
    assert list(stats["per_category"].items()) == [("emnews", 3), ("zhongguofazhanwang", 1)]
    assert list(stats["per_day"].items()) == [("2021-12-08", 2), ("2021-12-09", 1), ("2022-02-14", 1)]
    assert (stats["revisions"], stats["stories"]) == (0, 0)
    assert stats["runs"][0]["outcome"] == "failed" and stats["runs"][0]["errors"] == 2
    assert isinstance(stats["runs"][0]["started_at"], str)


def test_jekyll_posts_view(archive: Archive) -> None:
    archive.upsert_article(seed_article(), T0)
    archive.upsert_article(
        emnews_article("202112082206672930", 8, "离岸人民币", "离岸人民币报6.3512。", share_url=None,
                       published_at=datetime(2021, 12, 8, 0, 5, tzinfo=CST), origin_status="ok",
                       origin_html="<p>origin</p>"), T0)
    with archive.engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM jekyll_posts ORDER BY path")).mappings().all()
    assert [dict(row) for row in rows] == [
        {
            "article_id": "202112082206672930",
            "path": "_posts/2021-12-08-202112082206672930.md",
            "layout": "post",
            "title": "离岸人民币",
            "date": "2021-12-08 00:05:00 +0800",
            "categories": "emnews",
            "tags": "东财滚动新闻",
            "content": "<p>origin</p>",
        },
        {
            "article_id": SEED_ID,
            "path": f"_posts/2022-02-14-{SEED_ID}.md",
            "layout": "post",
            "title": SEED_TITLE,
            "date": "2022-02-14 15:11:07 +0800",
            "categories": "zhongguofazhanwang",
            "tags": "中国发展网新闻",
            "content": f"{SEED_BODY_HTML}\n\n<{SEED_SHARE_URL}>\n\n{SEED_FOOTER}",
        },
    ]


def test_jekyll_posts_view_is_read_only(archive: Archive) -> None:
    archive.upsert_article(seed_article(), T0)
    refused = pytest.raises(DatabaseError, match=r"(?i)read-only|cannot modify")
    with refused, archive.engine.begin() as connection:
        connection.execute(text("UPDATE jekyll_posts SET title = 'x'"))


def test_behind_head_raises_until_upgraded(db_url: str) -> None:
    upgrade_database(db_url, "0001_initial")
    with pytest.raises(SchemaOutOfDate, match="newscrawl db upgrade"):
        Archive.open(db_url)
    with pytest.raises(SchemaOutOfDate, match="newscrawl db upgrade"):
        Archive.open(db_url, upgrade=True)
    assert upgrade_database(db_url) == ("0001_initial", head_revision())
    assert upgrade_database(db_url) == (head_revision(), head_revision())
    with Archive.open(db_url) as archive:
        assert archive.count_articles() == 0


def test_empty_database_without_upgrade_raises(db_url: str) -> None:
    with pytest.raises(SchemaOutOfDate, match="newscrawl db upgrade"):
        Archive.open(db_url, upgrade=False)
    assert current_revision(db_url) is None


def test_foreign_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite3"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY)"))
    engine.dispose()
    with pytest.raises(ArchiveError, match="not a newscrawl archive"):
        Archive.open(f"sqlite:///{path}")


def test_schema_created_by_another_process_between_the_checks_is_accepted(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Two workers opening one new archive at once: the first read of the revision finds none, the other
    # worker commits its schema, and the emptiness check then finds tables. Seen on PostgreSQL in CI.
    import newscrawl.storage.migrate as migrate_module

    url = f"sqlite:///{tmp_path / 'archive.sqlite3'}"
    upgrade_database(url)
    reads: list[str | None] = []

    def revision_read_before_the_commit(db: object) -> str | None:
        reads.append(None if not reads else current_revision(url))
        return reads[-1]

    monkeypatch.setattr(migrate_module, "current_revision", revision_read_before_the_commit)
    with Archive.open(url) as archive:
        assert archive.count_articles() == 0
    assert reads == [None, head_revision()]


def test_opening_waits_while_another_process_holds_the_new_archive_locked(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Seen in CI: two workers opening one new SQLite archive at once, the second got "database is
    # locked" from PRAGMA journal_mode=WAL while the first was setting the file up.
    import newscrawl.storage.archive as archive_module

    url = f"sqlite:///{tmp_path / 'archive.sqlite3'}"
    real_check = archive_module.check_schema
    attempts: list[int] = []

    def locked_at_first(*args: object) -> None:
        attempts.append(1)
        if len(attempts) < 3:
            raise OperationalError("PRAGMA journal_mode=WAL", {}, sqlite3.OperationalError("database is locked"))
        real_check(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(archive_module, "check_schema", locked_at_first)
    monkeypatch.setattr(archive_module, "OPEN_LOCKED_WAIT_S", -1.0)
    with pytest.raises(OperationalError, match="database is locked"):  # waited long enough: the error
        Archive.open(url)
    monkeypatch.setattr(archive_module, "OPEN_LOCKED_WAIT_S", 30.0)
    attempts.clear()
    with Archive.open(url) as archive:
        assert archive.count_articles() == 0
    assert len(attempts) == 3


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'archive.sqlite3'}"
    upgrade_database(url)
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    engine.dispose()
    with pytest.raises(ArchiveError, match="newer version"):
        Archive.open(url)


def test_values_a_backend_cannot_hold_are_kept_exactly_in_revisions_too(archive: Archive) -> None:
    # A lone surrogate (both backends), NUL (PostgreSQL's text refuses it) and a time with no UTC form:
    # stored with their stand-ins and flags, read back exactly, and kept so when the article changes.
    odd_time = datetime(1, 1, 1, 7, tzinfo=CST)  # 0000-12-31T23:00Z: no UTC form
    first = seed_article(origin_html="<p>\ud800\x00</p>", origin_status="ok", title="标题\x00",
                         published_at=odd_time)
    assert archive.upsert_article(first, T0) == "new"
    stored = archive.get_article(SEED_ID)
    assert stored is not None
    assert (stored.origin_html, stored.title, stored.published_at) == ("<p>\ud800\x00</p>", "标题\x00", odd_time)
    expected_flags = {"unstorable_text", "date_out_of_range"}
    assert expected_flags <= set(stored.flags)
    assert archive.upsert_article(seed_article(content_hash="hash-seed-2"), T0 + timedelta(days=1)) == "updated"
    earlier = archive.revisions(SEED_ID)[0].article
    assert (earlier.origin_html, earlier.title, earlier.published_at) == ("<p>\ud800\x00</p>", "标题\x00", odd_time)
    # The new version brought no origin text: the archived one stays, exactly, and flagged; the date is new.
    current = archive.get_article(SEED_ID)
    assert current is not None and current.origin_html == "<p>\ud800\x00</p>"
    assert "unstorable_text" in current.flags and "date_out_of_range" not in current.flags
    assert archive.storage_flags(first) == (["date_out_of_range", "unstorable_text"])
    nul_only = seed_article(title="标题\x00")
    assert archive.storage_flags(nul_only) == (["unstorable_text"] if archive.dialect == "postgresql" else [])
