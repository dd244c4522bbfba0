#!/usr/bin/env python3
"""``newscrawl import --git`` on a generated history: post files per second and peak memory.

    python benchmarks/import_git.py                      # 2,000 and 20,000 posts
    python benchmarks/import_git.py --posts 2000 --work /tmp/import-bench

For each size, a git repository is generated with ``git fast-import`` as the site's history looked: every
commit adds a few posts to ``_posts/`` and rotates the oldest ones to ``old_post/`` (a move, as the site
did), one post in a hundred is edited later; 3 commits for every 20 posts (20,000 posts over 3,000
commits). Then ``python -m newscrawl import --git`` runs into a fresh SQLite archive in a child process,
whose wall time, CPU time and peak RSS (``ru_maxrss`` of the child) are taken. Prints a table and writes a
dated record under ``benchmarks/results/``. No network; needs git. See docs/performance.md, "Import".
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import harness

ROOT = Path(__file__).resolve().parent.parent
COMMITS_PER_POST = 3000 / 20000
# Posts stay in _posts/ for this many commits, then move to old_post/ (the live site kept a few days).
WINDOW_COMMITS = 40
EDIT_EVERY = 100
# CJK characters, drawn at random: bodies that are not near-duplicates of each other.
HANZI = "".join(chr(code) for code in range(0x4E00, 0x4E00 + 3000))


def post(slug: str, when: datetime, rng: random.Random, edited: bool = False) -> bytes:
    text = "".join(rng.choice(HANZI) for _ in range(rng.randint(60, 400)))
    body = f"<p>{text}{'（更正）' if edited else ''}</p>" if slug.startswith("NW") else \
        "\n" + "。".join(text[i:i + 40] for i in range(0, len(text), 40)) + "。"
    share = f"http://finews.zning.xyz/html_News/NewsShare.html?infoCode={slug}" if slug.startswith("NW") else \
        f"http://finance.eastmoney.com/news/1350,{slug}.html"
    category, tags = ("cailianshe", "财联社新闻") if slug.startswith("NW") else ("emnews", "东财滚动新闻")
    return (f'---\nlayout: post\ntitle: "{text[:20]}"\ndate: {when:%Y-%m-%d %H:%M:%S} +0800\n'
            f"categories: {category}\ntags: {tags}\n---\n{body}\n\n<{share}>\n\n"
            f"[返回{tags}](//finews.withounder.com/category/{category}.html)｜[返回首页](//finews.withounder.com/)"
            ).encode()


def generate(repo: Path, posts: int, seed: int = 20221208) -> int:
    """A history of ``posts`` posts; returns the number of commits."""
    rng = random.Random(seed)
    commits = max(1, round(posts * COMMITS_PER_POST))
    repo.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    stream = subprocess.Popen(["git", "-C", str(repo), "fast-import", "--quiet"], stdin=subprocess.PIPE)
    assert stream.stdin is not None
    start = datetime(2022, 1, 1, 8, 0, tzinfo=UTC)
    live: list[tuple[int, str]] = []  # (commit it was added in, name)
    made = 0
    for number in range(commits):
        when = start + timedelta(minutes=20 * number)
        lines: list[bytes] = []
        count = posts // commits + (1 if number < posts % commits else 0)
        for _ in range(count):
            digits = f"{when:%Y%m%d}{made:010d}"
            slug = f"NW{digits}" if made % 5 == 0 else digits
            name = f"{when:%Y-%m-%d}-{slug}.md"
            data = post(slug, when + timedelta(seconds=made % 1200), rng)
            lines.append(b"M 100644 inline _posts/" + name.encode() + b"\ndata %d\n" % len(data) + data + b"\n")
            live.append((number, name))
            made += 1
        while live and live[0][0] < number - WINDOW_COMMITS:
            _, name = live.pop(0)
            lines.append(f"R _posts/{name} old_post/{name}\n".encode())
        if number % 7 == 3 and live:
            # A correction of a post still live: a later version with different content.
            added, name = live[len(live) // 2]
            slug = name[11:-3]
            if int(slug[-6:]) % (EDIT_EVERY // 10) == 0:
                data = post(slug, start + timedelta(minutes=20 * added), random.Random(slug), edited=True)
                lines.append(b"M 100644 inline _posts/" + name.encode() + b"\ndata %d\n" % len(data) + data + b"\n")
        stamp = int(when.timestamp())
        message = f"update {number}".encode()
        stream.stdin.write(b"commit refs/heads/master\n"
                           + f"committer site <site@example.org> {stamp} +0800\n".encode()
                           + b"data %d\n" % len(message) + message + b"\n"
                           + b"".join(lines) + b"\n")
    stream.stdin.close()
    if stream.wait() != 0:
        raise SystemExit("git fast-import failed")
    return commits


CHILD = """
import json, resource, sys, time
from newscrawl.importer.run import Importer
from newscrawl.storage import Archive
from pathlib import Path
archive = Archive.open(sys.argv[1])
wall, cpu = time.perf_counter(), time.process_time()
report = Importer(archive, "https://finews.withounder.com/").import_git(Path(sys.argv[2]))
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
archive.close()
print(json.dumps({"files": report.files, "commits": report.commits, "new": report.new,
                  "updated": report.updated, "unchanged": report.unchanged, "skipped": dict(report.skipped),
                  "wall_s": wall, "cpu_s": cpu,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def measure(work: Path, posts: int) -> dict[str, object]:
    repo = work / f"site-{posts}"
    if repo.exists():
        shutil.rmtree(repo)
    started = time.perf_counter()
    commits = generate(repo, posts)
    generated_s = time.perf_counter() - started
    db = work / f"archive-{posts}.sqlite3"
    db.unlink(missing_ok=True)
    done = subprocess.run([sys.executable, "-c", CHILD, f"sqlite:///{db}", str(repo)], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"import failed: {done.stderr[-3000:]}")
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    again = subprocess.run([sys.executable, "-c", CHILD, f"sqlite:///{db}", str(repo)], cwd=ROOT,
                           capture_output=True, text=True, check=True)
    second = json.loads(again.stdout.strip().splitlines()[-1])
    result.update(posts=posts, commits_generated=commits, generate_s=round(generated_s, 2),
                  files_per_s=round(float(result["files"]) / float(result["wall_s"]), 1),  # type: ignore[arg-type]
                  files_per_cpu_s=round(float(result["files"]) / float(result["cpu_s"]), 1),  # type: ignore[arg-type]
                  second_import={"commits": second["commits"], "files": second["files"],
                                 "wall_s": round(second["wall_s"], 2)})
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--posts", default="2000,20000", help="comma-separated sizes (default: %(default)s)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/newscrawl-import-bench"))
    args = ap.parse_args()
    if shutil.which("git") is None:
        raise SystemExit("needs the git program")
    args.work.mkdir(parents=True, exist_ok=True)
    rows = [measure(args.work, int(size)) for size in args.posts.split(",")]
    print("| posts | commits | post files read | new | updated | wall s | files/s | files/CPU s | peak RSS MB | "
          "second import |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        second = row["second_import"]
        print(f"| {row['posts']} | {row['commits_generated']} | {row['files']} | {row['new']} | {row['updated']} | "
              f"{float(row['wall_s']):.1f} | {row['files_per_s']} | {row['files_per_cpu_s']} | "  # type: ignore[arg-type]
              f"{float(row['peak_rss_mb']):.0f} | {second['commits']} commits, {second['wall_s']} s |")  # type: ignore[arg-type,index]
    harness.write_record("import-git", {"runs": rows})
    return 0


if __name__ == "__main__":
    _ = resource  # the child measures itself with resource.getrusage
    sys.exit(main())
