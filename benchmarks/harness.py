"""Shared machinery of the benchmarks: paths, optional imports, min/median/max figures, nginx on loopback.

The benchmarks and what limits each figure are described in docs/performance.md; how to run them in
benchmarks/README.md. Every benchmark script imports this module first: it puts the repository root on
``sys.path`` so ``newscrawl`` imports without an installed package (the scripts run as
``python benchmarks/<name>.py`` from anywhere).
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import json
import os
import platform
import pwd
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
# One dated JSON record per benchmark run: the history of every figure (docs/performance.md shows the newest).
RESULTS_DIR = BENCH_DIR / "results"
REPLICA_DIR = Path(os.environ.get("NEWSCRAWL_REPLICA", REPO_ROOT.parent / "shared" / "replica"))
# Generated sites are large (about 0.2 GB per 20,000 posts) and never belong in git: /tmp by default.
CACHE_DIR = Path(os.environ.get("NEWSCRAWL_BENCH_DIR", "/tmp/newscrawl-bench"))

SITE_HOST = "finews.withounder.com"
ORIGIN_HOSTS = ("finews.zning.xyz", "choicewzp1.eastmoney.com")

if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))


_DISCARDED: list[Path] = []


def discard_later(path: Path) -> None:
    """Remove ``path`` (a run's archive, WARC files, exported posts) when this process ends, not now.

    Deleting tens of thousands of files leaves ext4 slow to create new ones for minutes (its inode
    allocator checks every recently freed inode, ``recently_deleted``): a 20,000-post export into a folder
    emptied just before took 11 s, 9 of them in the kernel, against 3 s otherwise. Deleting one run's
    output before the next run's export would time the file system's clean-up, not newscrawl's export.
    """
    _DISCARDED.append(path)


@atexit.register
def _remove_discarded() -> None:
    for path in _DISCARDED:
        shutil.rmtree(path, ignore_errors=True)


def scratch_dir(prefix: str) -> Path:
    """A new folder under CACHE_DIR, removed when this process ends (see discard_later)."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=CACHE_DIR))
    discard_later(path)
    return path


class NotAvailable(Exception):
    """A figure cannot be measured yet (a project piece it needs is missing); the message says which."""


def optional_import(module: str, attribute: str | None = None) -> Any:
    """The module (or one attribute of it), or NotAvailable naming what is missing.

    The crawler, storage and CLI are written concurrently with these benchmarks; a benchmark run before
    they land must say what it waits for instead of failing with a traceback.
    """
    try:
        mod: ModuleType = importlib.import_module(module)
    except ImportError as exc:
        raise NotAvailable(f"`{module}` does not import yet ({exc})") from exc
    if attribute is None:
        return mod
    try:
        return getattr(mod, attribute)
    except AttributeError as exc:
        raise NotAvailable(f"`{module}.{attribute}` does not exist yet") from exc


# ---------------------------------------------------------------------------------------------- figures


@dataclass
class Figure:
    """One measured quantity over several runs, shown as min / median / max."""

    name: str
    unit: str
    values: list[float] = field(default_factory=list)
    # Better is higher (rates) or lower (CPU, memory, time): decides how the target is checked.
    higher_is_better: bool = True
    target: float | None = None
    target_text: str = ""
    note: str = ""
    missing: str | None = None  # why the figure could not be measured

    def add(self, value: float) -> None:
        self.values.append(value)

    @property
    def median(self) -> float | None:
        return statistics.median(self.values) if self.values else None

    def verdict(self) -> str:
        if self.missing is not None:
            return "n/a"
        if self.target is None or self.median is None:
            return ""
        met = self.median >= self.target if self.higher_is_better else self.median <= self.target
        return "met" if met else "MISSED"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "unit": self.unit, "values": self.values, "median": self.median,
            "min": min(self.values, default=None), "max": max(self.values, default=None),
            "target": self.target, "target_text": self.target_text, "verdict": self.verdict(),
            "note": self.note, "missing": self.missing,
        }


