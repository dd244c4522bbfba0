"""Fault suite, side outputs (docs/reliability.md, case 9): the disk of the posts folder and of the WARC
folder fills up in the middle of a crawl, then is freed.

The disk is real: a small tmpfs mounted for the test (CI runs as root), filled to the last byte by another
writer when the server is asked for the third article page. Every article is still archived; each post
file and raw response that could not be written is recorded in ``missing_outputs``; the run fails loudly
(exit 1). After the disk is freed, the next incremental run writes every missing post from the archive,
fetches again in full the article pages (and origin answers) whose raw responses were lost, is ok, and
leaves the posts folder equal to a fresh ``newscrawl export`` of the archive and the WARC files holding
every article page and origin answer.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from crawling import query
from faults import (
    DEMO_IDS,
    DEMO_ORIGIN_IDS,
    ORIGIN_HOST,
    SITE_HOST,
    FaultServer,
    archived,
    clean_rows,
    content,
    crawl,
)
from warcio.archiveiterator import ArchiveIterator

from newscrawl.export import export_archive
from newscrawl.warc import iter_responses

pytestmark = pytest.mark.slow

ARTICLE_PAGE = re.compile(r"^/(?!category/)[^/]+/\d{4}/\d{2}/\d{2}/([^/]+)\.html$")
FILL_AT_ARTICLE = 3


@contextlib.contextmanager
def small_disk(path: Path, size: str = "2m") -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``path``: a disk that really fills up (ENOSPC)."""
    path.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs to fill up (CI runs as root): {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(disk: Path) -> None:
    """Take every free byte of ``disk``, as another program filling the disk would."""
    fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    chunk = b"\0" * 4096
    try:
        while True:
            os.write(fd, chunk)
    except OSError as error:
        assert error.errno == errno.ENOSPC
    finally:
        os.close(fd)


def fill_at_article(server: FaultServer, disk: Path, count: int) -> threading.Event:
    """Fill ``disk`` when the server is asked for its ``count``-th article page, before it answers."""
    filled = threading.Event()
    seen: list[str] = []
    lock = threading.Lock()

    def hook(host: str, target: str, headers: dict[str, str]) -> None:
        with lock:
            seen.append(target)
            if len(seen) == count and not filled.is_set():
                fill(disk)
                filled.set()

    server.rule(lambda host, target: host == SITE_HOST and bool(ARTICLE_PAGE.match(target))
                and not filled.is_set(), hook)
    return filled


@pytest.mark.parametrize("on_small_disk", ["posts", "warc", "posts+warc"])
def test_a_full_disk_costs_a_failed_run_and_the_next_run_writes_every_post_and_raw_response(
        db_url: str, tmp_path: Path, on_small_disk: str) -> None:
    with small_disk(tmp_path / "disk") as disk:
        posts = (disk if "posts" in on_small_disk else tmp_path) / "posts"
        warc = (disk if "warc" in on_small_disk else tmp_path) / "warc"
        env = {"NEWSCRAWL_WARC_DIR": str(warc)}
        with FaultServer() as server:
            filled = fill_at_article(server, disk, FILL_AT_ARTICLE)
            first = crawl(server, db_url, tmp_path, "--posts-dir", str(posts), env=env)
            assert filled.is_set()
            missing = {(r["article_id"], r["output"]): r for r in query(db_url, "SELECT * FROM missing_outputs")}
            (disk / "filler").unlink()  # the disk is freed
            first_requests = len(server.requests())
            second = crawl(server, db_url, tmp_path, "--posts-dir", str(posts), env=env)
            second_run = server.requests()[first_requests:]
        posts_written = {p.name: p.read_bytes() for p in posts.iterdir() if p.is_file()}
        records = []
        for path in sorted(warc.glob("*.warc.gz")):
            with path.open("rb") as stream:  # every file is whole: no torn record to its end
                records += [r.rec_headers.get_header("WARC-Target-URI") for r in ArchiveIterator(stream)
                            if r.rec_type == "response"]
        responses = list(iter_responses(warc))

    # The run that could not write them archived every article, recorded what is missing, and failed.
    assert first.returncode == 1 and first.outcome == "failed", first.log[-3000:]
    posts_failed = first.stats.get("newscrawl/export/failed", 0)
    records_failed = first.stats.get("newscrawl/warc/failed", 0)
    assert (posts_failed >= 1) == ("posts" in on_small_disk), first.stats
    assert (records_failed >= 1) == ("warc" in on_small_disk), first.stats
    assert first.reason == (f"{posts_failed} post file(s) and {records_failed} raw response(s) could not be "
                            "written; the archive lists them and the next runs write them (see the log)")
    assert first.stdout.startswith("newscrawl crawl: failed: ")
    assert {k: content(v) for k, v in archived(db_url).items()} == clean_rows()
    assert sum(o == "post" for _, o in missing) == posts_failed
    assert sum(o.startswith("warc_") for _, o in missing) == records_failed
    assert all("No space left on device" in row["reason"] for row in missing.values())
    assert first.log.count("post file not written ([Errno 28] No space left on device)") == posts_failed
    assert first.log.count("raw response not kept ([Errno 28] No space left on device)") == records_failed

    # The next run, disk freed: ok, everything archived, and every missing output now exists.
    assert second.returncode == 0 and second.outcome == "ok", second.log[-3000:]
    assert {k: content(v) for k, v in archived(db_url).items()} == clean_rows()
    assert query(db_url, "SELECT * FROM missing_outputs") == []
    # The posts folder is what a fresh export of the archive writes: one file per article, same bytes.
    fresh = tmp_path / "fresh_export"
    export_archive(db_url, fresh)
    assert posts_written == {p.name: p.read_bytes() for p in fresh.iterdir()}
    assert len(posts_written) == len(DEMO_IDS)
    # The raw archive holds every article page and every origin answer, in files readable to their end.
    pages = {r.url for r in responses if r.kind == "article"}
    assert pages == {a["url"] for a in archived(db_url).values()}
    assert {r.url.rsplit("=", 1)[1] for r in responses if r.kind == "origin"} == set(DEMO_ORIGIN_IDS)
    assert len(records) == len(responses)
    # Incremental, yet the pages whose raw responses were lost were fetched again in full, origin and all;
    # a lost post alone costs no download (it is written from the archive).
    lost_pages = {article_id for article_id, output in missing if output.startswith("warc_")}
    refetched = {m.group(1) for host, target, status in second_run
                 if host == SITE_HOST and status == 200 and (m := ARTICLE_PAGE.match(target))}
    assert lost_pages <= refetched
    if on_small_disk == "posts":
        assert refetched == set()
    asked_origin = {t.rsplit("=", 1)[1] for h, t, _ in second_run if h == ORIGIN_HOST and "GetNewsText" in t}
    assert {a for a, output in missing if output == "warc_origin"} <= asked_origin
    assert second.stats.get("newscrawl/export/caught_up", 0) == posts_failed
    assert second.stats.get("newscrawl/warc/caught_up", 0) == records_failed
