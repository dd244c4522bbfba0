"""Scale site: the finews replica's exact page structure at any size, rendered in Python.

    python benchmarks/scale_site.py --posts 20000 --categories 2000   # generate (cached), print its path
    python benchmarks/scale_site.py --verify                          # check the renderer against the replica

The real site is built by Jekyll (default/post/category layouts, jekyll-seo-tag, jekyll-feed); running Jekyll
on 20,000 or 100,000 posts takes too long, so this module renders the same pages in Python: article pages at
``/<category>/YYYY/MM/DD/<id>.html`` with the SEO head (title, description, canonical URL, JSON-LD,
``article:published_time``), the ``<section>`` with the ``(GMT+8, Asia/Shanghai, CST)`` line, ``<h1>``, body,
share-link paragraph, back-link paragraph and tags line; ``/category/<slug>.html`` listing all posts of a
category; ``index.html`` (5 latest posts per tag); ``/emnews/index.html`` (20 latest emnews posts);
``feed.xml`` (50 latest); ``404.html``; plus the origin's text API answers ``origin/GetNewsText/<infoCode>.json``.

Article bodies and titles are the real ones of the replica's ``snapshots/full`` pages, reused with new ids,
dates and categories. ``--verify`` renders the replica's own posts (same ids, dates, categories) with this
renderer and compares them with the real pages, byte for byte and by ``<section>`` (white space between tags
folded, as tools/check_export.py does), and -- once ``newscrawl.parsers.parse_article`` imports -- by the
fields the project's parser extracts from both. What the benchmarks measure on these sites is in
docs/performance.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import random
import re
import shutil
import sys
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import harness

from newscrawl.config import SITE_TZ as CST

SITE_URL = "https://finews.withounder.com"  # site.url of _config.yml: what canonical URLs and the feed use
SITE_TITLE = "金融消息"
AUTHOR = "ZNing"
LANG = "zh-CN"
JEKYLL_VERSION = "4.3.1"
SEO_VERSION = "2.8.0"
EMNEWS = "emnews"
EMNEWS_TAG = "东财滚动新闻"
ORIGIN_SHARE = "http://finews.zning.xyz/html_News/NewsShare.html?infoCode="
# What a crawler requests for a share link: the origin's text API (the share page is a script shell).
ORIGIN_TEXT_API = "http://finews.zning.xyz/NewsData/GetNewsText.do?id="
# The benchmarks crawl the site over plain http through nginx (a proxy keeps the real host names).
CRAWL_SITE_URL = "http://finews.withounder.com"
HOME_LIMIT = 5
EMNEWS_LIMIT = 20
FEED_LIMIT = 50
# Bump when the rendered output changes, so cached sites are rebuilt.
GENERATOR_VERSION = 4
# Characters of the markers the parser looks for in an article body ("<strong>摘要：</strong>",
# "（文章来源：X）"): never changed by the per-post text shift.
PROTECTED_CHARS = frozenset("摘要文章来源")
TEXT_TABLES = 64

# --- Liquid / Jekyll filters, as Ruby implements them (Python's own differ in the details noted).

_STRIP_HTML_BLOCKS = re.compile(r"<script.*?</script>|<!--.*?-->|<style.*?</style>", re.S)
_STRIP_HTML_TAGS = re.compile(r"<.*?>", re.S)
# Ruby's \s is ASCII only: an ideographic space (U+3000) in Chinese text is not white space to Liquid.
_RUBY_WS = re.compile(r"[ \t\r\n\f\v]+")
_ESCAPE_ONCE = re.compile(r"[\"><']|&(?!(?:[a-zA-Z]+|#\d+);)")
_ESCAPES = {"&": "&amp;", ">": "&gt;", "<": "&lt;", '"': "&quot;", "'": "&#39;"}
_XML_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}
# Title characters that kramdown (jekyll-seo-tag's markdownify, jekyll-feed's smartify) would rewrite;
# the renderer does not emulate kramdown, so titles with them are kept out of the generated sites.
_MARKDOWN_SENSITIVE = re.compile(r"[\"'&<>*_`\[\]\\#|~]|--|\.\.\.|^\s|\s$")


def strip_html(text: str) -> str:
    return _STRIP_HTML_TAGS.sub("", _STRIP_HTML_BLOCKS.sub("", text))


def normalize_whitespace(text: str) -> str:
    return _RUBY_WS.sub(" ", text).strip(" ")


def escape_once(text: str) -> str:
    return _ESCAPE_ONCE.sub(lambda m: _ESCAPES[m.group(0)], text)


def xml_escape(text: str) -> str:
    return "".join(_XML_ESCAPES.get(c, c) for c in text)


def xmlschema(value: datetime) -> str:
    return value.isoformat()


def jsonify(value: Any) -> str:
    # Ruby's JSON keeps non-ASCII as is and writes no spaces; key order is the caller's (seo-tag sorts).
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def title_is_plain(title: str) -> bool:
    return not _MARKDOWN_SENSITIVE.search(title)


# --- the site model


@dataclass(frozen=True)
class Post:
    """One post as Jekyll sees it after conversion: the inputs of the layouts."""

    file: str  # the _posts file name; Jekyll orders posts of the same date by path
    url: str
    title: str
    date: datetime  # aware, in the site's time zone (UTC+8)
    categories: tuple[str, ...]
    tags: tuple[str, ...]
    content: str  # the converted post body: what {{ content }} is inside the post layout

    @property
    def excerpt(self) -> str:
        # Jekyll's excerpt is the first paragraph of the source; on these pages that is always the first
        # block of the converted content (checked by --verify on every replica post).
        return self.content.split("\n\n", 1)[0]

    @property
    def description(self) -> str:
        return escape_once(normalize_whitespace(strip_html(self.excerpt)))

    def sort_key(self) -> tuple[datetime, str]:
        return (self.date, "_posts/" + self.file)


def share_paragraph(url: str) -> str:
    # kramdown's autolink <http://...>: the text is the URL, HTML-escaped.
    return f'<p><a href="{url}">{escape_once(url)}</a></p>'


def back_paragraph(category: str, publisher_tag: str) -> str:
    """The footer line of a publisher post: back to its category page, and to the home page."""
    return (f'<p><a href="//finews.withounder.com/category/{category}.html">返回{publisher_tag}</a>'
            f'｜<a href="//finews.withounder.com/">返回首页</a></p>')


def post_content(core: str, share_url: str | None, back: str | None) -> str:
    """A post body as kramdown converts the site's post files: article HTML, share link, back links."""
    parts = [core]
    if share_url is not None:
        parts.append(share_paragraph(share_url))
    if back is not None:
        parts.append(back)
    return "\n\n".join(parts) + "\n"