def fmt(value: float | None) -> str:
    """A number in a width-friendly form: 3 significant digits, thousands without exponent."""
    if value is None:
        return "-"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    if magnitude == 0:
        return "0"
    return f"{value:.3g}"


def table(figures: Sequence[Figure]) -> str:
    """The figures as a Markdown table (it reads in a terminal and pastes into docs/performance.md)."""
    header = ["figure", "unit", "min", "median", "max", "runs", "target", "verdict"]
    rows = [header, ["---"] * len(header)]
    for f in figures:
        if f.missing is not None:
            rows.append([f.name, f.unit, "-", "-", "-", "0", f.target_text,
                         f"not available yet: {f.missing}"])
            continue
        rows.append([
            f.name, f.unit, fmt(min(f.values)) if f.values else "-", fmt(f.median),
            fmt(max(f.values)) if f.values else "-", str(len(f.values)), f.target_text, f.verdict(),
        ])
    widths = [max(len(r[i]) for r in rows if r[0] != "---") for i in range(len(header))]
    lines = []
    for r in rows:
        if r[0] == "---":
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
        else:
            lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |")
    return "\n".join(lines)


def machine() -> dict[str, str]:
    """What the figures were measured on: they mean little without it."""
    info = {
        "cpus": str(os.cpu_count()),
        "cpu_model": _cpu_model(),
        "memory": _mem_total(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "nginx": nginx_version() or "not installed",
    }
    # The checkout is shared and changes under a long run: say which code was measured.
    git = subprocess.run(["git", "-C", str(REPO_ROOT), "describe", "--always", "--dirty"],
                         capture_output=True, text=True, check=False)
    info["commit"] = git.stdout.strip() or "unknown"
    for package in ("scrapy", "lxml", "sqlalchemy", "twisted"):
        with contextlib.suppress(Exception):
            info[package] = importlib.import_module(package).__version__
    return info


def write_record(benchmark: str, figures: Mapping[str, Any], *, path: Path | None = None) -> Path:
    """Keep one run's figures as ``benchmarks/results/<UTC date>-<time>-<benchmark>.json``.

    The record says when, on which machine (CPU model, cores, memory, kernel, Python) and at which commit the
    figures were taken, so that the history of a figure is these records and git, not the docs. ``path``
    names the file instead, for a benchmark that gathers several runs into one record (``reads.py``).
    """
    now = datetime.now(UTC)
    info = machine()
    header: dict[str, Any] = {"benchmark": benchmark, "date": now.isoformat(timespec="seconds"),
                              "commit": info.pop("commit"), "machine": info}
    record = header | {key: value for key, value in figures.items() if key not in header}
    path = path or RESULTS_DIR / f"{now:%Y%m%d-%H%M%S}-{benchmark}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, ensure_ascii=False, indent=1, default=_jsonable) + "\n", encoding="utf-8")
    print(f"record: {path}")
    return path


def _jsonable(value: Any) -> Any:
    return value.as_dict() if isinstance(value, Figure) else str(value)


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _mem_total() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return "unknown"


def timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """(wall seconds, this process's CPU seconds, result) of one call."""
    wall0, cpu0 = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - wall0, time.process_time() - cpu0, result


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def py_spy() -> str:
    binary = shutil.which("py-spy")
    if binary is None:
        raise NotAvailable("py-spy is not installed (pip install -r benchmarks/requirements.txt)")
    return binary


def collapsed_summary(path: Path, top: int = 25, focus: Sequence[str] = ("newscrawl", "pipelines")) -> str:
    """The hot spots of a py-spy ``--format raw`` profile (collapsed stacks).

    Two lists: functions by self time (where the CPU is spent) and the project's functions by inclusive
    time (which of our calls it is spent under), each as a share of all samples.
    """
    self_time: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        leaf = frames[-1]
        self_time[leaf] = self_time.get(leaf, 0) + n
        for frame in set(frames):
            if any(f"/{name}/" in frame or f"({name}/" in frame for name in focus):
                inclusive[frame] = inclusive.get(frame, 0) + n
    if not total:
        return f"{path}: no samples"

    def listing(counts: dict[str, int]) -> str:
        best = sorted(counts.items(), key=lambda kv: kv[1], reverse=True)[:top]
        return "\n".join(f"  {100 * n / total:5.1f}%  {frame}" for frame, n in best)

    return (f"{path.name}: {total} samples\nself time:\n{listing(self_time)}\n"
            f"inclusive, project code:\n{listing(inclusive)}")


# ------------------------------------------------------------------------------------------------ nginx


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).is_file()), None)


