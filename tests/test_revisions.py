"""Every field the site or the origin shows makes a revision; the mirror's re-flow of white space does not
(docs/reliability.md, "What is a revision"; newscrawl/revisions.py).

Two real crawls of a loopback site (tests/faults.py) on each backend: between them each synthetic post
changes in one field only, and one post only in the white space the mirror re-flows. The second crawl
(``--full``, so unchanged pages and origin answers are fetched again) must count each changed post
``updated`` with its earlier version in ``article_revisions``, and the re-flowed one ``unchanged``.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import BACKENDS, REPLICA, archive_url, requires_replica
from crawling import DEMO_IDS, demo_server, query
from crawling import crawl as demo_crawl
from faults import FaultServer, article_page, article_path, crawl, json_answer

from newscrawl.parsers import parse_article
from newscrawl.revisions import changed_fields
from newscrawl.storage import Archive, upgrade_database

pytestmark = pytest.mark.slow

SUMMARY = "<p><strong>摘要：</strong>人民币汇率中间价上调，报6.3741。</p>"
BODY = ("<p>中国人民银行授权中国外汇交易中心公布，2022年2月14日银行间外汇市场人民币汇率中间价为"
        "1美元对人民币6.3741元。</p>\n<p><img src=\"/assets/chart-1.png\" alt=\"走势\"></p>\n"
        "<p>（文章来源：中国发展网）</p>")
ORIGIN = "<p>中国人民银行授权中国外汇交易中心公布汇率中间价。</p>"


@dataclass(frozen=True)
class Post:
    """One synthetic post: the page's parts; ``changed`` gives the parts that differ on the second crawl."""

    title: str = "人民币汇率中间价报6.3741"
    date: str = "2022-02-14 15:11:07"
    category: str = "zhongguofazhanwang"
    summary: str = SUMMARY
    body: str = BODY
    tags_extra: str = ""
    publisher: str = "中国发展网"
    home_link: str = "//finews.withounder.com/"
    share_code: str = ""
    origin: str = ORIGIN

    def page(self, article_id: str) -> bytes:
        """The page as the site serves it."""
        text = article_page(self.title, self.summary + "\n" + self.body, date=self.date, category=self.category,
                            publisher=self.publisher, share_code=self.share_code or article_id)
        text = text.replace("新闻</em>", "新闻</em>" + self.tags_extra)
        text = text.replace('<a href="//finews.withounder.com/">返回首页', f'<a href="{self.home_link}">返回首页')
        return text.encode("utf-8")


# article id → (the field that changes, the post on the first crawl, on the second).
BASE = Post()
CASES: dict[str, tuple[str, Post, Post]] = {
    "REVTITLE": ("title", BASE, Post(title="人民币汇率中间价报6.3742")),
    "REVDATE1": ("published_at", BASE, Post(date="2022-02-14 15:12:07")),
    "REVCATEG": ("category", BASE, Post(category="zhongguojingjiwang")),
    "REVTAGS1": ("tags", BASE, Post(tags_extra=" <em>汇率</em>")),
    "REVPUBLI": ("publisher", BASE, Post(publisher="中国经济网")),
    "REVSUMMA": ("summary", BASE, Post(summary=SUMMARY.replace("上调", "下调"))),
    "REVSOURC": ("source", BASE, Post(body=BODY.replace("文章来源：中国发展网", "文章来源：新华社"))),
    "REVSHARE": ("share_url", BASE, Post(share_code="REVSHARX")),
    "REVFOOTR": ("footer_md", BASE, Post(home_link="//finews.withounder.com/index.html")),
    "REVBODYH": ("body_html", BASE, Post(body=BODY.replace("chart-1.png", "chart-2.png"))),
    "REVORIGN": ("origin_html", BASE, Post(origin=ORIGIN.replace("中间价", "中间价上调"))),
}
# The mirror's re-flow: blocks on other lines, indented; a line break between two Chinese characters.
REFLOWED = Post(summary="  " + SUMMARY.replace("，", "，\n") + "\n",
                body="\n    " + BODY.replace("</p>\n<p>", "</p>\n\n      <p>").replace("公布，", "公布，\n    ") + "\n")
WHITESPACE_ID = "REVSPACE"


@dataclass
class TwoCrawls:
    db_url: str
    first: Any
    second: Any


def _serve(server: FaultServer, posts: dict[str, Post]) -> None:
    server.pages.clear()
    server.index_links.clear()
    for article_id, post in posts.items():
        server.add_page(article_path(article_id, category=post.category), post.page(article_id))
        server.add_origin(post.share_code or article_id, json_answer({"text": post.origin}))


@pytest.fixture(scope="module", params=BACKENDS)
def crawls(request: pytest.FixtureRequest) -> Iterator[TwoCrawls]:
    workdir = Path(tempfile.mkdtemp(prefix="revisions-"))
    with archive_url(request.param, workdir) as db_url:
        with FaultServer() as server:
            _serve(server, {**{i: before for i, (_, before, _) in CASES.items()}, WHITESPACE_ID: BASE})
            first = crawl(server, db_url, workdir)
            _serve(server, {**{i: after for i, (_, _, after) in CASES.items()}, WHITESPACE_ID: REFLOWED})
            second = crawl(server, db_url, workdir, "--full")
        yield TwoCrawls(db_url, first, second)


