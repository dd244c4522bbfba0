"""A small site of our own whose theme drifts, post by post (tests/fixtures/drift_site/README.md).

``build_site(folder, posts)`` renders each ``Post`` in its theme into ``folder/site`` (home page, category
pages, article pages) and its origin answer into ``folder/origin``, for ``newscrawl.demo.server.SiteServer``.
The posts' expected fields are known exactly, so a test can tell a field the parser read from the page's
rule from one it read from a fallback, and whether a re-parse recovered every page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from newscrawl.demo.server import SiteServer

TEMPLATES = Path(__file__).resolve().parent / "fixtures" / "drift_site"
SITE_TZ = timezone(timedelta(hours=8))
THEMES = ("original", "date_changed", "new_theme")
CATEGORIES = {"zhongguofazhanwang": "中国发展网", "quanshangzhongguo": "券商中国"}


@dataclass(frozen=True)
class Post:
    article_id: str
    category: str
    title: str
    published_at: datetime
    summary: str
    body: str
    theme: str = "original"

    @property
    def path(self) -> str:
        return f"/{self.category}/{self.published_at:%Y/%m/%d}/{self.article_id}.html"

    @property
    def publisher(self) -> str:
        return CATEGORIES[self.category]


def posts(count: int, first: int = 0, theme: str = "original") -> list[Post]:
    """``count`` posts numbered from ``first``, alternately in the two categories, one hour apart."""
    made = []
    for number in range(first, first + count):
        category = list(CATEGORIES)[number % 2]
        made.append(Post(
            article_id=f"NW20220301{number:010d}",
            category=category,
            title=f"第{number}号公告：某公司{number}月经营数据",
            published_at=datetime(2022, 3, 1, 9, 30, tzinfo=SITE_TZ) + timedelta(hours=number),
            summary=f"某公司公布第{number}期经营数据。",
            body=f"某公司第{number}期营业收入同比增长{number % 7 + 1}%，净利润保持稳定。",
            theme=theme,
        ))
    return made


def with_theme(chosen: list[Post], theme: str) -> list[Post]:
    return [Post(**{**post.__dict__, "theme": theme}) for post in chosen]


def render_post(post: Post) -> str:
    template = (TEMPLATES / "post.html").read_text("utf-8")
    site_time = post.published_at.strftime("%Y-%m-%d %H:%M:%S")
    date_meta = f'<meta property="article:published_time" content="{post.published_at.isoformat()}" />'
    title_line = f"<h1>{post.title}</h1>"
    if post.theme == "original":
        date_line = f"<small>(GMT+8, Asia/Shanghai, CST) {site_time}</small>"
    elif post.theme == "date_changed":
        date_line = f'<p class="time">发布于 {post.published_at:%Y年%m月%d日 %H:%M}</p>'
    elif post.theme == "new_theme":
        date_line = f'<time datetime="{site_time}">{post.published_at:%Y年%m月%d日}</time>'
        title_line = f'<h1 class="post-title">{post.title}</h1>'
        date_meta = ""
    else:
        raise ValueError(f"no theme {post.theme!r}; themes are {THEMES}")
    return template.format(title=post.title, date_meta=date_meta, date_line=date_line, title_line=title_line,
                           summary=post.summary, body=post.body, publisher=post.publisher,
                           category=post.category, article_id=post.article_id)


def _listing(title: str, links: list[tuple[str, str]]) -> str:
    items = "\n".join(f'        <li><a href="{href}">{text}</a></li>' for href, text in links)
    return (TEMPLATES / "listing.html").read_text("utf-8").format(title=title, items=items)


def build_site(folder: Path, chosen: list[Post], no_origin: frozenset[str] = frozenset()) -> Path:
    """Render ``chosen`` into ``folder/site`` and ``folder/origin`` (replacing what was there); returns folder.
    The origin has no text for the posts in ``no_origin`` (it answers 404)."""
    site, origin = folder / "site", folder / "origin"
    for part in (site, origin):
        if part.exists():
            for file in sorted(part.rglob("*"), reverse=True):
                file.unlink() if file.is_file() else file.rmdir()
        part.mkdir(parents=True, exist_ok=True)
    for post in chosen:
        page = site / post.path.lstrip("/")
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(render_post(post), "utf-8")
        if post.article_id in no_origin:
            continue
        (origin / f"{post.article_id}.json").write_text(
            json.dumps({"text": f"<p>{post.body}</p>"}, ensure_ascii=False), "utf-8")
    for category, publisher in CATEGORIES.items():
        listed = [(p.path, p.title) for p in chosen if p.category == category]
        (site / "category").mkdir(exist_ok=True)
        (site / "category" / f"{category}.html").write_text(_listing(f"{publisher}新闻", listed), "utf-8")
    home = [(f"/category/{category}.html", publisher) for category, publisher in CATEGORIES.items()]
    (site / "index.html").write_text(_listing("金融消息", home + [(p.path, p.title) for p in chosen]), "utf-8")
    return folder


def serve(folder: Path) -> SiteServer:
    return SiteServer(folder / "site", folder / "origin")
