"""Scrapy alone: the crawl's requests through Scrapy with callbacks that do nothing.

    python benchmarks/framework.py [--posts 20000] [--runs 3]

The same URLs a complete crawl fetches (listing pages, article pages, origin text answers; site.crawl_urls),
requested by a spider whose callbacks return nothing, through nginx as an HTTP proxy, in a subprocess
measured like the crawler (``os.wait4``: CPU seconds and peak RSS of that process, start-up included).
Scrapy's settings are newscrawl's for the framework itself, read from newscrawl/settings.py (reactor,
concurrency, CONCURRENT_ITEMS, cookies, consoles, the Scrapy extensions it turns off), and nothing of the
project: no parser, no pipeline, no middleware or extension of ours, no robots.txt, no AutoThrottle delay.

What it shows: the CPU Scrapy itself spends per article on this machine. ``(this + floor) / floor`` is the
least "crawler CPU / floor CPU" any Scrapy crawler doing the project's work could reach here, the yardstick
for the issue's "<= 3x the floor" target. See docs/performance.md.
"""

from __future__ import annotations

import importlib
import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import crawl
import harness
import scale_site

SPIDER = """
import json
import sys
import scrapy
from scrapy.crawler import CrawlerProcess

URLS = open(sys.argv[1], encoding="utf-8").read().split()


class Bare(scrapy.Spider):
    name = "bare"

    async def start(self):
        for url in URLS:
            yield scrapy.Request(url)

    def parse(self, response):
        return None


process = CrawlerProcess(json.loads(open(sys.argv[2], encoding="utf-8").read()))
crawler = process.create_crawler(Bare)
process.crawl(crawler)
process.start()
print("RESPONSES", crawler.stats.get_value("downloader/response_count", 0))
"""


# newscrawl's settings for the framework itself, read from newscrawl/settings.py so the two cannot drift.
FRAMEWORK_SETTINGS = ("TWISTED_REACTOR", "CONCURRENT_REQUESTS", "CONCURRENT_REQUESTS_PER_DOMAIN", "CONCURRENT_ITEMS",
                      "COOKIES_ENABLED", "TELNETCONSOLE_ENABLED", "REMOTE_CONTROL_ENABLED")


def framework_settings() -> dict[str, Any]:
    """The Scrapy settings of the bare spider: newscrawl's framework settings, nothing of the project."""
    project = importlib.import_module("newscrawl.settings")
    settings: dict[str, Any] = {name: getattr(project, name) for name in FRAMEWORK_SETTINGS}
    # Scrapy's extensions newscrawl turns off (remote control, log stats), none of newscrawl's own.
    settings["EXTENSIONS"] = {name: None for name, order in project.EXTENSIONS.items() if order is None}
    settings.update(LOG_LEVEL="INFO", ROBOTSTXT_OBEY=False)
    return settings


def run(site: scale_site.ScaleSite, server: harness.Nginx, *, runs: int,
        figures: dict[str, harness.Figure] | None = None) -> dict[str, harness.Figure]:
    """Fetch the whole site through Scrapy ``runs`` times; CPU ms per article of the Scrapy process."""
    listing, articles, origin = site.crawl_urls()
    urls = [*listing, *articles, *origin]
    figures = {} if figures is None else figures
    cpu = figures.setdefault("framework_cpu", harness.Figure(
        "Scrapy alone: same requests, empty callbacks", "CPU ms/article", higher_is_better=False,
        note=f"{len(urls):,} requests ({len(articles):,} articles); Scrapy's CPU per article, start-up included"))
    harness.CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="newscrawl-framework-", dir=harness.CACHE_DIR) as tmp:
        work = Path(tmp)
        (work / "urls.txt").write_text("\n".join(urls), encoding="utf-8")
        (work / "bare.py").write_text(SPIDER, encoding="utf-8")
        (work / "settings.json").write_text(json.dumps(framework_settings()), encoding="utf-8")
        for i in range(runs):
            log = work / f"run{i}.log"
            code, _, cpu_s, _ = crawl.run_process(
                [sys.executable, str(work / "bare.py"), str(work / "urls.txt"), str(work / "settings.json")],
                env=crawl.crawler_env(server.proxy_url), log=log)
            text = log.read_text(encoding="utf-8", errors="replace")
            answered = next((int(line.split()[1]) for line in text.splitlines() if line.startswith("RESPONSES")), 0)
            if code != 0 or answered != len(urls):
                raise RuntimeError(f"bare Scrapy run exited {code} with {answered}/{len(urls)} responses: "
                                   f"{text.strip().splitlines()[-3:]}")
            cpu.add(1000 * cpu_s / len(articles))
    return figures


def least_ratio(figures: dict[str, harness.Figure]) -> None:
    """Add ``(Scrapy alone + floor) / floor``, from the latest run of each: the ratio a crawler with no cost of
    its own would show. run_all.py calls it once a round, right after measuring both."""
    if "framework_cpu" not in figures or "floor_cpu" not in figures:
        return
    framework, floor = figures["framework_cpu"].values, figures["floor_cpu"].values
    if not framework or not floor or not floor[-1]:
        return
    fig = figures.setdefault("framework_vs_floor", harness.Figure(
        "(Scrapy alone + floor) / floor", "x", higher_is_better=False,
        note="the least crawler/floor ratio a Scrapy crawler doing this work can show on this machine"))
    fig.add((framework[-1] + floor[-1]) / floor[-1])


def main(argv: Sequence[str] | None = None) -> int:
    ap = scale_site.script_arguments(__doc__)
    args = ap.parse_args(argv)
    site = scale_site.site_of(args)
    with harness.serving(site.served, latency_ms=0) as server:
        figures = run(site, server, runs=args.runs)
    print(harness.table(list(figures.values())))
    harness.write_record("framework", {"arguments": vars(args), "figures": figures})
    return 0


if __name__ == "__main__":
    sys.exit(main())
