"""An incremental crawl reads what the archive knows of the articles its pages link, when they link them
(``CrawlState.look_up_articles``): an article that only another article's body links is still re-checked
with its validators."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from crawling import DEMO, crawl

from newscrawl.demo.server import SiteServer

pytestmark = pytest.mark.slow

LINKING = "emnews/2021/12/08/202112082206891339.html"
#: A post no listing shows: only LINKING's body links it.
UNLISTED = "zhongguofazhanwang/2022/02/14/NW202202142275724925.html"


def test_an_article_only_an_article_links_is_rechecked_with_its_validators(db_url: str, tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(DEMO / "site", site)
    shutil.copy(site / "zhongguofazhanwang/2022/02/14/NW202202142275724924.html", site / UNLISTED)
    page = site / LINKING
    page.write_text(page.read_text("utf-8").replace(
        "<p>华福证券表示", f'<p><a href="/{UNLISTED}">相关</a></p>\n<p>华福证券表示', 1), "utf-8")
    asked: list[tuple[str, dict[str, str]]] = []

    def record(host: str, target: str, headers: dict[str, str]) -> None:
        asked.append((re.sub(r"^https?://[^/]+", "", target), dict(headers)))

    with SiteServer(site, DEMO / "origin", hook=record) as server:
        first = crawl(server, db_url, tmp_path)
        assert first.returncode == 0, first.stderr[-2000:]
        assert [path for path, _ in asked].count(f"/{UNLISTED}") == 1
        # The linking post is edited: the next run reads it again (a post is re-checked whatever its age).
        page.write_text(page.read_text("utf-8").replace("华福证券表示", "华福证券认为", 1), "utf-8")
        asked.clear()
        second = crawl(server, db_url, tmp_path, "-s", "NEWSCRAWL_RECHECK_DAYS=36500")
        assert second.returncode == 0, second.stderr[-2000:]
        unlisted = [headers for path, headers in asked if path == f"/{UNLISTED}"]
        assert len(unlisted) == 1 and "if-none-match" in {name.lower() for name in unlisted[0]}
        assert second.stats["newscrawl/spider/article_not_modified"] >= 1

