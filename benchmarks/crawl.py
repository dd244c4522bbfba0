"""The crawler's own figures: full crawl, incremental re-crawl, crawl at 20 ms latency, memory, export.

    python benchmarks/crawl.py [--posts 20000] [--runs 3] [--setting NAME=VALUE ...]

Each crawl is the real thing, as a user runs it: ``python -m scrapy crawl finews`` in a subprocess from the
repository root, with ``http_proxy`` pointing at nginx (so the real host names are crawled), the archive
in a fresh SQLite file, the project's default settings otherwise (``--setting`` adds ``-s`` overrides).
Measured per run: wall time; CPU seconds and peak RSS of the crawler process (``os.wait4``'s rusage, which
covers the process and any children it waited for, taken by a small launcher: see ``_LAUNCHER``);
articles archived (rows of ``articles``); requests by kind and status (nginx's access log). Then, on the
same archive, an incremental re-crawl of the unchanged site (requests made, article pages downloaded in
full, wall time as a fraction of the full crawl's) and ``python -m newscrawl export`` (posts written per
second). Last, the crawl at latency (nginx adds 20 ms to every request): one process, then two processes
sharing one crawl through a throw-away redis-server (docs/distributed.md), both writing one SQLite
archive. See docs/performance.md.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import harness
import scale_site

ARTICLE_PATH = re.compile(r"^/(?:[^/]+/)?\d{4}/\d{2}/\d{2}/[^/]+\.html$")
CRAWL_TIMEOUT_S = 3 * 3600
# Processes of the shared crawls at latency: one per core, and one more than the cores (a process that
# waits, on the network or on SQLite's write lock, leaves its core to the others). And how long each waits
# on an empty frontier while another is still busy (NEWSCRAWL_REDIS_IDLE_SECONDS). A process ends once the
# frontier is empty and no process holds a lease: the last one at once, the others within 0.25 s
# (newscrawl.frontier).
SHARED_WORKERS = (2, 3)
SHARED_IDLE_S = 5


def unthrottled() -> str:
    """The politeness lifted: AutoThrottle aiming at as many requests in flight per host as newscrawl's
    per-host cap allows (its own target is half that). Only for the figure of what one process's CPU allows
    at latency; read from newscrawl/settings.py, like framework.py's settings, so the two cannot drift."""
    project = importlib.import_module("newscrawl.settings")
    return f"AUTOTHROTTLE_TARGET_CONCURRENCY={project.CONCURRENT_REQUESTS_PER_DOMAIN}"


@dataclass
class CrawlRun:
    """One crawl, by one process or several sharing it: what it cost and what it did."""

    returncode: int
    wall_seconds: float
    cpu_seconds_each: list[float]  # by process, in start order
    max_rss_mb: float
    articles_archived: int | None
    requests: Counter[tuple[str, int]] = field(default_factory=Counter)  # (kind, status) -> count
    stats: dict[str, Any] | None = None
    log: Path | None = None

    @property
    def cpu_seconds(self) -> float:
        """CPU of all the run's processes."""
        return sum(self.cpu_seconds_each)

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    def count(self, kind: str, status: int | None = None) -> int:
        return sum(n for (k, s), n in self.requests.items() if k == kind and (status is None or s == status))

    def failure(self) -> str | None:
        """Why this run cannot be used, from its log's last lines; None if it can."""
        if self.returncode == 0 and self.articles_archived:
            return None
        tail = ""
        if self.log is not None and self.log.exists():
            lines = self.log.read_text(encoding="utf-8", errors="replace").splitlines()
            errors = [ln for ln in lines if "ERROR" in ln or "Error" in ln or "Traceback" in ln]
            tail = " | ".join((errors or lines)[-3:])[:400]
        return f"crawler exited {self.returncode}, {self.articles_archived} articles archived: {tail}"


def request_kind(entry: dict[str, Any]) -> str:
    path = entry["uri"].split("?", 1)[0]
    if path == "/robots.txt":
        return "robots"
    if entry["host"] in harness.ORIGIN_HOSTS:
        return "origin"
    if ARTICLE_PATH.match(path):
        return "article"
    if path.startswith("/category/") or path in ("/", "/index.html", "/emnews/", "/feed.xml"):
        return "listing"
    return "other"


