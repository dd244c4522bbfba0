"""Serial baseline: one request at a time with a plain HTTP client and the project's parser, 20 ms per request.

    python benchmarks/serial.py [--posts 20000] [--articles 400] [--latency-ms 20] [--runs 3]

What a straightforward script would do: ``urllib.request`` through nginx as an HTTP proxy (the real URLs,
one new connection per request, as urllib does), each listing page's links extracted, each article page
parsed with ``newscrawl.parsers.parse_article``, its origin answer fetched and decoded -- strictly one
request after another, against nginx answering after ``latency-ms`` (nginx's echo_sleep).

At 20 ms a request the whole 20,000-post site would take about 15 minutes serially, and the rate is flat,
so a sample is crawled: ``--articles`` articles spread over the site, plus the listing pages in the same
proportion to articles as on the whole site. articles/s is the sample's articles over its wall time.
newscrawl's own crawl on the same latency (crawl.py) is set against this (target: >= 10x).
See docs/performance.md.
"""

from __future__ import annotations

import random
import sys
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import floor
import harness
import scale_site


@dataclass
class SerialResult:
    articles: int
    requests: int
    seconds: float
    cpu_seconds: float
    parsed: bool

    @property
    def articles_per_second(self) -> float:
        return self.articles / self.seconds


def sample(site: scale_site.ScaleSite, articles: int, seed: int = 0) -> tuple[list[str], list[dict[str, Any]]]:
    """Listing page URLs and manifest entries of a sample with the whole site's mix of requests."""
    manifest = site.manifest()
    listing = site.listing_urls()
    chosen = random.Random(seed).sample(manifest, min(articles, len(manifest)))
    share = max(1, round(len(listing) * len(chosen) / len(manifest)))
    return listing[:share], chosen


def crawl(proxy_url: str, listing: Sequence[str], entries: Sequence[dict[str, Any]]) -> SerialResult:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": proxy_url}))
    try:
        work: floor.ProjectWork | None = floor.ProjectWork(None)
    except harness.NotAvailable:
        work = None

    def get(url: str) -> bytes:
        with opener.open(url, timeout=30) as response:
            body: bytes = response.read()
            return body

    requests = 0
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for url in listing:
        body = get(url)
        requests += 1
        if work is not None:
            work.listing(body.decode("utf-8"), url)
    for e in entries:
        url = scale_site.CRAWL_SITE_URL + e["url"]
        page = get(url)
        requests += 1
        info_code = e["info_code"]
        article = None
        if work is not None:
            article = work.article(page.decode("utf-8"), url)
            info_code = article.info_code
        if info_code:
            answer = get(scale_site.ORIGIN_TEXT_API + info_code)
            requests += 1
            if work is not None:
                work.origin(article, answer)
    return SerialResult(len(entries), requests, time.perf_counter() - wall0, time.process_time() - cpu0,
                        work is not None)


def run(site: scale_site.ScaleSite, server: harness.Nginx, *, runs: int, articles: int = 400,
        figures: dict[str, harness.Figure] | None = None) -> dict[str, harness.Figure]:
    figures = {} if figures is None else figures
    listing, entries = sample(site, articles)
    fig = figures.setdefault("serial", harness.Figure(
        f"serial baseline: urllib, {server.latency_ms} ms/request", "articles/s",
        note=f"sample of {len(entries)} articles + {len(listing)} listing pages"))
    for _ in range(runs):
        r = crawl(server.slow_proxy_url, listing, entries)
        fig.add(r.articles_per_second)
        if not r.parsed:
            fig.note += "; fetch only: newscrawl.parsers does not import yet"
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    ap = scale_site.script_arguments(__doc__)
    ap.add_argument("--articles", type=int, default=400, help="sample size")
    ap.add_argument("--latency-ms", type=int, default=20)
    args = ap.parse_args(argv)
    site = scale_site.site_of(args)
    with harness.serving(site.served, latency_ms=args.latency_ms) as server:
        figures = run(site, server, runs=args.runs, articles=args.articles)
    print(harness.table(list(figures.values())))
    harness.write_record("serial", {"arguments": vars(args), "figures": figures})
    return 0


if __name__ == "__main__":
    sys.exit(main())
