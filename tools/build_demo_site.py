#!/usr/bin/env python3
"""Rebuild the bundled demo site (newscrawl/demo/site, origin/, posts/) from a few corpus posts.

The sample is rendered by real Jekyll with the replica's template, so it has the live site's exact page
structure. Needs ../shared/replica and Debian's jekyll (jekyll-feed, jekyll-seo-tag).

    python3 tools/build_demo_site.py [--replica ../shared/replica]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Chosen to cover the variants the parser must handle: publisher posts with origin text (one with a CRLF
# body, one with images), an emnews post with a "> " digest and eastmoney HTML, emnews digests with and
# without +0800 and with each footer form, and the site-opening post.
SAMPLE = (
    "2022-02-14-NW202202142275724924.md",
    "2022-01-07-NW202201072239307540.md",
    "2022-05-30-NW202205302396506117.md",
    "2022-01-07-202201072239307540.md",
    "2021-12-08-202112082206735975.md",
    "2021-12-08-202112082206945215.md",
    "2021-12-08-202112082206704122.md",
    "2021-12-08-202112082206891339.md",
    "2021-12-01-init.md",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replica", type=Path, default=ROOT.parent / "shared" / "replica")
    args = parser.parse_args()
    replica: Path = args.replica
    site_out = ROOT / "newscrawl" / "demo" / "site"
    origin_out = ROOT / "newscrawl" / "demo" / "origin"
    posts_out = ROOT / "newscrawl" / "demo" / "posts"
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src"
        shutil.copytree(replica / "tools" / "template", src)
        (src / "_posts").mkdir()
        (src / "category").mkdir()
        categories = set()
        for name in SAMPLE:
            post = replica / "source" / "_posts" / name
            shutil.copy2(post, src / "_posts" / name)
            for line in post.read_text(encoding="utf-8").splitlines():
                if line.startswith("categories:"):
                    categories.add(line.split(":", 1)[1].strip())
        for slug in sorted(categories):
            shutil.copy2(replica / "source" / "category" / f"{slug}.html", src / "category" / f"{slug}.html")
        out = Path(tmp) / "site"
        subprocess.run(["jekyll", "build", "-q", "-s", str(src), "-d", str(out)], check=True)
        if site_out.exists():
            shutil.rmtree(site_out)
        shutil.copytree(out, site_out)
    if origin_out.exists():
        shutil.rmtree(origin_out)
    origin_out.mkdir(parents=True)
    for name in SAMPLE:
        code = name[11:-3]
        answer = replica / "origin" / "GetNewsText" / f"{code}.json"
        if answer.is_file():
            shutil.copy2(answer, origin_out / answer.name)
    # The sample's source posts: what an export of the crawled demo should give back.
    if posts_out.exists():
        shutil.rmtree(posts_out)
    posts_out.mkdir()
    for name in SAMPLE:
        shutil.copy2(replica / "source" / "_posts" / name, posts_out / name)
    pages = sum(1 for p in site_out.rglob("*.html"))
    print(f"demo site: {pages} pages in {site_out}, {len(list(origin_out.iterdir()))} origin answers")


if __name__ == "__main__":
    main()