def count_articles(db: Path) -> int | None:
    if not db.exists():
        return None
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            n: int = conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
            return n
    except sqlite3.Error:
        return None


def run_process(cmd: Sequence[str], *, env: dict[str, str], log: Path,
                timeout: float = CRAWL_TIMEOUT_S) -> tuple[int, float, float, float]:
    """(exit code, wall s, CPU s, peak RSS MB) of one subprocess, its output in ``log``."""
    (code, cpu, rss), wall = run_processes([cmd], env=env, logs=[log], timeout=timeout)
    return code[0], wall, cpu[0], rss


# Linux carries a process's peak RSS over exec: a child forked (or vforked) from this benchmark process starts
# its ru_maxrss at this process's own peak, hundreds of MB once the floor's saved pages are loaded (a 20,000-
# post crawl measured 311 MB from run_all.py against 198 MB from a small parent). So a
# small launcher forks each measured command and reports the rusage of that command alone.
_LAUNCHER = """
import json, os, sys
usage_file, argv = sys.argv[1], sys.argv[2:]
pid = os.fork()
if pid == 0:
    try:
        os.execvp(argv[0], argv)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
with open(usage_file, "w") as out:
    json.dump({"cpu": usage.ru_utime + usage.ru_stime, "maxrss_kb": usage.ru_maxrss}, out)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_processes(cmds: Sequence[Sequence[str]], *, env: dict[str, str], logs: Sequence[Path],
                  timeout: float = CRAWL_TIMEOUT_S) -> tuple[tuple[list[int], list[float], float], float]:
    """Subprocesses started together: ((exit codes, CPU s of each, largest peak RSS MB), wall s until the
    last one ended), the output of each in its log."""
    outs = [log.open("ab") for log in logs]
    usage_files = [log.with_name(log.name + ".rusage.json") for log in logs]
    try:
        wall0 = time.perf_counter()
        # Each in a session of its own, so that a timeout kills the launcher and the command together.
        procs = [subprocess.Popen([sys.executable, "-S", "-c", _LAUNCHER, str(usage), *cmd], cwd=harness.REPO_ROOT,
                                  env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
                 for cmd, out, usage in zip(cmds, outs, usage_files, strict=True)]
        # A hung crawl must not hang the benchmark: kill it after the timeout.
        watchdogs = [threading.Timer(timeout, os.killpg, (proc.pid, signal.SIGKILL)) for proc in procs]
        for watchdog in watchdogs:
            watchdog.start()
        codes: list[int] = []
        try:
            for proc in procs:
                codes.append(proc.wait())
        finally:
            for watchdog in watchdogs:
                watchdog.cancel()
        # Waited in start order: the last one waited for may have ended before an earlier one, so the
        # wall time is the end of the slowest, which is what a user of the workers waits for.
        wall = time.perf_counter() - wall0
        cpu: list[float] = []
        rss = 0.0
        for usage_file in usage_files:
            # wait4's rusage of the command: its own CPU and peak RSS, and those of any children it waited for.
            usage = json.loads(usage_file.read_text()) if usage_file.exists() else {"cpu": 0.0, "maxrss_kb": 0}
            cpu.append(usage["cpu"])
            rss = max(rss, usage["maxrss_kb"] / 1024)
    finally:
        for out in outs:
            out.close()
        for usage_file in usage_files:
            usage_file.unlink(missing_ok=True)
    return (codes, cpu, rss), wall


def crawler_env(proxy_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k.lower() not in ("http_proxy", "https_proxy", "no_proxy", "all_proxy")}
    env["http_proxy"] = env["HTTP_PROXY"] = proxy_url
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(harness.REPO_ROOT), env.get("PYTHONPATH")]))
    env.pop("SCRAPY_SETTINGS_MODULE", None)
    for name in ("NEWSCRAWL_REDIS_URL", "NEWSCRAWL_REDIS_CRAWL_ID", "NEWSCRAWL_REDIS_IDLE_SECONDS"):
        env.pop(name, None)  # a crawl shares a frontier only when crawl_once is told to
    return env


def crawl_once(server: harness.Nginx, proxy_url: str, work: Path, label: str,
               settings: Sequence[str] = (), profile: Path | None = None, *,
               workers: int = 1, redis_url: str | None = None) -> CrawlRun:
    """One ``scrapy crawl finews`` into ``work/bench.sqlite3`` through nginx at ``proxy_url``.

    With ``workers`` > 1, that many processes share one crawl through the Redis at ``redis_url``
    (docs/distributed.md), all writing the same archive; CPU is their sum, RSS the largest.
    """
    db = work / "bench.sqlite3"
    env = crawler_env(proxy_url)
    if workers > 1:
        assert redis_url is not None
        env.update(NEWSCRAWL_REDIS_URL=redis_url, NEWSCRAWL_REDIS_CRAWL_ID=f"bench-{label}-{uuid.uuid4().hex[:8]}",
                   NEWSCRAWL_REDIS_IDLE_SECONDS=str(SHARED_IDLE_S))
    names = [label] if workers == 1 else [f"{label}-{i}" for i in range(workers)]
    cmds = []
    for name in names:
        cmd = [
            sys.executable, "-m", "scrapy", "crawl", "finews",
            "-s", f"NEWSCRAWL_SITE_URL={scale_site.CRAWL_SITE_URL}/",
            "-s", f"NEWSCRAWL_DB_URL=sqlite:///{db}",
            "-s", f"NEWSCRAWL_WARC_DIR={work / 'warc'}",
            "-s", f"NEWSCRAWL_STATS_FILE={work / f'stats-{name}.json'}",
            "-s", "LOG_LEVEL=INFO",
        ]
        for s in settings:
            cmd += ["-s", s]
        if profile is not None:
            # Sampling profiler around the crawler: its own CPU then counts in this run's rusage, so a
            # profiled run is for finding what dominates, not for the figures.
            profile.mkdir(parents=True, exist_ok=True)
            cmd = [harness.py_spy(), "record", "--rate", "250", "--format", "raw", "--nonblocking",
                   "-o", str(profile / f"{name}.collapsed"), "--", *cmd]
        cmds.append(cmd)
    mark = server.log_mark()
    logs = [work / f"crawl-{name}.log" for name in names]
    (codes, cpu, rss), wall = run_processes(cmds, env=env, logs=logs)
    time.sleep(0.2)  # let nginx finish writing the last access-log lines
    requests = Counter((request_kind(e), int(e["status"])) for e in server.requests_since(mark))
    stats_file = work / f"stats-{names[0]}.json"
    stats = json.loads(stats_file.read_text(encoding="utf-8")) if stats_file.exists() else None
    code = next((c for c in codes if c != 0), 0)
    return CrawlRun(code, wall, cpu, rss, count_articles(db), requests, stats, logs[codes.index(code)])


def export_once(work: Path) -> tuple[int, float, str | None]:
    """(posts written, wall seconds, failure) of ``newscrawl export`` of ``work``'s archive."""
    out = Path(tempfile.mkdtemp(prefix="export-", dir=work))  # new and empty: see harness.discard_later
    log = work / "export.log"
    cmd = [sys.executable, "-m", "newscrawl", "export", "--db", f"sqlite:///{work / 'bench.sqlite3'}",
           "--out", str(out)]
    env = crawler_env("")
    env.pop("http_proxy")
    env.pop("HTTP_PROXY")
    code, wall, _, _ = run_process(cmd, env=env, log=log, timeout=3600)
    written = sum(1 for _ in out.rglob("*.md")) if out.exists() else 0
    if code != 0 or written == 0:
        tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-3:] if log.exists() else []
        return written, wall, f"export exited {code}, {written} posts: {' | '.join(tail)[:300]}"
    return written, wall, None


