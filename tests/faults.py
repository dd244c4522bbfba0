"""Shared helpers of the fault suite (tests/test_faults_*.py, docs/reliability.md).

* ``FaultServer``: the demo site on a loopback server (used as the crawl's HTTP proxy, as the replica's
  ``serve.py`` is), plus synthetic articles and origin answers a test adds, plus *rules* that make chosen
  requests misbehave: an HTTP answer of the test's choosing, or a broken connection (reset, stall until
  the client gives up, a body cut short). Every rule counts how often it fired, so a test can assert
  exactly what the crawler met.
* ``start_crawl`` / ``crawl``: the real ``newscrawl crawl`` in a child process, with the server as its
  ``http_proxy`` and ``https_proxy``, the whole log at DEBUG in a file, and its stats and summary read back.
  The child runs under a network guard: any attempt to resolve a name or open a socket to an address
  other than loopback is refused and written down, and every crawl helper asserts there was none.
* ``article_page``: an article page in the site's own layout (``_layouts/post.html``), for synthetic posts.
* ``clean_rows``: the demo site crawled once without faults, the reference "nothing lost" is measured by.

Everything listens on 127.0.0.1, port 0. No sleeps synchronise anything: waits poll a condition (a log
line, a request count, a database state) against a deadline.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import html
import json
import os
import re
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from crawling import DEMO, DEMO_IDS, SITE_URL

from newscrawl.demo.server import SiteServer

ROOT = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent
SITE_HOST = "finews.withounder.com"
ORIGIN_HOST = "finews.zning.xyz"
ALLOWED_HOSTS = frozenset({SITE_HOST, ORIGIN_HOST, "choicewzp1.eastmoney.com"})
# The demo articles that have a share link on an origin host, and so an origin answer.
DEMO_ORIGIN_IDS = sorted(p.stem for p in (DEMO / "origin").glob("*.json"))

Answer = tuple[int, dict[str, str], bytes]


# -- misbehaviour --------------------------------------------------------------------------------------


class Misbehave(Exception):
    """Raised by a rule to break the connection instead of answering; ``kind`` names it in counts."""

    kind = "misbehave"

    def act(self, connection: socket.socket) -> None:
        raise NotImplementedError


class Reset(Misbehave):
    """Reset the connection (TCP RST) in the middle of the answer's status line.

    A reset before the first byte would be retried by Twisted itself, invisibly, when the connection was
    a reused keep-alive one (and by Scrapy otherwise); after the first byte only Scrapy retries, so the
    suite can count every retry exactly.
    """

    kind = "reset"

    def act(self, connection: socket.socket) -> None:
        with contextlib.suppress(OSError):
            connection.sendall(b"HTTP/1.1 2")
        # SO_LINGER 0 makes close() send RST instead of FIN: the client sees "connection reset".
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        connection.close()


class Stall(Misbehave):
    """Answer nothing, keep the connection open until the client gives up (its download timeout)."""

    kind = "stall"

    def act(self, connection: socket.socket) -> None:
        # recv() returns b"" when the client closes; the bound only keeps a forgotten server from hanging.
        connection.settimeout(120)
        with contextlib.suppress(OSError):
            while connection.recv(4096):
                pass
        connection.close()


class CutShort(Misbehave):
    """Send the status line, headers announcing ``length`` bytes and only ``body``; then close."""

    kind = "cut_short"

    def __init__(self, body: bytes, length: int) -> None:
        super().__init__()
        self.body, self.length = body, length

    def act(self, connection: socket.socket) -> None:
        head = (f"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
                f"Content-Length: {self.length}\r\nConnection: close\r\n\r\n").encode()
        with contextlib.suppress(OSError):
            connection.sendall(head + self.body)
        connection.close()


Action = Answer | Misbehave | Callable[[str, str, dict[str, str]], "Answer | Misbehave | None"]


@dataclass
class Rule:
    """Requests that ``match(host, target)`` get ``action``: at most ``times`` times in all, or at most
    once per distinct target when ``once_per_target``; ``fired`` counts what it did, by target."""

    match: Callable[[str, str], bool]
    action: Action
    times: int | None = None
    once_per_target: bool = False
    fired: list[tuple[str, str, str]] = field(default_factory=list)

    def applies(self, host: str, target: str) -> bool:
        if not self.match(host, target):
            return False
        if self.times is not None and len(self.fired) >= self.times:
            return False
        return not (self.once_per_target and any(t == target and h == host for h, t, _ in self.fired))


def on_path(path: str, host: str = SITE_HOST) -> Callable[[str, str], bool]:
    """A rule match for one path (query included) on one host."""
    return lambda h, t: h == host and t == path


class FaultServer(SiteServer):
    """The demo site and origin, extra synthetic pages, and rules that misbehave (see the module doc)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(DEMO / "site", DEMO / "origin", hook=self._answer_first, **kwargs)
        self.rules: list[Rule] = []
        self.pages: dict[str, tuple[bytes, str]] = {}
        self.index_links: list[str] = []
        self.origin_answers: dict[str, Answer] = {}
        self._lock = threading.Lock()
        base: Any = self._httpd.RequestHandlerClass
        owner = self

        class Handler(base):  # type: ignore[misc, valid-type]
            def _handle(self, head: bool) -> None:
                try:
                    super()._handle(head)
                except Misbehave as fault:
                    self.close_connection = True
                    fault.act(self.connection)
                    owner.log.add(*owner._last_request.get(threading.get_ident(), ("?", self.path)), 0)

        self._httpd.RequestHandlerClass = Handler
        self._last_request: dict[int, tuple[str, str]] = {}  # per server thread: (host, target)
        #: (time.monotonic(), host, target) of every request, as it arrived: the server's request log.
        self.arrivals: list[tuple[float, str, str]] = []

    # -- what the site holds ---------------------------------------------------------------------------

    def add_page(self, path: str, body: bytes, content_type: str = "text/html; charset=utf-8",
                 link: bool = True) -> str:
        """Serve ``body`` at ``path`` on the site (with an ETag, answering 304 as a static host does); when
        ``link``, the home page links to it. Returns the page's URL."""
        self.pages[path] = (body, content_type)
        if link:
            self.index_links.append(path)
        return SITE_URL.rstrip("/") + path

    def add_origin(self, code: str, answer: Answer) -> None:
        """The origin's text API answers ``answer`` for infoCode ``code`` (its share page says "loading")."""
        self.origin_answers[code] = answer

    def rule(self, match: Callable[[str, str], bool], action: Action, times: int | None = None,
             once_per_target: bool = False) -> Rule:
        """Add a rule (see ``Rule``); the first rule that applies to a request answers it."""
        added = Rule(match, action, times, once_per_target)
        with self._lock:
            self.rules.append(added)
        return added

    def requests(self, host: str | None = None, path: str | None = None) -> list[tuple[str, str, int]]:
        """The requests answered so far (host, target, status; status 0 for a broken connection)."""
        with self.log.lock:
            entries = list(self.log.entries)
        return [e for e in entries if (host is None or e[0] == host) and (path is None or e[1] == path)]

    # -- answering -------------------------------------------------------------------------------------

    def _answer_first(self, host: str, target: str, headers: dict[str, str]) -> Answer | None:
        self._last_request[threading.get_ident()] = (host, target)
        self.arrivals.append((time.monotonic(), host, target))
        with self._lock:
            rule = next((r for r in self.rules if r.applies(host, target)), None)
            action: Any = rule.action if rule else None
            if rule is not None:
                kind = action.kind if isinstance(action, Misbehave) else "answer"
                rule.fired.append((host, target, kind))
        if callable(action) and not isinstance(action, Misbehave):
            action = action(host, target, headers)
        if isinstance(action, Misbehave):
            raise action
        if action is not None:
            return action  # type: ignore[no-any-return]
        if host == SITE_HOST:
            path = target.split("?", 1)[0]
            if path in self.pages:
                return _static(*self.pages[path], headers)
            if path in ("/", "/index.html") and self.index_links:
                page = (DEMO / "site" / "index.html").read_text("utf-8")
                links = "".join(f'<li><a href="{html.escape(p)}">{p}</a></li>' for p in self.index_links)
                return _static(page.replace("</body>", f"<ul>{links}</ul></body>").encode(),
                               "text/html; charset=utf-8", headers)
        if host == ORIGIN_HOST:
            code = re.search(r"(?:infoCode|id)=([^&]*)", target)
            if code and code.group(1) in self.origin_answers:
                if target.startswith("/NewsData/GetNewsText.do"):
                    return self.origin_answers[code.group(1)]
                return 200, {"Content-Type": "text/html; charset=utf-8"}, b"<html><body>loading</body></html>"
        return None


