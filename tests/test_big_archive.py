"""The read benchmarks' archive generator (benchmarks/big_archive.py) against the corpus it models.

Its text must have the corpus's term frequencies (so that a query matches as large a share of the big
archive as of the real site), its categories, publishers and dates the corpus's and the schedule's, and it
must write through the storage API. The corpus part runs on ../shared/corpus/finews when it is beside the
checkout; the same checks run on the bundled demo posts everywhere.
"""

from __future__ import annotations

import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import SHARED

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

from big_archive import DEMO_POSTS, Corpus, Generator, fill, load_corpus, term_frequencies

from newscrawl.storage import Archive

CORPUS = SHARED / "corpus" / "finews"
CORPORA = [
    pytest.param(DEMO_POSTS, id="demo-posts"),
    pytest.param(CORPUS, id="shared-corpus",
                 marks=pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is not beside this checkout")),
]
GENERATED = 3000


def _common_terms(corpus: Corpus, count: int) -> list[str]:
    """The corpus's most frequent two-character Chinese words (bigrams), counted here from its texts."""
    bigrams = Counter[str]()
    for value in corpus.texts:
        bigrams.update(value[i:i + 2] for i in range(len(value) - 1)
                       if all("\u4e00" <= ch <= "\u9fff" for ch in value[i:i + 2]))
    return [term for term, _ in bigrams.most_common(count)]


@pytest.mark.parametrize("corpus_dir", CORPORA)
def test_term_frequencies_match_the_corpus(corpus_dir: Path) -> None:
    corpus = load_corpus(corpus_dir)
    terms = [*_common_terms(corpus, 40), "市场", "公司", "中国"]
    expected = term_frequencies(corpus.texts, terms)
    articles = list(Generator(corpus).articles(0, GENERATED))
    found = term_frequencies((article.body_text or "" for article in articles), terms)
    for term in terms:
        if expected[term] >= 5:  # per 10,000 characters: enough occurrences to compare
            assert 0.8 <= found[term] / expected[term] <= 1.25, (term, expected[term], found[term])
    # Recombined, not the corpus's texts again: most bodies of several sentences are new.
    long_bodies = [article.body_text for article in articles if (article.body_text or "").count("。") >= 3]
    assert sum(body not in corpus.texts for body in long_bodies) > 0.9 * len(long_bodies) > 0


@pytest.mark.parametrize("corpus_dir", CORPORA)
def test_categories_publishers_and_dates(corpus_dir: Path) -> None:
    corpus = load_corpus(corpus_dir)
    generator = Generator(corpus, per_day=100)
    articles = list(generator.articles(0, GENERATED))
    categories = Counter(article.category for article in articles)
    assert set(categories) <= set(corpus.categories)
    total = sum(corpus.categories.values())
    for category, posts in corpus.categories.items():
        share = posts / total
        if share >= 0.1:
            assert abs(categories[category] / GENERATED - share) < 0.05, category
    assert {article.tags for article in articles} <= set(corpus.tags.values())
    days = Counter(article.published_at.date() for article in articles if article.published_at)
    assert len(days) == GENERATED // 100 and set(days.values()) == {100}
    hours = {article.published_at.hour for article in articles if article.published_at}
    assert min(hours) >= 6 and max(hours) <= 23
    # The same number gives the same article on every run: a stopped generation resumes.
    assert generator.article(1234) == Generator(corpus, per_day=100).article(1234)
    assert len({article.article_id for article in articles}) == GENERATED


def test_fill_writes_through_the_storage_api_and_resumes(db_url: str) -> None:
    generator = Generator(load_corpus(DEMO_POSTS))
    with Archive.open(db_url) as archive:
        fill(archive, generator, 120, quiet=True)
        fill(archive, generator, 300, quiet=True)
        assert archive.count_articles() == 300
        first = generator.article(0)
        stored = archive.get_article(first.article_id)
        assert stored is not None and stored.body_text == first.body_text
        assert stored.published_at == first.published_at
        last = generator.article(299)
        assert last.published_at is not None and first.published_at is not None
        assert last.published_at - first.published_at < timedelta(days=1)
        # Written with their search documents, as a crawl writes them.
        word = (first.body_text or "")[:4]
        assert first.article_id in {hit.article_id for hit in archive.search(word, limit=300)}