def crawl_figures(figures: dict[str, harness.Figure], latency_ms: int) -> dict[str, harness.Figure]:
    def fig(key: str, *args: Any, **kwargs: Any) -> harness.Figure:
        return figures.setdefault(key, harness.Figure(*args, **kwargs))

    fig("crawl_rate", "full crawl", "articles/s")
    fig("crawl_cpu", "full crawl: crawler CPU", "CPU ms/article", higher_is_better=False)
    fig("crawl_rss", "full crawl: peak RSS", "MB", higher_is_better=False)
    fig("crawl_vs_floor", "crawler CPU / floor CPU", "x", higher_is_better=False, target=3.0,
        target_text="<= 3x")
    fig("crawl_vs_work", "crawler CPU / whole-work floor CPU", "x", higher_is_better=False,
        note="the floor with everything else the crawler does per article: what is left is Scrapy and its glue")
    fig("latency_rate", f"newscrawl at {latency_ms} ms/request", "articles/s")
    fig("latency_vs_serial", f"newscrawl / serial baseline at {latency_ms} ms", "x", target=10.0,
        target_text=">= 10x")
    lifted = unthrottled()
    fig("unthrottled_rate", f"newscrawl at {latency_ms} ms/request, one process, {lifted} (not the default)",
        "articles/s", note="what one process does when its CPU, not its politeness, is the limit")
    fig("unthrottled_vs_serial", f"one process, {lifted} / serial baseline at {latency_ms} ms", "x")
    for n in SHARED_WORKERS:
        fig(f"shared{n}_rate", f"newscrawl, {n} processes sharing one crawl (Redis), at {latency_ms} ms/request",
            "articles/s")
        fig(f"shared{n}_vs_serial", f"{n} processes / serial baseline at {latency_ms} ms", "x", target=10.0,
            target_text=">= 10x")
    fig("incr_requests", "incremental re-crawl: requests", "requests", higher_is_better=False)
    fig("incr_full_articles", "incremental: articles downloaded in full", "pages", higher_is_better=False,
        target=0.0, target_text="0")
    fig("incr_wall_fraction", "incremental: wall time / full crawl's", "%", higher_is_better=False,
        target=5.0, target_text="<= 5%")
    fig("export_crawled", "newscrawl export of the crawled archive", "posts/s", target=2000.0,
        target_text=">= 2,000")
    return figures


