"""Fault suite, export (docs/reliability.md, case 9): what a page holds never runs, never stops an export, and
never breaks the Jekyll build of the posts; the posts are files any reader can read.

The rows of issue 21's table that concern the export, each re-run through the whole chain — a served page,
``newscrawl crawl`` with ``--posts-dir`` (the pipeline), ``newscrawl export`` (the command), real Jekyll:

* a share link, title, tags and footer holding Liquid (``{{7|times:191}}``, ``{% include_relative … %}``);
* an 85-character Chinese id (255 bytes), dated before every other post;
* ids with U+202E, a Windows device name, and ``Case``/``case`` twins;
* a body of 100,000 nested ``<div>``s and one of 100,000 links;
* the file modes of what is written, under the umask;
* ``kill -9`` during ``newscrawl export``, then the next export.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import pytest
from conftest import FIXTURES
from faults import DEMO_IDS, FaultServer, archived, article_page, article_path, clean_rows, content, crawl, json_answer
from test_jekyll import make_article

from newscrawl.items import Article
from newscrawl.jekyll import post_filename, post_name, render_post
from newscrawl.storage import Archive

LIQUID_TITLE = "标题{{ 7|times:191 }}"
LIQUID_PUBLISHER = "中国{% include_relative x.md %}发展网"  # in the tags and the footer's back link
LIQUID_SHARE_CODE = "LIQ1&x={{7|times:191}}"
LONG_ID = "长" * 85  # 255 bytes in UTF-8
BIDI_ID = "NW2022\u202egpj.exe"
DEVICE_ID = "CON"
TWIN_IDS = ("CaseTwin", "casetwin")
NESTED = "<div>" * 100_000 + "深" + "</div>" * 100_000
LINKS = "<p>" + "".join(f'<a href="mailto:l{n}@example.com">链{n}</a>' for n in range(100_000)) + "</p>"


def serve_hostile_posts(server: FaultServer) -> None:
    page = article_page(LIQUID_TITLE, "<p>正文。</p>", publisher=LIQUID_PUBLISHER, share_code=LIQUID_SHARE_CODE)
    server.add_page(article_path("LIQUID01"), page.encode())
    # No Liquid in the article itself: only the lines after it hold some (the body case is H::BREAKOUT's).
    server.add_origin("LIQ1", json_answer({"text": "<p>源站正文。</p>"}))
    # The long id is dated first: the export it used to stop went in date order.
    server.add_page(quote(article_path(LONG_ID, day="2021/01/01")),
                    article_page("长编号", "<p>正文。</p>", date="2021-01-01 08:00:00").encode())
    for article_id in (BIDI_ID, DEVICE_ID, *TWIN_IDS):
        server.add_page(quote(article_path(article_id)), article_page(f"编号 {article_id}", "<p>正文。</p>").encode())
    server.add_page(article_path("DEEP0001"), article_page("深层嵌套", NESTED).encode())
    server.add_page(article_path("LINKS001"), article_page("十万链接", LINKS).encode())


HOSTILE_IDS = {"LIQUID01", LONG_ID, BIDI_ID, DEVICE_ID, *TWIN_IDS, "DEEP0001", "LINKS001"}


@pytest.mark.slow
def test_hostile_posts_are_archived_as_they_are_and_exported_safely(db_url: str, tmp_path: Path) -> None:
    posts = tmp_path / "crawl_posts"
    previous = os.umask(0o022)
    try:
        with FaultServer() as server:
            serve_hostile_posts(server)
            result = crawl(server, db_url, tmp_path / "run", "--posts-dir", str(posts), timeout_s=120)
    finally:
        os.umask(previous)
    assert result.returncode == 0 and result.outcome == "ok", result.log[-3000:]
    rows = archived(db_url)
    # The archive is the record: every post, its body as served.
    assert set(rows) == set(DEMO_IDS) | HOSTILE_IDS
    assert {k: content(v) for k, v in rows.items() if k in DEMO_IDS} == clean_rows()
    assert rows["DEEP0001"]["body_html"] == NESTED and rows["LINKS001"]["body_html"] == LINKS
    assert rows["LIQUID01"]["title"] == LIQUID_TITLE and "{{7|times:191}}" in rows["LIQUID01"]["share_url"]
    # The crawl's pipeline wrote a post for each (none refused, none stopped the others), under the umask.
    articles = {k: Article(**{f: v[f] for f in ("article_id", "url", "published_at")}) for k, v in rows.items()}
    files = {p.name for p in posts.iterdir()}
    assert len(files) == len(rows) and "newscrawl/export/unsafe_name" not in result.stats
    assert {stat.S_IMODE(p.stat().st_mode) for p in posts.iterdir()} == {0o644}
    assert result.stats["newscrawl/export/bounded"] == 2
    # Marked names: the long id, the bidi id, the device name and one of the twins.
    assert result.stats["newscrawl/export/renamed"] == 4
    assert all(len(name.encode()) <= 255 and "\u202e" not in name for name in files)
    assert len({name.casefold() for name in files}) == len(files)
    for article_id in (LONG_ID, BIDI_ID, DEVICE_ID):
        assert f"post {article_id} renamed (" in result.log
        assert post_filename(articles[article_id]) in files
    assert re.search(r"post (CaseTwin|casetwin) renamed \(a case twin of 2022-02-14-(casetwin|CaseTwin)\.md",
                     result.log)
    # The command writes the same posts, twins aside (which twin keeps the plain name is whichever came first).
    exported = tmp_path / "site" / "_posts"
    command = subprocess.run([sys.executable, "-m", "newscrawl", "export", "--db", db_url, "--out", str(exported)],
                             capture_output=True, text=True, check=False, umask=0o027)
    assert command.returncode == 0, command.stderr
    assert re.search(r": \d+ written, 0 unchanged, 4 under marked names, 2 with unparsed markup$",
                     command.stdout.strip())
    command_files = {p.name for p in exported.iterdir()}
    assert {n for n in command_files if "casetwin" not in n.casefold()} == \
        {n for n in files if "casetwin" not in n.casefold()}
    assert len({n.casefold() for n in command_files if "casetwin" in n.casefold()}) == 2
    assert {stat.S_IMODE(p.stat().st_mode) for p in exported.iterdir()} == {0o640}
    for article_id in set(rows) - set(TWIN_IDS):
        name = post_filename(articles[article_id])
        assert (exported / name).read_bytes() == (posts / name).read_bytes()
    if shutil.which("jekyll"):
        jekyll_builds_them(tmp_path, exported, rows)


def jekyll_builds_them(tmp_path: Path, exported: Path, rows: dict[str, dict[str, Any]]) -> None:
    """Real Jekyll builds the export: no Liquid run, the pathological bodies whole, the marked pages there."""
    site = exported.parent
    shutil.copytree(FIXTURES / "jekyll_site", site, dirs_exist_ok=True)
    (site / "probe.json").write_text(
        "---\nlayout: null\n---\n{ {% for post in site.posts %}{{ post.path | jsonify }}: "
        "{{ post.url | jsonify }}{% unless forloop.last %},{% endunless %}{% endfor %} }\n", "utf-8")
    built = subprocess.run(["jekyll", "build", "-q", "-s", str(site), "-d", str(tmp_path / "out")],
                           capture_output=True, text=True, check=False, timeout=600)
    assert built.returncode == 0, built.stderr[-2000:]  # {% include_relative x.md %} run would fail it
    urls = {Path(path).name: url for path, url in json.loads((tmp_path / "out" / "probe.json").read_text()).items()}
    assert len(urls) == len(rows)

    def page(article_id: str) -> str:
        article = Article(**{f: rows[article_id][f] for f in ("article_id", "url", "published_at")})
        url = urls[post_name(article).filename]
        return html.unescape((tmp_path / "out" / unquote(url).lstrip("/")).read_text("utf-8"))

    liquid = page("LIQUID01")
    assert "1337" not in liquid
    for shown in (LIQUID_TITLE, "源站正文。", "{% include_relative x.md %}",
                  "x={{7%7Ctimes:191}}"):
        assert shown in liquid, shown
    assert page("DEEP0001").count("<div>") == 100_000
    assert page("LINKS001").count('<a href="mailto:') == 100_000
    assert "长编号" in page(LONG_ID)


# -- kill -9 during an export --------------------------------------------------------------------------


# ``newscrawl export``, killed by SIGKILL at its 5th rename: when the 5th post's temporary file is written
# in full and not yet renamed over the post, the widest window a kill can land in.
KILLED_EXPORT = """
import os, signal, sys
from newscrawl.cli import main
renames = []
real_replace = os.replace
def replace(source, target):
    renames.append(target)
    if len(renames) == 5:
        os.kill(os.getpid(), signal.SIGKILL)
    real_replace(source, target)
