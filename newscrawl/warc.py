"""Raw pages kept as gzip-compressed WARC files (warcio), and read back for offline re-parsing.

With NEWSCRAWL_RAW_ARCHIVE on, every article page and origin answer that arrives in full (HTTP 200) is
appended to ``<NEWSCRAWL_WARC_DIR>/newscrawl-<UTC time>-<pid>.warc.gz`` as a WARC ``response`` record.
Bodies are stored as received after transfer decoding (Scrapy has already undone gzip), so the record's
``Content-Encoding`` header is dropped and its length is the stored body's. An article page's record also
names the character encoding the crawl read it in (``WARC-Newscrawl-Encoding``: ``gb18030``, or
``big5; guessed`` for a low-confidence detection), so reparse decodes it the same way.
``iter_responses`` reads every record back, one at a time; ``newscrawl reparse`` uses it. A record that
cannot be written (a full disk) is not left half written; the extension records it as missing and the next
run fetches its page again. See docs/warc.md.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

logger = logging.getLogger(__name__)

DROPPED_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})
ENCODING_HEADER = "WARC-Newscrawl-Encoding"
_GUESSED = "; guessed"


@dataclass(frozen=True)
class RawResponse:
    url: str
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    fetched_at: str
    kind: str
    # The encoding the crawl read the page in, and whether that was a low-confidence guess (None: the
    # record predates this header, or is no text page).
    encoding: str | None = None
    encoding_guessed: bool = False

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)


class WarcArchive:
    """Appends response records to one WARC file per process run.

    A record is appended whole or not at all: one that cannot be written whole (a full disk) is cut off
    again, so the file stays readable to its end and later records still go after it; the caller is told
    by the ``OSError``.
    """

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        self.path = directory / f"newscrawl-{stamp}-{os.getpid()}.warc.gz"
        # Unbuffered: each record goes to the file in write() itself, where a failure can be undone.
        self._file: BinaryIO = open(self.path, "ab", buffering=0)  # noqa: SIM115 - closed in close()
        self.records = 0

    def write(self, url: str, status: int, reason: str, headers: list[tuple[str, str]], body: bytes,
              kind: str, encoding: str | None = None, encoding_guessed: bool = False) -> None:
        kept = [(k, v) for k, v in headers if k.lower() not in DROPPED_HEADERS]
        kept.append(("Content-Length", str(len(body))))
        http_headers = StatusAndHeaders(f"{status} {reason}".strip(), kept, protocol="HTTP/1.1")
        warc_headers = {"WARC-Newscrawl-Kind": kind}
        if encoding:
            warc_headers[ENCODING_HEADER] = encoding + (_GUESSED if encoding_guessed else "")
        buffer = io.BytesIO()
        writer = WARCWriter(buffer, gzip=True)
        record = writer.create_warc_record(
            url, "response", payload=io.BytesIO(body), http_headers=http_headers, warc_headers_dict=warc_headers,
        )
        writer.write_record(record)
        self._append(buffer.getbuffer())
        self.records += 1

    def _append(self, data: memoryview) -> None:
        # Each record is a complete gzip member written straight to the file: a killed crawl loses at most
        # the record being written, and readers skip a torn tail.
        start = os.fstat(self._file.fileno()).st_size
        try:
            while data:
                written = self._file.write(data)
                data = data[written or 0:]
        except BaseException:
            with contextlib.suppress(OSError):
                os.truncate(self._file.fileno(), start)
            raise

    def close(self) -> None:
        self._file.close()


def iter_responses(directory: Path) -> Iterator[RawResponse]:
    """Every response record of every WARC file under ``directory``, oldest file first."""
    for path in sorted(directory.glob("*.warc.gz")):
        with open(path, "rb") as stream:
            try:
                for record in ArchiveIterator(stream):
                    if record.rec_type != "response" or record.http_headers is None:
                        continue
                    encoding = record.rec_headers.get_header(ENCODING_HEADER) or ""
                    yield RawResponse(
                        url=record.rec_headers.get_header("WARC-Target-URI"),
                        status=int(record.http_headers.get_statuscode() or 0),
                        headers=list(record.http_headers.headers),
                        body=record.content_stream().read(),
                        fetched_at=record.rec_headers.get_header("WARC-Date") or "",
                        kind=record.rec_headers.get_header("WARC-Newscrawl-Kind") or "",
                        encoding=encoding.removesuffix(_GUESSED) or None,
                        encoding_guessed=encoding.endswith(_GUESSED),
                    )
            except Exception as error:
                # A run killed while writing leaves a torn last record: that file ends there, the read goes on.
                logger.warning("WARC file %s ends in a damaged record (%s); later files are still read", path, error)