def run(site: scale_site.ScaleSite, server: harness.Nginx, *, runs: int, settings: Sequence[str] = (),
        figures: dict[str, harness.Figure] | None = None, floor_ms: float | None = None,
        serial_rate: float | None = None, keep: bool = False,
        profile: Path | None = None) -> dict[str, harness.Figure]:
    """Full crawl + incremental re-crawl + export ``runs`` times, then the crawl at latency ``runs`` times."""
    figures = {} if figures is None else figures
    if not spider_available(figures, server.latency_ms):
        return figures
    base = work_root(keep)
    for i in range(runs):
        if not full_round(site, server, base, i, settings=settings, figures=figures, floor_ms=floor_ms,
                          profile=profile):
            break
    latency_stage(site, server, base, runs=runs, settings=settings, figures=figures, serial_rate=serial_rate,
                  keep=keep)
    return figures


def spider_available(figures: dict[str, harness.Figure], latency_ms: int) -> bool:
    """False, with the reason on every crawl figure, when the project has no spider yet."""
    try:
        harness.optional_import("newscrawl.spiders.finews")
    except harness.NotAvailable as exc:
        for f in crawl_figures(figures, latency_ms).values():
            if f.name.startswith(("full crawl", "crawler", "newscrawl", "incremental")):
                f.missing = str(exc)
        return False
    return True


def work_root(keep: bool) -> Path:
    """A folder for the crawls' archives, WARC files and logs, removed at exit unless ``keep``."""
    base = Path(tempfile.mkdtemp(prefix="newscrawl-crawl-", dir=harness.CACHE_DIR))
    if keep:
        print(f"crawl work dirs kept in {base}", file=sys.stderr)
    else:
        harness.discard_later(base)  # at exit: harness.discard_later says why not before
    return base


