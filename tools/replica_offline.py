#!/usr/bin/env python3
"""Parse the whole replica offline and measure the parsers and the Jekyll export (see docs/parsing.md).

Usage: python3 tools/replica_offline.py [--replica ../shared/replica] [--show N] [--keep DIR]

For every post page of the ``full`` snapshot: ``parse_article`` on the page; for a share link whose origin
answer is stored (``origin/GetNewsText/<infoCode>.json``), ``parse_origin_text`` sets ``origin_html`` as the
crawler would. Prints the per-field match rates against ``expected.jsonl`` (reachable posts), the
mismatches, then renders every post with ``render_post`` into a folder and runs ``check_export.py`` on it.
No network. Exits 2 when the replica is not there.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from newscrawl.items import Article
from newscrawl.jekyll import post_filename, render_post
from newscrawl.parsers import parse_article, parse_origin_text

SITE = "https://finews.withounder.com"
FIELDS = ("title", "published_at", "category", "tags", "share_url", "info_code", "summary", "source",
          "body_text")
WS = re.compile(r"\s+")


def value_of(article: Article, field: str) -> Any:
    value = getattr(article, field)
    if field == "published_at" and value is not None:
        return value.isoformat()
    if field == "body_text" and value is not None:
        return WS.sub("", value)
    return value


DATE_LINE = re.compile(r"^date: (\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})\n", re.M)


def _same_but_date(original: Path, rendered: Path) -> bool:
    """Equal after writing the original's offset-less date (read by Jekyll as UTC) in site time +0800."""
    from datetime import datetime, timedelta

    text = original.read_text(encoding="utf-8")
    match = DATE_LINE.search(text)
    if not match:
        return False
    site_time = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S") + timedelta(hours=8)
    fixed = text[: match.start()] + f"date: {site_time:%Y-%m-%d %H:%M:%S} +0800\n" + text[match.end():]
    return fixed == rendered.read_text(encoding="utf-8")


def main() -> int:
    default_replica = Path(__file__).resolve().parent.parent.parent / "shared" / "replica"
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replica", type=Path, default=default_replica)
    ap.add_argument("--show", type=int, default=10, help="mismatches to print per field")
    ap.add_argument("--keep", type=Path, help="render the posts into this folder instead of a temporary one")
    args = ap.parse_args()
    replica: Path = args.replica
    if not (replica / "expected.jsonl").is_file():
        print(f"no replica at {replica}", file=sys.stderr)
        return 2
    manifest = json.loads((replica / "snapshots" / "full.manifest.json").read_text(encoding="utf-8"))
    expected = {}
    for line in (replica / "expected.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        expected[row["file"]] = row

    articles: dict[str, Article] = {}
    for entry in manifest:
        page = replica / "snapshots" / "full" / entry["url"].lstrip("/")
        article = parse_article(page.read_bytes().decode("utf-8", "replace"), SITE + entry["url"])
        if article.info_code:
            origin = replica / "origin" / "GetNewsText" / f"{article.info_code}.json"
            if origin.is_file():
                answer = parse_origin_text(origin.read_bytes())
                article.origin_html, article.origin_status = answer.html, answer.status
            else:
                article.origin_status = "http_404"
        articles[entry["file"]] = article

    reachable = [name for name, row in expected.items() if row.get("reachable") and name in articles]
    print(f"{len(articles)} pages parsed, {len(reachable)} reachable posts compared with expected.jsonl")
    for field in FIELDS:
        misses = []
        for name in reachable:
            want = expected[name][field]
            got = value_of(articles[name], field)
            if field == "summary" and isinstance(want, str) and isinstance(got, str):
                got = WS.sub("", got)  # expected.jsonl writes the summary with white space removed
            if got != want:
                misses.append((name, want, got))
        rate = 1 - len(misses) / max(1, len(reachable))
        print(f"{field:13} {len(reachable) - len(misses):4}/{len(reachable)} ({rate:.1%})")
        for name, want, got in misses[: args.show]:
            print(f"    {name}: expected {str(want)[:160]!r}")
            print(f"    {' ' * len(name)}  got      {str(got)[:160]!r}")
    flagged = {name: a.flags for name, a in articles.items() if a.flags}
    print(f"flags: {flagged}")

    with tempfile.TemporaryDirectory() as tmp:
        out = args.keep or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        written = 0
        for name, article in articles.items():
            if article.title is None or article.published_at is None:
                continue
            filename = post_filename(article)
            if filename != name:
                print(f"file name differs: {filename} (original {name})")
            (out / filename).write_bytes(render_post(article).encode("utf-8"))
            written += 1
        source = replica / "source" / "_posts"
        same_bytes = sum(1 for p in out.glob("*.md")
                         if (source / p.name).is_file() and (source / p.name).read_bytes() == p.read_bytes())
        same_but_date = sum(1 for p in out.glob("*.md")
                            if (source / p.name).is_file() and _same_but_date(source / p.name, p))
        print(f"rendered {written} posts; byte-identical to the site's post files: {same_bytes}; "
              f"identical but for a date line written without +0800: {same_but_date}")
        check = replica / "tools" / "check_export.py"
        result = subprocess.run([sys.executable, str(check), str(out), "--show", str(args.show)],
                                capture_output=True, text=True, check=False)
        print(result.stdout.rstrip())
        if result.returncode != 0:
            print(result.stderr.rstrip())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
