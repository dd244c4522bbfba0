"""The import acceptance on the real corpus, run where ../shared (corpus and replica) is beside the checkout.

It runs tools/import_acceptance.py exactly as docs/import.md does: ``newscrawl import`` of the corpus scored
against expected.jsonl, ``newscrawl export`` compared byte for byte with the corpus files, and a crawl of the
replica sharing one archive with the import, in both orders.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPLICA, SHARED, requires_replica

ROOT = Path(__file__).resolve().parent.parent
CORPUS = SHARED / "corpus" / "finews"

pytestmark = [pytest.mark.replica, pytest.mark.slow, requires_replica,
              pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus/finews is not beside this checkout")]


def test_the_corpus_is_imported_scored_exported_and_shared_with_a_crawl(tmp_path: Path) -> None:
    figures = tmp_path / "figures.json"
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "import_acceptance.py"), "--corpus", str(CORPUS),
                           "--replica", str(REPLICA), "--work", str(tmp_path / "work"), "--json", str(figures)],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(figures.read_text("utf-8"))
    assert result["published"] == result["found"] == result["rows"] == 166
    assert result["unreachable_flagged"] == ["202112082206703990"]
    # Every field of every published post, the post without front matter at byte 0 (its text as written)
    # and the empty link line "<>" (the text ends before it) included.
    assert result["per_field"] == dict.fromkeys(result["per_field"], 1.0), result["mismatches"]
    assert result["mismatches"] == []
    # Every corpus file comes back byte for byte but the one Jekyll never published (no date in its name).
    assert result["export_identical"] == [166, 167]
    assert result["export_differing"] == ["-202205262391921712.md (not exported)"]
    for order in result["orders"]:
        assert (order["rows"], order["duplicates"], order["revisions"]) == (166, 0, 0), order
