"""A post's fingerprints against plain implementations of their definitions.

The simhash (``articles.simhash``) and the story sketch (``story_sketches``) are stored, so every value of
them is fixed (docs/parsing.md, docs/schema.md); newscrawl.stories computes them fast (hashes side by side,
bits counted a byte column at a time). The references here follow the definitions one character, bigram
and bit at a time, without the module's helpers: letters and digits by ``str.isalnum`` rather than its
pattern, figures by a scan rather than its pattern, bits by ``bin(...).count``. They are compared on
generated texts (any code point, lone surrogates, Chinese, full-width forms, repeats, long texts) and on
every real post text at hand: the fixtures' and, when it is beside the checkout, the shared corpus's.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
import zlib
from pathlib import Path

import pytest
from conftest import SHARED
from hypothesis import example, given, settings
from hypothesis import strategies as st

from newscrawl.importer.post import NotAPost, read_post
from newscrawl.items import Article
from newscrawl.processing import normalise
from newscrawl.stories import (
    CONTAINMENT_MIN,
    DIGEST_MAX_CHARS,
    SKETCH_BITS,
    StorySketch,
    StoryText,
    simhash,
    story_sketch,
    worth_comparing,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "stories"
CORPUS = SHARED / "corpus" / "finews"


def _reference_normal(text: str) -> str:
    # NFKC, lower case, then the letters and digits alone: punctuation, white space and "_" carry no story.
    return "".join(ch for ch in unicodedata.normalize("NFKC", text).lower() if ch.isalnum())


def _reference_grams(text: str) -> list[str]:
    """Every pair of neighbouring characters of the normalised text, with repeats; one character is its own."""
    normal = _reference_normal(text)
    if len(normal) == 1:
        return [normal]
    return [normal[i:i + 2] for i in range(len(normal) - 1)]


def _reference_simhash(text: str) -> int:
    """Bit i set when more than half of the bigrams' BLAKE2b-8 (big-endian) have it; signed 64-bit."""
    grams = _reference_grams(text)
    ones = [0] * 64
    for gram in grams:
        value = int.from_bytes(hashlib.blake2b(gram.encode("utf-8", "surrogatepass"), digest_size=8).digest(),
                               "big")
        for bit in range(64):
            ones[bit] += value >> bit & 1
    unsigned = sum(1 << bit for bit in range(64) if 2 * ones[bit] > len(grams))
    return unsigned - (1 << 64) if unsigned >= 1 << 63 else unsigned


def _reference_figures(text: str) -> list[str]:
    """What ``\\d+(?:\\.\\d+)?`` finds, scanned by hand: decimal digits, then a point and digits if any."""
    found, i = [], 0
    while i < len(text):
        if not text[i].isdecimal():
            i += 1
            continue
        end = i
        while end < len(text) and text[end].isdecimal():
            end += 1
        if end + 1 < len(text) and text[end] == "." and text[end + 1].isdecimal():
            end += 1
            while end < len(text) and text[end].isdecimal():
                end += 1
        found.append(text[i:end])
        i = end
    return found


def _reference_sketch(text: str) -> StorySketch:
    """docs/schema.md, ``story_sketches``: the distinct bigrams, each at bit CRC-32 mod 4,096."""
    grams = set(_reference_grams(text))
    positions = {zlib.crc32(gram.encode("utf-8", "surrogatepass")) % SKETCH_BITS for gram in grams}
    return StorySketch(
        length=len(text), digest=text if len(text) <= DIGEST_MAX_CHARS else None,
        numbers=" ".join(sorted(set(_reference_figures(text)))), simhash=_reference_simhash(text),
        size=len(grams), bits=sum(1 << position for position in positions), folded=len(grams) - len(positions),
    )


def _check(text: str) -> None:
    assert simhash(text) == _reference_simhash(text)
    # A text the way the pipelines meet it: the body (the title when there is no body), sketched once.
    sketch = story_sketch(Article(article_id="1", url="u", body_text=text))
    assert sketch == (_reference_sketch(text) if text else None)


def _bits(value: int) -> int:
    return bin(value).count("1")


