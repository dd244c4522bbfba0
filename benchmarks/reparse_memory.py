"""Peak memory (RSS) of ``newscrawl reparse`` against the number of WARC records it reads.

Writes WARC files of N article pages (the demo site's publisher post with its id, title, date and text
varied, so every page is a new article, one in three with a story twin) and, for each page with a share
link, the origin's answer right after it, as a crawl writes them; then re-parses them into a fresh SQLite
archive in a child process and reports the child's peak RSS (``ru_maxrss``) and time. reparse streams the
records, so the peak should not grow with N. Prints a table and writes
``benchmarks/results/reparse_memory-<UTC date>.json``.

    python benchmarks/reparse_memory.py                 # 1,000 and 20,000 records
    python benchmarks/reparse_memory.py --records 1000,5000
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import harness

from newscrawl.warc import WarcArchive

DEMO = harness.REPO_ROOT / "newscrawl" / "demo"
TEMPLATE_ID = "NW202202142275724924"
TEMPLATE = DEMO / "site" / "zhongguofazhanwang" / "2022" / "02" / "14" / f"{TEMPLATE_ID}.html"
ORIGIN = DEMO / "origin" / f"{TEMPLATE_ID}.json"
WORDS = "人民币汇率中间价上调银行间外汇市场交易中心公布美元兑报收盘指数证券基金投资者成交额北向资金净流入"

CHILD = """
import resource, sys, time
from pathlib import Path
from newscrawl.reparse import reparse_archive
from newscrawl.storage import Archive
started = time.monotonic()
with Archive.open(sys.argv[1]) as archive:
    report = reparse_archive(archive, Path(sys.argv[2]))
print(report.pages, report.line(), round(time.monotonic() - started, 1),
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, sep="\\t")
"""


def write_warc(directory: Path, records: int) -> int:
    """Write ``records`` article pages (and their origin answers) as a crawl would; returns records written."""
    page = TEMPLATE.read_text("utf-8")
    origin = ORIGIN.read_bytes()
    start = datetime(2022, 2, 14, 15, 11, 7)
    archive = WarcArchive(directory)
    written = 0
    try:
        for n in range(records):
            # One page in three re-posts the previous page's text under a new id (a story twin).
            seed = n - 1 if n % 3 == 2 else n
            text = "".join(random.Random(seed).choice(WORDS) for _ in range(400))
            article_id = f"NW{20220214000000000000 + n}"
            moment = start + timedelta(minutes=7 * n)
            body = (page.replace(TEMPLATE_ID, article_id)
                    .replace("2022-02-14 15:11:07", moment.strftime("%Y-%m-%d %H:%M:%S"))
                    .replace("2022-02-14T15:11:07", moment.strftime("%Y-%m-%dT%H:%M:%S"))
                    .replace("</h1>\n", f"</h1>\n<p>{text}</p>\n", 1))
            url = f"http://finews.withounder.com/zhongguofazhanwang/2022/02/14/{article_id}.html"
            archive.write(url, 200, "OK", [("Content-Type", "text/html; charset=utf-8")], body.encode("utf-8"),
                          "article", "utf-8")
            written += 1
            api = f"http://finews.zning.xyz/NewsData/GetNewsText.do?id={article_id}"
            archive.write(api, 200, "OK", [("Content-Type", "application/json")], origin, "origin")
            written += 1
    finally:
        archive.close()
    return written


def measure(records: int, workdir: Path) -> dict[str, object]:
    warc = workdir / f"warc-{records}"
    written = write_warc(warc, records // 2)
    db = f"sqlite:///{workdir / f'archive-{records}.sqlite3'}"
    done = subprocess.run([sys.executable, "-c", CHILD, db, str(warc)], capture_output=True, text=True,
                          cwd=harness.REPO_ROOT, check=False)
    if done.returncode != 0:
        raise SystemExit(f"reparse of {records} records failed:\n{done.stderr[-3000:]}")
    pages, outcome, seconds, max_rss_kb = done.stdout.strip().split("\t")
    return {"records": written, "article_pages": int(pages), "outcome": outcome, "seconds": float(seconds),
            "peak_rss_mb": round(int(max_rss_kb) / 1024, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", default="1000,20000", help="comma-separated WARC record counts")
    args = parser.parse_args()
    counts = [int(c) for c in args.records.split(",")]
    rows = []
    with tempfile.TemporaryDirectory(prefix="reparse-memory-", dir=harness.CACHE_DIR if harness.CACHE_DIR.is_dir()
                                     else None) as tmp:
        for count in counts:
            row = measure(count, Path(tmp))
            rows.append(row)
            print(f"{row['records']:>7,} records ({row['article_pages']:,} article pages): peak RSS "
                  f"{row['peak_rss_mb']:6.1f} MB, {row['seconds']:7.1f} s  [{row['outcome']}]", flush=True)
    harness.write_record("reparse_memory", {"runs": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
