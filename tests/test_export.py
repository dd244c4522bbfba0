"""newscrawl.export: post files written atomically, only when their text changes, in one folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_jekyll import make_article

from newscrawl.export import PostWriter, export_articles
from newscrawl.jekyll import UnsafePostName, render_post

ARTICLES = [make_article(article_id=f"NW20220214227572492{i}", title=f"标题{i}") for i in range(3)]


def test_export_twice_writes_once_and_a_changed_file_is_rewritten(tmp_path: Path) -> None:
    out = tmp_path / "new" / "_posts"
    first = export_articles(out, ARTICLES)
    assert (first.written, first.unchanged) == (3, 0)
    assert sorted(p.name for p in out.iterdir()) == [f"2022-02-14-NW20220214227572492{i}.md" for i in range(3)]
    again = export_articles(out, ARTICLES)
    assert (again.written, again.unchanged) == (0, 3)
    edited = out / "2022-02-14-NW202202142275724921.md"
    edited.write_text("edited by hand", encoding="utf-8")
    third = export_articles(out, ARTICLES)
    assert (third.written, third.unchanged) == (1, 2)
    assert edited.read_bytes() == render_post(ARTICLES[1]).encode("utf-8")


def test_the_folder_listing_only_spares_reads(tmp_path: Path) -> None:
    # A post listed when the writer started but deleted since is written again; one another process wrote
    # after the listing is written over with the same text (counted as written): never lost, never stale.
    writer = PostWriter(tmp_path, list_folder=True)
    assert writer.write(ARTICLES[0])
    (tmp_path / "2022-02-14-NW202202142275724920.md").unlink()
    assert writer.write(ARTICLES[0])
    assert PostWriter(tmp_path).write(ARTICLES[1])  # not in the writer's listing
    assert writer.write(ARTICLES[1])
    assert (tmp_path / "2022-02-14-NW202202142275724921.md").read_bytes() == render_post(ARTICLES[1]).encode()
    assert not writer.write(ARTICLES[0])
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no temporary file is left"


@pytest.mark.parametrize("article_id", [
    "../evil", "a/b", "a\\b", "..", "x..y", ".hidden", "a\x00b", "", "a b", "-rf", "C:x", "a\nb", "x" * 201,
])
def test_unsafe_article_ids_are_refused_and_nothing_is_written(article_id: str, tmp_path: Path) -> None:
    out = tmp_path / "_posts"
    with pytest.raises(UnsafePostName):
        PostWriter(out).write(make_article(article_id=article_id))
    assert [p for p in tmp_path.rglob("*") if p != out] == []


def test_a_post_is_written_inside_the_folder(tmp_path: Path) -> None:
    assert PostWriter(tmp_path).write(make_article(article_id="init"))
    assert [p.relative_to(tmp_path) for p in tmp_path.rglob("*")] == [Path("2022-02-14-init.md")]