def _seo_head(*, og_title: str, page_title: str | None, url: str, description: str | None,
              date: datetime | None, homepage: bool) -> str:
    """The default layout's head: its own og:title line, then jekyll-seo-tag 2.8.0's output."""
    seo_page_title = escape_once(normalize_whitespace(strip_html(page_title))) if page_title else SITE_TITLE
    title = seo_page_title + " | " + SITE_TITLE if seo_page_title != SITE_TITLE else SITE_TITLE
    # Jekyll URL-escapes page URLs (a category file name with spaces gets %20), keeping sub-delimiters.
    path = quote(url[: -len("index.html")] if url.endswith("/index.html") else url, safe="/:@!$&'()*+,;=~")
    canonical = SITE_URL + path
    lines = [
        f'    <meta property="og:title" content="{og_title}">',
        f"<!-- Begin Jekyll SEO tag v{SEO_VERSION} -->",
        f"<title>{title}</title>",
        f'<meta name="generator" content="Jekyll v{JEKYLL_VERSION}" />',
        f'<meta property="og:title" content="{seo_page_title}" />',
        f'<meta name="author" content="{AUTHOR}" />',
        f'<meta property="og:locale" content="{LANG.replace("-", "_")}" />',
    ]
    if description:
        lines += [f'<meta name="description" content="{description}" />',
                  f'<meta property="og:description" content="{description}" />']
    lines += [f'<link rel="canonical" href="{canonical}" />',
              f'<meta property="og:url" content="{canonical}" />',
              f'<meta property="og:site_name" content="{SITE_TITLE}" />']
    if date is not None:
        lines += ['<meta property="og:type" content="article" />',
                  f'<meta property="article:published_time" content="{xmlschema(date)}" />']
    else:
        lines.append('<meta property="og:type" content="website" />')
    lines += ['<meta name="twitter:card" content="summary" />',
              f'<meta property="twitter:title" content="{seo_page_title}" />']
    kind = "WebSite" if homepage else "BlogPosting" if date is not None else "WebPage"
    ld: dict[str, Any] = {"@context": "https://schema.org", "@type": kind,
                          "author": {"@type": "Person", "name": AUTHOR}}
    if date is not None:
        ld["dateModified"] = ld["datePublished"] = xmlschema(date)
    if description:
        ld["description"] = description
    ld["headline"] = seo_page_title
    if kind == "BlogPosting":
        ld["mainEntityOfPage"] = {"@type": "WebPage", "@id": canonical}
    if homepage:
        ld["name"] = SITE_TITLE
    ld["url"] = canonical
    lines += ['<script type="application/ld+json">', jsonify(ld) + "</script>", "<!-- End Jekyll SEO tag -->"]
    return "\n".join(lines)


def _default_layout(head: str, content: str) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="{LANG}">\n  <head>\n    <meta charset="UTF-8">\n'
        '    <meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"{head}\n\n  </head>\n  <body>\n    <div class=\"wrapper\">\n      <header>\n"
        f'        <h1><a href="{SITE_URL}/">{SITE_TITLE}</a></h1>\n        <p></p>\n      </header>\n'
        f"      <section>\n\n      {content}\n\n      </section>\n      <footer>\n"
        "        <p>&copy; 2021</p>\n      </footer>\n    </div>\n  </body>\n</html>\n"
    )


def render_post(post: Post) -> str:
    tags = ""
    if post.tags:
        tags = "\n  <small>tags: <em>" + "</em> - <em>".join(post.tags) + "</em></small>\n"
    body = (f"<small>(GMT+8, Asia/Shanghai, CST) {post.date:%Y-%m-%d %H:%M:%S}</small>\n"
            f"<h1>{post.title}</h1>\n\n{post.content}\n\n{tags}\n")
    head = _seo_head(og_title=post.title, page_title=post.title, url=post.url, description=post.description,
                     date=post.date, homepage=False)
    return _default_layout(head, body)


