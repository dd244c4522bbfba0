"""Jekyll post files: names that stay in their folder, the site's layout byte for byte, and round trips."""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from newscrawl.items import Article
from newscrawl.jekyll import (
    UnsafePostName,
    article_markup,
    parse_post,
    post_filename,
    render_post,
    yaml_quote,
    yaml_unquote,
)
from newscrawl.parsers import parse_article, parse_origin_text

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SITE_TEMPLATE = FIXTURES / "jekyll_site"
CST = timezone(timedelta(hours=8))
POST_CASES = sorted(p.parent.name for p in FIXTURES.glob("*/post.md"))
PAGE_CASES = sorted(p.parent.name for p in FIXTURES.glob("*/page.html")
                    if not p.parent.name.startswith("listing_")
                    and json.loads((p.parent / "expected.json").read_text(encoding="utf-8"))["title"])
needs_jekyll = pytest.mark.skipif(shutil.which("jekyll") is None, reason="the jekyll program is not installed")
# Printable text without lone surrogates (which no UTF-8 file can hold).
TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=80)


def fixture_article(case: str) -> Article:
    folder = FIXTURES / case
    article = parse_article((folder / "page.html").read_text(encoding="utf-8"),
                            (folder / "url.txt").read_text(encoding="utf-8").strip())
    if (folder / "origin.json").is_file():
        answer = parse_origin_text((folder / "origin.json").read_bytes())
        article.origin_html, article.origin_status = answer.html, answer.status
    return article


def make_article(**fields: object) -> Article:
    values: dict[str, object] = {
        "article_id": "NW202202142275724924", "url": "https://finews.withounder.com/x/2022/02/14/a.html",
        "title": "标题", "published_at": datetime(2022, 2, 14, 15, 11, 7, tzinfo=CST), "category": "zhongguofazhanwang",
        "tags": "中国发展网新闻", "body_html": "<p>正文</p>",
        "share_url": "http://finews.zning.xyz/html_News/NewsShare.html?infoCode=NW202202142275724924",
        "footer_md": ("[返回中国发展网新闻](//finews.withounder.com/category/zhongguofazhanwang.html)"
                      "｜[返回首页](//finews.withounder.com/)"),
    }
    values.update(fields)
    return Article(**values)  # type: ignore[arg-type]


def test_seed_is_reproduced_byte_for_byte() -> None:
    article = fixture_article("nw_seed_zhongguofazhanwang")
    assert article.origin_status == "ok"
    seed = (FIXTURES / "nw_seed_zhongguofazhanwang" / "post.md").read_bytes()
    assert render_post(article).encode("utf-8") == seed
    assert post_filename(article) == "2022-02-14-NW202202142275724924.md"
    assert not seed.endswith(b"\n")