os.replace = replace
sys.argv[0] = "newscrawl"
sys.exit(main())
"""


def test_a_killed_export_leaves_nothing_the_next_export_does_not_remove(sqlite_url: str, tmp_path: Path) -> None:
    articles = [make_article(article_id=f"K{n:05d}", url=f"https://finews.withounder.com/x/2022/02/14/K{n:05d}.html",
                             title=f"标题{n}") for n in range(20)]
    with Archive.open(sqlite_url) as archive:
        archive.upsert_articles(articles, datetime.now(UTC))
    out = tmp_path / "posts"
    arguments = ["export", "--db", sqlite_url, "--out", str(out)]
    killed = subprocess.run([sys.executable, "-c", KILLED_EXPORT, *arguments], capture_output=True, check=False)
    assert killed.returncode == -signal.SIGKILL
    left = [p.name for p in out.iterdir() if p.name.startswith(".")]
    assert len(left) == 1 and re.fullmatch(r"\.newscrawl-[0-9]+-[0-9a-f]{8}\.tmp", left[0])
    assert len([p for p in out.iterdir() if p.suffix == ".md"]) == 4
    final = subprocess.run([sys.executable, "-m", "newscrawl", *arguments], capture_output=True, text=True,
                           check=False)
    assert final.returncode == 0, final.stderr
    assert final.stdout.startswith(f"exported 20 posts to {out}: 16 written, 4 unchanged"), final.stdout
    assert sorted(p.name for p in out.iterdir()) == sorted(post_filename(a) for a in articles)
    assert all((out / post_filename(a)).read_text("utf-8") == render_post(a) for a in articles)
