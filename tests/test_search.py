"""Full-text search for Chinese (docs/search.md), on SQLite (FTS5 trigram) and PostgreSQL (pg_trgm).

Both backends must give the same hits in the same order, so each test states one exact expectation and
runs on both. A property test checks search against the obvious definition: an article matches when
every term occurs in its title, summary or body text.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_storage import CST, SEED_ID, SEED_TITLE, T0, emnews_article, sample_articles, seed_article

from newscrawl.items import Article
from newscrawl.storage import Archive
from newscrawl.storage.search import MARK_CLOSE, MARK_OPEN, query_terms

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
    archive.mark_seen(SEED_ID, T0 + timedelta(days=1))
    assert ids(archive.search("标题已更换")) == [SEED_ID]


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