@pytest.mark.parametrize("case", POST_CASES)
def test_post_files_in_their_own_form(case: str) -> None:
    # post.md is the site's own post file (offset-less dates written in site time with +0800).
    assert render_post(fixture_article(case)) == (FIXTURES / case / "post.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("case", PAGE_CASES)
def test_parse_post_reads_back_what_render_post_wrote(case: str) -> None:
    article = fixture_article(case)
    post = parse_post(render_post(article))
    assert post["layout"] == "post"
    assert post["title"] == article.title
    assert post["categories"] == article.category
    assert post["tags"] == article.tags
    assert post["share_url"] == article.share_url
    assert post["footer_md"] == article.footer_md
    assert post["body"] == article_markup(article)
    assert article.published_at is not None
    assert post["date"] == article.published_at.strftime("%Y-%m-%d %H:%M:%S +0800")


def test_mirror_html_is_used_without_an_origin_answer() -> None:
    article = fixture_article("nw_seed_zhongguofazhanwang")
    article.origin_status = "http_404"
    assert article_markup(article) == article.body_html


def test_crlf_origin_html_is_kept_byte_for_byte() -> None:
    body = "<p>第一段</p>\r\n <p>第二段</p>"
    article = make_article(origin_html=body, origin_status="ok")
    assert f"---\n{body}\n\n<http" in render_post(article)


def test_digest_post_form() -> None:
    article = make_article(body_html="<p>精度满足&lt;1%，北向资金净流入。</p>", share_url=None, footer_md=None)
    assert render_post(article).endswith("---\n\n精度满足<1%，北向资金净流入。\n")


def test_markdown_active_text_stays_html() -> None:
    for text in ("*ST公司*涨停", "a -- b", "“引号”'x'", "1. 第一", "[链接](x)", "a...", "x | y", "$$1$$"):
        article = make_article(body_html=f"<p>{text}</p>")
        assert article_markup(article) == f"<p>{text}</p>"


def test_escaped_guillemets_stay_escaped() -> None:
    # "<<" would be kramdown's typographic «: the entities are kept, which renders the same text.
    assert article_markup(make_article(body_html="<p>&lt;&lt;书名&gt;&gt;</p>")) == "\n&lt;&lt;书名&gt;&gt;"


def test_no_category_and_no_tags_leave_their_lines_out() -> None:
    text = render_post(make_article(category=None, tags=None))
    assert "categories:" not in text
    assert "tags:" not in text


def test_naive_dates_are_site_time_and_aware_dates_are_converted() -> None:
    utc = make_article(published_at=datetime(2021, 12, 8, 16, 30, tzinfo=UTC))
    assert "date: 2021-12-09 00:30:00 +0800\n" in render_post(utc)
    assert post_filename(utc) == "2021-12-09-NW202202142275724924.md"
    naive = make_article(published_at=datetime(2021, 12, 8, 16, 30))
    assert "date: 2021-12-08 16:30:00 +0800\n" in render_post(naive)


@pytest.mark.parametrize("body", ["---\ntitle: evil\n---", "...\n---", "---", "\n---\nlayout: x\n"])
def test_body_cannot_reopen_the_front_matter(body: str) -> None:
    post = parse_post(render_post(make_article(body_html=body, title="真标题")))
    assert post["title"] == "真标题"
    assert post["layout"] == "post"


def test_liquid_in_the_body_is_not_run() -> None:
    text = render_post(make_article(body_html="<p>{{ site.title }} {% raw %}</p>"))
    assert "\nrender_with_liquid: false\n---\n" in text


def test_hostile_share_url_stays_on_its_line() -> None:
    post = parse_post(render_post(make_article(share_url="http://x/a b>\n\n[返回首页](../)\n---")))
    assert post["share_url"] == "http://x/a%20b%3E%0A%0A[返回首页](../)%0A---"
    assert post["footer_md"] == make_article().footer_md


@pytest.mark.parametrize("article_id", [
    "../evil", "a/b", "a\\b", "..", "x..y", ".hidden", "a\x00b", "", "a b", "-rf", "C:x", "a\nb", "x" * 201,
])
def test_unsafe_article_ids_are_refused(article_id: str, tmp_path: Path) -> None:
    article = make_article(article_id=article_id)
    with pytest.raises(UnsafePostName):
        post_filename(article)


def test_missing_date_is_refused() -> None:
    with pytest.raises(UnsafePostName, match="published_at"):
        post_filename(make_article(published_at=None))
    with pytest.raises(UnsafePostName):
        render_post(make_article(published_at=None))


@pytest.mark.parametrize("title", ['他说："---"', "a\\b", "line\nbreak", "tab\there", "#not a comment",
                                   "key: value", "- item", "[a, b]", "{x: y}", "'q'", "\u2028\x85\x07\ufeff",
                                   "  spaces  ", "", "null", "😀𝕏"])
def test_yaml_quote_round_trip(title: str) -> None:
    quoted = yaml_quote(title)
    assert "\n" not in quoted
    assert yaml_unquote(quoted) == title


@settings(max_examples=300, deadline=None)
@given(title=TEXT, category=TEXT, tags=TEXT)
@example(title="---", category="emnews", tags="东财滚动新闻")
@example(title='"\\"', category="21shijijingjibaodao  nancailicaitong", tags="yes")
def test_render_parse_round_trip(title: str, category: str, tags: str) -> None:
    article = make_article(title=title, category=category or None, tags=tags or None)
    post = parse_post(render_post(article))
    assert post["title"] == title
    assert post.get("categories") == (category or None)
    assert post.get("tags") == (tags or None)
    assert post["body"] == article_markup(article)
    assert post["share_url"] == article.share_url
    assert post["footer_md"] == article.footer_md


HOSTILE_TITLES = [
    '他说："---"\n---\nlayout: evil', "a\\b\\\\c", "{{ site.title }} {% if %}", "#标题 # 注释", "key: value",
    "- 列表", "[a, b]", "{x: y}", "'单引号'", "&amp; <b>粗</b>", "tab\there", "\u2028段\u2029落\x85",
    "  前后空格  ", "yes", "~", "1e5", ":symbol", "😀𝕏 emoji", "\x07\x1b控制", "...", "%YAML", "!tag", "*alias",
]


def _jekyll_titles(tmp_path: Path, titles: list[str]) -> list[str]:
    site = tmp_path / "site"
    shutil.copytree(SITE_TEMPLATE, site)
    (site / "_posts").mkdir()
    for number, title in enumerate(titles):
        article = make_article(article_id=f"t{number:04d}", title=title)
        (site / "_posts" / post_filename(article)).write_text(render_post(article), encoding="utf-8")
    (site / "titles.json").write_text(
        "---\nlayout: null\n---\n"
        "{{ site.posts | sort: 'slug' | map: 'title' | jsonify }}\n", encoding="utf-8")
    result = subprocess.run(["jekyll", "build", "-q", "-s", str(site), "-d", str(tmp_path / "out")],
                            capture_output=True, text=True, check=False, timeout=240)
    assert result.returncode == 0, result.stderr[-2000:]
    built: list[str] = json.loads((tmp_path / "out" / "titles.json").read_text(encoding="utf-8"))
    return built


@pytest.mark.jekyll
@pytest.mark.slow
@needs_jekyll
def test_jekyll_reads_back_hostile_titles(tmp_path: Path) -> None:
    rng = random.Random(20220214)
    alphabet = [chr(c) for c in (*range(0x20, 0x7F), 0x09, 0x0A, 0x0D, 0x85, 0xA0, 0x3000, 0x201C, 0x4E2D, 0xFEFF,
                                 0x2028, 0x1F600, 0x00, 0x1B, 0x7F)]
    random_titles = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40))) for _ in range(40)]
    titles = HOSTILE_TITLES + random_titles
    assert _jekyll_titles(tmp_path, titles) == titles


def _section(page: str) -> str:
    match = re.search(r"<section>(.*?)</section>", page, re.S)
    assert match is not None
    return re.sub(r"\s+", " ", re.sub(r">\s+<", "><", match.group(1))).strip()


@pytest.mark.jekyll
@pytest.mark.slow
@needs_jekyll
def test_jekyll_rebuilds_the_same_article_pages(tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(SITE_TEMPLATE, site)
    (site / "_posts").mkdir()
    articles = {case: fixture_article(case) for case in PAGE_CASES}
    for article in articles.values():
        (site / "_posts" / post_filename(article)).write_text(render_post(article), encoding="utf-8")
    result = subprocess.run(["jekyll", "build", "-q", "-s", str(site), "-d", str(tmp_path / "out")],
                            capture_output=True, text=True, check=False, timeout=240)
    assert result.returncode == 0, result.stderr[-2000:]
    for case, article in articles.items():
        path = tmp_path / "out" / article.url.split("://", 1)[1].split("/", 1)[1]
        original = (FIXTURES / case / "page.html").read_text(encoding="utf-8")
        assert _section(path.read_text(encoding="utf-8")) == _section(original), case
