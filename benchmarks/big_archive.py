"""A realistic archive of any size, up to millions of articles, written through the storage API.

The read benchmarks (benchmarks/reads.py, docs/performance.md "Reads at scale") need an archive the size a
few years of cron runs make, with text whose term selectivity is the real site's. Crawling a million pages
would take days, so this writes the rows directly with ``Archive.upsert_articles`` (the same code a crawl
stores with: story sketches and search index included), from a model of the real corpus:

* text: the corpus's sentences (its posts' body text split at 。！？), recombined: each body draws as many
  sentences as a corpus post of the same category has, from all the corpus's sentences (a sentence that
  several posts share is drawn as often), so every term occurs in the same proportion of the text as in
  the corpus (tests/test_big_archive.py checks it);
* titles: sentences of the pool cut to a corpus title's length; summaries: the body's first 100 characters;
* categories and publishers: the corpus's own, drawn as often as the corpus has them (emnews most);
* dates: ``--per-day`` posts a day (400 by default: the mirror publishes hundreds), from ``--start``
  on, between 06:00 and 23:00 site time, so a million articles span about seven years.

Each article's draws come from its own seeded random generator, so a run that stops can be resumed: it
continues after the articles already archived.

    python benchmarks/big_archive.py --db sqlite:////work/bench-e/100k.sqlite3 --articles 100000
    python benchmarks/big_archive.py --db postgresql+psycopg://newscrawl:newscrawl@127.0.0.1:5432/bench1m \\
        --articles 1000000
    python benchmarks/big_archive.py --corpus newscrawl/demo/posts --db sqlite:///tmp/small.sqlite3 --articles 1000
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import harness  # noqa: E402

from newscrawl.config import SITE_TZ  # noqa: E402
from newscrawl.items import Article  # noqa: E402
from newscrawl.parsers.text import html_to_text  # noqa: E402
from newscrawl.storage import Archive  # noqa: E402

SHARED_CORPUS = ROOT.parent / "shared" / "corpus" / "finews"
DEMO_POSTS = ROOT / "newscrawl" / "demo" / "posts"
SENTENCE_END = re.compile(r"(?<=[。！？])")
#: Shortest piece of text kept as a sentence: shorter ones are headings and stray punctuation.
MIN_SENTENCE = 6
BATCH = 500
DEFAULT_START = datetime(2019, 1, 1, tzinfo=SITE_TZ)
#: Posts are published between these hours (site time).
FIRST_HOUR, LAST_HOUR = 6, 23


@dataclass
class Corpus:
    """What the generator draws from, read from the corpus's post files."""

    #: every sentence of every post, in file order (repeats included: they are drawn as often)
    sentences: list[str] = field(default_factory=list)
    title_lengths: list[int] = field(default_factory=list)
    #: category slug -> how many corpus posts have it
    categories: Counter[str] = field(default_factory=Counter)
    #: category slug -> the publisher tag its posts carry (e.g. 中国发展网新闻)
    tags: dict[str, str] = field(default_factory=dict)
    #: category slug -> the sentence counts of its posts' bodies
    body_sentences: dict[str, list[int]] = field(default_factory=dict)
    #: the body text of every post, for term frequencies
    texts: list[str] = field(default_factory=list)


def read_front_matter(text: str) -> tuple[dict[str, str], str]:
    """(front-matter fields, body) of a Jekyll post file; the corpus's front matter is one key: value a line."""
    fields: dict[str, str] = {}
    if not text.startswith("---\n"):
        return fields, text
    end = text.find("\n---\n", 3)
    if end == -1:
        return fields, text
    for line in text[4:end].split("\n"):
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip().strip('"')
    return fields, text[end + 5:]


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in SENTENCE_END.split(text) if len(s.strip()) >= MIN_SENTENCE]


def post_files(corpus_dir: Path) -> list[Path]:
    """The post files of a corpus folder (``_posts/`` and ``old_post/``, or the folder itself)."""
    folders = [corpus_dir / "_posts", corpus_dir / "old_post"]
    if not any(folder.is_dir() for folder in folders):
        folders = [corpus_dir]
    return sorted(path for folder in folders if folder.is_dir() for path in folder.glob("*.md"))


def load_corpus(corpus_dir: Path) -> Corpus:
    corpus = Corpus()
    for path in post_files(corpus_dir):
        fields, body = read_front_matter(path.read_text(encoding="utf-8"))
        category = fields.get("categories", "")
        # The site-opening post and files without a category are not news.
        if not category or category == "sitenews":
            continue
        # The share link and back links after the article are not its text.
        body_text = html_to_text(body.split("\n\n[返回")[0])
        sentences = split_sentences(body_text)
        if not sentences:
            continue
        corpus.texts.append(body_text)
        corpus.categories[category] += 1
        corpus.tags.setdefault(category, fields.get("tags", ""))
        corpus.body_sentences.setdefault(category, []).append(len(sentences))
        if fields.get("title"):
            corpus.title_lengths.append(len(fields["title"]))
        corpus.sentences += sentences
    if not corpus.sentences:
        raise SystemExit(f"no post with text under {corpus_dir}")
    if not corpus.title_lengths:
        corpus.title_lengths = [24]
    return corpus


