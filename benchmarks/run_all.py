"""Run every benchmark and print one table: min / median / max of several runs, and the targets.

    python benchmarks/run_all.py                   # 20,000 posts over 2,000 categories, 3 runs, 100,000 for memory
    python benchmarks/run_all.py --quick           # 2,000 posts, 1 run, no 100,000-post memory run: a smoke test
    python benchmarks/run_all.py --skip crawl,memory --runs 5

Steps: check the scale site's renderer against the replica (scale_site --verify) and generate the site
(cached under $NEWSCRAWL_BENCH_DIR, /tmp/newscrawl-bench by default); start nginx on loopback; then the
ceiling; then rounds of one floor run (and the whole-work floor), one run of Scrapy alone (the framework's
own cost) and one full crawl (with its incremental re-crawl and export), each ratio of the crawler to a
floor taken within its round; then the serial baseline, the crawls at 20 ms latency and the memory run on
a 100,000-post site. A figure whose project
piece is missing is shown as "not available yet" with the reason. The results are kept as a dated JSON
record under benchmarks/results/ (machine, commit, figures).
The figures, the machine and what limits each are discussed in docs/performance.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import Any

import ceiling
import crawl
import floor
import framework
import harness
import scale_site
import serial

STEPS = ("verify", "ceiling", "floor", "framework", "serial", "crawl", "memory")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--posts", type=int, help="posts of the scale site (default 20,000; 2,000 with --quick)")
    ap.add_argument("--categories", type=int, help="categories (default: one per 10 posts)")
    ap.add_argument("--runs", type=int, help="runs of each benchmark (default 3; 1 with --quick)")
    ap.add_argument("--crawl-runs", type=int, help="runs of the crawls (default: --runs)")
    ap.add_argument("--memory-posts", type=int, default=100_000, help="posts of the memory run's site")
    ap.add_argument("--memory-categories", type=int, default=2_000)
    ap.add_argument("--latency-ms", type=int, default=20)
    ap.add_argument("--serial-articles", type=int, default=400, help="sample size of the serial baseline")
    ap.add_argument("--quick", action="store_true", help="2,000 posts, 1 run, no memory run")
    ap.add_argument("--skip", default="", help=f"comma-separated steps to leave out: {','.join(STEPS)}")
    ap.add_argument("--setting", action="append", default=[], metavar="NAME=VALUE",
                    help="a Scrapy -s setting for every crawl")
    args = ap.parse_args(argv)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    if unknown := skip - set(STEPS):
        ap.error(f"unknown steps {sorted(unknown)}; steps are {', '.join(STEPS)}")
    posts = args.posts or (2_000 if args.quick else 20_000)
    runs = args.runs or (1 if args.quick else 3)
    crawl_runs = args.crawl_runs or runs
    if args.quick:
        skip.add("memory")
        args.serial_articles = min(args.serial_articles, 100)
    if not (harness.REPLICA_DIR / "snapshots" / "full.manifest.json").is_file():
        ap.error(f"no replica at {harness.REPLICA_DIR} (set NEWSCRAWL_REPLICA)")
    harness.CACHE_DIR.mkdir(parents=True, exist_ok=True)

    started = time.time()
    info = harness.machine()
    print("machine: " + ", ".join(f"{k} {v}" for k, v in info.items()), flush=True)
    spec = scale_site.SiteSpec(posts, args.categories or max(1, posts // 10))
    site = scale_site.ensure_site(spec)
    meta = site.meta()
    print(f"scale site: {meta['posts']:,} posts ({meta['publisher_posts']:,} with an origin answer) in "
          f"{len(meta['category_slugs']):,} categories, {meta['site_bytes'] / 1e6:.0f} MB, at {site.root}",
          flush=True)
    # The site's 2,000 category slugs say nothing a record needs: its size and spec do.
    site_record = {k: v for k, v in meta.items() if k != "category_slugs"} | {"categories": len(meta["category_slugs"])}
    results: dict[str, Any] = {"site": site_record, "runs": runs, "crawl_runs": crawl_runs, "settings": args.setting}

    if "verify" not in skip:
        report = scale_site.verify(harness.REPLICA_DIR, show=3)
        try:
            report["generated"] = scale_site.check_generated(site)
        except harness.NotAvailable as exc:
            report["generated"] = f"not available yet: {exc}"
        results["verify"] = report
        print(scale_site.verify_summary(report), flush=True)

    figures: dict[str, harness.Figure] = {}
    with harness.serving(site.served, latency_ms=args.latency_ms) as server:
        if "ceiling" not in skip:
            _step("ceiling", lambda: ceiling.run(site, server, runs=runs, figures=figures))
        # The floors, Scrapy alone and the full crawl are measured in rounds, one run of each per round, and
        # each ratio is taken within its round: the machine drifts over a run of this length (a crawl stage
        # on a slower machine than the floor's, measured ten minutes earlier, once put the ratio 35% off).
        pages = floor.SavedPages.load(site) if "floor" not in skip else None
        crawling = "crawl" not in skip and crawl.spider_available(figures, server.latency_ms)
        base = crawl.work_root(keep=False) if crawling else None
        full_ok = base is not None  # a failed full crawl ends the full rounds (its figures say why)
        for i in range(max(runs, crawl_runs if crawling else 0)):
            if "floor" not in skip and i < runs:
                _step(f"floor {i + 1}", lambda: floor.run(site, runs=1, figures=figures, pages=pages))
            if "framework" not in skip and i < runs:
                _step(f"framework {i + 1}", lambda: framework.run(site, server, runs=1, figures=figures))
                framework.least_ratio(figures)
            if full_ok and base is not None and i < crawl_runs:
                print(f"[crawl {i + 1}] ...", file=sys.stderr, flush=True)
                full_ok = crawl.full_round(site, server, base, i, settings=args.setting, figures=figures,
                                           floor_ms=_latest(figures, "floor_cpu"),
                                           work_ms=_latest(figures, "floor_work_cpu"))
        pages = None  # the floor is done: its ~100 MB of pages are not needed by the crawls at latency
        if "serial" not in skip:
            _step("serial", lambda: serial.run(site, server, runs=runs, articles=args.serial_articles,
                                               figures=figures))
        if base is not None:
            serial_rate = figures["serial"].median if "serial" in figures else None
            _step("latency", lambda: crawl.latency_stage(site, server, base, runs=crawl_runs,
                                                         settings=args.setting, figures=figures,
                                                         serial_rate=serial_rate, keep=False))
    if "memory" not in skip:
        big = scale_site.ensure_site(scale_site.SiteSpec(args.memory_posts, args.memory_categories))
        _step("memory", lambda: crawl.memory(big, runs=1, settings=args.setting, figures=figures))

    print()
    print(harness.table(list(figures.values())))
    notes = [f"- {f.name}: {f.note}" for f in figures.values() if f.note]
    if notes:
        print("\n".join(notes))
    results["figures"] = {k: f.as_dict() for k, f in figures.items()}
    results["seconds"] = round(time.time() - started)
    harness.write_record("run_all-quick" if args.quick else "run_all", results)
    return 0


def _latest(figures: dict[str, harness.Figure], key: str) -> float | None:
    """The figure's value from this round (its latest run), if it was measured."""
    fig = figures.get(key)
    return fig.values[-1] if fig is not None and fig.values else None


def _step(name: str, fn: Any) -> None:
    t0 = time.perf_counter()
    print(f"[{name}] ...", file=sys.stderr, flush=True)
    fn()
    print(f"[{name}] done in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
