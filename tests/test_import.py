"""``newscrawl import``: post files and git history archived as the crawl archives the pages Jekyll renders.

Oracles: the pages Jekyll really built from the same post files (the demo site, the page fixtures, the
replica's full snapshot, and a site built here by the ``jekyll`` program), read by the crawl's own parser;
real git repositories made with the ``git`` program; the archive read back with SQL.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest
from conftest import FIXTURES, REPLICA, requires_replica
from crawling import DEMO, SITE_URL, crawl, demo_server, query

from newscrawl.importer.markdown import render_markdown
from newscrawl.importer.post import NotAPost, read_post
from newscrawl.items import Article
from newscrawl.parsers import parse_article

ROOT = Path(__file__).resolve().parent.parent
# What a crawl fills in that a post file cannot say (HTTP validators, the origin's answer), and the post
# file itself, which only the importer knows.
NOT_COMPARED = {"etag", "last_modified", "origin_html", "origin_status", "post_file", "flags"}
needs_jekyll = pytest.mark.skipif(shutil.which("jekyll") is None, reason="the jekyll program is not installed")
needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="the git program is not installed")


def same_article(imported: Article, crawled: Article) -> None:
    for field in fields(Article):
        if field.name not in NOT_COMPARED:
            assert getattr(imported, field.name) == getattr(crawled, field.name), field.name


def page_url(page: Path, site_root: Path) -> str:
    return SITE_URL + page.relative_to(site_root).as_posix()


# -- the article of a post file is the crawl's article of its page ----------------------------------------


@pytest.mark.parametrize("post", sorted(p.name for p in (DEMO / "posts").glob("*.md")))
def test_demo_post_gives_the_article_of_its_demo_page(post: str) -> None:
    imported = read_post(post, (DEMO / "posts" / post).read_bytes(), SITE_URL)
    page = DEMO / "site" / imported.url.removeprefix(SITE_URL)
    assert page.is_file(), imported.url
    same_article(imported, parse_article(page.read_text(encoding="utf-8"), imported.url))


PAGE_CASES = sorted(p.parent.name for p in FIXTURES.glob("*/post.md") if (p.parent / "page.html").is_file())


@pytest.mark.parametrize("case", PAGE_CASES)
def test_fixture_post_gives_the_article_of_its_page(case: str) -> None:
    folder = FIXTURES / case
    url = (folder / "url.txt").read_text(encoding="utf-8").strip()
    year, month, day, page = url.rsplit("/", 4)[1:]
    site = url.split("/", 3)[0] + "//" + url.split("/")[2]
    imported = read_post(f"{year}-{month}-{day}-{page[:-5]}.md", (folder / "post.md").read_bytes(), site)
    assert imported.url == url
    same_article(imported, parse_article((folder / "page.html").read_text(encoding="utf-8"), url))


@requires_replica
def test_every_replica_post_gives_the_article_of_its_jekyll_page() -> None:
    manifest = {e["file"]: e for e in json.loads((REPLICA / "snapshots" / "full.manifest.json").read_text("utf-8"))}
    compared = 0
    for post in sorted((REPLICA / "source" / "_posts").glob("*.md")):
        entry = manifest.get(post.name)
        if entry is None:
            with pytest.raises(NotAPost):
                read_post(post.name, post.read_bytes(), SITE_URL)
            continue
        imported = read_post(post.name, post.read_bytes(), SITE_URL)
        assert imported.url == SITE_URL + entry["url"].lstrip("/")
        page = (REPLICA / "snapshots" / "full" / entry["url"].lstrip("/")).read_text(encoding="utf-8")
        if "<section>" not in page:
            # A post without front matter has no layout: its page is the rendered Markdown alone.
            assert "no_front_matter" in imported.flags and "unreachable" in imported.flags
            assert render_markdown(post.read_text("utf-8")) == page.strip()
            continue
        same_article(imported, parse_article(page, imported.url))
        compared += 1
    assert compared == 165


# -- Jekyll's rules, checked against jekyll itself -------------------------------------------------------

ODD_POSTS = {
    # A date without +0800 is UTC to Jekyll: the page (and its URL) show the next day.
    "2021-12-08-late.md": '---\nlayout: post\ntitle: "深夜"\ndate: 2021-12-08 20:30:00\ncategories: emnews\n'
                          "tags: 东财滚动新闻\n---\n\n深夜消息。\n\n<http://finance.eastmoney.com/news/1,1.html>\n",
    # CR LF line ends, a BOM, an upper-case category, no title (Jekyll makes one of the slug).
    "2022-03-01-Odd-Slug.md": "\ufeff---\r\nlayout: post\r\ndate: 2022-03-01 09:00:00 +0800\r\n"
                              "categories: Wind\r\ntags: 证监会网站新闻\r\n---\r\n"
                              "<p>第一段</p>\r\n <p>第二段</p>\r\n\r\n"
                              "<http://finews.zning.xyz/html_News/NewsShare.html?infoCode=NW1>\r\n\r\n"
                              "[返回证监会网站新闻](//finews.withounder.com/category/Wind.html)｜"
                              "[返回首页](//finews.withounder.com/)",
    # Typography: kramdown's smart quotes, dashes and ellipses, and a "> " digest line.
    "2022-03-02-typo.md": '---\nlayout: post\ntitle: "引号"\ndate: 2022-03-02 10:00:00 +0800\ncategories: emnews\n'
                          'tags: 东财滚动新闻\n---\n> 他说"好"--真的... 精度<1%\n\n<p>正文</p>\n\n'
                          "<http://finance.eastmoney.com/news/1,2.html>\n",
    "2022-03-03-quotes.md": '---\nlayout: post\ntitle: "Q"\ndate: 2022-03-03 10:00:00 +0800\ncategories: emnews\n---\n'
                            "\"Hello,\" he said, don't 'x' \"中文\"说'好'. (\"a\") \"_x_\" 80's\n"
                            "more -- text ...\n\n<http://finance.eastmoney.com/news/1,3.html>\n",
    # Raw HTML as the eastmoney bodies have it: a comment and elements on one line, "&" in an attribute,
    # HTML blocks apart.
    "2022-03-04-html.md": '---\nlayout: post\ntitle: "H"\ndate: 2022-03-04 10:00:00 +0800\n'
                          "categories: cailianshe\n---\n"
                          '<!-- EM_StockImg_Start --><p style="text-align:center;">'
                          '<img src="http://x/a?b=1&c=2&amp;d=3" /></p><!-- EM_StockImg_End -->'
                          '<p>正文<br /></p>\n <p>第二段</p>\n<center><img src="y" />'
                          "</center>\n\n<p>后来</p>\n\n<http://finews.zning.xyz/html_News/NewsShare.html?infoCode=NW2>\n",
}


@pytest.mark.jekyll
@pytest.mark.slow
@needs_jekyll
def test_odd_posts_give_the_articles_of_the_pages_jekyll_builds(tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(FIXTURES / "jekyll_site", site)
    (site / "_posts").mkdir()
    for name, text in ODD_POSTS.items():
        (site / "_posts" / name).write_bytes(text.encode("utf-8"))
    done = subprocess.run(["jekyll", "build", "-q", "-s", str(site), "-d", str(tmp_path / "out")],
                          capture_output=True, text=True, check=False, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    for name, text in ODD_POSTS.items():
        imported = read_post(name, text.encode("utf-8"), SITE_URL)
        page = tmp_path / "out" / imported.url.removeprefix(SITE_URL)
        assert page.is_file(), (name, imported.url, sorted(str(p) for p in (tmp_path / "out").rglob("*.html")))
        same_article(imported, parse_article(page.read_text(encoding="utf-8"), imported.url))
    late = read_post("2021-12-08-late.md", ODD_POSTS["2021-12-08-late.md"].encode(), SITE_URL)
    assert late.url.endswith("/emnews/2021/12/09/late.html") and late.published_at is not None
    assert late.published_at.isoformat() == "2021-12-09T04:30:00+08:00"


@pytest.mark.parametrize(("name", "data", "reason"), [
    ("notes.md", b"---\ntitle: x\n---\nhi", "not_a_post_name"),
    ("-202205262391921712.md", b"---\ntitle: x\n---\nhi", "not_a_post_name"),
    ("2022-01-01-a.html", b"---\ntitle: x\n---\nhi", "not_markdown"),
    ("2022-13-01-a.md", b"---\ntitle: x\n---\nhi", "not_a_post_name"),
    ("2022-01-01-a.md", "---\ntitle: 中文\n---\n正文".encode("gb18030"), "unknown_encoding"),
    ("2022-01-01-a.md", b"---\ntitle: x\nbody without end", "broken_front_matter"),
    ("2022-01-01-a.md", b"---\ntitle: [x\n---\nhi", "broken_front_matter"),
    ("2022-01-01-a.md", b"---\n- a list\n---\nhi", "broken_front_matter"),
    ("2022-01-01-a.md", b"---\ntitle: x\npublished: false\n---\nhi", "unpublished"),
    ("2022-01-01-a.md", b"---\ntitle: x\ndate: not a date at all\n---\nhi", "invalid_date"),
])
def test_what_is_no_post_is_named(name: str, data: bytes, reason: str) -> None:
    with pytest.raises(NotAPost) as raised:
        read_post(name, data, SITE_URL)
    assert raised.value.reason == reason


# -- the command: one archive, one row per article ------------------------------------------------------


def test_a_post_without_front_matter_at_byte_0_keeps_the_text_its_file_writes() -> None:
    # Jekyll renders its would-be front matter as Markdown, with kramdown's typography; no crawl reaches
    # that page, and expected.jsonl (the replica's rule) holds the file's text before the share link line.
    data = '\n---\nlayout: post\ntitle: "FF：好"\n---\n\n> 摘要 "说"\n\n<b>FF</b>  91。\n\n<http://x.cn/1.html>\n'
    article = read_post("2021-12-08-1.md", data.encode("utf-8"), SITE_URL)
    assert article.body_text == '---\nlayout: post\ntitle: "FF：好"\n---\n摘要 "说"\nFF 91。'
    assert article.share_url == "http://x.cn/1.html" and "no_front_matter" in article.flags
    assert "“FF：好”" in (article.body_html or "")  # the page itself shows kramdown's quotes


def run_import(db_url: str, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "newscrawl", "import", *args, "--db", db_url, "--site", SITE_URL],
                          capture_output=True, text=True, cwd=cwd, timeout=240)


def test_import_archives_every_post_once_and_a_second_import_changes_nothing(db_url: str, tmp_path: Path) -> None:
    source = tmp_path / "source"
    shutil.copytree(DEMO / "posts", source / "_posts")
    (source / "_posts" / "README.md").write_text("not a post", encoding="utf-8")
    (source / "_posts" / "2022-01-01-gbk.md").write_bytes("---\ntitle: 中文\n---\n正文".encode("gb18030"))
    (source / "_posts" / "2022-01-02-broken.md").write_text("---\ntitle: [x\n---\nhi", encoding="utf-8")
    first = run_import(db_url, str(source))
    assert first.returncode == 0, first.stderr
    assert "9 new, 0 updated, 0 unchanged" in first.stdout
    assert "skipped: broken_front_matter 1, not_a_post_name 1, unknown_encoding 1" in first.stdout
    assert "Traceback" not in first.stderr and first.stderr.count("skipped ") == 3
    rows = query(db_url, "SELECT article_id, origin_status FROM articles")
    assert sorted(r["article_id"] for r in rows) == sorted(p.name[11:-3] for p in (DEMO / "posts").glob("*.md"))
    assert {r["origin_status"] for r in rows} <= {"not_followed", None}
    second = run_import(db_url, str(source))
    assert "0 new, 0 updated, 9 unchanged" in second.stdout, second.stdout
    runs = query(db_url, "SELECT kind, outcome, new, unchanged, dropped FROM crawl_runs ORDER BY run_id")
    assert [(r["kind"], r["outcome"], r["new"], r["unchanged"], r["dropped"]) for r in runs] == [
        ("import", "ok", 9, 0, 3), ("import", "ok", 0, 9, 3)]
    assert query(db_url, "SELECT COUNT(*) AS n FROM article_revisions")[0]["n"] == 0


@pytest.mark.parametrize("args", [["/no/such/folder"], ["--git", "{tmp}"], []])
def test_bad_input_is_refused_with_one_line(sqlite_url: str, tmp_path: Path, args: list[str]) -> None:
    done = run_import(sqlite_url, *[a.format(tmp=tmp_path) for a in args])
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_export_gives_imported_posts_back_byte_for_byte(sqlite_url: str, tmp_path: Path) -> None:
    source = tmp_path / "_posts"
    shutil.copytree(DEMO / "posts", source)
    # Forms the export's own writer would not produce: a leading newline (no front matter at byte 0), CR LF,
    # a date without offset, a BOM.
    (source / "2021-12-08-202112082206703990.md").write_text(
        '\n---\nlayout: post\ntitle: "FF"\ndate: 2021-12-08 10:18:31\ncategories: emnews\n---\n\nFF。\n\n'
        "<http://stock.eastmoney.com/news/1611,202112082206703990.html>\n", encoding="utf-8")
    (source / "2022-03-01-crlf.md").write_bytes(ODD_POSTS["2022-03-01-Odd-Slug.md"].encode("utf-8"))
    assert run_import(sqlite_url, str(source)).returncode == 0
    out = tmp_path / "export"
    subprocess.run([sys.executable, "-m", "newscrawl", "export", "--db", sqlite_url, "--out", str(out)],
                   check=True, capture_output=True, cwd=ROOT)
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in source.iterdir())
    for post in source.iterdir():
        assert (out / post.name).read_bytes() == post.read_bytes(), post.name
    flags = query(sqlite_url, "SELECT flags FROM articles WHERE article_id = '202112082206703990'")[0]["flags"]
    assert "unreachable" in flags and "no_front_matter" in flags


@pytest.mark.slow
def test_crawl_then_import_and_import_then_crawl_share_one_row_per_article(db_url: str, tmp_path: Path) -> None:
    with demo_server() as server:
        crawled = crawl(server, db_url, tmp_path)
        assert crawled.returncode == 0, crawled.stderr[-2000:]
        done = run_import(db_url, str(DEMO / "posts"))
        assert "0 new, 0 updated, 9 unchanged" in done.stdout, done.stdout + done.stderr
        assert query(db_url, "SELECT COUNT(*) AS n FROM articles")[0]["n"] == 9
        assert query(db_url, "SELECT COUNT(*) AS n FROM article_revisions")[0]["n"] == 0
        # The crawl's origin text stays: an import reads no origin.
        assert query(db_url, "SELECT COUNT(*) AS n FROM articles WHERE origin_status = 'ok'")[0]["n"] > 0


@pytest.mark.slow
def test_import_then_crawl_changes_no_article(db_url: str, tmp_path: Path) -> None:
    assert run_import(db_url, str(DEMO / "posts")).returncode == 0
    with demo_server() as server:
        crawled = crawl(server, db_url, tmp_path)
    assert crawled.returncode == 0, crawled.stderr[-2000:]
    assert crawled.summary["new"] == 0 and crawled.summary["updated"] == 0, crawled.summary
    assert query(db_url, "SELECT COUNT(*) AS n FROM articles")[0]["n"] == 9
    assert query(db_url, "SELECT COUNT(*) AS n FROM article_revisions")[0]["n"] == 0


# -- git history ----------------------------------------------------------------------------------------


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), "-c", "user.name=site", "-c", "user.email=site@example.org",
                           *args], capture_output=True, text=True, check=True)
    return done.stdout


def post_text(slug: str, title: str, body: str) -> str:
    return (f'---\nlayout: post\ntitle: "{title}"\ndate: 2021-12-08 10:00:00 +0800\ncategories: emnews\n'
            f"tags: 东财滚动新闻\n---\n\n{body}\n\n<http://finance.eastmoney.com/news/1,{slug}.html>\n")


@needs_git
def test_git_history_every_post_once_an_edit_one_revision_and_resumes(db_url: str, tmp_path: Path) -> None:
    repo = tmp_path / "site"
    (repo / "_posts").mkdir(parents=True)
    git(repo, "init", "-q")
    for number in range(1, 4):
        (repo / "_posts" / f"2021-12-08-10{number}.md").write_text(post_text(f"10{number}", f"标题{number}",
                                                                               f"消息{number}。"), "utf-8")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "three posts")
    (repo / "old_post").mkdir()
    git(repo, "mv", "_posts/2021-12-08-101.md", "old_post/")  # rotated out: not a revision
    (repo / "_posts" / "2021-12-08-104.md").write_text(post_text("104", "标题4", "消息4。"), "utf-8")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "rotate one, add one")
    (repo / "_posts" / "2021-12-08-102.md").write_text(post_text("102", "标题2", "消息2，更正。"), "utf-8")
    git(repo, "commit", "-qam", "edit one")
    git(repo, "checkout", "-qb", "side")
    (repo / "_posts" / "2021-12-08-105.md").write_text(post_text("105", "标题5", "另一分支的消息。"), "utf-8")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "a post on a branch")
    git(repo, "checkout", "-q", "-")

    first = run_import(db_url, "--git", str(repo))
    assert first.returncode == 0, first.stderr
    assert "5 new, 1 updated, 0 unchanged" in first.stdout and "4 new commits" in first.stdout, first.stdout
    ids = [r["article_id"] for r in query(db_url, "SELECT article_id FROM articles ORDER BY article_id")]
    assert ids == ["101", "102", "103", "104", "105"]
    revisions = query(db_url, "SELECT article_id, body_text FROM article_revisions")
    assert revisions == [{"article_id": "102", "body_text": "消息2。"}]
    assert query(db_url, "SELECT body_text FROM articles WHERE article_id = '102'")[0]["body_text"] == "消息2，更正。"
    assert query(db_url, "SELECT folder FROM imported_posts WHERE article_id = '101'")[0]["folder"] == "_posts"

    # A commit the archive knows from another repository (or a rewritten history) is no obstacle.
    from newscrawl.storage import Archive

    with Archive.open(db_url) as archive:
        archive.add_seen_commits(["0" * 40])
    second = run_import(db_url, "--git", str(repo))
    assert "0 new commits (5 read before)" in second.stdout and "0 files" in second.stdout, second.stdout

    (repo / "_posts" / "2021-12-08-106.md").write_text(post_text("106", "标题6", "消息6。"), "utf-8")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "one more")
    third = run_import(db_url, "--git", str(repo))
    assert "1 new, 0 updated, 0 unchanged" in third.stdout and "1 new commits" in third.stdout, third.stdout


@needs_git
def test_a_shallow_clone_is_refused(sqlite_url: str, tmp_path: Path) -> None:
    repo = tmp_path / "site"
    (repo / "_posts").mkdir(parents=True)
    git(repo, "init", "-q")
    for number in range(2):
        (repo / "_posts" / f"2021-12-08-{number}.md").write_text(post_text(str(number), "t", "b"), "utf-8")
        git(repo, "add", ".")
        git(repo, "commit", "-qm", f"post {number}")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{repo}", str(clone)], check=True)
    done = run_import(sqlite_url, "--git", str(clone))
    assert done.returncode == 2 and "shallow" in done.stderr and "Traceback" not in done.stderr


def test_progress_lines_count_files_as_they_are_archived(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from newscrawl.importer import run
    from newscrawl.storage import Archive

    monkeypatch.setattr(run, "PROGRESS_EVERY_S", 0.0)
    monkeypatch.setattr(run, "BATCH_FILES", 1)  # a progress line is due after each stored batch
    lines: list[str] = []
    with Archive.open(sqlite_url) as archive:
        report = run.Importer(archive, SITE_URL, progress=lambda r: lines.append(r.progress())).import_files(
            [DEMO / "posts"])
    assert report.new == 9 and len(lines) == 9
    assert lines[0].startswith("import: 1 files, 0 commits,") and lines[-1].endswith("9 new, 0 updated, 0 unchanged")


@needs_git
def test_an_interrupted_git_import_resumes_where_it_stopped(sqlite_url: str, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from newscrawl.importer import run
    from newscrawl.storage import Archive

    repo = tmp_path / "site"
    (repo / "_posts").mkdir(parents=True)
    git(repo, "init", "-q")
    for number in range(1, 5):
        (repo / "_posts" / f"2021-12-08-20{number}.md").write_text(post_text(f"20{number}", f"题{number}",
                                                                               f"文{number}。"), "utf-8")
        git(repo, "add", ".")
        git(repo, "commit", "-qm", f"post {number}")
    real_read_post = run.read_post
    read: list[str] = []

    def read_then_stop(file_name: str, *args: object, **kwargs: object) -> Article:
        if len(read) == 3:
            raise KeyboardInterrupt  # Ctrl-C while the fourth commit's post is read
        read.append(file_name)
        return real_read_post(file_name, *args, **kwargs)  # type: ignore[arg-type]

    # Two posts a transaction: the first two commits are stored; the third post, stored in the open
    # transaction of the second batch, is rolled back with it (nothing half-imported).
    monkeypatch.setattr(run, "BATCH_FILES", 2)
    monkeypatch.setattr(run, "read_post", read_then_stop)
    with Archive.open(sqlite_url) as archive, pytest.raises(KeyboardInterrupt):
        run.Importer(archive, SITE_URL).import_git(repo)
    assert [r["article_id"] for r in query(sqlite_url, "SELECT article_id FROM articles ORDER BY 1")] == ["201", "202"]
    assert len(query(sqlite_url, "SELECT commit_id FROM import_commits")) == 2
    monkeypatch.setattr(run, "read_post", real_read_post)
    with Archive.open(sqlite_url) as archive:
        report = run.Importer(archive, SITE_URL).import_git(repo)
    assert (report.new, report.unchanged, report.commits, report.commits_known) == (2, 0, 2, 2)
    runs = query(sqlite_url, "SELECT outcome, new FROM crawl_runs ORDER BY run_id")
    assert [(r["outcome"], r["new"]) for r in runs] == [("interrupted", 2), ("ok", 2)]
