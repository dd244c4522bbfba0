"""The export's figures in docs/export.md: what a front-matter line costs, and where Jekyll's kramdown breaks.

    python benchmarks/export_bounds.py [--quick] [--db URL]

1. ``front_matter_line`` per title line, with PyYAML's C emitter (libyaml) and its pure-Python one.
2. ``jekyll build`` of one post (the test site of tests/fixtures/jekyll_site) whose body is N nested
   ``<div>``s or N links in one paragraph, written as it is (what kramdown must parse) and in the bounded
   form newscrawl writes beyond ``MAX_MARKUP_ELEMENTS`` / ``MAX_MARKUP_DEPTH``: wall seconds, or how it ended.
3. With ``--db``: ``export_articles`` of that archive into a new folder, posts per second.

Prints a table and writes a dated JSON record to benchmarks/results/. Needs ``jekyll`` for part 2.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
import timeit
from datetime import datetime
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import harness  # noqa: E402
import yaml  # noqa: E402

from newscrawl import jekyll  # noqa: E402
from newscrawl.config import SITE_TZ  # noqa: E402
from newscrawl.items import Article  # noqa: E402

SITE_TEMPLATE = REPO_ROOT / "tests" / "fixtures" / "jekyll_site"
TITLE = "中国发展网：银保监会发布《关于银行业保险业数字化转型的指导意见》 2022年"
BUILD_TIMEOUT = 120


def line_cost(dumper: Any, number: int = 2000) -> float:
    """Microseconds per title line with ``dumper`` as the emitter (cache off: every title is new)."""
    saved = jekyll.FrontMatterDumper

    class Dumper(dumper):  # type: ignore[misc, valid-type]
        pass

    Dumper.add_implicit_resolver("tag:newscrawl,2026:psych-non-string", jekyll.PSYCH_NOT_A_STRING, None)
    jekyll.FrontMatterDumper = Dumper  # type: ignore[misc]
    try:
        seconds = timeit.timeit(lambda: jekyll._dump_line.__wrapped__("title", TITLE, '"'), number=number)
    finally:
        jekyll.FrontMatterDumper = saved  # type: ignore[misc]
    return seconds / number * 1e6


def body(kind: str, count: int) -> str:
    if kind == "nested":
        return "<div>" * count + "深" + "</div>" * count
    return "<p>" + "".join(f'<a href="http://x.example/{n}">链{n}</a>' for n in range(count)) + "</p>"


def build(kind: str, count: int, bounded: bool) -> dict[str, Any]:
    article = Article(article_id="B", url="https://finews.withounder.com/c/2022/02/14/B.html", title="t",
                      published_at=datetime(2022, 2, 14, 15, 11, 7, tzinfo=SITE_TZ),
                      category="c", body_html=body(kind, count))
    text = jekyll.render_post(article)
    if not bounded:  # the post as it would be without the bounded form
        head, _, markup = text.partition("\n---\n{::nomarkdown}\n")
        if markup:
            text = head.replace('\nexcerpt_separator: ""', "") + "\n---\n" + markup.rsplit("\n{:/nomarkdown}\n", 1)[0]
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        shutil.copytree(SITE_TEMPLATE, site)
        (site / "_posts").mkdir()
        (site / "_posts" / "2022-02-14-B.md").write_text(text, encoding="utf-8")
        start = time.monotonic()
        try:
            done = subprocess.run(["jekyll", "build", "-q", "-s", str(site), "-d", str(Path(tmp) / "out")],
                                  capture_output=True, text=True, check=False, timeout=BUILD_TIMEOUT)
        except subprocess.TimeoutExpired:
            return {"kind": kind, "count": count, "bounded": bounded, "seconds": None,
                    "result": f"not done in {BUILD_TIMEOUT} s"}
        seconds = time.monotonic() - start
    result = "ok" if done.returncode == 0 else (
        "stack level too deep" if "stack level too deep" in done.stderr else f"exit {done.returncode}")
    return {"kind": kind, "count": count, "bounded": bounded, "seconds": round(seconds, 2), "result": result}


def export_rate(db_url: str) -> dict[str, Any]:
    from newscrawl.export import export_articles
    from newscrawl.storage import Archive

    with Archive.open(db_url) as archive:
        articles = list(archive.iter_articles())
    with tempfile.TemporaryDirectory() as tmp:
        start = time.monotonic()
        report = export_articles(Path(tmp) / "posts", articles)
        seconds = time.monotonic() - start
    return {"posts": report.written, "seconds": round(seconds, 3), "posts_per_s": round(report.written / seconds)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="only the cases that end in seconds")
    parser.add_argument("--db", help="also time export_articles of this archive")
    args = parser.parse_args()
    record: dict[str, Any] = {"pyyaml": yaml.__version__}
    record["front_matter_line_us"] = {"libyaml": round(line_cost(getattr(yaml, "CSafeDumper", yaml.SafeDumper)), 1),
                                      "python": round(line_cost(yaml.SafeDumper), 1)}
    print(f"front-matter title line: {record['front_matter_line_us']['libyaml']} µs (libyaml), "
          f"{record['front_matter_line_us']['python']} µs (pure Python)")
    if shutil.which("jekyll"):
        cases = [("nested", 1000, False), ("nested", 3000, False), ("links", 1000, False), ("links", 2000, False),
                 ("nested", 100_000, True), ("links", 100_000, True)]
        if not args.quick:
            cases[4:4] = [("links", 5000, False), ("links", 20_000, False)]
        record["jekyll_build"] = []
        print(f"{'body':<10} {'count':>7} {'form':<9} {'seconds':>8}  result")
        for kind, count, bounded in cases:
            row = build(kind, count, bounded)
            record["jekyll_build"].append(row)
            print(f"{kind:<10} {count:>7} {'bounded' if bounded else 'as it is':<9} "
                  f"{row['seconds'] if row['seconds'] is not None else '-':>8}  {row['result']}")
    else:
        print("jekyll is not installed: no build figures")
    if args.db:
        record["export"] = export_rate(args.db)
        print(f"export_articles: {record['export']['posts']} posts in {record['export']['seconds']} s "
              f"({record['export']['posts_per_s']} posts/s)")
    harness.write_record("export_bounds", record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
