"""The SQLite archive in Datasette, with search on articles (docs/search.md, "Datasette").

Starts the real ``datasette`` program on a free loopback port with the metadata file docs/search.md gives,
and asks its JSON API, as a reader would.
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

METADATA = Path(__file__).resolve().parent.parent / "docs" / "datasette.json"


def _free_port() -> int:
    # Datasette cannot listen on port 0 and report the port; a port the kernel just handed out is free.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def datasette_url(tmp_path: Path) -> Iterator[str]:
    # The metadata names the database as Datasette does: by the default archive's file name.
    db_path = tmp_path / "newscrawl.sqlite3"
    with Archive.open(f"sqlite:///{db_path}") as archive:
        archive.upsert_articles(sample_articles(), T0)
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "datasette", "serve", str(db_path), "--metadata", str(METADATA),
         "--host", "127.0.0.1", "--port", str(port)],
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
        yield f"http://127.0.0.1:{port}/newscrawl"
    finally:
        server.terminate()
        server.wait(timeout=30)


def _get(url: str) -> dict[str, object]:
    with urlopen(url, timeout=30) as response:
        assert response.status == 200
        return json.loads(response.read().decode("utf-8"))  # type: ignore[no-any-return]


def _found(datasette_url: str, search: str) -> list[str]:
    """The article ids Datasette's search on ``search_documents`` answers, newest first."""
    answer = _get(f"{datasette_url}/search_documents.json?_search={quote(search)}&_shape=objects&_labels=on")
    rows = answer["rows"]
    assert isinstance(rows, list)
    return [row["article_id"]["value"] for row in rows]


def test_two_character_search(datasette_url: str) -> None:
    assert _found(datasette_url, "南召") == [SEED_ID, "202112082206748961"]


def test_longer_search_as_bigrams(datasette_url: str) -> None:
    # 政务服务 written as its bigrams: the articles holding all three (newscrawl search also checks order).
    assert _found(datasette_url, "政务 务服 服务") == [SEED_ID, "202112092207000001"]
    assert _found(datasette_url, "南召 召县 县： ：政 政务 务服 服务") == [SEED_ID]
    assert _found(datasette_url, "区块 块链") == []


def test_search_rows_link_to_their_articles(datasette_url: str) -> None:
    answer = _get(f"{datasette_url}/search_documents.json?_search={quote('南召')}&_shape=objects&_labels=on")
    seed = answer["rows"][0]  # type: ignore[index]
    assert seed["article_id"] == {"value": SEED_ID, "label": SEED_TITLE}
    article = _get(f"{datasette_url}/articles/{SEED_ID}.json?_shape=objects")
    assert article["rows"][0]["published_at"] == "2022-02-14T15:11:07.000000+08:00"  # type: ignore[index]


def test_jekyll_posts_view_is_browsable(datasette_url: str) -> None:
    answer = _get(f"{datasette_url}/jekyll_posts.json?article_id={SEED_ID}&_shape=objects")
    rows = answer["rows"]
    assert isinstance(rows, list) and len(rows) == 1
    assert rows[0]["path"] == f"_posts/2022-02-14-{SEED_ID}.md"
    assert rows[0]["date"] == "2022-02-14 15:11:07 +0800"
