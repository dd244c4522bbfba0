"""A loopback web server and HTTP proxy that plays the finews site and its share-link origin.

It serves a folder of static pages as the site (with ETag, Last-Modified and 304 answers, as a static
host does) and a folder of ``<infoCode>.json`` files as the origin's text API. Like the replica's
``serve.py`` it is also an HTTP proxy: an absolute-form request ``GET http://finews.withounder.com/…``
is routed by its host, so a crawler keeps the real URLs. ``newscrawl demo`` and the crawl tests use it;
it listens on port 0 by default and reports the port it got. Standard library only.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import mimetypes
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

SITE_HOSTS = frozenset({"finews.withounder.com", "127.0.0.1", "localhost"})
ORIGIN_HOSTS = frozenset({"finews.zning.xyz", "choicewzp1.eastmoney.com"})

# A hook may answer a request itself (status, headers, body) or return None to let the server answer.
Hook = Callable[[str, str, dict[str, str]], "tuple[int, dict[str, str], bytes] | None"]


@dataclass
class RequestLog:
    """Every request the server answered: (host, path with query, status)."""

    entries: list[tuple[str, str, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, host: str, path: str, status: int) -> None:
        with self.lock:
            self.entries.append((host, path, status))

    def count(self, status: int | None = None, path_contains: str = "") -> int:
        with self.lock:
            return sum(1 for _, p, s in self.entries if (status is None or s == status) and path_contains in p)


class SiteServer:
    """Serve ``site_dir`` as the site and ``origin_dir`` as the origin on 127.0.0.1."""

    def __init__(self, site_dir: Path, origin_dir: Path | None = None, port: int = 0, hook: Hook | None = None):
        self.site_dir = site_dir.resolve()
        self.origin_dir = origin_dir.resolve() if origin_dir else None
        self.hook = hook
        self.log = RequestLog()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), _make_handler(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> SiteServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="site-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> SiteServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def answer(self, host: str, target: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        if self.hook is not None:
            hooked = self.hook(host, target, headers)
            if hooked is not None:
                return hooked
        parts = urlsplit(target)
        if host in SITE_HOSTS:
            return self._site(unquote(parts.path or "/"), headers)
        if host in ORIGIN_HOSTS:
            return self._origin(parts.path, parse_qs(parts.query))
        return 502, {"Content-Type": "text/plain"}, b"offsite host\n"

    def _site(self, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        target = (self.site_dir / path.lstrip("/")).resolve()
        if not target.is_relative_to(self.site_dir):
            return 404, {"Content-Type": "text/plain"}, b"not found\n"
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            return 404, {"Content-Type": "text/html; charset=utf-8"}, b"<h2>404</h2>"
        data = target.read_bytes()
        etag = '"' + hashlib.md5(data).hexdigest() + '"'
        answer_headers = {"ETag": etag, "Last-Modified": email.utils.formatdate(target.stat().st_mtime, usegmt=True)}
        if headers.get("if-none-match") == etag:
            return 304, answer_headers, b""
        ctype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if ctype.startswith("text/") or ctype in ("application/xml", "application/json"):
            ctype += "; charset=utf-8"
        answer_headers["Content-Type"] = ctype
        return 200, answer_headers, data

    def _origin(self, path: str, query: dict[str, list[str]]) -> tuple[int, dict[str, str], bytes]:
        code = (query.get("infoCode") or query.get("id") or [""])[0]
        known = bool(self.origin_dir and code.isalnum() and (self.origin_dir / f"{code}.json").is_file())
        if path == "/html_News/NewsShare.html" and known:
            return 200, {"Content-Type": "text/html; charset=utf-8"}, b"<html><body>loading</body></html>"
        if path == "/NewsData/GetNewsText.do" and known and self.origin_dir:
            answer = (self.origin_dir / f"{code}.json").read_bytes()
            return 200, {"Content-Type": "application/json; charset=utf-8"}, answer
        return 404, {"Content-Type": "application/json"}, json.dumps({"text": None, "error": "not found"}).encode()


def _make_handler(server: SiteServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "newscrawl-demo/1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self._handle(head=False)

        def do_HEAD(self) -> None:
            self._handle(head=True)

        def _handle(self, head: bool) -> None:
            parts = urlsplit(self.path)
            if parts.scheme in ("http", "https"):
                host = (parts.hostname or "").lower()
                target = self.path[len(f"{parts.scheme}://{parts.netloc}"):] or "/"
            else:
                host = (self.headers.get("Host") or "127.0.0.1").split(":")[0].lower()
                target = self.path
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, answer_headers, body = server.answer(host, target, headers)
            self.send_response(status)
            for name, value in answer_headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head:
                self.wfile.write(body)
            server.log.add(host, target, status)

    return Handler