def render_category(url: str, title: str, posts: Sequence[Post]) -> str:
    items = "".join(f'\n    <li><a href="{p.url}">{p.title}</a></li>\n  ' for p in posts)
    content = f"<ul>\n  {items}\n</ul>\n"
    return _default_layout(_seo_head(og_title=title, page_title=title, url=url, description=None, date=None,
                                     homepage=False), content)


def render_index(tags: Sequence[tuple[str, Sequence[Post]]]) -> str:
    parts = []
    for tag, posts in tags:
        items = "".join(f'\n      <li><a href="{p.url}">{p.title}</a></li>\n    '
                        for p in posts[:HOME_LIMIT])
        parts.append(f'\n  <h2 id="{tag}">{tag}</h2>\n  <ul>\n    {items}\n  </ul>\n')
    content = "".join(parts) + "\n"
    return _default_layout(_seo_head(og_title="首页", page_title="首页", url="/", description=None, date=None,
                                     homepage=True), content)


def render_emnews(tags: Sequence[tuple[str, Sequence[Post]]]) -> str:
    parts = []
    for tag, posts in tags:
        if tag != EMNEWS_TAG:
            parts.append("\n  \n")
            continue
        items = "".join(f'\n        <li><a href="{p.url}" target="_blank">{p.title}</a></li>\n      '
                        for p in posts[:EMNEWS_LIMIT])
        parts.append(f'\n  \n    <h2 id="{tag}">{tag}</h2>\n    <ul>\n      {items}\n    </ul>\n  \n')
    content = "".join(parts) + "\n"
    return _default_layout(_seo_head(og_title=EMNEWS_TAG, page_title=EMNEWS_TAG, url="/emnews/",
                                     description=None, date=None, homepage=False), content)


def render_404() -> str:
    head = _seo_head(og_title="", page_title=None, url="/404.html", description=None, date=None, homepage=False)
    return _default_layout(head, "<h2>404</h2>\n<p>Page not found.</p>\n")


def render_feed(posts_newest_first: Sequence[Post], updated: datetime) -> str:
    """jekyll-feed 0.17's feed.xml (its template is minified: white space after '>' and '}' removed)."""
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        f'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{LANG}">',
        f'<generator uri="https://jekyllrb.com/" version="{JEKYLL_VERSION}">Jekyll</generator>',
        f'<link href="{SITE_URL}/feed.xml" rel="self" type="application/atom+xml" />',
        f'<link href="{SITE_URL}/" rel="alternate" type="text/html" hreflang="{LANG}" />',
        f"<updated>{xmlschema(updated)}</updated>",
        f"<id>{SITE_URL}/feed.xml</id>",
        f'<title type="html">{SITE_TITLE}</title>',
        f"<author><name>{AUTHOR}</name></author>",
    ]
    for p in posts_newest_first[:FEED_LIMIT]:
        title = xml_escape(normalize_whitespace(strip_html(p.title)))
        url = SITE_URL + p.url
        post_id = SITE_URL + p.url.removesuffix(".html")
        out += [
            f'<entry><title type="html">{title}</title>',
            f'<link href="{url}" rel="alternate" type="text/html" title="{title}" />',
            f"<published>{xmlschema(p.date)}</published><updated>{xmlschema(p.date)}</updated>",
            f"<id>{xml_escape(post_id)}</id>",
            f'<content type="html" xml:base="{xml_escape(url)}"><![CDATA[{p.content.strip()}]]></content>',
            f"<author><name>{AUTHOR}</name></author>",
        ]
        out += [f'<category term="{xml_escape(c)}" />' for c in (*p.categories, *p.tags)]
        summary = normalize_whitespace(strip_html(p.excerpt))
        if summary:
            out.append(f'<summary type="html"><![CDATA[{summary}]]></summary>')
        out.append("</entry>")
    out.append("</feed>")
    return "".join(out)


def tags_in_site_order(posts: Iterable[Post]) -> list[tuple[str, list[Post]]]:
    """Jekyll's site.tags: tags in order of first use, posts oldest first; each tag's posts newest first."""
    by_tag: dict[str, list[Post]] = {}
    for p in sorted(posts, key=Post.sort_key):
        for t in p.tags:
            by_tag.setdefault(t, []).append(p)
    return [(t, ps[::-1]) for t, ps in by_tag.items()]


def posts_by_category(posts: Iterable[Post]) -> dict[str, list[Post]]:
    by_cat: dict[str, list[Post]] = defaultdict(list)
    for p in sorted(posts, key=Post.sort_key):
        for c in p.categories:
            by_cat[c].append(p)
    return {c: ps[::-1] for c, ps in by_cat.items()}


# --- reading the replica's real pages

_SECTION = re.compile(r"<section>(.*?)</section>", re.S)
_BETWEEN_TAGS = re.compile(r">\s+<")
_WS = re.compile(r"\s+")
_POST_HEAD = re.compile(
    r"^\n\n      <small>\(GMT\+8, Asia/Shanghai, CST\) [^<]*</small>\n<h1>.*?</h1>\n\n", re.S)
_TAGS_TAIL = re.compile(r"\n\n(?:\n  <small>tags: .*?</small>\n)?\n\n\n      $", re.S)
_SHARE_TAIL = re.compile(r'\n\n<p><a href="(?P<url>https?://[^"]+)">(?P<text>[^<]+)</a></p>\Z')
_BACK_TAIL = re.compile(
    r'\n\n(?P<back><p><a href="[^"]*">返回[^<]*</a>(?:｜|\n)<a href="[^"]*">返回首页</a></p>)\Z')
