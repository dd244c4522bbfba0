"""An ``Article`` as the column values of ``articles`` and ``article_revisions``, and back (docs/schema.md,
"Values a backend cannot hold")."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import RowMapping

from newscrawl.items import Article
from newscrawl.revisions import content_hash
from newscrawl.storage.types import (
    REPLACEMENT,
    exact_json,
    from_exact_json,
    storable_datetime,
    to_site_time,
    unstorable_characters,
)

_UINT64 = 1 << 64
_INT64_MAX = (1 << 63) - 1

#: The text fields of an article, as stored in columns of the same names.
TEXT_FIELDS = ("article_id", "info_code", "url", "share_url", "category", "publisher", "title", "summary",
               "body_html", "body_text", "origin_html", "origin_status", "source", "tags", "footer_md",
               "etag", "last_modified")
_EXACT_DATETIMES = frozenset({"published_at"})
#: Flags of an article some of whose values this backend could not hold as they were (docs/schema.md).
UNSTORABLE_TEXT, DATE_OUT_OF_RANGE = "unstorable_text", "date_out_of_range"


def unstorable_fields(article: Article, dialect: str) -> dict[str, str]:
    """The fields of ``article`` that ``dialect`` cannot hold as they are, each with its flag."""
    unstorable = unstorable_characters(dialect)
    found = {name: UNSTORABLE_TEXT for name in TEXT_FIELDS
             if isinstance(value := getattr(article, name), str) and unstorable.search(value)}
    if article.published_at is not None and not storable_datetime(article.published_at):
        found["published_at"] = DATE_OUT_OF_RANGE
    return found


def storage_flags(article: Article, dialect: str) -> list[str]:
    """The flags the archive adds to ``article`` on ``dialect`` (``unstorable_text``, ``date_out_of_range``)."""
    return sorted(set(unstorable_fields(article, dialect).values()))


def article_values(article: Article, dialect: str = "sqlite") -> dict[str, Any]:
    """The column values of ``article`` on ``dialect`` (without the seen-at times and revision).

    A value the backend cannot hold goes into the column in its stand-in form (unstorable characters
    replaced by U+FFFD, an out-of-range time NULL), exactly into ``exact_values``, and its flag into
    ``flags`` (docs/schema.md, "Values a backend cannot hold").
    """
    values = _plain_values(article)
    unstorable = unstorable_fields(article, dialect)
    if unstorable:
        pattern = unstorable_characters(dialect)
        for name in unstorable:
            values[name] = None if name in _EXACT_DATETIMES else pattern.sub(REPLACEMENT, getattr(article, name))
        values["exact_values"] = exact_json({name: getattr(article, name) for name in unstorable})
        values["flags"] = [*values["flags"], *(f for f in sorted(set(unstorable.values())) if f not in values["flags"])]
    return values


def _plain_values(article: Article) -> dict[str, Any]:
    published = article.published_at
    return {
        "article_id": article.article_id,
        "info_code": article.info_code,
        "url": article.url,
        "share_url": article.share_url,
        "category": article.category,
        "publisher": article.publisher,
        "title": article.title,
        # Checked here, not only in the column type, so that a naive datetime fails with a plain ValueError.
        "published_at": to_site_time(published) if published is not None and storable_datetime(published) else None,
        "summary": article.summary,
        "body_html": article.body_html,
        "body_text": article.body_text,
        "origin_html": article.origin_html,
        "origin_status": article.origin_status,
        "source": article.source,
        "tags": article.tags,
        "footer_md": article.footer_md,
        "content_hash": article.content_hash or content_hash(article),
        "simhash": signed(article.simhash),
        "story_id": article.story_id,
        "flags": list(article.flags),
        "etag": article.etag,
        "last_modified": article.last_modified,
        "exact_values": None,
    }


def article_from_row(row: RowMapping) -> Article:
    """An ``Article`` from a row of ``articles`` or ``article_revisions``, with its exact values."""
    article = Article(
        article_id=row["article_id"], url=row["url"], title=row["title"], published_at=row["published_at"],
        category=row["category"], tags=row["tags"], publisher=row["publisher"], summary=row["summary"],
        source=row["source"], share_url=row["share_url"], info_code=row["info_code"],
        body_html=row["body_html"], body_text=row["body_text"], footer_md=row["footer_md"],
        origin_html=row["origin_html"], origin_status=row["origin_status"], content_hash=row["content_hash"],
        story_id=row.get("story_id"), simhash=row["simhash"], etag=row["etag"],
        last_modified=row["last_modified"], flags=list(row["flags"] or []),
    )
    exact = row.get("exact_values")
    if exact:
        for name, value in from_exact_json(exact, _EXACT_DATETIMES).items():
            setattr(article, name, value)
    return article


def signed(simhash: int | None) -> int | None:
    """A 64-bit simhash as the signed BIGINT with the same bits (and None as None)."""
    # BIGINT is signed, as newscrawl.stories.simhash is; an unsigned 64-bit value is stored as the
    # signed number with the same bits (and comes back signed).
    if simhash is None:
        return None
    if not -(1 << 63) <= simhash < _UINT64:
        raise ValueError(f"simhash {simhash} does not fit in 64 bits")
    return simhash - _UINT64 if simhash > _INT64_MAX else simhash
