"""One renderer of post files, newscrawl.jekyll: the jekyll_posts view (SQLite and PostgreSQL) and the
benchmark site generator (benchmarks/scale_site.py) agree with it, byte for byte.

The view gives the simple form of a post (docs/schema.md, "jekyll_posts"): the same path, date line,
title, categories, tags and content as the post file ``newscrawl export`` writes, where the file keeps the
article as it is stored; where the file writes a digest post's HTML back in its Markdown form, the view
keeps the HTML and nothing else differs. The generator renders pages as Jekyll does: Jekyll's build of
newscrawl's post files of the generated articles gives back the generator's pages.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import REPLICA
from sqlalchemy import text

from newscrawl.items import Article
from newscrawl.jekyll import article_markup, post_filename, render_post
from newscrawl.processing import normalise, origin_answer, read_article_page
from newscrawl.storage import Archive

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
ARTICLE_CASES = sorted(p.parent for p in FIXTURES.glob("*/post.md") if (p.parent / "page.html").is_file())


def fixture_article(case: Path) -> Article:
    """The article of a fixture page, as a crawl archives it (with the origin's answer when there is one)."""
    url = (case / "url.txt").read_text("utf-8").strip()
    body = (case / "page.html").read_bytes()
    article = read_article_page(url, body, body.decode("utf-8"), encoding="utf-8")
    if (case / "origin.json").is_file():
        article.origin_status, article.origin_html = origin_answer(200, (case / "origin.json").read_bytes())
    return normalise(article)


def post_parts(post: str) -> tuple[str, dict[str, Any], str]:
    """(front matter text, its values as a YAML reader reads them, the content after it) of a post file."""
    assert post.startswith("---\n")
    front, _, content = post[4:].partition("\n---\n")
    return front, yaml.load(front, Loader=yaml.BaseLoader), content


def test_the_jekyll_posts_view_is_the_post_file_newscrawl_writes(db_url: str) -> None:
    articles = [fixture_article(case) for case in ARTICLE_CASES]
    # The mirror's own HTML of the seed too (an origin that did not answer), and a post with no tail.
    seed = next(a for a in articles if a.article_id == "NW202202142275724924")
    articles += [replace(seed, article_id=f"NW20220214227572492{n}", url=seed.url.replace("24.html", f"2{n}.html"),
                         **changes)  # type: ignore[arg-type]
                 for n, changes in ((5, {"origin_status": "error", "origin_html": None}),
                                    (6, {"share_url": None, "footer_md": None}))]
    with Archive.open(db_url) as archive:
        for article in articles:
            archive.upsert_article(article, seen_at=article.published_at)  # type: ignore[arg-type]
        stored = {article.article_id: article for article in archive.iter_articles()}
        with archive.engine.connect() as connection:
            rows = {row["article_id"]: dict(row) for row in
                    connection.execute(text("SELECT * FROM jekyll_posts")).mappings()}
    assert sorted(rows) == sorted(stored) == sorted(a.article_id for a in articles)
    as_stored = markdown_form = 0
    for article_id, article in stored.items():
        row, post = rows[article_id], render_post(article)
        front, values, content = post_parts(post)
        assert row["path"] == f"_posts/{post_filename(article)}", article_id
        assert f"\ndate: {row['date']}\n" in f"\n{front}\n", article_id
        assert (row["layout"], row["title"], row["categories"], row["tags"]) == (
            values["layout"], values["title"], values.get("categories"), values.get("tags")), article_id
        html = article.origin_html if article.origin_status == "ok" else article.body_html
        # A post with neither share link nor footer ends with a line break, as the site's files do.
        content = content.removesuffix("\n") if not (article.share_url or article.footer_md) else content
        if article_markup(article) == html:
            assert row["content"] == content, article_id
            as_stored += 1
        else:
            assert html and row["content"].replace(html, article_markup(article), 1) == content, article_id
            markdown_form += 1
    assert (as_stored, markdown_form) == (5, 6)


@pytest.mark.replica
@pytest.mark.jekyll
@pytest.mark.slow
@pytest.mark.skipif(shutil.which("jekyll") is None, reason="the jekyll program is not installed")
@pytest.mark.skipif(not REPLICA.is_dir(), reason="../shared/replica is not beside this checkout")
def test_the_benchmark_site_is_what_jekyll_makes_of_newscrawl_s_post_files(tmp_path: Path) -> None:
    # The generator renders article pages as the site's Jekyll build would (benchmarks/README.md). Its
    # pages, read back as a crawl reads them, written as post files by newscrawl.jekyll and built by
    # Jekyll with the site's layouts, must give the same pages: both render one post form.
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import scale_site

    generated = tmp_path / "generated"
    scale_site.generate(scale_site.SiteSpec(posts=40, categories=4, emnews_share=0.3, seed=7), generated, REPLICA)
    manifest = [json.loads(line) for line in (generated / "manifest.jsonl").read_text("utf-8").splitlines()]
    site = tmp_path / "site"
    shutil.copytree(FIXTURES / "jekyll_site", site)
    (site / "_posts").mkdir()
    for entry in manifest:
        body = (generated / "site" / entry["url"].lstrip("/")).read_bytes()
        article = read_article_page(scale_site.SITE_URL + entry["url"], body, body.decode("utf-8"), encoding="utf-8")
        if entry["info_code"]:
            answer = generated / "origin" / "GetNewsText" / f"{entry['info_code']}.json"
            article.origin_status, article.origin_html = origin_answer(200, answer.read_bytes())
        article = normalise(article)
        (site / "_posts" / post_filename(article)).write_text(render_post(article), encoding="utf-8")
    built = subprocess.run(["jekyll", "build", "-q", "-s", str(site), "-d", str(tmp_path / "out")],
                           capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-2000:]
    differ = [entry["url"] for entry in manifest
              if (tmp_path / "out" / entry["url"].lstrip("/")).read_bytes()
              != (generated / "site" / entry["url"].lstrip("/")).read_bytes()]
    assert (len(manifest), differ) == (40, [])