def _static(body: bytes, content_type: str, headers: dict[str, str]) -> Answer:
    etag = '"' + hashlib.md5(body).hexdigest() + '"'
    if headers.get("if-none-match") == etag:
        return 304, {"ETag": etag}, b""
    return 200, {"Content-Type": content_type, "ETag": etag}, body


def json_answer(value: Any, status: int = 200) -> Answer:
    return status, {"Content-Type": "application/json; charset=utf-8"}, json.dumps(value).encode()


# -- synthetic article pages ---------------------------------------------------------------------------

PAGE_TEMPLATE = """<!DOCTYPE html>
<html lang="zh-CN">
  <head>
    {charset}
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <meta property="og:title" content="{title}">
<title>{title_escaped} | 金融消息</title>
<meta property="article:published_time" content="{iso_date}" />
  </head>
  <body>
    <div class="wrapper">
      <header>
        <h1><a href="https://finews.withounder.com/">金融消息</a></h1>
        <p></p>
      </header>
      <section>

      <small>(GMT+8, Asia/Shanghai, CST) {date}</small>
<h1>{title}</h1>

{body}
{share}
{footer}



  <small>tags: <em>{publisher}新闻</em></small>



      </section>
      <footer>
        <p>&copy; 2021</p>
      </footer>
    </div>
  </body>
</html>
"""