def test_both_crawls_count_what_changed(crawls: TwoCrawls) -> None:
    assert crawls.first.returncode == 0, crawls.first.log[-3000:]
    assert crawls.second.returncode == 0, crawls.second.log[-3000:]
    new_ids = {*CASES, WHITESPACE_ID}
    assert crawls.first.summary["new"] >= len(new_ids)
    assert crawls.second.summary["updated"] == len(CASES)


@pytest.mark.parametrize("article_id", sorted(CASES))
def test_a_change_of_one_field_is_a_revision(crawls: TwoCrawls, article_id: str) -> None:
    field, _, _ = CASES[article_id]
    with Archive.open(crawls.db_url) as archive:
        current = archive.get_article(article_id)
        earlier = archive.revisions(article_id)
    assert current is not None and len(earlier) == 1
    old = earlier[0].article
    assert earlier[0].revision == 1
    assert getattr(old, field) != getattr(current, field), field
    assert field in changed_fields(old, current)
    assert old.content_hash != current.content_hash


def test_white_space_the_mirror_reflows_is_no_revision(crawls: TwoCrawls) -> None:
    with Archive.open(crawls.db_url) as archive:
        current = archive.get_article(WHITESPACE_ID)
        assert current is not None and current.body_html is not None and archive.revisions(WHITESPACE_ID) == []
    # The re-flowed page is another page: its HTML differs from the archived one, in white space only.
    url = "http://finews.withounder.com" + article_path(WHITESPACE_ID)
    reflowed = parse_article(REFLOWED.page(WHITESPACE_ID).decode(), url)
    assert reflowed.body_html is not None and reflowed.body_html != current.body_html
    assert "".join(reflowed.body_html.split()) == "".join(current.body_html.split())


# The release before revisions covered every field (schema revision 0004): its content_hash covered title,
# date, summary, body text, source and share link only.
PREVIOUS_RELEASE = "36300a0132081a6501a9888b4cc20def6fc181fe"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def previous_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The previous release's code (newscrawl/, pipelines/, tools/), taken from git, for a crawl in a child
    process."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    known = subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", f"{PREVIOUS_RELEASE}^{{commit}}"],
                           capture_output=True)
    if known.returncode != 0:
        pytest.skip(f"this checkout's history does not have {PREVIOUS_RELEASE[:7]} (a shallow clone)")
    target = tmp_path_factory.mktemp("previous-release")
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", PREVIOUS_RELEASE,
                              "newscrawl", "pipelines", "tools", "scrapy.cfg"], capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target


def test_an_archive_of_the_previous_release_is_unchanged_after_the_upgrade(
        db_url: str, tmp_path: Path, previous_release: Path) -> None:
    (tmp_path / "old").mkdir()
    (tmp_path / "new").mkdir()
    with demo_server() as server:
        # PYTHONPATH comes before the editable install's finder: the child runs the previous release.
        old = demo_crawl(server, db_url, tmp_path / "old", env={"PYTHONPATH": str(previous_release)})
        assert old.returncode == 0, old.stderr[-3000:]
        assert old.summary["new"] == len(DEMO_IDS)
    # The previous release left the archive at 0004, with its own hashes.
    engine_revision = query(db_url, "SELECT version_num FROM alembic_version")[0]["version_num"]
    assert engine_revision == "0004_published_near"
    hashes = "SELECT article_id, content_hash FROM articles"
    before = {r["article_id"]: r["content_hash"] for r in query(db_url, hashes)}
    upgrade_database(db_url)
    after = {r["article_id"]: r["content_hash"] for r in query(db_url, hashes)}
    assert sorted(after) == DEMO_IDS and all(before[i] != after[i] for i in DEMO_IDS)
    with demo_server() as server:
        again = demo_crawl(server, db_url, tmp_path / "new", "--full")
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.summary["updated"] == 0 and again.summary["unchanged"] == len(DEMO_IDS), again.summary
    assert query(db_url, "SELECT COUNT(*) AS n FROM article_revisions")[0]["n"] == 0


@requires_replica
@pytest.mark.replica
def test_the_replica_archived_by_the_previous_release_is_unchanged_after_the_upgrade(
        tmp_path: Path, previous_release: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'archive.sqlite3'}"

    def acceptance(tool_root: Path, work: str, env: dict[str, str]) -> dict[str, Any]:
        figures = tmp_path / f"{work}.json"
        done = subprocess.run([sys.executable, str(tool_root / "tools" / "replica_acceptance.py"), "--replica",
                               str(REPLICA), "--work", str(tmp_path / work), "--db", db_url, "--json", str(figures)],
                              capture_output=True, text=True, timeout=900, env={**os.environ, **env})
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        result: dict[str, Any] = json.loads(figures.read_text("utf-8"))
        return result

    # The previous release's tool and code (its crawl runs from its own root, so imports its own code).
    old = acceptance(previous_release, "old", {"PYTHONPATH": str(previous_release)})
    assert old["runs"][0]["summary"]["new"] == 165
    upgrade_database(db_url)
    # Today's code, every article page fetched and parsed again (not only re-checked with 304s).
    again = acceptance(ROOT, "new", {"NEWSCRAWL_INCREMENTAL": "false"})
    run = again["runs"][0]
    assert run["article_200"] == 165 and run["summary"]["updated"] == 0 and run["summary"]["unchanged"] == 165
    assert query(db_url, "SELECT COUNT(*) AS n FROM article_revisions")[0]["n"] == 0