def nginx_version() -> str | None:
    binary = nginx_binary()
    if binary is None:
        return None
    out = subprocess.run([binary, "-v"], capture_output=True, text=True, check=False)
    return (out.stderr or out.stdout).strip().split("/")[-1] or None


# Debian's nginx-light depends on this module; it gives nginx a non-blocking sleep (echo_sleep).
ECHO_MODULE = Path("/usr/lib/nginx/modules/ngx_http_echo_module.so")

# One JSON object per request. $host is taken from the request line for absolute-form (proxy) requests,
# so the log shows which virtual host answered, as the replica's serve.py --log does.
LOG_FORMAT = (
    "log_format bench escape=json '{\"t\":$msec,\"host\":\"$host\",\"uri\":\"$request_uri\","
    "\"status\":$status,\"bytes\":$body_bytes_sent,\"inm\":\"$http_if_none_match\"}';"
)

NOT_FOUND_JSON = '{"text": null, "error": "not found"}'


@dataclass(frozen=True)
class Served:
    """A generated site on disk: the site's document root and the origin's (text API answers + share page)."""

    site_root: Path
    origin_root: Path


class Nginx:
    """nginx on loopback serving a generated site (and its origin), as a web server and as an HTTP proxy.

    Routing follows the replica's serve.py: ``finews.withounder.com`` / ``127.0.0.1`` / ``localhost`` is the
    site (static files: ETag, Last-Modified and 304 come from nginx's static module, as on any static host),
    ``finews.zning.xyz`` / ``choicewzp1.eastmoney.com`` the origin, any other host 502. A crawler with
    ``http_proxy=http://127.0.0.1:<port>`` sends absolute-form requests (``GET http://host/path``); nginx
    picks the virtual host from the request line, so the real URLs work unchanged.

    ``port`` answers at once; ``slow_port`` answers the same after ``latency_ms`` (echo_sleep, a timer in
    nginx's event loop, so the delay costs no CPU and no worker: concurrency is not capped by the server).
    nginx runs in the foreground as the current user, with every path in a private temp dir, and is
    stopped at exit.
    """

    def __init__(self, served: Served, *, latency_ms: int = 20, workers: int = 1) -> None:
        binary = nginx_binary()
        if binary is None:
            raise NotAvailable("nginx is not installed (apt-get install nginx-light)")
        self.binary = binary
        self.served = served
        self.latency_ms = latency_ms
        self.workers = workers
        self.dir = Path(tempfile.mkdtemp(prefix="newscrawl-nginx-"))
        self.access_log = self.dir / "access.log"
        self.port = free_port()
        self.slow_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def proxy_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def slow_proxy_url(self) -> str:
        return f"http://127.0.0.1:{self.slow_port}"

    def config(self) -> str:
        user = ""
        if os.geteuid() == 0:
            # Workers would otherwise drop to "nobody", who cannot read a private temp dir.
            user = f"user {pwd.getpwuid(os.getuid()).pw_name};"
        load = f"load_module {ECHO_MODULE};" if ECHO_MODULE.is_file() else ""
        if not load and self.latency_ms:
            raise NotAvailable("nginx's echo module is missing (apt-get install libnginx-mod-http-echo)")
        d = self.dir
        site, origin = self.served.site_root, self.served.origin_root
        slow = ""
        if load:
            slow = f"""
    server {{
        listen 127.0.0.1:{self.slow_port} default_server;
        access_log off;
        location / {{
            echo_sleep {self.latency_ms / 1000:.3f};
            echo_exec @fast;
        }}
        location @fast {{
            proxy_pass http://fast;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_buffering on;
        }}
    }}"""
        return f"""
{load}
{user}
daemon off;
worker_processes {self.workers};
worker_rlimit_nofile 65536;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    types {{
        text/html html;
        application/xml xml;
        application/json json;
    }}
    default_type application/octet-stream;
    charset utf-8;
    charset_types text/html application/xml application/json;
    {LOG_FORMAT}
    access_log {self.access_log} bench;
    sendfile on;
    tcp_nodelay on;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    # Cached descriptors stay open: keep the cache well under the fd limit (a 20,000-post site has
    # 40,000 files; an uncapped cache runs nginx out of descriptors and it answers 500).
    open_file_cache max=4096 inactive=60s;
    server_tokens off;
    upstream fast {{
        server 127.0.0.1:{self.port};
        keepalive 64;
    }}

    server {{
        listen 127.0.0.1:{self.port} default_server;
        return 502 "offsite host\\n";
    }}
    server {{
        listen 127.0.0.1:{self.port};
        server_name {SITE_HOST} 127.0.0.1 localhost;
        root {site};
        index index.html;
        add_header Cache-Control "max-age=600";
        error_page 404 /404.html;
        location / {{ }}
    }}
    server {{
        listen 127.0.0.1:{self.port};
        server_name {" ".join(ORIGIN_HOSTS)};
        root {origin};
        location = /NewsData/GetNewsText.do {{
            if ($arg_id !~ "^[A-Za-z0-9_-]+$") {{ return 404 '{NOT_FOUND_JSON}'; }}
            try_files /GetNewsText/$arg_id.json @no_text;
        }}
        location @no_text {{
            default_type application/json;
            return 404 '{NOT_FOUND_JSON}';
        }}
        location = /html_News/NewsShare.html {{
            if ($arg_infoCode !~ "^[A-Za-z0-9_-]+$") {{ return 404 "no such news\\n"; }}
            if (!-f $document_root/GetNewsText/$arg_infoCode.json) {{ return 404 "no such news\\n"; }}
            try_files /share.html =404;
        }}
        location / {{ return 404 "not found\\n"; }}
    }}{slow}
}}
"""

    def start(self) -> Nginx:
        conf = self.dir / "nginx.conf"
        conf.write_text(self.config(), encoding="utf-8")
        # -e: nginx opens its error log before reading the config; keep even that one in our dir.
        self.process = subprocess.Popen(
            [self.binary, "-p", str(self.dir), "-c", str(conf), "-e", str(self.dir / "error.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        atexit.register(self.stop)
        try:
            wait_for_port(self.port)
            if self.latency_ms:
                wait_for_port(self.slow_port)
        except OSError as exc:
            err = self.process.stderr.read().decode(errors="replace") if self.process.poll() is not None and \
                self.process.stderr else ""
            self.stop()
            raise RuntimeError(f"nginx did not start: {err or exc}") from exc
        return self

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGQUIT)  # graceful: finishes the log lines in flight
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> Nginx:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- the access log: how request counts are taken, as the replica's --log is for serve.py

    def log_mark(self) -> int:
        return self.access_log.stat().st_size if self.access_log.exists() else 0

    def requests_since(self, mark: int) -> list[dict[str, Any]]:
        """Log entries written after ``mark`` (a byte offset from ``log_mark``)."""
        if not self.access_log.exists():
            return []
        with self.access_log.open("rb") as f:
            f.seek(mark)
            data = f.read()
        return [json.loads(line) for line in data.splitlines() if line.strip()]


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """A throw-away redis-server on a free loopback port, no persistence; yields its URL.

    Raises NotAvailable when redis-server (Debian package redis-server) or scrapy-redis is missing.
    """
    binary = shutil.which("redis-server")
    if binary is None:
        raise NotAvailable("redis-server is not installed (apt-get install redis-server)")
    optional_import("scrapy_redis")
    port = free_port()
    process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextlib.contextmanager
def serving(served: Served, *, latency_ms: int = 20, workers: int = 1) -> Iterator[Nginx]:
    with Nginx(served, latency_ms=latency_ms, workers=workers) as server:
        yield server
