"""Full-text search for Chinese (docs/search.md), on SQLite (FTS5 trigram) and PostgreSQL (pg_trgm).

Both backends must give the same hits in the same order, so each test states one exact expectation and
runs on both. A property test checks search against the obvious definition: an article matches when
every term occurs in its title, summary or body text.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from conftest import PG_URL, _drop_pg_database, _fresh_pg_database
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_storage import CST, SEED_ID, SEED_TITLE, T0, emnews_article, sample_articles, seed_article

from newscrawl.items import Article
from newscrawl.storage import Archive, head_revision, upgrade_database
from newscrawl.storage import search as search_module
from newscrawl.storage.search import MARK_CLOSE, MARK_OPEN, query_terms

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

FLASH_A = "202112082206672930"
FLASH_HK = "202112082206748961"
FLASH_DEBT = "202112092207000001"


@pytest.fixture
def archive(db_url: str) -> Iterator[Archive]:
    with Archive.open(db_url) as opened:
        opened.upsert_articles(sample_articles(), T0)
        yield opened


def ids(hits: list[object]) -> list[str]:
    return [hit.article_id for hit in hits]  # type: ignore[attr-defined]


def test_four_character_query_finds_the_seed(archive: Archive) -> None:
    hits = archive.search("政务服务")
    # The seed has the words in its title (weight 10) and text; the debt flash only once in its body.
    assert ids(hits) == [SEED_ID, FLASH_DEBT]
    seed = hits[0]
    assert seed.title == SEED_TITLE
    assert seed.category == "zhongguofazhanwang"
    assert seed.published_at == datetime(2022, 2, 14, 15, 11, 7, tzinfo=CST)
    assert f"{MARK_OPEN}政务服务{MARK_CLOSE}" in seed.snippet
    assert seed.rank > hits[1].rank > 0


def test_two_character_query(archive: Archive) -> None:
    # 南召 is shorter than a trigram: answered by scanning, same result on both backends.
    hits = archive.search("南召")
    assert ids(hits) == [SEED_ID, FLASH_HK]
    assert f"{MARK_OPEN}南召{MARK_CLOSE}" in hits[1].snippet


def test_one_character_query(archive: Archive) -> None:
    assert ids(archive.search("债")) == [FLASH_DEBT]


def test_every_term_must_match(archive: Archive) -> None:
    assert ids(archive.search("南召 政务服务")) == [SEED_ID]
    assert ids(archive.search("政务服务 债务上限")) == [FLASH_DEBT]
    assert ids(archive.search("南召 债务上限")) == []


def test_phrase_spanning_punctuation(archive: Archive) -> None:
    assert ids(archive.search("南召县：政务服务")) == [SEED_ID]


def test_ascii_is_case_insensitive(archive: Archive) -> None:
    assert ids(archive.search("hk")) == [FLASH_HK]
    assert ids(archive.search("00388.hk")) == [FLASH_HK]


def test_no_match_and_empty_query(archive: Archive) -> None:
    assert archive.search("区块链") == []
    assert archive.search("   ") == []
    assert archive.search("政务服务", limit=0) == []


@pytest.mark.parametrize("query", ['"', '"政务服务"', "政务 AND", "NEAR(政务 服务)", "政务*", "(南召", "100%", "a_b",
                                   "\\", "'; DROP TABLE articles; --"])
def test_operators_are_plain_text(archive: Archive, query: str) -> None:
    """FTS5 and LIKE syntax in a query is text to find, never an error."""
    # The seed's summary really says "办结率100%"; nothing contains the other strings.
    expected = {"\"政务服务\"": [SEED_ID, FLASH_DEBT], "100%": [SEED_ID]}.get(query, [])
    assert ids(archive.search(query)) == expected
    assert archive.count_articles() == 4


def test_limit_and_order(archive: Archive) -> None:
    flashes = [emnews_article(f"20211210220700{i:04d}", 10, f"快讯{i}", "市场关注政务服务" * (i + 1))
               for i in range(30)]
    archive.upsert_articles(flashes, T0)
    # Rank = 10 per title occurrence + 3 per summary occurrence + 1 per body occurrence. Flash i has i + 1
    # in its body and two in its summary (its first 20 characters): i + 7 (flash 0: 1 + 3 = 4). The seed:
    # once in the title, three times in the summary, twice in the body: 21, tied with flash 14, and the
    # tie goes to the newer article (the seed, 2022).
    hits = archive.search("政务服务", limit=5)
    assert ids(hits) == [flashes[i].article_id for i in (29, 28, 27, 26, 25)]
    assert [hit.rank for hit in hits] == [36, 35, 34, 33, 32]
    ranked = ids(archive.search("政务服务", limit=100))
    assert len(ranked) == 32
    assert ranked[14:17] == [flashes[15].article_id, SEED_ID, flashes[14].article_id]
    assert ranked[-2:] == [flashes[0].article_id, FLASH_DEBT]  # 4, then the debt flash: once in its body


def test_index_follows_updates(archive: Archive) -> None:
    archive.upsert_article(seed_article(title="标题已更换", summary="无", body_text="正文已更换", content_hash="v2"),
                           T0 + timedelta(hours=1))
    assert ids(archive.search("政务服务")) == [FLASH_DEBT]
    assert ids(archive.search("标题已更换")) == [SEED_ID]
    assert ids(archive.search("正文已")) == [SEED_ID]
    # Re-sightings touch other columns only; the index stays right.
    archive.mark_seen_many([SEED_ID], T0 + timedelta(days=1))
    assert ids(archive.search("标题已更换")) == [SEED_ID]


def test_index_follows_an_update_in_the_same_transaction(db_url: str) -> None:
    # The FTS5 rows of a transaction are written when it ends (newscrawl.storage.pending): an article
    # stored and then changed inside one transaction leaves the changed text indexed, and only it.
    changed = seed_article(title="标题已更换", summary="无", body_text="正文已更换", content_hash="v2")
    with Archive.open(db_url) as archive:
        assert archive.upsert_articles([seed_article(), changed], T0) == ["new", "updated"]
        assert ids(archive.search("政务服务")) == []
        assert ids(archive.search("正文已更换")) == [SEED_ID]
        if archive.dialect == "sqlite":
            from sqlalchemy import text

            with archive.engine.begin() as connection:
                connection.execute(text("INSERT INTO search_fts (search_fts, rank) VALUES ('integrity-check', 1)"))
                assert connection.execute(text("SELECT count(*) FROM search_fts_docsize")).scalar() == 1


def test_index_follows_deletes(archive: Archive) -> None:
    with archive.engine.begin() as connection:
        from sqlalchemy import text

        connection.execute(text("DELETE FROM articles WHERE article_id = :id"), {"id": SEED_ID})
    assert ids(archive.search("政务服务")) == [FLASH_DEBT]


def test_query_terms() -> None:
    assert query_terms("  南召  政务服务 南召 ") == ["南召", "政务服务"]
    assert query_terms('"政务服务" HK') == ["政务服务", "hk"]
    assert query_terms('""') == []


# -- property: search is "every term is a substring of title, summary or body" -------------------------

ALPHABET = "政务服务南召县市场北向资金债务上限港股快讯好评办结一日"
TEXTS = st.text(alphabet=ALPHABET, min_size=0, max_size=30)


def _matches(article: Article, terms: list[str]) -> bool:
    haystacks = [(article.title or "").lower(), (article.summary or "").lower(), (article.body_text or "").lower()]
    return all(any(term in haystack for haystack in haystacks) for term in terms)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    corpus=st.lists(st.tuples(TEXTS, TEXTS, TEXTS), min_size=1, max_size=12),
    query=st.lists(st.text(alphabet=ALPHABET, min_size=1, max_size=5), min_size=1, max_size=2),
)
def test_search_is_substring_search(db_url: str, corpus: list[tuple[str, str, str]], query: list[str]) -> None:
    articles = [
        emnews_article(f"9{i:05d}", 8, title, body, summary=summary, content_hash=f"{title}|{summary}|{body}")
        for i, (title, summary, body) in enumerate(corpus)
    ]
    with Archive.open(db_url) as archive:
        with archive.engine.begin() as connection:
            from sqlalchemy import text

            connection.execute(text("DELETE FROM articles"))
        archive.upsert_articles(articles, T0)
        found = set(ids(archive.search(" ".join(query), limit=100)))
    expected = {a.article_id for a in articles if _matches(a, query_terms(" ".join(query)))}
    assert found == expected


# -- bigram index: every query length, mixed text, phrases, filters, the ranking bound ------------------

MIXED = [
    ("202205262391921712", 26, "蔚来ET7用上第四代制冷剂",
     "霍尼韦尔宣布为蔚来旗下ET7新能源汽车提供HFO-1234yf制冷剂。目前A股已有部分企业具备产能。"),
    ("202205262391921713", 26, "汇率中间价", "人民币对美元中间价报6.6669，上一交易日利率2.4576%。"),
    ("202205262391921714", 26, "A 股与港股", "A 股今日收涨，ET 7 不在其中，2.4577%。"),
    # Every bigram of 政务服务 (政务, 务服, 服务), but never the four characters in order.
    ("202205262391921715", 26, "政务服", "务服务中心开门。"),
]


@pytest.fixture
def mixed(archive: Archive) -> Archive:
    archive.upsert_articles([emnews_article(*row) for row in MIXED], T0)
    return archive


@pytest.mark.parametrize(("query", "expected"), [
    ("a股", ["202205262391921712"]),
    ("A股", ["202205262391921712"]),
    ("et7", ["202205262391921712"]),
    ("ET7 蔚来", ["202205262391921712"]),
    ("2.4576%", ["202205262391921713"]),
    ("4576", ["202205262391921713"]),
    ("2.457", ["202205262391921713", "202205262391921714"]),
    ("hfo-1234yf", ["202205262391921712"]),
    ("6.6669，上一", ["202205262391921713"]),
    ("政务服务", [SEED_ID, FLASH_DEBT]),  # not 202205262391921715: its bigrams are there, out of order
    ("务政", []),
])
def test_mixed_chinese_latin_digits(mixed: Archive, query: str, expected: list[str]) -> None:
    assert sorted(ids(mixed.search(query))) == sorted(expected)


def test_filters(mixed: Archive) -> None:
    assert ids(mixed.search("政务服务", category="zhongguofazhanwang")) == [SEED_ID]
    assert ids(mixed.search("政务服务", category="emnews")) == [FLASH_DEBT]
    assert mixed.search("政务服务", category="nosuchcategory") == []
    # since inclusive, until exclusive, on publication times (the seed: 2022-02-14 15:11:07 +08:00).
    published = datetime(2022, 2, 14, 15, 11, 7, tzinfo=CST)
    assert ids(mixed.search("政务服务", since=published)) == [SEED_ID]
    assert ids(mixed.search("政务服务", since=published + timedelta(seconds=1))) == []
    assert ids(mixed.search("政务服务", until=published)) == [FLASH_DEBT]
    assert ids(mixed.search("政务服务", since=datetime(2021, 12, 1, tzinfo=CST),
                            until=datetime(2021, 12, 31, tzinfo=CST), category="emnews")) == [FLASH_DEBT]


def test_index_follows_category_and_date_changes(archive: Archive) -> None:
    moved = seed_article(category="emnews", published_at=datetime(2020, 1, 1, 8, 0, tzinfo=CST), content_hash="v2")
    archive.upsert_article(moved, T0 + timedelta(hours=1))
    assert ids(archive.search("政务服务", category="zhongguofazhanwang")) == []
    assert ids(archive.search("南召", category="emnews", until=datetime(2021, 1, 1, tzinfo=CST))) == [SEED_ID]
    [hit] = archive.search("南召县")
    assert hit.category == "emnews" and hit.published_at == moved.published_at


def test_only_the_newest_matches_are_ranked(archive: Archive, monkeypatch: pytest.MonkeyPatch) -> None:
    # Ten flashes a day apart; the oldest says 政务服务 most often (rank 10 + 3 + 1 = 14 and more).
    flashes = [emnews_article(f"2021121522070{i:05d}", 10 + i, f"快讯{i}", "政务服务" * (10 - i)) for i in range(10)]
    archive.upsert_articles(flashes, T0)
    monkeypatch.setattr(search_module, "RANKED", 3)
    monkeypatch.setattr(search_module, "FIRST_BATCH", 2)
    # The three newest matches are the seed (2022) and flashes 9 and 8; ranked among themselves.
    assert ids(archive.search("政务服务")) == [SEED_ID, flashes[8].article_id, flashes[9].article_id]


def test_rebuild_gives_the_same_answers(mixed: Archive) -> None:
    queries = ["政务服务", "南召", "a股", "2.4576%", "债", "北向资金净流入"]
    before = [mixed.search(query) for query in queries]
    with mixed.engine.begin() as connection:
        assert search_module.rebuild_index(connection) == 4 + len(MIXED)
    assert [mixed.search(query) for query in queries] == before



def test_index_of_0009_is_converted_by_0010(mixed: Archive, db_url: str) -> None:
    """An archive indexed by 0009 (PostgreSQL: lexemes without their period, as 0010's downgrade leaves
    them) answers as before once 0010 has rewritten its index."""
    from alembic import command
    from sqlalchemy import text

    from newscrawl.storage.migrate import alembic_config

    queries = ["政务服务", "南召", "a股", "2.4576%", "债", "北向资金净流入", "hk"]
    before = [mixed.search(query) for query in queries]
    assert all(before[:6])
    with mixed.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0009_bigram_search")
        if mixed.dialect == "postgresql":
            lexemes = connection.execute(text("SELECT article_id, tsvector_to_array(bigrams) FROM search_documents "
                                              "WHERE article_id = :seed"), {"seed": SEED_ID}).one()[1]
            assert "政务" in lexemes and "南召" in lexemes
    assert upgrade_database(db_url) == ("0009_bigram_search", head_revision())
    assert [mixed.search(query) for query in queries] == before

# -- one query set on both backends, against the definition ------------------------------------------

BOTH_QUERIES = ["市场", "公司", "人民币", "政务服务", "北向资金净流入", "人民币 汇率", "a股", "中国 市场 公司", "债",
                "2021"]


def _expected(articles: list[Article], query: str, limit: int = 20) -> list[tuple[str, int]]:
    """Search by its definition: every term a substring of the lower-cased texts; the newest RANKED
    matches ranked 10/3/1, ties to the newer, then the smaller id."""
    terms = query_terms(query)
    matching = []
    for article in articles:
        texts = [(article.title or "").lower(), (article.summary or "").lower(), (article.body_text or "").lower()]
        if all(any(term in value for value in texts) for term in terms):
            rank = sum(texts[0].count(t) * 10 + texts[1].count(t) * 3 + texts[2].count(t) for t in terms)
            matching.append((article, rank))
    assert all(article.published_at is not None for article, _ in matching)
    matching.sort(key=lambda m: m[0].published_at, reverse=True)  # type: ignore[arg-type,return-value]
    ranked = matching[:search_module.RANKED]
    ranked.sort(key=lambda m: (-m[1], -m[0].published_at.timestamp(), m[0].article_id))  # type: ignore[union-attr]
    return [(article.article_id, rank) for article, rank in ranked[:limit]]


def test_same_results_on_both_backends(tmp_path: Path) -> None:
    """The generated archive (benchmarks/big_archive.py, from the bundled demo posts) on SQLite and on
    PostgreSQL: every query gives the same hits, ranks and snippets on both, and what the definition says."""
    if not PG_URL:
        pytest.skip("NEWSCRAWL_TEST_PG_URL is not set (CI sets it; see .ci/run)")
    from big_archive import DEMO_POSTS, Generator, fill, load_corpus

    # 30 a day over two weeks: more matches than RANKED for the common terms, so the bound is compared too.
    generator = Generator(load_corpus(DEMO_POSTS), per_day=30)
    articles = list(generator.articles(0, 400))
    pg_url, name = _fresh_pg_database(PG_URL)
    try:
        answers = {}
        for url in (f"sqlite:///{tmp_path / 'archive.sqlite3'}", pg_url):
            with Archive.open(url) as archive:
                fill(archive, generator, len(articles), quiet=True)
                answers[archive.dialect] = {query: archive.search(query) for query in BOTH_QUERIES}
                answers[archive.dialect]["filtered"] = archive.search(
                    "市场", category="emnews", since=datetime(2019, 1, 3, tzinfo=CST),
                    until=datetime(2019, 1, 9, tzinfo=CST))
    finally:
        _drop_pg_database(PG_URL, name)
    assert answers["sqlite"] == answers["postgresql"]
    for query in BOTH_QUERIES:
        assert [(hit.article_id, hit.rank) for hit in answers["sqlite"][query]] == _expected(articles, query), query
    assert len([a for a in articles if "市场" in (a.body_text or "")]) > search_module.RANKED
    filtered = [a for a in articles if a.category == "emnews"
                and datetime(2019, 1, 3, tzinfo=CST) <= a.published_at < datetime(2019, 1, 9, tzinfo=CST)]  # type: ignore[operator]
    assert [(h.article_id, h.rank) for h in answers["sqlite"]["filtered"]] == _expected(filtered, "市场")
    assert answers["sqlite"]["filtered"]


def test_newest_matches_across_periods_and_gaps(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Articles in three runs years apart, over many of PostgreSQL's periods (docs/search.md): with spans
    of two documents, counted up to six and at most four lexemes a look-up, every query still finds the
    newest RANKED matches that the definition names, on both backends (three documents walked first)."""
    texts = ["南召县政务服务中心", "市场快讯", "政务与服务市场", "南召", "公司市场政务服务"]
    starts = [datetime(2019, 1, 1, 9, tzinfo=CST), datetime(2021, 6, 1, 9, tzinfo=CST),
              datetime(2023, 3, 1, 9, tzinfo=CST)]
    articles = [replace(emnews_article(f"20211217220{run}{i:05d}", 17, f"第{run}{i}条", texts[(i + run) % 5]),
                        published_at=start + timedelta(days=3 * i))
                for run, start in enumerate(starts) for i in range(15)]
    monkeypatch.setattr(search_module, "RANKED", 5)
    monkeypatch.setattr(search_module, "FIRST_BATCH", 5)
    monkeypatch.setattr(search_module, "WALK", 3)
    monkeypatch.setattr(search_module, "FIRST_SPAN", 2)
    monkeypatch.setattr(search_module, "COUNTED_SPAN", 6)
    monkeypatch.setattr(search_module, "MAX_LEXEMES", 4)
    with Archive.open(db_url) as archive:
        archive.upsert_articles(articles, T0)
        for query in ["南召", "政务服务", "市场 政务", "南召县政务", "服务中心", "不存在", "市场"]:
            assert [(hit.article_id, hit.rank) for hit in archive.search(query)] == _expected(articles, query), query
        assert len(archive.search("政务服务", until=datetime(2022, 1, 1, tzinfo=CST))) == 5

def test_concurrent_writers_of_one_second(db_url: str) -> None:
    """Two writers storing articles published in the same second each get their own doc_id."""
    import threading

    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def write(offset: int) -> None:
        try:
            with Archive.open(db_url) as archive:
                barrier.wait()
                for i in range(offset, offset + 20):
                    flash = emnews_article(f"2021121622070{i:05d}", 16, f"同秒快讯{i}", "同一秒发布的政务服务快讯")
                    archive.upsert_article(flash, T0)
        except BaseException as error:
            errors.append(error)

    with Archive.open(db_url):
        pass
    threads = [threading.Thread(target=write, args=(offset,)) for offset in (0, 100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with Archive.open(db_url) as archive:
        assert len(archive.search("同一秒发布", limit=100)) == 40
