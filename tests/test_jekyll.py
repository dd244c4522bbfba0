"""Jekyll post files: names that stay in their folder, the site's layout byte for byte, and round trips."""

from __future__ import annotations

import html
import json
import random
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st
from post_files import parse_post
from test_parsers import fixture_article

from newscrawl import jekyll
from newscrawl.items import Article
from newscrawl.jekyll import (
    UnsafePostName,
    article_markup,
    front_matter_line,
    markup_excess,
    post_filename,
    render,
    render_post,
)

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


def test_hostile_share_url_stays_on_its_line() -> None:
    post = parse_post(render_post(make_article(share_url="http://x/a b>\n\n[返回首页](../)\n---")))
    assert post["share_url"] == "http://x/a%20b%3E%0A%0A[返回首页](../)%0A---"
    assert post["footer_md"] == make_article().footer_md


@pytest.mark.parametrize("article_id", [
    "../evil", "a/b", "a\\b", "..", "x..y", ".hidden", "a\x00b", "", "a b", "-rf", "C:x", "a\nb", "a\x85b", "a\x9bb",
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


def front_matter(text: str) -> dict[str, object]:
    """The post's front matter as PyYAML's YAML 1.1 reader (SafeLoader: its types) reads it."""
    assert text.startswith("---\n")
    block = text[4:text.index("\n---\n", 3)]
    data = yaml.load(block, Loader=yaml.SafeLoader)
    assert isinstance(data, dict)
    return data


@settings(max_examples=500, deadline=None)
@given(title=TEXT, category=TEXT, tags=TEXT)
@example(title="---", category="emnews", tags="东财滚动新闻")
@example(title='"\\"', category="21shijijingjibaodao  nancailicaitong", tags="yes")
@example(title="\x85\u2028\x9f\x00", category="0x1F", tags="1:20")
def test_pyyaml_reads_back_every_front_matter_value(title: str, category: str, tags: str) -> None:
    # Oracle: PyYAML's reader, with YAML 1.1 types (a value it read as a bool, number, date or null would
    # not be the string we wrote). Real Jekyll is the other oracle (test_jekyll_reads_back_hostile_values).
    article = make_article(title=title, category=category or None, tags=tags or None)
    text = render_post(article)
    read = front_matter(text)
    expected: dict[str, object] = {"layout": "post", "title": title}
    expected.update({"categories": category} if category else {})
    expected.update({"tags": tags} if tags else {})
    assert {key: read.get(key) for key in expected} == expected
    # The site's line layout: one line per key, in its order, the title double-quoted.
    head = text[4:text.index("\n---\n", 3)].split("\n")
    keys = ["layout", "title", "date", *(key for key in ("categories", "tags") if key in expected)]
    assert [line.split(":", 1)[0] for line in head][:len(keys)] == keys
    assert head[1].startswith('title: "')
    post = parse_post(text)
    assert post["body"] == article_markup(article)
    assert post["share_url"] == article.share_url
    assert post["footer_md"] == article.footer_md


@pytest.mark.parametrize(("value", "form"), [
    ("emnews", "emnews"), ("21shijijingjibaodao", "21shijijingjibaodao"), ("中国发展网新闻", "中国发展网新闻"),
    ("yes", "'yes'"), ("NuLL", "'NuLL'"), ("yeſ", "'yeſ'"), ("0x1F", "'0x1F'"), ("1,000", "'1,000'"),
    ("0:30", "'0:30'"), ("2022-2-1", "'2022-2-1'"), (":sym", "':sym'"), ("a: b", "'a: b'"), ("a\nb", '"a\\nb"'),
])
def test_plain_where_psych_reads_a_string_quoted_elsewhere(value: str, form: str) -> None:
    # The PyYAML decisions Psych needs more than PyYAML's own YAML 1.1 types for (psych/scalar_scanner.rb):
    # without FrontMatterDumper's resolver, "NuLL", "yeſ", "1,000", "0:30", "2022-2-1", ":sym" stay plain.
    assert front_matter_line("tags", value) == f"tags: {form}"


HOSTILE_TITLES = [
    '他说："---"\n---\nlayout: evil', "a\\b\\\\c", "{{ site.title }} {% if %}", "#标题 # 注释", "key: value",
    "- 列表", "[a, b]", "{x: y}", "'单引号'", "&amp; <b>粗</b>", "tab\there", "\u2028段\u2029落\x85",
    "  前后空格  ", "yes", "~", "1e5", ":symbol", "😀𝕏 emoji", "\x07\x1b控制", "...", "%YAML", "!tag", "*alias",
]
# What YAML 1.1 (and Psych beyond it) may read as other than the string written, and what a front matter
# cannot hold as it is: the generator below combines these with random characters.
HOSTILE_TOKENS = [
    "yes", "no", "on", "off", "y", "n", "true", "False", "OFF", "Yes", "oN", "NuLL", "null", "~", "yeſ", "falſe",
    "0x1F", "0b11", "0o17", "017", "1_000", "1,000", "1:20", "0:30", "-1:20:30.5", "1e5", "1.5e+3", ".5", "+.inf",
    "-.INF", ".NaN", "0", "-0", "+12", "2022-02-14", "2022-2-1", "2022-02-14 15:11:07 +0800", "2022-02-14T15:11:07Z",
    ":sym", ':"x"', "- x", "? x", ": x", "a: b", "a #b", "#x", "& a", "*a", "!tag", "!!str", "| x", "> x", "%YAML",
    "@x", "`x", "'x'", '"x"', "[a, b]", "{a: b}", ",", "---", "...", "--- x", "<<", "=", " x", "x ", "  ", "\t",
    "\\", "\\n", "\\x41", "{{ 7 | times: 191 }}", "{% raw %}", "中国", "：", "😀", "𝕏", "\U0010fffd", "\x00", "\x07",
    "\x1b", "\x7f", "\x80", "\x85", "\x9f", "\xa0", "\u2028", "\u2029", "\ufeff", "\ufffe", "\uffff", "\u3000",
    "\r\n", "\n", "\u202e",
]
SEPARATORS = ["", " ", ": ", " #", "\n", ",", "\t", "中", "-"]


def hostile_values(count: int, seed: int) -> list[str]:
    """``count`` values from HOSTILE_TOKENS and random characters; the same list for the same seed."""
    rng = random.Random(seed)
    alphabet = [chr(c) for c in (*range(0x20, 0x7F), 0x09, 0x0A, 0x0D, 0x85, 0xA0, 0x3000, 0x201C, 0x4E2D, 0xFEFF,
                                 0x2028, 0x1F600, 0x00, 0x1B, 0x7F, 0x9B, 0x202E)]
    values = []
    for _ in range(count):
        if rng.random() < 0.4:
            values.append(rng.choice(HOSTILE_TOKENS))
            continue
        parts = [rng.choice(HOSTILE_TOKENS) if rng.random() < 0.7
                 else "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
                 for _ in range(rng.randint(2, 4))]
        values.append("".join(part + rng.choice(SEPARATORS) for part in parts))
    return values


def ruby_split(value: str) -> list[str]:
    """Jekyll's reading of a ``tags`` string: Ruby's String#split, on ASCII white space only."""
    return [word for word in re.split(r"[ \t\n\v\f\r]+", value) if word]


def jekyll_build(tmp_path: Path, articles: list[Article], page: str, config: str = "") -> str:
    """Build ``articles`` with the site's template (``config`` added to its _config.yml) and one page of
    Liquid ``page``; that page's output."""
    site = tmp_path / "site"
    shutil.copytree(SITE_TEMPLATE, site)
    with (site / "_config.yml").open("a", encoding="utf-8") as site_config:
        site_config.write(config)
    (site / "_posts").mkdir()
    for article in articles:
        (site / "_posts" / post_filename(article)).write_text(render_post(article), encoding="utf-8")
    (site / "probe.json").write_text("---\nlayout: null\n---\n" + page, encoding="utf-8")
    # Not -q: Jekyll reports a front matter it cannot read only in its output ("YAML Exception reading …",
    # "Error: could not read file …: Tried to load unspecified class: Symbol") and builds the rest.
    result = subprocess.run(["jekyll", "build", "-s", str(site), "-d", str(tmp_path / "out")],
                            capture_output=True, text=True, check=False, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    warnings = [line for line in (result.stdout + result.stderr).splitlines()
                if "YAML Exception" in line or "could not read file" in line]
    assert warnings == [], warnings[:5]
    return (tmp_path / "out" / "probe.json").read_text(encoding="utf-8")


POSTS_AS_JSON = ('[{% for post in site.posts %}{"slug": {{ post.slug | jsonify }}, '
                 '"title": {{ post.title | jsonify }}, "tags": {{ post.tags | jsonify }}, '
                 '"categories": {{ post.categories | jsonify }}}'
                 '{% unless forloop.last %},{% endunless %}{% endfor %}]\n')


@pytest.mark.jekyll
@pytest.mark.slow
@needs_jekyll
def test_jekyll_reads_back_hostile_values(tmp_path: Path) -> None:
    # 623 titles, tags and categories (600 generated, the fixed list), in one jekyll build: each page's
    # title is the title written; its tags and categories are the values as Jekyll splits them (on white
    # space; categories once each: Document#merge_categories!), whatever they hold.
    titles = HOSTILE_TITLES + hostile_values(600, seed=20220214)
    tags = hostile_values(len(titles), seed=20211208)
    categories = hostile_values(len(titles), seed=20220101)
    articles = [make_article(article_id=f"t{number:04d}", title=title, tags=tag, category=category)
                for number, (title, tag, category) in enumerate(zip(titles, tags, categories, strict=True))]
    # Categories are kept out of the URLs, which would otherwise hold them.
    output = jekyll_build(tmp_path, articles, POSTS_AS_JSON, "permalink: /:year/:month/:day/:title:output_ext\n")
    built = {post["slug"]: post for post in json.loads(output)}
    assert sorted(built) == sorted(article.article_id for article in articles)
    for article in articles:
        post = built[article.article_id]
        assert post["title"] == article.title, article.article_id
        assert post["tags"] == ruby_split(article.tags or ""), article.article_id
        category = article.category or ""
        assert post["categories"] == list(dict.fromkeys(ruby_split(category))), article.article_id


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


# Liquid that Jekyll would evaluate (each to 1337, which no input holds) or fail the build on.
LIQUID_SNIPPETS = [
    "{{ 7|times:191 }}", "{{7 | times: 191}}", "{{- 7 | times: 191 -}}", "{% include_relative x %}",
    "{%- include x.html -%}", "{% assign n = 7 | times: 191 %}{{ n }}", "{% raw %}", "{% endraw %}",
    "{% comment %}", "{{ site.time }}", "{% if true %}{{ 1336 | plus: 1 }}{% endif %}", "{{", "{%", "{{ }}",
    "{{ 7 | times: 191 }}}}", "{% capture c %}{{ 7 | times: 191 }}{% endcapture %}{{ c }}",
]
LIQUID_FIELDS = ("title", "tags", "body_html", "origin_html", "share_url", "footer_md")


def liquid_article(number: int, rng: random.Random) -> Article:
    """An article with generated Liquid in one or more of LIQUID_FIELDS (always at least one)."""
    def snippet() -> str:
        return " ".join(rng.choice(LIQUID_SNIPPETS) for _ in range(rng.randint(1, 3)))
    chosen = set(rng.sample(LIQUID_FIELDS, rng.randint(1, len(LIQUID_FIELDS))))
    fields: dict[str, object] = {"article_id": f"L{number:04d}"}
    if "title" in chosen:
        fields["title"] = f"标题 {snippet()}"
    if "tags" in chosen:
        fields["tags"] = f"中国发展网新闻{snippet().replace(' ', '')}"
    if "body_html" in chosen:
        fields["body_html"] = f"<p>正文 {snippet()}</p>"
    if "origin_html" in chosen:
        fields.update(origin_html=f"<p>源站 {snippet()}</p>", origin_status="ok")
    if "share_url" in chosen:
        fields["share_url"] = f"http://finews.zning.xyz/html_News/NewsShare.html?infoCode=X&x={snippet()}"
    if "footer_md" in chosen:
        fields["footer_md"] = (f"[返回{snippet()}新闻](//finews.withounder.com/category/zhongguofazhanwang.html)"
                               "｜[返回首页](//finews.withounder.com/)")
    return make_article(**fields)


@pytest.mark.parametrize("fields", [
    {"body_html": "<p>{{ 7|times:191 }}</p>"}, {"origin_html": "<p>{% raw %}</p>", "origin_status": "ok"},
    {"share_url": "http://finews.zning.xyz/x?a={{7|times:191}}"}, {"footer_md": "[返回{% include_relative x %}](/)"},
], ids=["body", "origin", "share_url", "footer"])
def test_liquid_anywhere_after_the_front_matter_turns_liquid_off(fields: dict[str, str]) -> None:
    # Jekyll runs Liquid on a post whose content holds "{{" or "{%" anywhere, not only in the article.
    assert "\nrender_with_liquid: false\n---\n" in render_post(make_article(**fields))
    assert "render_with_liquid" not in render_post(make_article())


@pytest.mark.jekyll
@pytest.mark.slow
@needs_jekyll
def test_no_liquid_from_any_field_is_run(tmp_path: Path) -> None:
    # 150 posts with generated Liquid in every field, one jekyll build: it succeeds (an include would fail
    # it), no expression is evaluated (each evaluates to 1337), and every page shows the text as written.
    rng = random.Random(20211208)
    articles = [liquid_article(number, rng) for number in range(150)]
    jekyll_build(tmp_path, articles, "{}\n")
    for article in articles:
        page = (tmp_path / "out" / "zhongguofazhanwang" / "2022" / "02" / "14" / f"{article.article_id}.html")
        shown = html.unescape(page.read_text(encoding="utf-8"))
        assert "1337" not in shown, article.article_id
        section = shown[shown.index("<section>"):shown.index("</section>")]
        # Compared without white space and "|": a "|" in the footer's Markdown makes kramdown a table of it.
        section_text = re.sub(r"<[^>]*>|[\s|]", "", section)
        for text in (article.title, article.tags, article_markup(article), article.footer_md):
            for snippet in LIQUID_SNIPPETS:
                if text and snippet.replace(" ", "") in text.replace(" ", ""):
                    assert re.sub(r"[\s|]", "", snippet) in section_text, (article.article_id, snippet)
        if article.share_url:
            assert article.share_url.replace(" ", "%20").replace("|", "%7C") in section, article.article_id


def test_markup_within_kramdown_bounds_is_left_as_it_is() -> None:
    assert markup_excess("<div>" * 100 + "深" + "</div>" * 100) is None
    assert markup_excess("<p>段</p>\n" * 1000) is None
    assert markup_excess("<p>" + "<br><img src=x>" * 400 + "</p>") is None  # void elements nest nothing
    assert markup_excess("<div>" * 101 + "深" + "</div>" * 101) == "nesting depth 101, more than 100"
    assert markup_excess("<p>段</p>\n" * 1001) == "1001 elements, more than 1000"
    # The replica's largest post has 94 elements: posts like it keep their own form.
    article = make_article(body_html="<div>" * 50 + "<p>正文</p>" + "</div>" * 50)
    assert render(article).bounded is None and render_post(article).endswith("</div>" * 50 + "\n\n" + _TAIL)


_TAIL = ("<http://finews.zning.xyz/html_News/NewsShare.html?infoCode=NW202202142275724924>\n\n"
         "[返回中国发展网新闻](//finews.withounder.com/category/zhongguofazhanwang.html)｜[返回首页](//finews.withounder.com/)")


def test_markup_beyond_the_bounds_is_written_unparsed() -> None:
    body = "<div>" * 150 + "\n{:/nomarkdown}\n{:/}\n" + "</div>" * 150
    rendered = render(make_article(body_html=body))
    assert rendered.bounded == "nesting depth 150, more than 100"
    assert '\nexcerpt_separator: ""\n---\n{::nomarkdown}\n<div>' in rendered.text
    assert "\n{&#58;/nomarkdown}\n{&#58;/}\n" in rendered.text  # cannot end the unparsed block early
    assert rendered.text.endswith("</div>\n{:/nomarkdown}\n\n" + _TAIL)
    post = parse_post(rendered.text)
    assert (post["body"], post["share_url"]) == (body, make_article().share_url)


@pytest.mark.jekyll
@pytest.mark.slow
@needs_jekyll
def test_jekyll_builds_pathological_bodies(tmp_path: Path) -> None:
    # As they are, 100,000 nested <div>s end Jekyll with "stack level too deep" and 100,000 links keep it
    # busy for minutes (docs/export.md). Written unparsed, one build holds both; the timeout is only a guard.
    nested = "<div>" * 100_000 + "深" + "</div>" * 100_000
    links = "<p>" + "".join(f'<a href="http://x.example/{n}">链{n}</a>' for n in range(100_000)) + "</p>"
    articles = [make_article(article_id="DEEP", body_html=nested),
                make_article(article_id="LINKS", origin_html=links, origin_status="ok"),
                make_article(article_id="ESCAPE", body_html="<div>" * 150 + "\n{:/}\n" + "</div>" * 150),
                make_article(article_id="PLAIN")]
    assert [render(article).bounded is not None for article in articles] == [True, True, True, False]
    jekyll_build(tmp_path, articles, "{}\n")
    pages = {article.article_id: (tmp_path / "out" / "zhongguofazhanwang" / "2022" / "02" / "14"
                                  / f"{article.article_id}.html").read_text(encoding="utf-8")
             for article in articles}
    assert pages["DEEP"].count("<div>") == 100_000 and "深" in pages["DEEP"]
    assert pages["LINKS"].count('<a href="http://x.example/') == 100_000
    assert "\n{:/}\n" in html.unescape(pages["ESCAPE"]) and pages["ESCAPE"].count("<div>") == 150
    for page in pages.values():
        assert '<a href="http://finews.zning.xyz/html_News/NewsShare.html?infoCode=NW202202142275724924">' in page


@pytest.mark.parametrize("emitter", ["libyaml", "python"])
def test_both_pyyaml_emitters_write_values_psych_reads_back(emitter: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Where PyYAML was built without libyaml its pure-Python emitter writes the lines: the same decisions.
    if emitter == "libyaml" and not hasattr(yaml, "CSafeDumper"):
        pytest.skip("PyYAML was built without libyaml")
    base = yaml.CSafeDumper if emitter == "libyaml" else yaml.SafeDumper

    class Dumper(base):  # type: ignore[misc, valid-type]
        pass

    Dumper.add_implicit_resolver("tag:newscrawl,2026:psych-non-string", jekyll.PSYCH_NOT_A_STRING, None)
    monkeypatch.setattr(jekyll, "FrontMatterDumper", Dumper)
    jekyll._dump_line.cache_clear()
    try:
        for value in [*HOSTILE_TOKENS, *hostile_values(300, seed=7)]:
            for double_quoted in (False, True):
                line = front_matter_line("tags", value, double_quoted=double_quoted)
                assert "\n" not in line
                read = yaml.load(line, Loader=yaml.SafeLoader)["tags"]
                assert read == value.replace("\ud800", "\ufffd"), (emitter, value, line)
                plain = not line.startswith(("tags: '", 'tags: "'))
                assert not (plain and jekyll.PSYCH_NOT_A_STRING.match(value)), (emitter, value, line)
    finally:
        jekyll._dump_line.cache_clear()