def article_page(title: str, body: str, date: str = "2022-02-14 15:11:07", category: str = "zhongguofazhanwang",
                 publisher: str = "中国发展网", share_code: str | None = None,
                 charset: str = '<meta charset="UTF-8">') -> str:
    """An article page as the site's post layout renders a publisher post (see the demo's seed page)."""
    share = ""
    if share_code is not None:
        url = f"http://{ORIGIN_HOST}/html_News/NewsShare.html?infoCode={share_code}"
        share = f'<p><a href="{url}">{url}</a></p>\n'
    return PAGE_TEMPLATE.format(
        charset=charset, title=title, title_escaped=html.escape(title), date=date,
        iso_date=date.replace(" ", "T") + "+08:00", body=body, share=share, category=category,
        publisher=publisher,
        footer=(f'<p><a href="//finews.withounder.com/category/{category}.html">返回{publisher}新闻</a>'
                '｜<a href="//finews.withounder.com/">返回首页</a></p>'),
    )


def article_path(article_id: str, category: str = "zhongguofazhanwang", day: str = "2022/02/14") -> str:
    return f"/{category}/{day}/{article_id}.html"


# -- crawls in a child process, under a network guard --------------------------------------------------

# The child: refuse (and write down) any name lookup or connection that is not loopback, then run the
# newscrawl command. Installed before anything imports socket users (Twisted binds getaddrinfo early).
CHILD = """
import sys
sys.path.insert(0, {tests!r})
import faults
faults.child_main()
"""


def _loopback(host: object) -> bool:
    import ipaddress

    if not isinstance(host, str):
        return False
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def child_main() -> None:
    """Entry point of a crawl child (see ``CHILD``)."""
    guard_file = os.environ["FAULTS_GUARD_FILE"]

    def refuse(what: str) -> None:
        with open(guard_file, "a", encoding="utf-8") as out:
            out.write(what + "\n")

    real_getaddrinfo = socket.getaddrinfo
    real_gethostbyname = socket.gethostbyname
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and not _loopback(host.decode() if isinstance(host, bytes) else host):
            refuse(f"resolve {host!r}")
            raise socket.gaierror(socket.EAI_NONAME, "refused by the fault suite's network guard")
        return real_getaddrinfo(host, *args, **kwargs)

    def gethostbyname(host: str) -> str:
        if not _loopback(host):
            refuse(f"resolve {host!r}")
            raise socket.gaierror(socket.EAI_NONAME, "refused by the fault suite's network guard")
        return real_gethostbyname(host)

    def checked(sock: socket.socket, address: Any) -> bool:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0]):
            refuse(f"connect {address!r}")
            return False
        return True

    def connect(self: socket.socket, address: Any) -> None:
        if not checked(self, address):
            raise ConnectionRefusedError("refused by the fault suite's network guard")
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if not checked(self, address):
            import errno

            return errno.ECONNREFUSED
        return real_connect_ex(self, address)

    socket.getaddrinfo = getaddrinfo
    socket.gethostbyname = gethostbyname
    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]

    busy = os.environ.get("FAULTS_SQLITE_BUSY_TIMEOUT")
    if busy:
        # Scaled down as DOWNLOAD_TIMEOUT is in these tests: SQLite's lock wait is 60 s in production,
        # which would make a "locked longer than the wait" case cost minutes. Nothing else changes.
        import newscrawl.storage.engine as engine

        engine.SQLITE_BUSY_TIMEOUT_S = float(busy)
    from newscrawl.cli import main

    sys.exit(main(sys.argv[1:]))