def default_corpus_dir() -> Path:
    return SHARED_CORPUS if SHARED_CORPUS.is_dir() else DEMO_POSTS


class Generator:
    """Article number ``n`` of a generated archive, the same on every run (see the module docstring)."""

    def __init__(self, corpus: Corpus, *, seed: int = 26, start: datetime = DEFAULT_START, per_day: int = 400):
        self.corpus = corpus
        self.seed = seed
        self.start = start
        self.per_day = per_day
        self._categories = sorted(corpus.categories)
        self._weights = [corpus.categories[c] for c in self._categories]

    def published_at(self, n: int) -> datetime:
        day, slot = divmod(n, self.per_day)
        seconds = (LAST_HOUR - FIRST_HOUR) * 3600 * slot // self.per_day
        return self.start + timedelta(days=day, hours=FIRST_HOUR, seconds=seconds)

    def article(self, n: int) -> Article:
        rng = random.Random(self.seed * 1_000_003 + n)
        corpus = self.corpus
        category = rng.choices(self._categories, self._weights)[0]
        count = rng.choice(corpus.body_sentences[category])
        sentences = rng.choices(corpus.sentences, k=count)
        body_text = "".join(sentences)
        title = rng.choice(corpus.sentences)[: rng.choice(corpus.title_lengths)].rstrip("。！？")
        published = self.published_at(n)
        tags = corpus.tags[category]
        emnews = category == "emnews"
        digits = f"{published:%Y%m%d}{n:010d}"
        article_id = digits if emnews else "NW" + digits
        path = f"{published:%Y/%m/%d}/{article_id}.html"
        paragraphs = [sentences[i:i + 3] for i in range(0, len(sentences), 3)]
        return Article(
            article_id=article_id,
            url=f"https://finews.withounder.com/{category}/{path}",
            title=title,
            published_at=published,
            category=category,
            tags=tags,
            publisher=tags.removesuffix("新闻") or None,
            summary=body_text[:100],
            body_html="".join(f"<p>{''.join(p)}</p>" for p in paragraphs),
            body_text=body_text,
            share_url=(f"http://finance.eastmoney.com/news/1355,{article_id}.html" if emnews else
                       f"http://finews.zning.xyz/html_News/NewsShare.html?infoCode={article_id}"),
            content_hash=f"generated:{self.seed}:{n}",
        )

    def articles(self, first: int, stop: int) -> Iterator[Article]:
        for n in range(first, stop):
            yield self.article(n)


def fill(archive: Archive, generator: Generator, count: int, *, quiet: bool = False) -> float:
    """Write articles ``archive.count_articles()`` … ``count - 1`` in batches; returns seconds taken."""
    started = time.perf_counter()
    first = archive.count_articles()
    reported = started
    batch: list[Article] = []
    for n, article in enumerate(generator.articles(first, count), start=first):
        batch.append(article)
        if len(batch) == BATCH or n == count - 1:
            # Seen when published: the archive's first_seen_at follows the dates, as a cron's would.
            archive.upsert_articles(batch, batch[-1].published_at or generator.start)
            batch = []
            now = time.perf_counter()
            if not quiet and (now - reported >= 30 or n == count - 1):
                reported = now
                rate = (n + 1 - first) / (now - started)
                print(f"  {n + 1:,} / {count:,} articles ({rate:,.0f}/s)", flush=True)
    return time.perf_counter() - started


def term_frequencies(texts: Iterable[str], terms: Iterable[str]) -> dict[str, float]:
    """Occurrences of each term per 10,000 characters of ``texts``."""
    wanted = list(terms)
    counts = Counter[str]()
    characters = 0
    for value in texts:
        characters += len(value)
        for term in wanted:
            counts[term] += value.count(term)
    return {term: counts[term] * 10_000 / max(characters, 1) for term in wanted}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True, help="archive URL (a new or a partly generated archive)")
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--corpus", type=Path, default=default_corpus_dir(),
                        help="folder of post files (default: ../shared/corpus/finews, else the demo posts)")
    parser.add_argument("--per-day", type=int, default=400)
    parser.add_argument("--seed", type=int, default=26)
    args = parser.parse_args()
    corpus = load_corpus(args.corpus)
    print(f"corpus {args.corpus}: {len(corpus.texts)} posts, {len(corpus.sentences):,} sentences, "
          f"{len(corpus.categories)} categories")
    generator = Generator(corpus, seed=args.seed, per_day=args.per_day)
    with Archive.open(args.db) as archive:
        before = archive.count_articles()
        seconds = fill(archive, generator, args.articles)
        print(f"{archive.count_articles():,} articles in the archive ({seconds:.0f} s this run)")
        harness.write_record("big_archive", {"dialect": archive.dialect, "articles": archive.count_articles(),
                                             "written": archive.count_articles() - before, "seconds": round(seconds)})
        if archive.dialect == "postgresql":
            # Planner statistics (the bigrams' frequencies among them) for the reads that follow, as
            # autovacuum would gather them some time later.
            with archive.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.exec_driver_sql("VACUUM ANALYZE")


if __name__ == "__main__":
    main()
