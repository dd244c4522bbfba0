"""newscrawl/revisions.py on its own: which differences are a revision (docs/schema.md, "What is a
revision"). The crawls that show it end to end are in tests/test_revisions.py."""

from __future__ import annotations

import dataclasses
import re

from hypothesis import given, settings
from hypothesis import strategies as st
from test_storage import seed_article

from newscrawl.items import Article
from newscrawl.revisions import CONTENT_FIELDS, changed_fields, content_hash, with_known_origin

SEED = dataclasses.replace(seed_article(), origin_status="ok", origin_html="<p>原文一</p>\n<p>原文二</p>")
TEXT_FIELDS = [name for name in CONTENT_FIELDS if name != "published_at"]
# Between two block tags, or inside a run of Chinese text: where kramdown's re-flow puts line breaks.
BREAKS = st.text(alphabet=" \t\n\r", min_size=1, max_size=6).filter(lambda s: "\n" in s or "\r" in s)


def test_every_field_the_site_shows_is_content() -> None:
    assert set(CONTENT_FIELDS) == {"title", "published_at", "category", "tags", "publisher", "summary", "source",
                                   "share_url", "footer_md", "body_html", "body_text", "origin_html"}


@settings(max_examples=200, deadline=None)
@given(field=st.sampled_from(TEXT_FIELDS), at=st.integers(0, 10_000), char=st.characters(
    blacklist_categories=("Zs", "Zl", "Zp", "Cc", "Cs")))
def test_any_visible_character_added_is_a_revision(field: str, at: int, char: str) -> None:
    value = getattr(SEED, field) or ""
    at %= len(value) + 1
    edited = dataclasses.replace(SEED, **{field: value[:at] + char + value[at:]})
    assert changed_fields(SEED, edited) == [field]
    assert content_hash(edited) != content_hash(SEED)


@settings(max_examples=200, deadline=None)
@given(field=st.sampled_from(["body_html", "origin_html"]), data=st.data())
def test_line_breaks_moved_between_tags_are_no_revision(field: str, data: st.DataObject) -> None:
    value = getattr(SEED, field)
    gaps = [m.end() for m in re.finditer(r">", value)]
    chosen = data.draw(st.lists(st.sampled_from(gaps), max_size=5, unique=True))
    reflowed = value
    for at in sorted(chosen, reverse=True):
        reflowed = reflowed[:at] + data.draw(BREAKS) + reflowed[at:]
    edited = dataclasses.replace(SEED, **{field: "  " + reflowed + "\n"})
    assert content_hash(edited) == content_hash(SEED)


def test_a_space_inside_a_line_still_counts() -> None:
    edited = dataclasses.replace(SEED, body_html=SEED.body_html.replace("</p>", " </p>", 1))  # type: ignore[union-attr]
    assert changed_fields(SEED, edited) == ["body_html"]


def test_an_origin_request_that_failed_keeps_the_archived_text() -> None:
    failed = dataclasses.replace(SEED, origin_status="http_503", origin_html=None, content_hash=None)
    kept = with_known_origin(failed, SEED)
    assert (kept.origin_status, kept.origin_html) == ("ok", SEED.origin_html)
    assert content_hash(kept) == content_hash(SEED)
    # Another share link is another origin article: nothing is carried over.
    moved = dataclasses.replace(failed, share_url="http://finews.zning.xyz/html_News/NewsShare.html?infoCode=X")
    assert with_known_origin(moved, SEED) is moved
    assert isinstance(kept, Article) and kept is not failed
