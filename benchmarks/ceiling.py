"""Ceiling: every URL of a scale site fetched by a bare fast client, no parsing, no storage.

    python benchmarks/ceiling.py [--posts 20000] [--concurrency 16] [--runs 3]

The same URLs a complete crawl fetches (listing pages, article pages, origin text answers), sent as the
crawler sends them -- absolute-form requests to nginx as an HTTP proxy -- over ``concurrency`` keep-alive
HTTP/1.1 connections written straight on asyncio streams. No client library, no parsing beyond the status
line and Content-Length: what is left is the cost of the network stack, nginx and Python's event loop, the
upper bound for any Python crawler on this machine. See docs/performance.md.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import harness
import scale_site


@dataclass
class FetchResult:
    requests: int = 0
    articles: int = 0
    bytes: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)

    @property
    def pages_per_second(self) -> float:
        return self.requests / self.seconds

    @property
    def articles_per_second(self) -> float:
        return self.articles / self.seconds


class _Connection:
    """One keep-alive HTTP/1.1 connection to the proxy; reopened when the server closes it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, url: str) -> tuple[int, int]:
        """(status, body bytes) of one GET."""
        if self.writer is None or self.reader is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        host = urlsplit(url).netloc
        self.writer.write(f"GET {url} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: newscrawl-bench\r\n\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
        if "content-length" in headers:
            size = int(headers["content-length"])
            await self.reader.readexactly(size)
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            size = await self._chunked()
        else:
            size = len(await self.reader.read())
            headers["connection"] = "close"
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, size

    async def _chunked(self) -> int:
        assert self.reader is not None
        total = 0
        while True:
            n = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await self.reader.readexactly(n + 2)
            total += n
            if n == 0:
                return total

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def _fetch(port: int, urls: Sequence[str], concurrency: int, article_urls: frozenset[str]) -> FetchResult:
    result = FetchResult()
    todo: Iterator[str] = iter(urls)

    async def worker() -> None:
        conn = _Connection(port)
        try:
            # One event loop thread: next() on a shared iterator is safe without a lock.
            for url in todo:
                status, size = await conn.get(url)
                result.requests += 1
                result.bytes += size
                result.statuses[status] += 1
                if status == 200 and url in article_urls:
                    result.articles += 1
        finally:
            conn.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return result


def fetch_all(port: int, urls: Sequence[str], article_urls: Sequence[str], concurrency: int = 16) -> FetchResult:
    wall0, cpu0 = time.perf_counter(), time.process_time()
    result = asyncio.run(_fetch(port, urls, concurrency, frozenset(article_urls)))
    result.seconds = time.perf_counter() - wall0
    result.cpu_seconds = time.process_time() - cpu0
    return result


def run(site: scale_site.ScaleSite, server: harness.Nginx, *, runs: int, concurrency: int = 16,
        figures: dict[str, harness.Figure] | None = None) -> dict[str, harness.Figure]:
    """Fetch the whole site ``runs`` times; figures for pages/s and articles/s."""
    listing, articles, origin = site.crawl_urls()
    urls = [*listing, *articles, *origin]
    figures = {} if figures is None else figures
    pages = figures.setdefault("ceiling_pages", harness.Figure(
        "ceiling: bare client, all URLs", "pages/s", note=f"{len(urls)} requests, {concurrency} connections"))
    arts = figures.setdefault("ceiling_articles", harness.Figure("ceiling: bare client", "articles/s"))
    for _ in range(runs):
        r = fetch_all(server.port, urls, articles, concurrency)
        if r.statuses.get(200, 0) != len(urls):
            raise RuntimeError(f"ceiling run got statuses {dict(r.statuses)} for {len(urls)} URLs")
        pages.add(r.pages_per_second)
        arts.add(r.articles_per_second)
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    ap = scale_site.script_arguments(__doc__)
    ap.add_argument("--concurrency", type=int, default=16)
    args = ap.parse_args(argv)
    site = scale_site.site_of(args)
    with harness.serving(site.served, latency_ms=0) as server:
        figures = run(site, server, runs=args.runs, concurrency=args.concurrency)
    print(harness.table(list(figures.values())))
    harness.write_record("ceiling", {"arguments": vars(args), "figures": figures})
    return 0


if __name__ == "__main__":
    sys.exit(main())
