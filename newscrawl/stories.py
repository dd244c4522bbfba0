"""When two posts are one story: content hash, simhash and the "same story" rules (see docs/parsing.md).

Pure functions over ``Article`` values. The mirror posts one eastmoney article under two ids (the emnews id
``202201072239307540`` and the publisher id ``NW202201072239307540``), and re-posts the same news under new
ids with a retouched title or a shorter text; the dedupe pipeline gives such posts one ``story_id``.
Successive updates of one figure ("北向资金净流入超40亿" then "…超50亿") are different news and stay apart.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Literal

from newscrawl.items import Article

SITE_TZ = timezone(timedelta(hours=8))
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
_WHITESPACE = re.compile(r"\s+")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_ID_DIGITS = re.compile(r"[A-Za-z]*(?P<digits>\d+)")


def content_hash(article: Article) -> str:
    """sha256 (hex) of the content fields, normalised so that re-rendering the same post hashes the same.

    Fields: title, published_at (ISO 8601 in UTC+8), summary, body_text, source, share_url. Text is NFC;
    summary and body_text lose all white space (the mirror re-flows HTML, which moves line breaks), title
    and source have white space runs folded to one space. Missing fields count as empty.
    """
    published = article.published_at
    fields = {
        "title": _fold(article.title),
        "published_at": _site_iso(published) if isinstance(published, datetime) else "",
        "summary": _squeeze(article.summary),
        "body_text": _squeeze(article.body_text),
        "source": _fold(article.source),
        "share_url": (article.share_url or "").strip(),
    }
    payload = json.dumps(fields, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def simhash(text: str | None) -> int:
    """64-bit simhash over character bigrams of the normalised text, as a signed 64-bit integer.

    Signed so that it fits a database BIGINT: the bits are the same, ``hamming`` masks them back.
    An empty text hashes to 0.
    """
    counts = Counter(_shingles(_normalise(text or "")))
    if not counts:
        return 0
    weights = [0] * SIMHASH_BITS
    for shingle, count in counts.items():
        bits = int.from_bytes(hashlib.blake2b(shingle.encode("utf-8"), digest_size=8).digest(), "big")
        for i in range(SIMHASH_BITS):
            weights[i] += count if bits >> i & 1 else -count
    value = sum(1 << i for i, weight in enumerate(weights) if weight > 0)
    return value - (1 << SIMHASH_BITS) if value >> (SIMHASH_BITS - 1) else value


def hamming(a: int, b: int) -> int:
    """Number of differing bits of two 64-bit simhashes (signed or unsigned)."""
    return ((a ^ b) & _MASK).bit_count()


def story_key(article_id: str) -> str:
    """The eastmoney article number inside an id: ``NW202201072239307540`` → ``202201072239307540``.

    Ids that are not letters followed by digits (``init``) are their own key.
    """
    match = _ID_DIGITS.fullmatch(article_id or "")
    return match.group("digits") if match else article_id


def same_story(a: Article, b: Article, max_distance: int = 3) -> StoryReason | None:
    """Why ``a`` and ``b`` are one story (``same_id``, ``same_content``, ``near_text``), or None."""
    if a.article_id and story_key(a.article_id) == story_key(b.article_id):
        return "same_id"
    if (a.content_hash or content_hash(a)) == (b.content_hash or content_hash(b)):
        return "same_content"
    text_a, text_b = _story_text(a), _story_text(b)
    if not text_a or not text_b:
        return None
    # Ordered by length, then by text, so that same_story(a, b) == same_story(b, a).
    short, long = sorted((text_a, text_b), key=lambda text: (len(text), text))
    if len(short) <= DIGEST_MAX_CHARS and not set(_NUMBER.findall(short)) <= set(_NUMBER.findall(long)):
        return None  # a digest with a figure the other text lacks is other news (a later update)
    hash_a = a.simhash if a.simhash is not None else simhash(text_a)
    hash_b = b.simhash if b.simhash is not None else simhash(text_b)
    if hamming(hash_a, hash_b) <= max_distance or containment(short, long) >= CONTAINMENT_MIN:
        return "near_text"
    return None


def containment(a: str, b: str) -> float:
    """Share of the smaller bigram set that occurs in the other text (0.0 when either is empty)."""
    shingles_a = set(_shingles(_normalise(a)))
    shingles_b = set(_shingles(_normalise(b)))
    if not shingles_a or not shingles_b:
        return 0.0
    return len(shingles_a & shingles_b) / min(len(shingles_a), len(shingles_b))


def _story_text(article: Article) -> str:
    # The body when there is one; a post whose body is empty is known by its title.
    return article.body_text or article.title or ""


def _normalise(text: str) -> str:
    # NFKC folds full-width digits and letters (１２ → 12, ＡＢ → AB); punctuation and spaces carry no story.
    return _NOT_TEXT.sub("", unicodedata.normalize("NFKC", text).lower())


def _shingles(text: str) -> list[str]:
    if len(text) <= SHINGLE_SIZE:
        return [text] if text else []
    return [text[i:i + SHINGLE_SIZE] for i in range(len(text) - SHINGLE_SIZE + 1)]


def _fold(text: str | None) -> str:
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFC", text or "")).strip()


def _squeeze(text: str | None) -> str:
    return _WHITESPACE.sub("", unicodedata.normalize("NFC", text or ""))


def _site_iso(moment: datetime) -> str:
    return (moment if moment.tzinfo is None else moment.astimezone(SITE_TZ)).isoformat()