@dataclass
class CrawlResult:
    returncode: int
    stdout: str
    stderr: str
    log: str
    stats: dict[str, Any]
    summary: dict[str, Any]
    outcome: str
    reason: str
    guard: list[str]


class RunningCrawl:
    """A ``newscrawl crawl`` child that is running; ``finish`` waits for it and reads what it reported."""

    def __init__(self, process: subprocess.Popen[str], log_file: Path, stats_file: Path, guard_file: Path,
                 stdout_file: Path, stderr_file: Path) -> None:
        self.process = process
        self.log_file, self.stats_file, self.guard_file = log_file, stats_file, guard_file
        self.stdout_file, self.stderr_file = stdout_file, stderr_file

    def log(self) -> str:
        try:
            return self.log_file.read_text("utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def wait_for_log(self, pattern: str, timeout: float = 90.0) -> re.Match[str]:
        """Poll the child's log until ``pattern`` appears (the child must still be running or done)."""
        deadline = time.monotonic() + timeout
        compiled = re.compile(pattern)
        while True:
            found = compiled.search(self.log())
            if found:
                return found
            if self.process.poll() is not None:
                raise AssertionError(f"the crawl ended without logging {pattern!r}:\n{self.log()[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {pattern!r} in the log within {timeout}s:\n{self.log()[-3000:]}")
            time.sleep(0.05)

    def finish(self, timeout: float = 240.0) -> CrawlResult:
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise
        record = json.loads(self.stats_file.read_text("utf-8")) if self.stats_file.is_file() else {}
        guard = self.guard_file.read_text("utf-8").splitlines() if self.guard_file.is_file() else []
        result = CrawlResult(
            self.process.returncode, self.stdout_file.read_text("utf-8"), self.stderr_file.read_text("utf-8"),
            self.log(), record.get("stats", {}), record.get("summary", {}), record.get("outcome", ""),
            record.get("reason", ""), guard,
        )
        # The suite's promise: nothing but loopback is ever asked for, whatever a test does.
        assert result.guard == [], f"the crawl tried to leave loopback: {result.guard}"
        return result


def start_crawl(server: SiteServer, db_url: str, workdir: Path, *extra: str, env: dict[str, str] | None = None,
                timeout_s: float = 30, sqlite_busy_timeout: float | None = None) -> RunningCrawl:
    """Start ``newscrawl crawl`` against ``server`` (the site's proxy); ``extra`` are more arguments."""
    from sqlalchemy.engine import make_url

    url = make_url(db_url)
    assert url.get_backend_name() == "sqlite" or _loopback(url.host), "test databases live on loopback"
    workdir.mkdir(parents=True, exist_ok=True)
    number = len(list(workdir.glob("crawl-*.log")))
    files = {name: workdir / f"{name}-{number}.{ext}" for name, ext in
             (("crawl", "log"), ("stats", "json"), ("guard", "txt"), ("stdout", "txt"), ("stderr", "txt"))}
    files["crawl"].touch()
    child_env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    child_env.update({
        "http_proxy": server.url, "https_proxy": server.url,
        "NEWSCRAWL_WARC_DIR": str(workdir / "warc"),
        "NEWSCRAWL_LOCK_FILE": str(workdir / "crawl.lock"),
        "NEWSCRAWL_STATS_FILE": str(files["stats"]),
        "NEWSCRAWL_PROGRESS_INTERVAL": "0",
        "FAULTS_GUARD_FILE": str(files["guard"]),
    })
    if sqlite_busy_timeout is not None:
        child_env["FAULTS_SQLITE_BUSY_TIMEOUT"] = str(sqlite_busy_timeout)
    child_env.update(env or {})
    args = [sys.executable, "-c", CHILD.format(tests=str(TESTS)), "crawl", "--site", SITE_URL, "--db", db_url,
            "-s", "AUTOTHROTTLE_ENABLED=false", "-s", "LOG_LEVEL=DEBUG", "-s", f"LOG_FILE={files['crawl']}",
            "-s", f"DOWNLOAD_TIMEOUT={timeout_s}", *extra]
    stdout = files["stdout"].open("w", encoding="utf-8")
    stderr = files["stderr"].open("w", encoding="utf-8")
    with stdout, stderr:
        process = subprocess.Popen(args, stdout=stdout, stderr=stderr, text=True, env=child_env, cwd=workdir)
    return RunningCrawl(process, files["crawl"], files["stats"], files["guard"], files["stdout"], files["stderr"])


def crawl(server: SiteServer, db_url: str, workdir: Path, *extra: str, **kwargs: Any) -> CrawlResult:
    """Run ``newscrawl crawl`` to its end (see ``start_crawl``)."""
    return start_crawl(server, db_url, workdir, *extra, **kwargs).finish()


# -- reading the archive -------------------------------------------------------------------------------


def archived(db_url: str) -> dict[str, dict[str, Any]]:
    """Every archived article as the Archive gives it back (backend-neutral), by id."""
    from newscrawl.storage import Archive

    with Archive.open(db_url) as archive:
        return {a.article_id: asdict(a) for a in archive.iter_articles()}



# Fields that say what an article is; crawl bookkeeping (validators, story links) may differ between runs.
CONTENT_FIELDS = ("article_id", "url", "title", "published_at", "category", "tags", "publisher", "summary",
                  "source", "share_url", "info_code", "body_html", "body_text", "footer_md", "origin_html",
                  "origin_status", "content_hash")


def content(article: dict[str, Any]) -> dict[str, Any]:
    return {name: article[name] for name in CONTENT_FIELDS}


@functools.cache
def clean_crawl() -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """The demo site crawled once with no fault (SQLite): its rows (content fields) and its stats."""
    workdir = Path(tempfile.mkdtemp(prefix="faults-clean-"))
    db_url = f"sqlite:///{workdir / 'clean.sqlite3'}"
    with FaultServer() as server:
        result = crawl(server, db_url, workdir)
    assert result.returncode == 0, result.log[-3000:]
    rows = {k: content(v) for k, v in archived(db_url).items()}
    assert sorted(rows) == DEMO_IDS
    return rows, result.stats


def clean_rows() -> dict[str, dict[str, Any]]:
    """What every fault case must end up with for the demo site's own articles (see ``clean_crawl``)."""
    return clean_crawl()[0]



# -- database faults -----------------------------------------------------------------------------------


class DatabaseLock:
    """Another client holding the archive locked: on SQLite an exclusive transaction (no other writer), on
    PostgreSQL ``LOCK TABLE articles IN ACCESS EXCLUSIVE MODE`` (no other reader or writer of articles)."""

    def __init__(self, db_url: str) -> None:
        self.db_url = db_url
        self._release: Callable[[], None] | None = None

    def take(self) -> None:
        from sqlalchemy.engine import make_url

        url = make_url(self.db_url)
        if url.get_backend_name() == "sqlite":
            import sqlite3

            connection = sqlite3.connect(url.database or "", isolation_level=None, check_same_thread=False)
            connection.execute("BEGIN EXCLUSIVE")

            def release_sqlite() -> None:
                connection.rollback()
                connection.close()

            self._release = release_sqlite
            return
        from sqlalchemy import create_engine, text

        engine = create_engine(url)
        pg = engine.connect()
        transaction = pg.begin()
        pg.execute(text("LOCK TABLE articles IN ACCESS EXCLUSIVE MODE"))

        def release_pg() -> None:
            transaction.rollback()
            pg.close()
            engine.dispose()

        self._release = release_pg

    @property
    def held(self) -> bool:
        return self._release is not None

    def release(self) -> None:
        if self._release is not None:
            release, self._release = self._release, None
            release()


def crawler_db_url(db_url: str) -> str:
    """The archive URL a crawl under test uses: on PostgreSQL with a lock timeout of half a second, so a
    locked table answers with an error (as SQLite's busy timeout does) instead of waiting for ever."""
    from sqlalchemy.engine import make_url

    url = make_url(db_url)
    if url.get_backend_name() != "postgresql":
        return db_url
    return url.update_query_dict({"options": "-c lock_timeout=500"}).render_as_string(hide_password=False)


class TcpRelay:
    """A loopback TCP relay to a database server that can be cut (every connection reset, new ones reset
    at once) and restored: the database going away in the middle of a crawl, and coming back."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.is_cut = False
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._closed = False
        threading.Thread(target=self._accept, name="tcp-relay", daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.is_cut:
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                _reset(client)
                continue
            with self._lock:
                self._pairs.append((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True).start()

    def cut(self) -> None:
        self.is_cut = True
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for client, upstream in pairs:
            _reset(client)
            _reset(upstream)

    def restore(self) -> None:
        self.is_cut = False

    def close(self) -> None:
        self._closed = True
        self.cut()
        self._listener.close()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    for sock in (source, sink):
        with contextlib.suppress(OSError):
            sock.close()


def _reset(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    # Shut down first: close() alone does not end a connection while a pump thread is blocked reading it
    # (the kernel keeps the socket for that read), and the database client would wait for ever.
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
