"""``newscrawl demo``: crawl the bundled sample of the site on loopback and export it, with no network.

It serves newscrawl/demo/site (nine real posts rendered by Jekyll) and their origin answers on
127.0.0.1 as a proxy, crawls them with the real spider and pipelines into ``<data>/demo.sqlite3``,
exports the archive to ``<data>/demo_posts/`` and compares each exported post with the original post
file it was rendered from. See README, "Demo".
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TextIO

from newscrawl.demo.server import SiteServer

HERE = Path(__file__).resolve().parent
SITE_URL = "http://finews.withounder.com/"


def run_demo(data_dir: Path, out: TextIO) -> int:
    from newscrawl.crawler import CrawlFailed, run_crawl
    from newscrawl.export import export_archive

    data_dir.mkdir(parents=True, exist_ok=True)
    db_path = data_dir / "demo.sqlite3"
    posts_dir = data_dir / "demo_posts"
    db_url = f"sqlite:///{db_path}"
    with SiteServer(HERE / "site", HERE / "origin") as server:
        print(f"serving the demo site on {server.url} (as {SITE_URL} through it as a proxy)", file=out)
        # Scrapy's proxy middleware reads the standard variables; only this demo process sees them.
        os.environ["http_proxy"] = server.url
        os.environ.pop("no_proxy", None)
        os.environ.pop("NO_PROXY", None)
        try:
            summary = run_crawl({
                "NEWSCRAWL_SITE_URL": SITE_URL,
                "NEWSCRAWL_DB_URL": db_url,
                "NEWSCRAWL_WARC_DIR": str(data_dir / "demo_warc"),
                "NEWSCRAWL_PROGRESS_INTERVAL": "0",
                "LOG_LEVEL": "WARNING",
                "AUTOTHROTTLE_ENABLED": "false",
            })
        except CrawlFailed as error:
            print(f"demo crawl failed: {error}", file=out)
            return 1
        requests = len(server.log.entries)
    print(f"crawled {requests} requests into {db_path}: {summary.line()}", file=out)
    report = export_archive(db_url, posts_dir)
    print(f"exported {report.total} posts to {posts_dir}/ ({report.written} written, {report.unchanged} unchanged)",
          file=out)
    originals = sorted((HERE / "posts").glob("*.md"))
    identical = [p.name for p in originals if (posts_dir / p.name).is_file()
                 and (posts_dir / p.name).read_bytes() == p.read_bytes()]
    print(f"{len(identical)} of {len(originals)} exported posts are byte for byte the site's original post files",
          file=out)
    print(f"try: newscrawl search 政务服务 --db {db_url}", file=out)
    return 0 if summary.outcome == "ok" else 1
