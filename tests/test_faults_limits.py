"""Fault suite, size and loops (docs/reliability.md, case 4): bounded memory and time, and a clear reason.

One crawl of the demo site, with a page limit of 200 kB and at most 100 pages followed from one page,
plus: a page larger than the limit, a gzip bomb (a 40 kB answer that inflates to 50 MB), a redirect
cycle, an endless chain of redirects, a listing page with 3000 links, and a chain of listing pages that
never ends. Scrapy's own mechanisms do the bounding (DOWNLOAD_MAXSIZE, which HttpCompressionMiddleware
also applies to the decompressed size; REDIRECT_MAX_TIMES; DEPTH_LIMIT); newscrawl names each outcome
and bounds the links it follows per page.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest
from faults import (
    DEMO_IDS,
    SITE_HOST,
    SITE_URL,
    FaultServer,
    archived,
    article_page,
    article_path,
    clean_rows,
    content,
    crawl,
    on_path,
)

pytestmark = pytest.mark.slow

MAX_BYTES = 200_000
MAX_LINKS = 100
MANY_LINKS = 3000


def test_size_and_loops_are_bounded_and_explained(sqlite_url: str, tmp_path: Path) -> None:
    big = article_page("大页面", "<p>很大</p>" * 40_000).encode()
    bomb = gzip.compress(article_page("炸弹", "<p>" + "0" * 50_000_000 + "</p>").encode(), 9)
    assert len(bomb) < MAX_BYTES  # what comes over the wire is small; only its inflated size is not
    chain = article_path("CHAIN001")
    many = "".join(f'<li><a href="/manylinks/2022/02/14/L{i:05d}.html">{i}</a></li>' for i in range(MANY_LINKS))
    with FaultServer() as server:
        urls = {
            "BIG00001": server.add_page(article_path("BIG00001"), big),
            "BOMB0001": server.add_page(article_path("BOMB0001"), b""),
            "LOOP0001": server.add_page(article_path("LOOP0001"), b""),
            "CHAIN001": server.add_page(chain, b""),
        }
        server.add_page("/category/manylinks.html", f"<html><body><ul>{many}</ul></body></html>".encode())
        # A chain of listing pages, each linking the next: a loop that keeps making new URLs.
        for level in range(1, 11):
            server.add_page(f"/category/deep{level}.html", f'<html><body><a href="/category/deep{level + 1}.html">'
                            f"next</a></body></html>".encode(), link=level == 1)
        server.rule(on_path(article_path("BOMB0001")),
                    (200, {"Content-Type": "text/html; charset=utf-8", "Content-Encoding": "gzip"}, bomb))
        site = SITE_URL.rstrip("/")
        server.rule(on_path(article_path("LOOP0001")), (302, {"Location": site + article_path("LOOP0002")}, b""))
        server.rule(on_path(article_path("LOOP0002")), (302, {"Location": site + article_path("LOOP0001")}, b""))
        hops = server.rule(lambda host, target: host == SITE_HOST and target.startswith(chain),
                           lambda host, target, headers: (
                               302, {"Location": f"{chain}?hop={int(target.partition('hop=')[2] or 0) + 1}"}, b""))
        result = crawl(server, sqlite_url, tmp_path, "-s", f"NEWSCRAWL_MAX_PAGE_BYTES={MAX_BYTES}",
                       "-s", f"NEWSCRAWL_MAX_LINKS_PER_PAGE={MAX_LINKS}")
        many_requested = [t for _, t, _ in server.requests() if t.startswith("/manylinks/")]
        deep_requested = sorted(t for _, t, _ in server.requests() if t.startswith("/category/deep"))
    assert result.returncode == 0 and result.outcome == "ok", result.log[-3000:]
    # The site's own articles are all archived, as without faults; none of the bad ones is.
    assert {k: content(v) for k, v in archived(sqlite_url).items()} == clean_rows()
    assert sorted(archived(sqlite_url)) == DEMO_IDS

    # Too large, as sent (Content-Length) and as inflated: given up at the limit, not after 50 MB.
    assert result.stats["newscrawl/spider/dropped/too_large"] == 2
    assert f"Expected to receive {len(big)} bytes which is larger than download max size ({MAX_BYTES})" in result.log
    inflated = re.search(r"\((\d+) B compressed, (\d+) B decompressed so far\) exceeded DOWNLOAD_MAXSIZE "
                         rf"\({MAX_BYTES} B\) during decompression", result.log)
    assert inflated is not None and int(inflated.group(1)) == len(bomb)
    assert int(inflated.group(2)) < 10 * MAX_BYTES  # memory stays bounded by the limit, not the bomb
    for article_id in ("BIG00001", "BOMB0001"):
        assert f"article page not archived (too_large), the next run tries again: {urls[article_id]}" in result.log

    # A redirect cycle is named as such (Scrapy's duplicate filter alone would end it silently).
    assert result.stats["newscrawl/spider/dropped/redirect_loop"] == 1
    loop = f"{urls['LOOP0001']} -> {site}{article_path('LOOP0002')} -> {urls['LOOP0001']}"
    assert f"WARNING: request dropped (redirect_loop): {loop}" in result.log
    # An endless chain of new URLs ends at REDIRECT_MAX_TIMES (5): the page and five hops, no more.
    assert len(hops.fired) == 6
    assert result.stats["newscrawl/spider/dropped/too_many_redirects"] == 1

    # Thousands of links on one page: the first MAX_LINKS pages it leads to (one is the page itself).
    assert result.stats["newscrawl/spider/links_capped"] == 1
    assert (f"{SITE_URL}category/manylinks.html links {MANY_LINKS + 1} pages; following the first {MAX_LINKS} "
            "(NEWSCRAWL_MAX_LINKS_PER_PAGE)") in result.log
    assert sorted(many_requested) == [f"/manylinks/2022/02/14/L{i:05d}.html" for i in range(MAX_LINKS - 1)]
    assert result.stats["newscrawl/spider/dropped/http_404"] == MAX_LINKS - 1

    # Pages that lead to ever new pages end at DEPTH_LIMIT (4): the home page is depth 0.
    assert deep_requested == [f"/category/deep{level}.html" for level in range(1, 5)]
    assert result.stats["request_depth_max"] == 4
    assert f"Ignoring link (depth > 4): {SITE_URL}category/deep5.html" in result.log

    assert result.summary["dropped"] == {"too_large": 2, "redirect_loop": 1, "too_many_redirects": 1,
                                         "http_404": MAX_LINKS - 1}
    assert result.summary["errors"] == 0
