"""When two posts are one story: simhash and the "same story" rules (see docs/parsing.md).

Pure functions over ``Article`` values (the content hash they compare is newscrawl.revisions'). The mirror
posts one eastmoney article under two ids (the emnews id ``202201072239307540`` and the publisher id
``NW202201072239307540``), and re-posts the same news under new
ids with a retouched title or a shorter text; the dedupe pipeline gives such posts one ``story_id``.
Successive updates of one figure ("北向资金净流入超40亿" then "…超50亿") are different news and stay apart.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, TypeVar

from newscrawl.items import Article
from newscrawl.revisions import content_hash

K = TypeVar("K")

StoryReason = Literal["same_id", "same_content", "near_text"]

SIMHASH_BITS = 64
_MASK = (1 << SIMHASH_BITS) - 1
# Character n-grams: Chinese has no spaces between words, and two characters are the shortest common word.
SHINGLE_SIZE = 2
# A text whose shingles are at least this much inside the other's is the same text, shortened or retouched
# (tuned on VARIANTS.md's pairs: same stories score 0.90-1.0, the closest unrelated digests 0.73-0.89 and
# those differ in their figures, which the number rule catches).
CONTAINMENT_MIN = 0.85
# Up to this length (normalised characters) a text is a digest, whose figures are the news itself: two
# digests are only one story when the shorter one's figures all appear in the other.
DIGEST_MAX_CHARS = 200
_NOT_TEXT = re.compile(r"[\W_]+")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_ID_DIGITS = re.compile(r"[A-Za-z]*(?P<digits>\d+)")


def simhash(text: str | None) -> int:
    """64-bit simhash over character bigrams of the normalised text, as a signed 64-bit integer.

    Bit i is set when more than half of the text's bigrams (counted with repeats) have bit i set in their
    hash, the first 8 bytes of BLAKE2b read big-endian. Signed so that it fits a database BIGINT: the bits
    are the same, ``hamming`` masks them back. An empty text hashes to 0.
    """
    shingles = _bigrams(text or "")
    if not shingles:
        return 0
    # Every occurrence hashed: a cache of bigram hashes cost more than it saved, even on the real corpus's
    # texts (whose words repeat). A copy of a ready 8-byte BLAKE2b is a third cheaper than a new one.
    digests = []
    for shingle in shingles:
        hasher = _BLAKE2B_8.copy()
        hasher.update(shingle)
        digests.append(hasher.digest())
    return _majority(b"".join(digests), len(shingles))


_BLAKE2B_8 = hashlib.blake2b(digest_size=8)


def _majority(digests: bytes, total: int) -> int:
    """The bits set in more than half of ``total`` 8-byte big-endian values laid side by side, signed."""
    # Byte k of every value (digests[k::8]) read as one integer holds the values' bit j of that byte at
    # every eighth position from j: masked, one bit_count counts them. 64 counts in C, not a step per value.
    every_eighth = int.from_bytes(b"\x01" * total, "big")
    masks = [every_eighth << j for j in range(8)]
    value = 0
    for k in range(8):
        column = int.from_bytes(digests[k::8], "big")
        for j, mask in enumerate(masks):
            if 2 * (column & mask).bit_count() > total:
                value |= 1 << (8 * (7 - k) + j)  # big-endian: the last byte holds bits 0-7
    return value - (1 << SIMHASH_BITS) if value >> (SIMHASH_BITS - 1) else value


def hamming(a: int, b: int) -> int:
    """Number of differing bits of two 64-bit simhashes (signed or unsigned)."""
    return ((a ^ b) & _MASK).bit_count()


@lru_cache(maxsize=1 << 14)
def story_key(article_id: str) -> str:
    """The eastmoney article number inside an id: ``NW202201072239307540`` → ``202201072239307540``.

    Ids that are not letters followed by digits (``init``) are their own key.
    """
    match = _ID_DIGITS.fullmatch(article_id or "")
    return match.group("digits") if match else article_id


def same_story(a: Article, b: Article, max_distance: int = 3) -> StoryReason | None:
    """Why ``a`` and ``b`` are one story (``same_id``, ``same_content``, ``near_text``), or None."""
    reason = same_identity(a, b.article_id, b.content_hash or content_hash(b))
    if reason:
        return reason
    text_a, text_b = StoryText.of(a), StoryText.of(b)
    if text_a is None or text_b is None:
        return None
    return "near_text" if near_text(text_a, text_b, max_distance) else None


def same_identity(a: Article, other_id: str, other_hash: str) -> StoryReason | None:
    """``same_id`` or ``same_content`` when ids or content hashes say so: the cheap half of same_story."""
    if a.article_id and story_key(a.article_id) == story_key(other_id):
        return "same_id"
    if (a.content_hash or content_hash(a)) == other_hash:
        return "same_content"
    return None


@dataclass(frozen=True, slots=True)
class StorySketch:
    """What the near-text rule decides most pairs on, small enough to keep for every post of a crawl.

    ``bits`` is the post's shingle set folded into a ``SKETCH_BITS``-bit map and ``folded`` the shingles
    lost to the folding: together an exact upper bound on the shingles two posts share (``near_sketch``).
    ``digest`` is the text itself when it is a digest (the digest rule compares such texts); ``numbers``
    its figures, space-separated (a string: a set per post would double the sketch's size).
    """

    length: int
    digest: str | None
    numbers: str
    simhash: int
    size: int
    bits: int
    folded: int


@dataclass(frozen=True, slots=True)
class StoryText:
    """What the near-text rule compares, derived once per post: costly to compute, cheap to compare.

    The dedupe pipeline keeps the sketch of every post it meets, and the archive keeps every stored
    post's sketch (``story_sketches``); the whole (the shingle set) is derived again only for the rare
    pair the sketches cannot tell apart.
    """

    text: str
    shingles: frozenset[bytes]
    sketch: StorySketch

    @classmethod
    def of(cls, article: Article) -> StoryText | None:
        text = _story_text(article)
        if not text:
            return None
        return _prepare(text, article.simhash)


def story_sketch(article: Article) -> StorySketch | None:
    """The sketch of ``article``'s text (None when it has none): what the archive keeps of every post.

    The dedupe pipeline and the store both ask for the same item's sketch; it is derived once.
    """
    text = StoryText.of(article)
    return text.sketch if text is not None else None


@lru_cache(maxsize=4)
def _prepare(text: str, known_simhash: int | None) -> StoryText:
    shingles = frozenset(_bigrams(text))
    bits = _sketch(shingles)
    sketch = StorySketch(
        length=len(text),
        digest=text if len(text) <= DIGEST_MAX_CHARS else None,
        numbers=" ".join(sorted(set(_NUMBER.findall(text)))),
        simhash=known_simhash if known_simhash is not None else simhash(text),
        size=len(shingles),
        bits=bits,
        folded=len(shingles) - bits.bit_count(),
    )
    return StoryText(text=text, shingles=shingles, sketch=sketch)


# The sketch's size: a few hundred shingles set a few per cent of its bits, so unrelated texts share few.
SKETCH_BITS = 1 << 12
# Sketches are stored (docs/schema.md, ``story_sketches``): a stored sketch of another version is not
# compared but derived again from the post's text. Bump it whenever a sketch of the same text would
# change: the bit count, the hash below, normalisation, shingles, DIGEST_MAX_CHARS or the figures' pattern.
SKETCH_VERSION = 1


def _sketch(shingles: frozenset[bytes]) -> int:
    # CRC-32 of the UTF-8 shingle: as fast as Python's own string hash here, and unlike it the same in
    # every process, which a stored sketch needs (the bound holds for any hash).
    sketch = bytearray(SKETCH_BITS // 8)
    for shingle in shingles:
        position = zlib.crc32(shingle) & (SKETCH_BITS - 1)
        sketch[position >> 3] |= 1 << (position & 7)
    return int.from_bytes(sketch, "little")


def near_sketch(a: StorySketch, b: StorySketch, max_distance: int = 3) -> bool | None:
    """``near_text``'s verdict when the sketches decide it; None when the shingle sets must be compared."""
    # Every shared shingle sets a bit in both sketches, and at most `folded` of either text's shingles
    # share a bit with another of its own: so shared <= common bits + folded. Below the threshold, the
    # texts are apart without a set operation.
    apart = (a.bits & b.bits).bit_count() + min(a.folded, b.folded) < CONTAINMENT_MIN * min(a.size, b.size)
    close = hamming(a.simhash, b.simhash) <= max_distance
    if apart and not close:
        return False  # most pairs: the digest rule below could only say the same
    if a.digest is not None or b.digest is not None:
        # Ordered by length, then by text, so that the verdict is the same both ways (only digests, which
        # keep their text, can be decided by the order).
        short, long = (a, b) if (a.length, a.digest or "") <= (b.length, b.digest or "") else (b, a)
        if short.digest is not None and not set(short.numbers.split()) <= set(long.numbers.split()):
            return False  # a digest with a figure the other text lacks is other news (a later update)
    if close:
        return True
    return False if apart else None


def worth_comparing(a: StorySketch, candidates: Iterable[tuple[K, StorySketch]],
                    max_distance: int = 3) -> list[tuple[K, StorySketch]]:
    """The candidates ``near_sketch`` does not reject at its first test (texts apart, simhashes far), in
    their order: for the rest its verdict is False. That test in one loop, for the hundreds of posts
    published near a new one, without a call per pair."""
    bits, folded, size, hashed = a.bits, a.folded, a.size, a.simhash
    return [
        (key, b) for key, b in candidates
        if ((hashed ^ b.simhash) & _MASK).bit_count() <= max_distance
        or (bits & b.bits).bit_count() + (folded if folded < b.folded else b.folded)
        >= CONTAINMENT_MIN * (size if size < b.size else b.size)
    ]


def near_text(a: StoryText, b: StoryText, max_distance: int = 3) -> bool:
    """Near-identical texts (simhash), or one contained in the other, unless a digest's figures differ."""
    verdict = near_sketch(a.sketch, b.sketch, max_distance)
    if verdict is not None:
        return verdict
    return _overlap(a.shingles, b.shingles) >= CONTAINMENT_MIN


def _overlap(shingles_a: frozenset[bytes], shingles_b: frozenset[bytes]) -> float:
    if not shingles_a or not shingles_b:
        return 0.0
    return len(shingles_a & shingles_b) / min(len(shingles_a), len(shingles_b))


def _story_text(article: Article) -> str:
    # The body when there is one; a post whose body is empty is known by its title.
    return article.body_text or article.title or ""


def _normalise(text: str) -> str:
    # NFKC folds full-width digits and letters (１２ → 12, ＡＢ → AB); punctuation and spaces carry no story.
    return _NOT_TEXT.sub("", unicodedata.normalize("NFKC", text).lower())


@lru_cache(maxsize=4)
def _bigrams(text: str) -> tuple[bytes, ...]:
    """The bigrams of the normalised text, UTF-8 encoded (as both hashes read them), in order, with repeats."""
    # The normalise pipeline hashes a post's text and the dedupe pipeline then sketches the same text
    # (the same string object): prepared once, for both. Normalising drops lone surrogates (``\W``
    # matches them), so the strict encoding cannot fail.
    return tuple(map(str.encode, _shingles(_normalise(text))))


def _shingles(text: str) -> list[str]:
    if len(text) <= SHINGLE_SIZE:
        return [text] if text else []
    return [text[i:i + SHINGLE_SIZE] for i in range(len(text) - SHINGLE_SIZE + 1)]