_CANONICAL_BACK = re.compile(
    r'^<p><a href="//finews\.withounder\.com/category/(?P<cat>[^"]+)\.html">返回(?P<tag>[^<]+)</a>'
    r'｜<a href="//finews\.withounder\.com/">返回首页</a></p>$')
_EASTMONEY = re.compile(r"^(?P<prefix>https?://[a-z]+\.eastmoney\.com/[a-z]+/\d+,)(?P<id>\d+)\.html$")


def fold_section(page: str) -> str | None:
    """The <section> of a page, white space between tags folded: tools/check_export.py's comparison."""
    m = _SECTION.search(page)
    if not m:
        return None
    return _WS.sub(" ", _BETWEEN_TAGS.sub("><", m.group(1))).strip()


@dataclass(frozen=True)
class RealPost:
    """A replica post taken apart into what the generator recombines."""

    entry: dict[str, Any]  # its line of snapshots/full.manifest.json
    page: str  # the real page, as Jekyll wrote it
    core: str  # the article HTML before the share link
    share_url: str | None
    back: str | None  # the footer paragraph, verbatim
    canonical_back: bool  # the footer is the canonical "返回<tag>｜返回首页" with a /category/ link

    @property
    def date(self) -> datetime:
        return datetime.fromisoformat(self.entry["date"]).astimezone(CST)

    def as_post(self) -> Post:
        """The post rebuilt from its parts by this module's code: share and back paragraphs regenerated."""
        e = self.entry
        back = self.back
        if self.canonical_back and e["categories"] and e["tags"]:
            back = back_paragraph(e["categories"][0], e["tags"][0])
        return Post(file=e["file"], url=e["url"], title=e["title"], date=self.date,
                    categories=tuple(e["categories"]), tags=tuple(e["tags"]),
                    content=post_content(self.core, self.share_url, back))


def load_real_posts(replica: Path) -> tuple[list[RealPost], list[dict[str, Any]]]:
    """The replica's posts with a post layout, taken apart; and the manifest entries that have none."""
    manifest = json.loads((replica / "snapshots" / "full.manifest.json").read_text(encoding="utf-8"))
    root = replica / "snapshots" / "full"
    posts, skipped = [], []
    for e in manifest:
        page = (root / e["url"].lstrip("/")).read_text(encoding="utf-8")
        m = _SECTION.search(page)
        head = _POST_HEAD.match(m.group(1)) if m else None
        tail = _TAGS_TAIL.search(m.group(1)) if m else None
        if not (m and head and tail):
            # A post file whose front matter Jekyll did not see (a blank first line): no layout at all.
            skipped.append(e)
            continue
        # Every converted body ends with one newline; post_content() adds it back.
        content = m.group(1)[head.end(): tail.start()].removesuffix("\n")
        back = share = None
        b = _BACK_TAIL.search(content)
        if b:
            back, content = b.group("back"), content[: b.start()]
        s = _SHARE_TAIL.search(content)
        if s:
            share, content = s.group("url"), content[: s.start()]
        canonical = bool(back and _CANONICAL_BACK.match(back))
        posts.append(RealPost(entry=e, page=page, core=content, share_url=share, back=back,
                              canonical_back=canonical))
    return posts, skipped


def category_titles(replica: Path) -> dict[str, str]:
    """Category slug -> page title, from the replica's category page sources (their front matter)."""
    titles = {}
    for src in sorted((replica / "source" / "category").glob("*.html")):
        fields = dict(line.split(":", 1) for line in src.read_text(encoding="utf-8").splitlines()
                      if ":" in line and not line.startswith("---"))
        titles[fields["category"].strip()] = fields["title"].strip()
    return titles


# --- verification against the replica

_HEAD_KEYS = {
    "title": re.compile(r"<title>(.*?)</title>", re.S),
    "description": re.compile(r'<meta name="description" content="(.*?)" />', re.S),
    "canonical": re.compile(r'<link rel="canonical" href="(.*?)" />'),
    "published_time": re.compile(r'<meta property="article:published_time" content="(.*?)" />'),
    "json_ld": re.compile(r'<script type="application/ld\+json">\n(.*?)</script>', re.S),
}