def full_round(site: scale_site.ScaleSite, server: harness.Nginx, base: Path, index: int, *,
               settings: Sequence[str], figures: dict[str, harness.Figure], floor_ms: float | None = None,
               work_ms: float | None = None, profile: Path | None = None) -> bool:
    """One full crawl into a new archive, the incremental re-crawl of it and its export.

    ``floor_ms`` / ``work_ms``: the floors (``floor.py``) measured just before, in the same round, for the
    ratios; run_all.py pairs them so that a machine that drifts over the run moves both sides of a ratio.
    False when the crawl failed (its figures then say why).
    """
    figures = crawl_figures(figures, server.latency_ms)
    posts = site.meta()["posts"]
    work = base / f"run{index}"
    work.mkdir()
    full = crawl_once(server, server.proxy_url, work, "full", settings,
                      profile=profile / f"run{index}" if profile else None)
    problem = full.failure()
    if problem:
        for key in ("crawl_rate", "crawl_cpu", "crawl_rss", "crawl_vs_floor", "crawl_vs_work", "incr_requests",
                    "incr_full_articles", "incr_wall_fraction", "export_crawled"):
            figures[key].missing = problem
        return False
    assert full.articles_archived is not None
    _note_completeness(figures["crawl_rate"], full, posts)
    figures["crawl_rate"].add(full.articles_archived / full.wall_seconds)
    cpu_ms = 1000 * full.cpu_seconds / full.articles_archived
    figures["crawl_cpu"].add(cpu_ms)
    figures["crawl_rss"].add(full.max_rss_mb)
    if floor_ms:
        figures["crawl_vs_floor"].add(cpu_ms / floor_ms)
    else:
        figures["crawl_vs_floor"].missing = "no floor figure (newscrawl parser/storage missing)"
    if work_ms:
        figures["crawl_vs_work"].add(cpu_ms / work_ms)
    else:
        figures["crawl_vs_work"].missing = "no whole-work floor figure (run by run_all.py)"

    again = crawl_once(server, server.proxy_url, work, "incremental", settings)
    if again.returncode != 0:
        figures["incr_requests"].missing = again.failure()
    else:
        figures["incr_requests"].add(again.total_requests)
        figures["incr_full_articles"].add(again.count("article", 200))
        figures["incr_wall_fraction"].add(100 * again.wall_seconds / full.wall_seconds)
        figures["incr_requests"].note = _by_kind(again)

    export = figures["export_crawled"]
    written, wall, failure = export_once(work)
    if failure:
        export.missing = failure
    else:
        export.add(written / wall)
        export.note = f"{written:,} posts of the crawl's own archive; wall time, start-up included"
    return True


def latency_stage(site: scale_site.ScaleSite, server: harness.Nginx, base: Path, *, runs: int,
                  settings: Sequence[str], figures: dict[str, harness.Figure], serial_rate: float | None,
                  keep: bool) -> None:
    """The crawl at the server's latency, ``runs`` times by one process, by one process with its politeness
    lifted (``unthrottled``: what its CPU allows), then by each SHARED_WORKERS."""
    figures = crawl_figures(figures, server.latency_ms)
    posts = site.meta()["posts"]
    latency_runs(server, base, "latency", figures["latency_rate"], figures["latency_vs_serial"], runs=runs,
                 settings=settings, posts=posts, serial_rate=serial_rate, keep=keep)
    latency_runs(server, base, "unthrottled", figures["unthrottled_rate"], figures["unthrottled_vs_serial"],
                 runs=runs, settings=[*settings, unthrottled()], posts=posts, serial_rate=serial_rate, keep=keep)
    shared_latency_runs(server, base, runs=runs, settings=settings, figures=figures, posts=posts,
                        serial_rate=serial_rate, keep=keep)


def latency_runs(server: harness.Nginx, base: Path, label: str, rate: harness.Figure, ratio: harness.Figure, *,
                 runs: int, settings: Sequence[str], posts: int, serial_rate: float | None, keep: bool,
                 workers: int = 1, redis_url: str | None = None) -> None:
    """``runs`` crawls at the server's latency by ``workers`` processes: articles/s, and its ratio to the
    serial baseline's."""
    for i in range(runs):
        work = base / f"{label}{i}"
        work.mkdir()
        slow = crawl_once(server, server.slow_proxy_url, work, label, settings, workers=workers, redis_url=redis_url)
        problem = slow.failure()
        if problem:
            rate.missing = ratio.missing = problem
            return
        assert slow.articles_archived is not None
        rate.add(slow.articles_archived / slow.wall_seconds)
        _note_completeness(rate, slow, posts)
        cpu_ms = 1000 * slow.cpu_seconds / slow.articles_archived
        if workers > 1:
            each = " + ".join(f"{1000 * c / slow.articles_archived:.1f}" for c in slow.cpu_seconds_each)
            rate.note += (f"; {cpu_ms:.1f} CPU ms/article (all processes: {each}); wall time until the last "
                          "process ended")
        else:  # how much of its core the process used: below ~90% it waited on its politeness, not its CPU
            rate.note += (f"; run {i + 1}: {cpu_ms:.2f} CPU ms/article, the process busy "
                          f"{100 * slow.cpu_seconds / slow.wall_seconds:.0f}% of its wall time")
        if serial_rate:
            ratio.add(rate.values[-1] / serial_rate)
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


