"""newscrawl.export: post files written atomically, only when their text changes, in one folder."""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from test_jekyll import make_article

from newscrawl.export import PostWriter, export_articles
from newscrawl.jekyll import PostName, UnsafePostName, post_filename, post_name, render_post

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
    "../evil", "a/b", "a\\b", "..", "x..y", ".hidden", "a\x00b", "", "a b", "-rf", "C:x", "a\nb", "a\x85b", "a\x9bb",
])
def test_unsafe_article_ids_are_refused_and_nothing_is_written(article_id: str, tmp_path: Path) -> None:
    out = tmp_path / "_posts"
    with pytest.raises(UnsafePostName):
        PostWriter(out).write(make_article(article_id=article_id))
    assert [p for p in tmp_path.rglob("*") if p != out] == []


def test_a_post_is_written_inside_the_folder(tmp_path: Path) -> None:
    assert PostWriter(tmp_path).write(make_article(article_id="init"))
    assert [p.relative_to(tmp_path) for p in tmp_path.rglob("*")] == [Path("2022-02-14-init.md")]


def names(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def test_an_id_too_long_for_a_file_name_gets_a_marked_name_and_stops_nothing(tmp_path: Path) -> None:
    # 85 Chinese characters are 255 bytes: within the old 200-character limit, too long for the file system
    # once "YYYY-MM-DD-" and ".md" are added. Dated first, it used to stop the export of every other post.
    long_id = "长" * 85
    early = make_article(article_id=long_id, published_at=ARTICLES[0].published_at.replace(year=2021))
    report = export_articles(tmp_path, [early, *ARTICLES])
    assert (report.written, report.renamed, report.unsafe, report.failed) == (4, [long_id], [], [])
    marked = post_filename(early)
    assert marked.startswith("2021-02-14-" + "长" * 76 + "-") and len(marked.encode()) <= 255
    assert names(tmp_path) == {marked, *(post_filename(a) for a in ARTICLES)}
    assert (tmp_path / marked).read_text("utf-8") == render_post(early)
    # 241 bytes of id fit as they are; one more byte is marked.
    assert post_name(make_article(article_id="x" * 241)) == PostName("2022-02-14-" + "x" * 241 + ".md")
    assert post_name(make_article(article_id="x" * 242)).renamed == "the id is 242 bytes, more than a 255-byte " \
                                                                    "file name holds"


@pytest.mark.parametrize(("article_id", "reason"), [
    ("NW2022\u202egpj.exe", "the id holds invisible or bidirectional format characters"),
    ("NW\u200b2022", "the id holds invisible or bidirectional format characters"),
    ("\u2066\u2069", "the id holds invisible or bidirectional format characters"),
    ("CON", "the id is a Windows device name"), ("nul.txt", "the id is a Windows device name"),
    ("Com1", "the id is a Windows device name"),
])
def test_ids_a_file_system_shows_or_reads_otherwise_get_marked_names(article_id: str, reason: str,
                                                                   tmp_path: Path) -> None:
    name = post_name(make_article(article_id=article_id))
    assert name.renamed == reason
    visible = "".join(c for c in article_id if unicodedata.category(c) != "Cf")
    assert re.fullmatch(rf"2022-02-14-{re.escape(visible)}-[0-9a-f]{{10}}\.md", name.filename)
    assert PostWriter(tmp_path).write(make_article(article_id=article_id))
    assert names(tmp_path) == {name.filename}
    # Two ids that differ only in an invisible character are two files.
    other = post_name(make_article(article_id=article_id + "\u200d"))
    assert other.filename != name.filename


def test_case_twins_are_two_files_on_any_file_system(tmp_path: Path) -> None:
    # On APFS, NTFS or FAT "…-Case.md" and "…-case.md" are one file: the later twin gets a marked name.
    twins = [make_article(article_id="Case", title="大写"), make_article(article_id="case", title="小写"),
             make_article(article_id="CASE", title="全大写")]
    first = export_articles(tmp_path / "a", twins)
    assert (first.written, first.renamed) == (3, ["case", "CASE"])
    written = names(tmp_path / "a")
    assert len({name.casefold() for name in written}) == 3 and "2022-02-14-Case.md" in written
    again = export_articles(tmp_path / "a", twins)
    assert (again.written, again.unchanged) == (0, 3) and names(tmp_path / "a") == written
    # Written one at a time (the crawl's pipeline), in the other order: the first keeps the plain name.
    for article in reversed(twins):
        PostWriter(tmp_path / "b").write(article)
    assert "2022-02-14-CASE.md" in names(tmp_path / "b") and len({n.casefold() for n in names(tmp_path / "b")}) == 3


WRITE_ONE = ("import sys; from pathlib import Path; sys.path.insert(0, {tests!r});"
             " from test_jekyll import make_article; from newscrawl.export import PostWriter;"
             " PostWriter(Path({out!r})).write(make_article())")


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o002, 0o077])
def test_post_files_follow_the_umask(umask: int, tmp_path: Path) -> None:
    out = tmp_path / "posts"
    code = WRITE_ONE.format(tests=str(Path(__file__).parent), out=str(out))
    subprocess.run([sys.executable, "-c", code], check=True, umask=umask)
    (post,) = out.iterdir()
    assert stat.S_IMODE(post.stat().st_mode) == 0o666 & ~umask


def test_temporary_files_of_a_killed_export_are_removed_by_the_next(tmp_path: Path) -> None:
    # A writer killed (SIGKILL) between writing its temporary file and renaming it over the post.
    kill = "; import os, signal; os.replace = lambda *a: os.kill(os.getpid(), signal.SIGKILL); PostWriter("
    code = WRITE_ONE.replace("; PostWriter(", kill).format(tests=str(Path(__file__).parent), out=str(tmp_path))
    killed = subprocess.run([sys.executable, "-c", code], check=False)
    assert killed.returncode == -signal.SIGKILL
    (left,) = names(tmp_path)
    assert re.fullmatch(r"\.newscrawl-[0-9]+-[0-9a-f]{8}\.tmp", left)
    earlier = tmp_path / ".a1B2c_3d.tmp"  # what tempfile.mkstemp left in releases before this one
    earlier.write_bytes(b"half a post")
    running = tmp_path / f".newscrawl-{os.getppid()}-0123abcd.tmp"  # a writer still at work: kept
    running.write_bytes(b"")
    report = export_articles(tmp_path, ARTICLES)
    assert report.written == 3
    assert names(tmp_path) == {post_filename(a) for a in ARTICLES} | {running.name}


def test_a_post_that_cannot_be_written_stops_nothing(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / post_filename(ARTICLES[0])).mkdir()  # its name is taken by a folder: the rename fails
    report = export_articles(tmp_path, ARTICLES)
    assert report.written == 2 and [article_id for article_id, _ in report.failed] == [ARTICLES[0].article_id]
    assert f"not exported: post {ARTICLES[0].article_id}: [Errno 21] Is a directory" in caplog.text
    assert not [name for name in names(tmp_path) if name.startswith(".")]