def _reference_worth_comparing(mine: StorySketch, candidates: list[tuple[str, StorySketch]],
                               max_distance: int) -> list[tuple[str, StorySketch]]:
    """near_sketch's first test: kept unless the texts are apart (by the bound) and the simhashes far."""
    kept = []
    for key, theirs in candidates:
        shared_bound = _bits(mine.bits & theirs.bits) + min(mine.folded, theirs.folded)
        apart = shared_bound < CONTAINMENT_MIN * min(mine.size, theirs.size)
        far = _bits((mine.simhash ^ theirs.simhash) % (1 << 64)) > max_distance
        if not (apart and far):
            kept.append((key, theirs))
    return kept


EDGES = [
    "", "a", "_", "，。", "中", "中文", "１２ＡＢ，。", "ab" * 600, "中" * 5000, "北向资金净流入超40亿",
    "\ud800", "a\udfffb", "\udfff中文\ud800", "ﬁ½Ⅻİß", "ｱｲｳ", "٣٫١٤ and 3.14.15, 1. .5 ３．５",
    "x\u0301y\u0301", "𠀀𠀁𠀀𠀁", "a b\tc\nd_e-f",
]
MIXED = "北向资金净流入亿元港股人民币ABCxyz0123456789０１２３ＡＢａｂ，。：（）%._ \n\u3000"


@pytest.mark.parametrize("text", EDGES)
def test_edge_texts(text: str) -> None:
    _check(text)


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(
    st.text(st.characters(exclude_categories=())),  # any code point, lone surrogates too
    st.text(st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)),
    st.text(MIXED, max_size=2000),
    st.text("ab中", max_size=3000),  # few distinct bigrams, each many times
))
def test_generated_texts(text: str) -> None:
    _check(text)


def _fixture_texts() -> list[str]:
    posts = {**json.loads((FIXTURES / "posts.json").read_text("utf-8")),
             **json.loads((FIXTURES / "holdout.json").read_text("utf-8"))}
    return [text for fields in posts.values() for text in (fields.get("body_text"), fields.get("title")) if text]


def test_every_fixture_post() -> None:
    texts = _fixture_texts()
    assert len(texts) > 300
    for text in texts:
        _check(text)


def test_stored_values_are_kept() -> None:
    # Values archives hold (computed by the code that first stored them).
    posts = json.loads((FIXTURES / "posts.json").read_text("utf-8"))
    assert simhash(posts["202112082206885586"]["body_text"]) == -8880394401957867751
    assert simhash(posts["202112082206672930"]["body_text"]) == 3310178100590949191
    assert simhash("北向资金净流入超40亿") == -8846475562747651663
    assert simhash("１２ＡＢ，。") == 8021528731099992227


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is not beside this checkout")
def test_every_post_of_the_shared_corpus() -> None:
    checked = 0
    for path in sorted(CORPUS.glob("*/*.md")):
        try:
            article = read_post(path.name, path.read_bytes(), "https://finews.withounder.com/")
        except NotAPost:
            continue
        # As the import hashes it: normalised, then sketched by the story linker.
        normalise(article)
        text = article.body_text or article.title or ""
        assert article.simhash == _reference_simhash(text), path.name
        text_of = StoryText.of(article)
        assert (text_of.sketch if text_of else None) == (_reference_sketch(text) if text else None), path.name
        checked += 1
    assert checked > 150


_SKETCHES = st.builds(
    StorySketch, length=st.just(0), digest=st.none(), numbers=st.just(""),
    simhash=st.integers(-(1 << 63), (1 << 64) - 1), size=st.integers(0, 60), folded=st.integers(0, 8),
    # Few bit positions, so that shared bits and the threshold meet often.
    bits=st.lists(st.integers(0, 40), max_size=60).map(lambda positions: sum(1 << p for p in set(positions))),
)


@settings(max_examples=500, deadline=None)
@given(mine=_SKETCHES, others=st.lists(_SKETCHES, max_size=30), max_distance=st.integers(0, 64))
@example(  # exactly on the threshold: 15 shared bits + 2 folded = 0.85 * 20
    mine=StorySketch(0, None, "", 0, 20, (1 << 15) - 1, 2),
    others=[StorySketch(0, None, "", -1, 20, (1 << 15) - 1, 3), StorySketch(0, None, "", -1, 20, (1 << 14) - 1, 3)],
    max_distance=3,
)
def test_worth_comparing_is_the_reference(mine: StorySketch, others: list[StorySketch], max_distance: int) -> None:
    candidates = [(str(i), sketch) for i, sketch in enumerate(others)]
    expected = _reference_worth_comparing(mine, candidates, max_distance)
    assert worth_comparing(mine, iter(candidates), max_distance) == expected
