"""The SQLite archive in Datasette, with search on articles (docs/search.md, "Datasette").

Starts the real ``datasette`` program on a free loopback port and asks its JSON API, as a reader would.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote
from urllib.request import urlopen

import pytest
from test_storage import SEED_ID, SEED_TITLE, T0, sample_articles

from newscrawl.storage import Archive


def _free_port() -> int:
    # Datasette cannot listen on port 0 and report the port; a port the kernel just handed out is free.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def datasette_url(tmp_path: Path) -> Iterator[str]:
    db_path = tmp_path / "archive.sqlite3"
    with Archive.open(f"sqlite:///{db_path}") as archive:
        archive.upsert_articles(sample_articles(), T0)
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "datasette", "serve", str(db_path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert server.stderr is not None
        # Uvicorn says when it listens: wait for that line rather than sleeping.
        seen = []
        for line in server.stderr:
            seen.append(line)
            if "Uvicorn running on" in line:
                break
        else:
            pytest.fail("datasette did not start:\n" + "".join(seen))
        yield f"http://127.0.0.1:{port}/archive"
    finally:
        server.terminate()
        server.wait(timeout=30)


def _get(url: str) -> dict[str, object]:
    with urlopen(url, timeout=30) as response:
        assert response.status == 200
        return json.loads(response.read().decode("utf-8"))  # type: ignore[no-any-return]


def test_search_on_articles(datasette_url: str) -> None:
    answer = _get(f"{datasette_url}/articles.json?_search={quote('政务服务')}&_shape=objects")
    rows = answer["rows"]
    assert isinstance(rows, list)
    # Datasette orders by its own rule (not newscrawl's rank): compare the set.
    assert sorted(row["article_id"] for row in rows) == sorted([SEED_ID, "202112092207000001"])
    seed = next(row for row in rows if row["article_id"] == SEED_ID)
    assert seed["title"] == SEED_TITLE
    assert seed["published_at"] == "2022-02-14T15:11:07.000000+08:00"


def test_search_finds_only_matches(datasette_url: str) -> None:
    answer = _get(f"{datasette_url}/articles.json?_search={quote('南召县：政务服务')}&_shape=objects")
    assert [row["article_id"] for row in answer["rows"]] == [SEED_ID]  # type: ignore[index]
    answer = _get(f"{datasette_url}/articles.json?_search={quote('区块链技术')}&_shape=objects")
    assert answer["rows"] == []


def test_jekyll_posts_view_is_browsable(datasette_url: str) -> None:
    answer = _get(f"{datasette_url}/jekyll_posts.json?article_id={SEED_ID}&_shape=objects")
    rows = answer["rows"]
    assert isinstance(rows, list) and len(rows) == 1
    assert rows[0]["path"] == f"_posts/2022-02-14-{SEED_ID}.md"
    assert rows[0]["date"] == "2022-02-14 15:11:07 +0800"
