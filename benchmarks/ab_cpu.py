"""CPU per article of a full crawl: an earlier commit against the working tree, interleaved.

    python benchmarks/ab_cpu.py --base main [--rounds 6] [--posts 2000]

On a shared, noisy machine two separate benchmark runs minutes apart differ by more than a small change
costs. This runs the full crawl of ``crawl.py`` (the scale site through nginx, ``scrapy crawl finews``)
alternately with the code of ``--base`` (extracted with ``git archive`` into a temporary folder) and with
this checkout, in ABBA order, so that both see the same load. Prints each run and the medians, and writes
a dated JSON record to benchmarks/results/. Needs what crawl.py needs (nginx; see README.md).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import crawl
import harness
import scale_site

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", required=True, help="the commit to compare with (any git revision)")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--posts", type=int, default=2000)
    args = ap.parse_args()
    base_commit = subprocess.run(["git", "rev-parse", "--short", args.base], cwd=ROOT, capture_output=True,
                                 text=True, check=True).stdout.strip()
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout.strip()
    if subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True,
                      text=True, check=True).stdout.strip():
        head += " + uncommitted changes"
    site = scale_site.ensure_site(scale_site.SiteSpec(args.posts, max(1, args.posts // 10)))
    with tempfile.TemporaryDirectory(prefix="newscrawl-ab-") as scratch:
        base_root = Path(scratch) / "base"
        base_root.mkdir()
        archive = subprocess.run(["git", "archive", args.base], cwd=ROOT, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(base_root)], input=archive, check=True)
        roots = {f"base {base_commit}": base_root, f"this checkout ({head})": ROOT}
        figures: dict[str, list[float]] = {name: [] for name in roots}
        with harness.serving(site.served) as server:
            for index in range(args.rounds):
                order = list(roots.items()) if index % 2 == 0 else list(reversed(roots.items()))
                for name, root in order:
                    harness.REPO_ROOT = root  # crawl_once runs `scrapy crawl` from, and with the code of, root
                    work = Path(tempfile.mkdtemp(prefix="run-", dir=scratch))
                    run = crawl.crawl_once(server, server.proxy_url, work, "full")
                    if run.failure() or not run.articles_archived:
                        print(f"{name}: crawl failed: {run.failure()}", file=sys.stderr)
                        return 1
                    per_article = run.cpu_seconds / run.articles_archived * 1000
                    figures[name].append(round(per_article, 3))
                    print(f"round {index + 1} {name}: {per_article:.2f} CPU ms/article", flush=True)
    medians = {name: statistics.median(values) for name, values in figures.items()}
    for name, values in figures.items():
        print(f"{name}: median {medians[name]:.2f} CPU ms/article (min {min(values):.2f}, max {max(values):.2f})")
    base_median, head_median = medians.values()
    print(f"this checkout / base: {head_median / base_median:.3f}")
    harness.REPO_ROOT = ROOT  # the record names this checkout's commit
    harness.write_record("ab-cpu", {"base": base_commit, "head": head, "posts": args.posts, "rounds": args.rounds,
                                    "cpu_ms_per_article": figures, "medians": medians})
    return 0


if __name__ == "__main__":
    sys.exit(main())
