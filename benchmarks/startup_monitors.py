"""What the monitors cost at the start of every crawl: the import time of what newscrawl loads (Spidermon's
core, newscrawl.monitors) and of what it leaves out (Spidermon's Scrapy extension), and prometheus-client.

    python benchmarks/startup_monitors.py [--runs 15]

Each figure is the CPU time a fresh interpreter that has imported Scrapy's crawler (and so everything the
modules share with Scrapy) spends importing the module: the median over --runs interpreters. Prints a table and writes a
dated JSON record to benchmarks/results/. README.md ("Libraries and why") quotes it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

import harness

ROOT = Path(__file__).resolve().parent.parent
BASE = "import scrapy.crawler"
MODULES = {
    "spidermon core (suite, monitor, runner, action)": "import spidermon",
    "newscrawl.monitors (what a crawl loads)": "import newscrawl.monitors",
    "spidermon's Scrapy extension (not loaded)": "import spidermon.contrib.scrapy.extensions",
    "prometheus_client (with NEWSCRAWL_METRICS_FILE only)": "import prometheus_client",
}
PROBE = ("import sys, time\n" + BASE + "\nstarted = time.process_time()\n{code}\n"
         "sys.stdout.write(str(time.process_time() - started))")


def cpu_seconds(code: str) -> float:
    done = subprocess.run([sys.executable, "-c", PROBE.format(code=code)], capture_output=True, text=True,
                          check=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return float(done.stdout)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    figures = {}
    for name, code in MODULES.items():
        extra = [cpu_seconds(code) for _ in range(args.runs)]
        figures[name] = {"median_ms": round(statistics.median(extra) * 1000, 1),
                         "min_ms": round(min(extra) * 1000, 1), "max_ms": round(max(extra) * 1000, 1)}
    width = max(len(name) for name in figures)
    print(f"{'import (after scrapy.crawler)':<{width}}  median ms  min ms  max ms")
    for name, figure in figures.items():
        print(f"{name:<{width}}  {figure['median_ms']:>9}  {figure['min_ms']:>6}  {figure['max_ms']:>6}")
    harness.write_record("startup-monitors", {"runs": args.runs, "figures": figures})
    return 0


if __name__ == "__main__":
    sys.exit(main())