def head_metadata(page: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, rx in _HEAD_KEYS.items():
        m = rx.search(page)
        out[key] = (json.loads(m.group(1)) if key == "json_ld" else m.group(1)) if m else None
    return out


def _parser() -> Any:
    return harness.optional_import("newscrawl.parsers", "parse_article")


def parsed_fields(parse: Any, page: str, url: str) -> dict[str, Any]:
    article = parse(page, url)
    return dataclasses.asdict(article) if dataclasses.is_dataclass(article) else dict(vars(article))


def verify(replica: Path, show: int = 5) -> dict[str, Any]:
    """Render the replica's own posts and listing pages here and compare them with Jekyll's output."""
    posts, skipped = load_real_posts(replica)
    root = replica / "snapshots" / "full"
    rebuilt = [rp.as_post() for rp in posts]
    same_page = same_section = same_head = 0
    shown = 0
    for rp, post in zip(posts, rebuilt, strict=True):
        mine = render_post(post)
        same_page += mine == rp.page
        sec_ok = fold_section(mine) == fold_section(rp.page)
        head_ok = head_metadata(mine) == head_metadata(rp.page)
        same_section += sec_ok
        same_head += head_ok
        if not (sec_ok and head_ok) and shown < show:
            shown += 1
            print(f"--- {rp.entry['url']}: section {'same' if sec_ok else 'differs'}, "
                  f"head {'same' if head_ok else 'differs'}")
            _print_first_difference(rp.page, mine)
    report: dict[str, Any] = {
        "posts": len(posts), "skipped_no_layout": [e["file"] for e in skipped],
        "identical_pages": same_page, "identical_sections": same_section,
        "identical_head_metadata": same_head,
    }

    # Listing pages: the real site's categories (their titles come from the category page sources).
    everything = rebuilt  # the posts without a layout are in no category and carry no tag
    tags = tags_in_site_order(everything)
    by_cat = posts_by_category(everything)
    listing_same, listing_total, listing_diff = 0, 0, []
    checks: list[tuple[str, str]] = [
        ("index.html", render_index(tags)), ("emnews/index.html", render_emnews(tags)), ("404.html", render_404())]
    for slug, title in category_titles(replica).items():
        checks.append((f"category/{slug}.html",
                       render_category(f"/category/{slug}.html", title, by_cat.get(slug, []))))
    for rel, mine in checks:
        listing_total += 1
        real = (root / rel).read_text(encoding="utf-8")
        if mine == real:
            listing_same += 1
        else:
            listing_diff.append(rel)
            if shown < show:
                shown += 1
                print(f"--- {rel}")
                _print_first_difference(real, mine)
    real_feed = (root / "feed.xml").read_text(encoding="utf-8")
    updated = re.search(r"<updated>(.*?)</updated>", real_feed)
    newest = feed_order(everything)
    mine_feed = render_feed(newest, datetime.fromisoformat(updated.group(1)) if updated else newest[0].date)
    listing_total += 1
    if mine_feed == real_feed:
        listing_same += 1
    else:
        listing_diff.append("feed.xml")
        _print_first_difference(real_feed, mine_feed)
    report.update(identical_listing_pages=listing_same, listing_pages=listing_total,
                  listing_differ=listing_diff)

    # The project's parser on both versions of every post: same fields means the benchmark's pages cost
    # and yield what the real pages do.
    try:
        parse = _parser()
    except harness.NotAvailable as exc:
        report["parsed"] = f"not available yet: {exc}"
    else:
        same_fields, differ = 0, []
        for rp, post in zip(posts, rebuilt, strict=True):
            url = "http://finews.withounder.com" + rp.entry["url"]
            a, b = parsed_fields(parse, rp.page, url), parsed_fields(parse, render_post(post), url)
            if a == b:
                same_fields += 1
            else:
                differ.append({"url": rp.entry["url"], "fields": sorted(k for k in a if a[k] != b.get(k))})
        report["parsed_same_fields"] = same_fields
        report["parsed_differ"] = differ[:show]
    return report


def feed_order(posts: Iterable[Post]) -> list[Post]:
    """jekyll-feed's order: site.posts (newest first), stably sorted by date, reversed.

    Posts of the same second (an emnews post and its publisher twin) thus come in path order.
    """
    site_posts = sorted(posts, key=Post.sort_key, reverse=True)
    return sorted(site_posts, key=lambda p: p.date)[::-1]


def _print_first_difference(real: str, mine: str) -> None:
    pairs = enumerate(zip(real, mine, strict=False))
    i = next((k for k, (x, y) in pairs if x != y), min(len(real), len(mine)))
    print(f"    real: {real[max(0, i - 80): i + 120]!r}")
    print(f"    mine: {mine[max(0, i - 80): i + 120]!r}")


# --- generation


@dataclass(frozen=True)
class Variant:
    """A real article reused as the body of generated posts."""

    kind: str  # "nw": a publisher post with an origin share link; "emnews": an eastmoney rolling-news post
    title: str
    core: str
    origin_text: str  # what the origin's text API answers for it (generated NW posts only)
    share_prefix: str  # emnews: the eastmoney URL before the id
    back: str | None  # emnews: the footer paragraph, verbatim (it names no category)


class TextShift:
    """Per-post unique article text with the real text's bytes, markup and markers.

    Reused verbatim, the ~300 real bodies would make most generated posts near-duplicates of a post a few
    minutes older, which the dedupe pipeline then follows up as re-posts: a cost a real site does not
    impose. So each generated post's text nodes get one of ``TEXT_TABLES`` bijective shifts over the
    corpus's own CJK characters (3 UTF-8 bytes each, like the original): same page size, same structure,
    same parser work, different bigrams. Tags, attributes, ASCII and the marker characters stay as they are.
    """

    _TAG = re.compile(r"(<[^>]*>)")

    def __init__(self, texts: Iterable[str], tables: int) -> None:
        chars = sorted({c for t in texts for c in t if "一" <= c <= "鿿"} - PROTECTED_CHARS)
        step = max(1, len(chars) // max(1, tables))
        self.tables: list[dict[int, int]] = [{} for _ in range(tables)] if tables <= 1 else [
            str.maketrans({c: chars[(i + 1 + j * step) % len(chars)] for i, c in enumerate(chars)})
            for j in range(tables)]

    def __len__(self) -> int:
        return len(self.tables)

    def apply(self, html: str, table: int) -> str:
        if not self.tables[table]:
            return html
        parts = self._TAG.split(html)
        parts[0::2] = [p.translate(self.tables[table]) for p in parts[0::2]]
        return "".join(parts)


class _Deck:
    """Draws 0..size-1 in a shuffled order, then again: no repeat within ``size`` draws."""

    def __init__(self, size: int, rng: random.Random) -> None:
        self.order = list(range(size))
        rng.shuffle(self.order)
        self.drawn = 0

    def draw(self) -> int:
        card = self.order[self.drawn % len(self.order)]
        self.drawn += 1
        return card


@dataclass(frozen=True)
class Publisher:
    slug: str
    tag: str  # "<publisher>新闻": the post's tag, the back link's text and the category page's title


_LEADING_DIGEST = re.compile(r"^<blockquote>\n.*?\n</blockquote>\n\n", re.S)


def variants(replica: Path) -> tuple[list[Variant], list[Variant], list[Publisher]]:
    """Variant pools (publisher posts, emnews posts) and the real publishers, from the replica's pages."""
    posts, _ = load_real_posts(replica)
    origin_dir = replica / "origin" / "GetNewsText"
    nw: list[Variant] = []
    em: list[Variant] = []
    publishers: dict[str, Publisher] = {}
    for rp in posts:
        e = rp.entry
        if not rp.share_url or not title_is_plain(e["title"]) or not e["categories"]:
            continue
        if "infoCode=" in rp.share_url and rp.canonical_back:
            code = rp.share_url.rsplit("=", 1)[1]
            origin = origin_dir / f"{code}.json"
            text = json.loads(origin.read_text(encoding="utf-8"))["text"] if origin.is_file() else rp.core
            nw.append(Variant("nw", e["title"], rp.core, text, "", None))
            if e["categories"][0] != "sitenews":
                publishers.setdefault(e["categories"][0], Publisher(e["categories"][0], e["tags"][0]))
        elif e["categories"] == [EMNEWS] and (m := _EASTMONEY.match(rp.share_url)):
            em.append(Variant("emnews", e["title"], rp.core, rp.core, m.group("prefix"), rp.back))
            # The same eastmoney stories were also posted by publishers, without the leading digest
            # (the 2022-04-21 pair in the corpus shows it): more publisher bodies than the 13 real ones.
            core = _LEADING_DIGEST.sub("", rp.core)
            nw.append(Variant("nw", e["title"], core, core, "", None))
    return nw, em, sorted(publishers.values(), key=lambda p: p.slug)


@dataclass(frozen=True)
class SiteSpec:
    posts: int = 20_000
    categories: int = 2_000
    emnews_share: float = 0.10
    seed: int = 1
    unique_text: bool = True  # see TextShift; False reuses the real texts verbatim

    @property
    def name(self) -> str:
        text = "" if self.unique_text else "-verbatim"
        return f"site-{self.posts}p-{self.categories}c-{self.emnews_share:g}em-s{self.seed}{text}"


@dataclass(frozen=True)
class ScaleSite:
    """A generated site on disk."""

    root: Path
    spec: SiteSpec

    @property
    def site_root(self) -> Path:
        return self.root / "site"

    @property
    def origin_root(self) -> Path:
        return self.root / "origin"

    @property
    def served(self) -> harness.Served:
        return harness.Served(self.site_root, self.origin_root)

    def manifest(self) -> list[dict[str, Any]]:
        with (self.root / "manifest.jsonl").open(encoding="utf-8") as f:
            return [json.loads(line) for line in f]

    def meta(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.root / "meta.json").read_text(encoding="utf-8"))
        return data

    def listing_urls(self) -> list[str]:
        """Every listing page: root, /emnews/, the feed, each category page."""
        cats = self.meta()["category_slugs"]
        paths = ["/", "/emnews/", "/feed.xml", *(f"/category/{c}.html" for c in cats)]
        return [CRAWL_SITE_URL + p for p in paths]

    def crawl_urls(self) -> tuple[list[str], list[str], list[str]]:
        """What a complete crawl fetches: (listing pages, article pages, origin text answers)."""
        manifest = self.manifest()
        articles = [CRAWL_SITE_URL + e["url"] for e in manifest]
        origin = [ORIGIN_TEXT_API + e["info_code"] for e in manifest if e["info_code"]]
        return self.listing_urls(), articles, origin


def _publishers(real: Sequence[Publisher], count: int) -> list[Publisher]:
    """``count`` publisher categories: the real ones first, then numbered copies of them."""
    out = []
    for i in range(count):
        base = real[i % len(real)]
        k = i // len(real)
        if k == 0:
            out.append(base)
        else:
            name = base.tag.removesuffix("新闻")
            out.append(Publisher(f"{base.slug}{k}", f"{name}{k}新闻"))
    return out


def _fingerprint(spec: SiteSpec, replica: Path) -> str:
    h = hashlib.sha256()
    h.update(json.dumps(dataclasses.asdict(spec), sort_keys=True).encode())
    # Not this file's bytes: a comment edit must not regenerate a 100,000-post site. Bump the version instead.
    h.update(str(GENERATOR_VERSION).encode())
    h.update((replica / "snapshots" / "full.manifest.json").read_bytes())
    return h.hexdigest()[:16]


def script_arguments(description: str | None) -> argparse.ArgumentParser:
    """The parser every benchmark script starts from: --posts, --categories, --runs."""
    ap = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--posts", type=int, default=20_000)
    ap.add_argument("--categories", type=int)
    ap.add_argument("--runs", type=int, default=3)
    return ap


def site_of(args: argparse.Namespace) -> ScaleSite:
    """The (cached) site a script's --posts and --categories name: a category per ten posts by default."""
    return ensure_site(SiteSpec(args.posts, args.categories or max(1, args.posts // 10)))


def ensure_site(spec: SiteSpec, *, cache_dir: Path = harness.CACHE_DIR, replica: Path = harness.REPLICA_DIR,
                quiet: bool = False) -> ScaleSite:
    """The generated site for ``spec``, built once and reused while generator and corpus are unchanged."""
    root = cache_dir / spec.name
    fingerprint = _fingerprint(spec, replica)
    site = ScaleSite(root, spec)
    meta = root / "meta.json"
    if meta.is_file() and json.loads(meta.read_text(encoding="utf-8")).get("fingerprint") == fingerprint:
        return site
    t0 = time.perf_counter()
    if root.exists():
        shutil.rmtree(root)
    info = generate(spec, root, replica)
    info["fingerprint"] = fingerprint
    info["generate_seconds"] = round(time.perf_counter() - t0, 1)
    # Written last: a site without meta.json (an interrupted build) is rebuilt.
    meta.write_text(json.dumps(info, ensure_ascii=False, indent=1), encoding="utf-8")
    if not quiet:
        print(f"generated {spec.posts} posts in {spec.categories} categories at {root} "
              f"in {info['generate_seconds']} s", file=sys.stderr)
    return site


def generate(spec: SiteSpec, root: Path, replica: Path) -> dict[str, Any]:
    nw_pool, em_pool, real_publishers = variants(replica)
    if not nw_pool or not em_pool or not real_publishers:
        raise SystemExit(f"no usable posts in {replica}")
    rng = random.Random(spec.seed)
    shift = TextShift((t for v in (*nw_pool, *em_pool) for t in (v.title, v.core, v.origin_text)),
                      TEXT_TABLES if spec.unique_text else 1)
    # Each (variant, text table) pair once before any repeats: about 19,000 distinct publisher bodies,
    # so a repeat is months of posts away, far outside the dedupe pipeline's window of a few days.
    nw_deck, em_deck = _Deck(len(nw_pool) * len(shift), rng), _Deck(len(em_pool) * len(shift), rng)
    publishers = _publishers(real_publishers, max(1, spec.categories - 1))  # one category is emnews
    site, origin = root / "site", root / "origin"
    (origin / "GetNewsText").mkdir(parents=True)
    site.mkdir(parents=True)
    (origin / "share.html").write_text(SHARE_SHELL, encoding="utf-8")

    posts: list[Post] = []
    made_dirs: set[Path] = set()
    date = datetime(2022, 1, 1, 8, 0, 0, tzinfo=CST)
    with (root / "manifest.jsonl").open("w", encoding="utf-8") as manifest:
        for i in range(spec.posts):
            # Strictly increasing times: no ties, so every listing's order is the one Jekyll would give.
            date += timedelta(seconds=rng.randint(60, 900))
            serial = f"{2_300_000_000 + i:010d}"
            if rng.random() < spec.emnews_share:
                card = em_deck.draw()
                v, table = em_pool[card // len(shift)], card % len(shift)
                article_id = f"{date:%Y%m%d}{serial}"
                category, tag = EMNEWS, EMNEWS_TAG
                share_url = f"{v.share_prefix}{article_id}.html"
                content = post_content(shift.apply(v.core, table), share_url, v.back)
                info_code = None
            else:
                card = nw_deck.draw()
                v, table = nw_pool[card // len(shift)], card % len(shift)
                pub = rng.choice(publishers)
                article_id = f"NW{date:%Y%m%d}{serial}"
                category, tag = pub.slug, pub.tag
                share_url = ORIGIN_SHARE + article_id
                content = post_content(shift.apply(v.core, table), share_url, back_paragraph(pub.slug, pub.tag))
                info_code = article_id
            title = shift.apply(v.title, table)
            url = f"/{category}/{date:%Y/%m/%d}/{article_id}.html"
            post = Post(file=f"{date:%Y-%m-%d}-{article_id}.md", url=url, title=title, date=date,
                        categories=(category,), tags=(tag,), content=content)
            posts.append(post)
            path = site / url.lstrip("/")
            if path.parent not in made_dirs:
                path.parent.mkdir(parents=True, exist_ok=True)
                made_dirs.add(path.parent)
            path.write_text(render_post(post), encoding="utf-8")
            if info_code is not None:
                (origin / "GetNewsText" / f"{info_code}.json").write_text(
                    json.dumps({"text": shift.apply(v.origin_text, table)}, ensure_ascii=False),
                    encoding="utf-8")
            manifest.write(json.dumps({
                "article_id": article_id, "url": url, "kind": v.kind, "category": category, "tag": tag,
                "title": title, "published_at": xmlschema(date), "share_url": share_url,
                "info_code": info_code,
            }, ensure_ascii=False) + "\n")

    tags = tags_in_site_order(posts)
    by_cat = posts_by_category(posts)
    (site / "category").mkdir()
    slugs = [EMNEWS, *(p.slug for p in publishers)]
    titles = {EMNEWS: "Emnews", **{p.slug: p.tag for p in publishers}}
    for slug in slugs:
        (site / "category" / f"{slug}.html").write_text(
            render_category(f"/category/{slug}.html", titles[slug], by_cat.get(slug, [])), encoding="utf-8")
    (site / "index.html").write_text(render_index(tags), encoding="utf-8")
    (site / "emnews").mkdir(exist_ok=True)
    (site / "emnews" / "index.html").write_text(render_emnews(tags), encoding="utf-8")
    newest = posts[::-1]
    (site / "feed.xml").write_text(render_feed(newest, newest[0].date + timedelta(hours=1)), encoding="utf-8")
    (site / "404.html").write_text(render_404(), encoding="utf-8")
    return {
        "spec": dataclasses.asdict(spec), "posts": len(posts),
        "publisher_posts": sum(1 for p in posts if p.categories[0] != EMNEWS),
        "emnews_posts": sum(1 for p in posts if p.categories[0] == EMNEWS),
        "category_slugs": slugs, "categories_with_posts": len(by_cat),
        "first_date": xmlschema(posts[0].date), "last_date": xmlschema(posts[-1].date),
        "variants": {"nw": len(nw_pool), "emnews": len(em_pool)}, "text_tables": len(shift),
        "site_bytes": sum(f.stat().st_size for f in site.rglob("*") if f.is_file()),
    }


# The origin's share page: a script shell with no article text (as the real one and the replica's are).
SHARE_SHELL = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>资讯分享</title></head>
<body><div id="news"><h1 id="title"></h1><div id="content">加载中...</div></div>
<script>
var code = new URLSearchParams(location.search).get("infoCode");
fetch("/NewsData/GetNewsText.do?id=" + encodeURIComponent(code))
  .then(function (r) { return r.json(); })
  .then(function (d) { document.getElementById("content").innerHTML = d.text || d.content || ""; });
</script></body></html>
"""


def check_generated(site: ScaleSite, sample: int = 200) -> dict[str, Any]:
    """Parse a sample of generated pages with the project's parser: the fields must be the generated ones."""
    parse = _parser()
    manifest = site.manifest()
    rng = random.Random(0)
    chosen = rng.sample(manifest, min(sample, len(manifest)))
    ok, bad = 0, []
    for e in chosen:
        page = (site.site_root / e["url"].lstrip("/")).read_text(encoding="utf-8")
        a = parse(page, "http://finews.withounder.com" + e["url"])
        got = {"article_id": a.article_id, "category": a.category, "title": a.title,
               "published_at": a.published_at.isoformat() if a.published_at else None,
               "share_url": a.share_url, "info_code": a.info_code, "tags": a.tags}
        want = {k: e[k] for k in ("article_id", "category", "title", "published_at", "share_url",
                                  "info_code")}
        want["tags"] = e["tag"]
        if got == want:
            ok += 1
        else:
            bad.append({"url": e["url"], "differ": {k: (want[k], got[k]) for k in want if want[k] != got[k]}})
    return {"sampled": len(chosen), "as_generated": ok, "differ": bad[:5]}


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--posts", type=int, help="posts to generate (default 20,000; 2,000 with --verify)")
    ap.add_argument("--categories", type=int, help="categories (default: one per 10 posts)")
    ap.add_argument("--emnews-share", type=float, default=0.10, help="fraction of posts in emnews")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--verbatim-text", action="store_true", help="reuse the real texts unchanged (see TextShift)")
    ap.add_argument("--cache-dir", type=Path, default=harness.CACHE_DIR)
    ap.add_argument("--replica", type=Path, default=harness.REPLICA_DIR)
    ap.add_argument("--verify", action="store_true", help="compare the renderer with the replica's pages")
    ap.add_argument("--show", type=int, default=5, help="differences to print in --verify")
    args = ap.parse_args(argv)
    if not (args.replica / "snapshots" / "full.manifest.json").is_file():
        ap.error(f"no replica at {args.replica} (set NEWSCRAWL_REPLICA)")
    posts = args.posts or (2_000 if args.verify else 20_000)
    spec = SiteSpec(posts, args.categories or max(1, posts // 10), args.emnews_share, args.seed,
                    not args.verbatim_text)
    if not args.verify:
        print(ensure_site(spec, cache_dir=args.cache_dir, replica=args.replica).root)
        return 0
    report = verify(args.replica, show=args.show)
    try:
        site = ensure_site(spec, cache_dir=args.cache_dir, replica=args.replica)
        report["generated"] = check_generated(site)
    except harness.NotAvailable as exc:
        report["generated"] = f"not available yet: {exc}"
    print(json.dumps(report, ensure_ascii=False, indent=1))
    print(verify_summary(report))
    harness.write_record("scale_site-verify", {"posts": posts, "report": report})
    return 0


def verify_summary(report: dict[str, Any]) -> str:
    n = report["posts"]
    parsed = report.get("parsed_same_fields", report.get("parsed"))
    gen = report.get("generated")
    gen_text = f"{gen['as_generated']}/{gen['sampled']}" if isinstance(gen, dict) else gen
    return (f"replica posts rendered here: identical pages {report['identical_pages']}/{n}, "
            f"sections {report['identical_sections']}/{n}, "
            f"head metadata {report['identical_head_metadata']}/{n}, "
            f"same parsed fields {parsed}/{n}; listing pages identical "
            f"{report['identical_listing_pages']}/{report['listing_pages']}; "
            f"generated pages parsing to their generated fields {gen_text}")


if __name__ == "__main__":
    sys.exit(main())