def shared_latency_runs(server: harness.Nginx, base: Path, *, runs: int, settings: Sequence[str],
                        figures: dict[str, harness.Figure], posts: int, serial_rate: float | None,
                        keep: bool) -> None:
    """The crawl at latency by each SHARED_WORKERS number of processes sharing one frontier in a throw-away
    Redis (each crawl's keys are its own: crawl_once names them)."""
    with contextlib.ExitStack() as stack:
        try:
            redis_url = stack.enter_context(harness.redis_server())
        except (harness.NotAvailable, OSError) as exc:
            for n in SHARED_WORKERS:
                figures[f"shared{n}_rate"].missing = figures[f"shared{n}_vs_serial"].missing = str(exc)
            return
        for n in SHARED_WORKERS:
            latency_runs(server, base, f"shared{n}p", figures[f"shared{n}_rate"], figures[f"shared{n}_vs_serial"],
                         runs=runs, settings=settings, posts=posts, serial_rate=serial_rate, keep=keep,
                         workers=n, redis_url=redis_url)


def memory(site: scale_site.ScaleSite, *, runs: int = 1, settings: Sequence[str] = (),
           figures: dict[str, harness.Figure] | None = None) -> dict[str, harness.Figure]:
    """Peak RSS of a full crawl of a large site (100,000 posts by default in run_all)."""
    figures = {} if figures is None else figures
    posts = site.meta()["posts"]
    fig = figures.setdefault("memory", harness.Figure(
        f"memory: peak RSS crawling {posts:,} articles", "MB", higher_is_better=False, target=300.0,
        target_text="<= 300 MB"))
    try:
        harness.optional_import("newscrawl.spiders.finews")
    except harness.NotAvailable as exc:
        fig.missing = str(exc)
        return figures
    with harness.serving(site.served, latency_ms=0) as server:
        for i in range(runs):
            with tempfile.TemporaryDirectory(prefix="newscrawl-memory-", dir=harness.CACHE_DIR) as tmp:
                r = crawl_once(server, server.proxy_url, Path(tmp), f"memory{i}", settings)
                problem = r.failure()
                if problem:
                    fig.missing = problem
                    break
                fig.add(r.max_rss_mb)
                assert r.articles_archived is not None
                _note_completeness(fig, r, posts)
                fig.note += f"; {r.articles_archived / r.wall_seconds:.0f} articles/s"
    return figures


def _note_completeness(fig: harness.Figure, run: CrawlRun, posts: int) -> None:
    fig.note = f"{run.articles_archived:,}/{posts:,} articles archived; {_by_kind(run)}"


def _by_kind(run: CrawlRun) -> str:
    kinds: dict[str, Counter[int]] = {}
    for (kind, status), n in run.requests.items():
        kinds.setdefault(kind, Counter())[status] += n
    return ", ".join(f"{kind} " + "/".join(f"{n}x{s}" for s, n in sorted(c.items()))
                     for kind, c in sorted(kinds.items()))


def main(argv: Sequence[str] | None = None) -> int:
    ap = scale_site.script_arguments(__doc__)
    ap.add_argument("--latency-ms", type=int, default=20)
    ap.add_argument("--setting", action="append", default=[], metavar="NAME=VALUE",
                    help="a Scrapy -s setting for every crawl")
    ap.add_argument("--keep", action="store_true", help="keep each run's archive, WARC files and logs")
    ap.add_argument("--profile", type=Path, metavar="DIR",
                    help="run each full crawl under py-spy, write DIR/run<i>/full.collapsed and print its hot "
                         "spots (profiled runs cost more CPU: use them to find what dominates, not as figures)")
    args = ap.parse_args(argv)
    site = scale_site.site_of(args)
    with harness.serving(site.served, latency_ms=args.latency_ms) as server:
        figures = run(site, server, runs=args.runs, settings=args.setting, keep=args.keep, profile=args.profile)
    print(harness.table(list(figures.values())))
    harness.write_record("crawl", {"arguments": vars(args), "figures": figures})
    if args.profile:
        for collapsed in sorted(args.profile.rglob("*.collapsed")):
            print(harness.collapsed_summary(collapsed))
    for f in figures.values():
        if f.note:
            print(f"- {f.name}: {f.note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
