"""Fault suite, hostile input (docs/reliability.md, case 6): nothing a page says makes the crawler reach where
it should not, or write where it should not, and no password reaches a log.

* Links to other hosts, loopback and private addresses (also the test server's own address), odd ports,
  ``file:``/``ftp:``/``javascript:``/``data:`` URLs, look-alike hosts and redirects to any of them are
  never requested. Shown three ways: the loopback server (the crawl's only proxy) saw only the site and
  the origin's allowed paths; Scrapy made exactly as many requests as that server answered (a ``file:``
  or direct request would not pass through it); and the crawl child's network guard saw no attempt.
* Titles full of YAML and front-matter syntax export as front matter that Jekyll reads back to the same
  title; an article id with ``..`` or a backslash is refused a post file, a category of ``..`` cannot move
  one; HTML, Liquid and a fake front matter in a body stay inside the post. The exporter's own property
  tests are in tests/test_jekyll.py; these run the whole chain: page → archive → post file → Jekyll.
* A database URL's password appears in no log line, no output, no file and no table (the redactor's own
  tests, over every form a password can take, are in tests/test_redact.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit

import pytest
from conftest import FIXTURES, PG_URL
from crawling import query
from faults import (
    ALLOWED_HOSTS,
    DEMO_IDS,
    ORIGIN_HOST,
    SITE_HOST,
    SITE_URL,
    FaultServer,
    archived,
    article_page,
    article_path,
    clean_crawl,
    clean_rows,
    content,
    crawl,
    json_answer,
    on_path,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from post_files import parse_post

from newscrawl.items import Article
from newscrawl.jekyll import UnsafePostName, post_filename
from newscrawl.urls import SitePolicy

REDIS_URL = os.environ.get("NEWSCRAWL_TEST_REDIS_URL")
ORIGIN_PATHS = ("/robots.txt", "/NewsData/GetNewsText.do?id=", "/html_News/NewsShare.html?infoCode=")


def hostile_links(port: int) -> dict[str, str]:
    """href → what it is: "offsite" (recorded, counted in newscrawl/spider/offsite_links), "share" (a share
    link of an origin host, which the crawl follows only as an article's own share link, and then only if
    the policy allows its text API), "site" (the site, but no page the crawl reads) or "unusable" (not a
    web address at all: dropped before any judgement)."""
    return {
        f"http://127.0.0.1:{port}/": "offsite",  # the test server itself, directly
        f"http://localhost:{port}/category/emnews.html": "offsite",
        f"http://{SITE_HOST}:{port}/category/emnews.html": "offsite",  # the site's host on another port
        "http://10.0.0.1/category/x.html": "offsite",
        "http://192.168.1.1/": "offsite",
        "http://169.254.169.254/latest/meta-data/": "offsite",  # a cloud metadata service
        "http://[::1]/": "offsite",
        "http://2130706433/": "offsite",  # 127.0.0.1 as one number
        "http://0x7f.1/": "offsite",
        "http://127.1/": "offsite",
        "http://evil.example/": "offsite",
        "//evil.example/x.html": "offsite",
        "HTTP://EVIL.EXAMPLE/": "offsite",
        f"http://{SITE_HOST}@evil.example/": "offsite",
        f"http://{SITE_HOST}.evil.example/2022/02/14/x.html": "offsite",
        f"http://{ORIGIN_HOST}/admin": "offsite",  # an origin host, but not its share or text API path
        f"http://{ORIGIN_HOST}:8080/html_News/NewsShare.html?infoCode=X1": "share",
        "http://evil.example/html_News/NewsShare.html?infoCode=X3": "offsite",
        "file:///etc/passwd": "unusable",
        f"ftp://{SITE_HOST}/x": "unusable",
        "javascript:alert(1)": "unusable",
        "data:text/html,<a>": "unusable",
        "/a%2Fb/2022/02/14/SLASHCAT.html": "site",  # a category with a slash: no article URL, not followed
    }


def test_no_link_or_redirect_leaves_the_site_and_origins(sqlite_url: str, tmp_path: Path) -> None:
    canary = tmp_path / "canary.html"
    canary.write_text(article_page("本地文件", "<p>不该被读到。</p>"), "utf-8")
    with FaultServer() as server:
        links = {**hostile_links(server.port), canary.as_uri(): "unusable"}
        body = "".join(f'<p><a href="{href}">x</a></p>' for href in links)
        server.add_page(article_path("HOSTILE1"), article_page("恶意链接", body, share_code="HOSTILE1").encode())
        server.add_origin("HOSTILE1", json_answer({"text": "<p>源站全文。</p>"}))
        # Share links the policy must not follow: an origin host on another port, another host, an IP.
        for article_id, share in (("SHAREPRT", f"http://{ORIGIN_HOST}:8080"), ("SHAREEVL", "http://evil.example"),
                                  ("SHAREIP1", "http://10.0.0.1")):
            page = article_page("分享链接", "<p>正文。</p>", share_code=article_id).replace(
                f"http://{ORIGIN_HOST}", share)
            server.add_page(article_path(article_id), page.encode())
        # Redirects from the site to where the crawler must not go.
        redirects = {"REDIR001": "http://169.254.169.254/latest/",
                     "REDIR002": f"http://127.0.0.1:{server.port}/index.html",
                     "REDIR003": canary.as_uri()}
        for article_id, location in redirects.items():
            server.add_page(article_path(article_id), b"")
            server.rule(on_path(article_path(article_id)), (302, {"Location": location}, b""))
        # A page that asks to be refreshed elsewhere is read as the page it is (no article in it).
        server.add_page(article_path("METAREF1"), f'<html><head><meta http-equiv="refresh" content="0; '
                        f'url=http://10.1.2.3/"></head><body><a href="{canary.as_uri()}">x</a></body></html>'.encode())
        result = crawl(server, sqlite_url, tmp_path)
        answered = server.requests()
    assert result.returncode == 0 and result.outcome == "ok", result.log[-3000:]
    # 1. The server (the only way out, as the crawl's proxy) saw the site and the origin's allowed paths.
    assert {host for host, _, _ in answered} == {SITE_HOST, ORIGIN_HOST}
    assert all(t.startswith(ORIGIN_PATHS) for h, t, _ in answered if h == ORIGIN_HOST)
    assert not [t for h, t, _ in answered if "SLASHCAT" in t or "a%2Fb" in t]
    # 2. Every request Scrapy made is one the server answered: none went anywhere else, file: included.
    assert result.stats["downloader/request_count"] == len(answered)
    assert "本地文件" not in result.log
    # 3. (The network guard saw no attempt: crawl() asserts it.)
    # Every offsite link was recorded: the page's, and the share links of SHAREEVL and SHAREIP1.
    offsite = sum(1 for kind in links.values() if kind == "offsite") + 2
    clean_offsite = clean_crawl()[1]["newscrawl/spider/offsite_links"]
    assert result.stats["newscrawl/spider/offsite_links"] == clean_offsite + offsite
    for href, kind in links.items():
        if kind == "offsite" and href.startswith("http://1"):
            assert f"offsite link recorded, not requested: {href}" in result.log
    # Share links outside NEWSCRAWL_ORIGIN_HOSTS (or on another port) are recorded, not followed.
    rows = archived(sqlite_url)
    assert {k: rows[k]["origin_status"] for k in ("SHAREPRT", "SHAREEVL", "SHAREIP1", "HOSTILE1")} == {
        "SHAREPRT": "offsite", "SHAREEVL": "offsite", "SHAREIP1": "offsite", "HOSTILE1": "ok"}
    # Redirects out of the policy are refused, counted and named.
    assert result.stats["newscrawl/policy/refused"] == 3
    assert result.stats["newscrawl/spider/dropped/refused_by_policy"] == 3
    for article_id, location in redirects.items():
        assert f"WARNING: request dropped (refused_by_policy): redirect from {SITE_URL.rstrip('/')}" \
               f"{article_path(article_id)} to {location!r}" in result.log
    assert result.stats["newscrawl/validate/dropped/no_section"] == 1  # the meta refresh page
    assert {k: content(v) for k, v in rows.items() if k in DEMO_IDS} == clean_rows()


# Redirect Locations a browser reads as the metadata address, whatever Python's urljoin makes of them.
BROWSER_FORMS = {
    "BACKSL01": "http:\\\\169.254.169.254\\latest",  # backslashes are slashes in http(s) URLs
    "BACKSL02": "\\\\169.254.169.254\\latest",  # protocol-relative, with backslashes
    "BACKSL03": "/\\169.254.169.254/latest",
    "TABINURL": "http://169.254.\t169.254/latest",  # tabs and newlines inside a URL are dropped
    "C0SPACE1": " \x01http://169.254.169.254/latest",  # leading C0 controls and spaces are stripped
    "MIXCASE1": "HtTp://169.254.169.254/latest",
    "OTHERSCH": "https:169.254.169.254/latest",  # another scheme than the page's: the host follows
    "IPV4HEX1": "http://0xA9.0xFE.0xA9.0xFE/latest",
    "IPV4DEC1": "http://2852039166/latest",
    "IPV4OCT1": "http://0251.0376.0251.0376/latest",
    "IPV4PCT1": "http://%31%36%39.254.169.254/latest",
}


@pytest.mark.parametrize("frontier", ["local", "redis"])
def test_every_dropped_request_is_explained_once(sqlite_url: str, tmp_path: Path, frontier: str) -> None:
    """Issue 21's hostile run: a redirect loop between two pages the site links (each redirect's target is
    requested on its own, so Scrapy's duplicate filter dropped both without a word), and redirects to the
    metadata address in the forms a browser reads (one passed the redirect guard and was then dropped
    silently by Scrapy's offsite filter). Each dropped page is now logged once, at WARNING, with its URL
    and reason, counted in stats and in the run summary; none of them is requested. With the shared
    frontier too, whose duplicate filter lives in Redis."""
    env = {}
    if frontier == "redis":
        if not REDIS_URL:
            pytest.skip("NEWSCRAWL_TEST_REDIS_URL is not set (CI starts redis-server and sets it; see .ci/run)")
        env = {"NEWSCRAWL_REDIS_URL": REDIS_URL}  # a crawl id of its own: its keys go when it ends
    site = SITE_URL.rstrip("/")
    with FaultServer() as server:
        pages = {article_id: server.add_page(article_path(article_id), b"")
                 for article_id in ("LOOPAAAA", "LOOPBBBB", *BROWSER_FORMS)}
        server.rule(on_path(article_path("LOOPAAAA")), (302, {"Location": site + article_path("LOOPBBBB")}, b""))
        server.rule(on_path(article_path("LOOPBBBB")), (302, {"Location": site + article_path("LOOPAAAA")}, b""))
        for article_id, location in BROWSER_FORMS.items():
            server.rule(on_path(article_path(article_id)), (302, {"Location": location}, b""))
        result = crawl(server, sqlite_url, tmp_path, env=env)
        answered = server.requests()
    assert result.returncode == 0 and result.outcome == "ok", result.log[-3000:]
    assert (frontier == "redis") == ("newscrawl.frontier.SharedFrontier" in result.log)
    assert {host for host, _, _ in answered} == {SITE_HOST, ORIGIN_HOST}
    assert result.stats["downloader/request_count"] == len(answered)
    assert {k: content(v) for k, v in archived(sqlite_url).items()} == clean_rows()
    # Every dropped page: one line at INFO or above that names it (the loop's two lines name both pages).
    said = [line for line in result.log.splitlines() if any(f"] {level}: " in line for level in ("INFO", "WARNING",
                                                                                                  "ERROR"))]
    for article_id in BROWSER_FORMS:
        lines = [line for line in said if pages[article_id] in line]
        assert len(lines) == 1, (article_id, lines)
        assert f"WARNING: request dropped (refused_by_policy): redirect from {pages[article_id]} to " \
               f"{BROWSER_FORMS[article_id].lstrip(' ')!r} (read as " in lines[0]  # HTTP drops the space
        assert "169.254.169.254/latest) is outside the site policy" in lines[0]
    loop_lines = [line for line in said if pages["LOOPAAAA"] in line or pages["LOOPBBBB"] in line]
    assert len(loop_lines) == 2 and all("WARNING: request dropped (redirect_" in line for line in loop_lines)
    loop = next(line for line in loop_lines if "(redirect_loop)" in line)
    first, second = sorted([pages["LOOPAAAA"], pages["LOOPBBBB"]], key=loop.index)
    assert loop.endswith(f"(redirect_loop): {first} -> {second} -> {first}")
    assert any(line.endswith(f"(redirect_duplicate): {second} redirects to {first}, which was already requested; "
                             "not requested again") for line in loop_lines)
    # Counted where the guard acted, and in the run summary by reason; nothing left to Scrapy's filters.
    assert result.stats["newscrawl/policy/refused"] == len(BROWSER_FORMS)
    assert result.stats["newscrawl/redirect/loop"] == result.stats["newscrawl/redirect/duplicate"] == 1
    assert result.summary["dropped"] == {"refused_by_policy": len(BROWSER_FORMS), "redirect_loop": 1,
                                         "redirect_duplicate": 1}
    assert "offsite/filtered" not in result.stats and "Filtered offsite request" not in result.log


HOSTILE_TITLES = [
    '他说："---"\n---\nlayout: evil', "key: value # 注释", "[a, b] {x: y} &anchor *alias !tag | >",
    "'单引号' \"双引号\" \\ 反斜杠", "--- 三横线 ---", "...", "%YAML 1.2", "yes", "null", "~",
    "{{ site.title }} {% raw %}", "tab\there", "冒号：中文：标题",
]
BREAKOUT_BODY = ("<p>正文开始。</p>\n---\nlayout: evil\ntitle: 假标题\n---\n"
                 "<p>{% include /etc/passwd %} {{ site.title }}</p>\n<script>alert(\"x\")</script>\n"
                 "<p>正文结束。</p>")
# URL path (as the site links it) → the article id it names, for ids no post file may be named after.
UNSAFE_IDS = {"/zhongguofazhanwang/2022/02/14/%2E%2E.html": "..",
              "/zhongguofazhanwang/2022/02/14/..%5C..%5Cevil.html": "..\\..\\evil"}
DOTDOT_CATEGORY = "/%2E%2E/2022/02/14/CATDOTS1.html"


def test_hostile_titles_ids_and_bodies_export_inside_the_posts_folder(sqlite_url: str, tmp_path: Path) -> None:
    posts = tmp_path / "site" / "_posts"
    with FaultServer() as server:
        for number, title in enumerate(HOSTILE_TITLES):
            server.add_page(article_path(f"HOSTT{number:03d}"), article_page(title, "<p>正文。</p>").encode())
        server.add_page(article_path("BREAKOUT"), article_page("越界正文", BREAKOUT_BODY).encode())
        for path in UNSAFE_IDS:
            # Served at the path the crawler asks for (the policy re-quotes what the page wrote).
            requested = path.replace("%2E%2E", "..")
            server.add_page(requested, article_page("不安全的编号", "<p>正文。</p>").encode(), link=False)
            server.index_links.append(path)
        # A category of "..": the link is read as a browser reads it (w3lib, RFC 3986), so the encoded dot
        # segment is resolved away and the article has no category, rather than one naming a parent folder.
        server.add_page(DOTDOT_CATEGORY.replace("/%2E%2E", ""), article_page("点点分类", "<p>正文。</p>").encode(),
                        link=False)
        server.index_links.append(DOTDOT_CATEGORY)
        result = crawl(server, sqlite_url, tmp_path, "--posts-dir", str(posts))
    assert result.returncode == 0 and result.outcome == "ok", result.log[-3000:]
    rows = archived(sqlite_url)
    # Every archived article with a usable id has its post file, and nothing else was written anywhere.
    assert set(UNSAFE_IDS.values()) <= set(rows) and rows["CATDOTS1"]["category"] is None
    assert rows["CATDOTS1"]["url"].endswith("/2022/02/14/CATDOTS1.html")
    safe = {k: v for k, v in rows.items() if k not in UNSAFE_IDS.values()}
    expected_files = {post_filename(Article(**{f: v[f] for f in ("article_id", "url", "published_at")}))
                      for v in safe.values()}
    assert {p.name for p in posts.iterdir()} == expected_files
    written = {p for p in tmp_path.rglob("*") if p.is_file() and p.suffix == ".md"}
    assert all(p.parent == posts for p in written)
    assert result.stats["newscrawl/export/unsafe_name"] == len(UNSAFE_IDS)
    for article_id in UNSAFE_IDS.values():
        assert f"not exported: unsafe article_id for a post file name: {article_id!r}" in result.log
        with pytest.raises(UnsafePostName):
            post_filename(Article(article_id=article_id, url="", published_at=rows[article_id]["published_at"]))
    # Each post reads back (newscrawl's reader) to its title; the body stays the body.
    for article in safe.values():
        post = parse_post((posts / post_filename(Article(article["article_id"], article["url"],
                                                         published_at=article["published_at"]))).read_text("utf-8"))
        assert post["title"] == article["title"] and post["layout"] == "post"
    assert [rows[f"HOSTT{n:03d}"]["title"] for n in range(len(HOSTILE_TITLES))] == HOSTILE_TITLES
    breakout = (posts / "2022-02-14-BREAKOUT.md").read_text("utf-8")
    assert breakout.count("\n---\n") == 1 + BREAKOUT_BODY.count("\n---\n")  # one front matter, body verbatim
    assert parse_post(breakout)["title"] == "越界正文"
    if shutil.which("jekyll"):
        jekyll_reads_back(tmp_path, posts, safe)


def jekyll_reads_back(tmp_path: Path, posts: Path, articles: dict[str, dict[str, Any]]) -> None:
    """Real Jekyll builds the exported posts: same titles, one layout, no Liquid run in any body."""
    site = posts.parent
    shutil.copytree(FIXTURES / "jekyll_site", site, dirs_exist_ok=True)
    (site / "titles.json").write_text("---\nlayout: null\n---\n"
                                      "{{ site.posts | sort: 'slug' | map: 'title' | jsonify }}\n", "utf-8")
    # {% include /etc/passwd %} in the body would make the build fail if Liquid ran on it.
    built = subprocess.run(["jekyll", "build", "-q", "-s", str(site), "-d", str(tmp_path / "out")],
                           capture_output=True, text=True, check=False, timeout=240)
    assert built.returncode == 0, built.stderr[-2000:]
    titles = json.loads((tmp_path / "out" / "titles.json").read_text("utf-8"))
    by_slug = sorted(articles.values(), key=lambda a: a["article_id"])
    assert titles == [a["title"] for a in by_slug]
    page = (tmp_path / "out" / "zhongguofazhanwang" / "2022" / "02" / "14" / "BREAKOUT.html").read_text("utf-8")
    assert "{{ site.title }}" in page and "{% include /etc/passwd %}" in page and "假标题" in page
    assert page.count("<section>") == 1


# -- passwords ---------------------------------------------------------------------------------------------


def test_log_records_lose_url_passwords_even_in_tracebacks(tmp_path: Path) -> None:
    """Through Scrapy's own logging set-up, as a crawl has it: message, pformat'ed settings, traceback."""
    log_file = tmp_path / "scrapy.log"
    script = (
        "import logging, pprint, newscrawl.settings\n"
        "from scrapy.utils.log import configure_logging\n"
        f"configure_logging({{'LOG_FILE': {str(log_file)!r}, 'LOG_LEVEL': 'DEBUG'}})\n"
        "url = 'postgresql+psycopg://crawler:Tr0ub4dor%26x@db.internal:5432/news'\n"
        "log = logging.getLogger('probe')\n"
        "log.info('Overridden settings:\\n%(s)s', {'s': pprint.pformat({'NEWSCRAWL_DB_URL': url})})\n"
        "log.warning('cannot reach %s', url)\n"
        "try:\n    raise RuntimeError('connection to ' + url + ' failed; password=Tr0ub4dor%26x')\n"
        "except RuntimeError:\n    log.exception('store failed')\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True)
    text = log_file.read_text("utf-8")
    assert "Tr0ub4dor" not in text
    assert text.count("postgresql+psycopg://crawler:***@db.internal:5432/news") == 3
    assert "RuntimeError: connection to postgresql+psycopg://crawler:***@db.internal" in text


@pytest.mark.postgres
@pytest.mark.slow
def test_database_password_is_in_no_output_or_table(tmp_path: Path) -> None:
    """A real PostgreSQL role whose password holds ``#?@%/``, given raw and percent-encoded, by ``--db``, the
    environment and ``-s``: after a crawl and every other command (a failing one too), no log, no
    output, no file and no row of any table holds the password in any spelling."""
    if not PG_URL:
        pytest.skip("NEWSCRAWL_TEST_PG_URL is not set (CI sets it; see .ci/run)")
    from sqlalchemy import create_engine, inspect, text
    from sqlalchemy.engine import URL, make_url

    name = f"nc_redact_{uuid.uuid4().hex[:10]}"
    password = f"Pw#{uuid.uuid4().hex[:8]}?x@y%z/{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE ROLE {name} LOGIN PASSWORD '{password.replace('%', '%%')}'")
        conn.exec_driver_sql(f'CREATE DATABASE "{name}" OWNER {name}')
    server = make_url(PG_URL)
    encoded = URL.create("postgresql+psycopg", name, password, server.host, server.port, name).render_as_string(
        hide_password=False)
    # As typed by hand: "#", "?", "/" and a "%" that starts no escape left as they are, only "@" escaped.
    raw = f"postgresql+psycopg://{name}:{password.replace('@', '%40')}@{server.host}:{server.port}/{name}"
    assert make_url(raw).password == make_url(encoded).password == password  # SQLAlchemy reads both so
    wrong = raw.replace("Pw#", "Wrong#")
    spellings = {password, quote(password, safe=""), quote_plus(password), password.replace("@", "%40"),
                 password.replace("Pw#", "Wrong#"), quote(password.replace("Pw#", "Wrong#"), safe="")}
    try:
        with FaultServer() as site:
            result = crawl(site, raw, tmp_path, "-s", f"NEWSCRAWL_DB_URL={raw}", env={"NEWSCRAWL_DB_URL": encoded})
        assert result.returncode == 0 and result.outcome == "ok", result.log[-3000:]
        assert result.summary["new"] == len(DEMO_IDS)
        outputs = [result.log, result.stdout, result.stderr, json.dumps(result.stats, default=str)]
        commands = [["db", "upgrade", "--db", raw], ["stats", "--db", raw], ["stats", "--json", "--db", encoded],
                    ["search", "政务", "--db", raw], ["export", "--db", raw, "--out", str(tmp_path / "posts")],
                    ["reparse", "--db", raw, "--warc-dir", str(tmp_path / "warc")],
                    ["stats", "--db", wrong], ["db", "upgrade", "--db", wrong]]
        env = {**os.environ, "NEWSCRAWL_DB_URL": encoded}
        for command in commands:
            done = subprocess.run([sys.executable, "-m", "newscrawl", "-v", *command], capture_output=True,
                                  text=True, cwd=tmp_path, env=env, check=False, timeout=240)
            assert done.returncode == (1 if wrong in command else 0), (command, done.stderr[-2000:])
            outputs += [done.stdout, done.stderr]
        assert "password authentication failed" in done.stderr  # the wrong password was tried, and said so
        assert any(f"postgresql+psycopg://{name}:***@{server.host}:{server.port}/{name}: schema" in o for o in outputs)
        outputs += [p.read_bytes().decode("latin-1") for p in tmp_path.rglob("*") if p.is_file()]
        archive = create_engine(make_url(PG_URL).set(database=name))
        with archive.connect() as conn:
            tables = inspect(conn).get_table_names() + inspect(conn).get_view_names()
            for table in tables:
                outputs.append(json.dumps([dict(r._mapping) for r in conn.execute(text(f'SELECT * FROM "{table}"'))],
                                          default=str, ensure_ascii=False))
        archive.dispose()
        assert "crawl_runs" in tables and "articles" in tables
        found = {spelling: sum(o.count(spelling) for o in outputs) for spelling in spellings}
        assert found == dict.fromkeys(spellings, 0)
        runs = query(raw, "SELECT * FROM crawl_runs")
        assert len(runs) == 1 and runs[0]["outcome"] == "ok"
        assert make_url(runs[0]["settings"]["NEWSCRAWL_DB_URL"]).password == "***"
        assert make_url(runs[0]["settings"]["NEWSCRAWL_DB_URL"]).database == name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f"DROP ROLE IF EXISTS {name}"))
        admin.dispose()


@pytest.mark.slow
def test_redis_password_is_in_no_output_or_table(sqlite_url: str, tmp_path: Path) -> None:
    """A shared-frontier crawl whose NEWSCRAWL_REDIS_URL names a real Redis user (an ACL user made for the
    test) with ``#?@%/`` in its password: the password is in no log, output, file or table."""
    if not REDIS_URL:
        pytest.skip("NEWSCRAWL_TEST_REDIS_URL is not set (CI starts redis-server and sets it; see .ci/run)")
    import redis
    from sqlalchemy import create_engine, inspect, text

    user = f"nc_redact_{uuid.uuid4().hex[:10]}"
    password = f"Rd#{uuid.uuid4().hex[:8]}?x@y%z/{uuid.uuid4().hex[:8]}"
    admin = redis.Redis.from_url(REDIS_URL)
    admin.acl_setuser(user, enabled=True, passwords=[f"+{password}"], keys=["*"], channels=["*"], commands=["+@all"])
    server = urlsplit(REDIS_URL)
    url = f"redis://{user}:{quote(password, safe='')}@{server.hostname}:{server.port}{server.path}"
    try:
        assert redis.Redis.from_url(url).acl_whoami() == user  # the URL logs in as that user
        with FaultServer() as site:
            result = crawl(site, sqlite_url, tmp_path, "-s", f"NEWSCRAWL_REDIS_URL={url}",
                           env={"NEWSCRAWL_REDIS_URL": url})
        assert result.returncode == 0 and result.outcome == "ok", result.log[-3000:]
        assert "newscrawl.frontier.SharedFrontier" in result.log
        outputs = [result.log, result.stdout, result.stderr, json.dumps(result.stats, default=str)]
        outputs += [p.read_bytes().decode("latin-1") for p in tmp_path.rglob("*") if p.is_file()]
        engine = create_engine(sqlite_url)
        with engine.connect() as conn:
            for table in inspect(conn).get_table_names():
                outputs.append(json.dumps([dict(r._mapping) for r in conn.execute(text(f'SELECT * FROM "{table}"'))],
                                          default=str, ensure_ascii=False))
        engine.dispose()
        spellings = {password, quote(password, safe=""), quote_plus(password)}
        assert {s: sum(o.count(s) for o in outputs) for s in spellings} == dict.fromkeys(spellings, 0)
        runs = query(sqlite_url, "SELECT settings FROM crawl_runs")
        recorded = json.loads(runs[0]["settings"])["NEWSCRAWL_REDIS_URL"]
        assert recorded == f"redis://{user}:***@{server.hostname}:{server.port}{server.path}"
    finally:
        admin.acl_deluser(user)
        admin.close()


# -- properties of the address policy --------------------------------------------------------------

POLICY = SitePolicy.from_settings("http://finews.withounder.com/", "finews.zning.xyz,choicewzp1.eastmoney.com")
HOSTS = st.sampled_from([SITE_HOST, ORIGIN_HOST, "choicewzp1.eastmoney.com", "evil.example", "127.0.0.1",
                         "[::1]", "10.0.0.1", "169.254.169.254", "localhost", f"{SITE_HOST}.evil.example",
                         f"evil.{SITE_HOST}", "FINEWS.WITHOUNDER.COM", "0x7f.1", "2130706433"])
SCHEMES = st.sampled_from(["http", "https", "HTTP", "ftp", "file", "gopher", "javascript", "data", ""])


@settings(max_examples=500, deadline=None)
@given(scheme=SCHEMES, userinfo=st.sampled_from(["", "user@", f"{SITE_HOST}@", "a:b@"]), host=HOSTS,
       port=st.sampled_from(["", ":80", ":443", ":8080", ":0"]), path=st.text(max_size=40),
       base=st.sampled_from([SITE_URL, f"{SITE_URL}emnews/2021/12/08/1.html"]))
def test_no_href_resolves_to_a_request_outside_the_site_and_origins(
        scheme: str, userinfo: str, host: str, port: str, path: str, base: str) -> None:
    href = f"{scheme}{':' if scheme else ''}//{userinfo}{host}{port}/{path}"
    url = POLICY.absolute(href, base)
    if url is None or not POLICY.may_request(url):
        return
    parts = urlsplit(url)
    assert parts.scheme in ("http", "https")
    assert parts.hostname in ALLOWED_HOSTS
    if parts.hostname != SITE_HOST:
        assert parts.port is None and parts.path in ("/html_News/NewsShare.html", "/NewsData/GetNewsText.do",
                                                     "/robots.txt")
