"""Every benchmark run leaves a dated record (benchmarks/README.md, "Records"): the history of every figure.

docs/performance.md shows only the newest figure of each kind; these tests keep the history from being
lost: each benchmark script writes its record through the one function that adds the machine and the
commit, and each script is described in benchmarks/README.md.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import harness  # noqa: E402


def scripts() -> list[Path]:
    return [path for path in sorted(BENCHMARKS.glob("*.py")) if 'if __name__ == "__main__"' in path.read_text()]


def test_every_benchmark_script_writes_its_record_through_the_harness() -> None:
    found = scripts()
    assert len(found) >= 15, [path.name for path in found]
    silent = [path.name for path in found if "harness.write_record(" not in path.read_text(encoding="utf-8")]
    assert not silent, f"benchmark scripts that write no record: {silent}"


def test_every_benchmark_script_is_described_in_the_readme() -> None:
    readme = (BENCHMARKS / "README.md").read_text(encoding="utf-8")
    undescribed = [path.name for path in scripts() if f"`{path.name}`" not in readme]
    assert not undescribed, f"benchmark scripts missing from benchmarks/README.md: {undescribed}"


def test_a_record_names_its_time_machine_and_commit(tmp_path: Path) -> None:
    path = harness.write_record("example", {"figures": {"rate": 1.5}, "date": "not the record's"},
                                path=tmp_path / "example.json")
    record = json.loads(path.read_text(encoding="utf-8"))
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()
    assert record["benchmark"] == "example"
    assert record["commit"].startswith(head[:7])
    assert record["date"] != "not the record's" and record["date"].endswith("+00:00")
    assert record["figures"] == {"rate": 1.5}
    machine = record["machine"]
    assert {"cpus", "cpu_model", "memory", "kernel", "python"} <= set(machine)
    assert machine["python"] == ".".join(map(str, sys.version_info[:3]))
    assert machine["cpus"] == str(len(Path("/proc/cpuinfo").read_text().split("processor\t:")) - 1)


def test_a_record_is_named_by_its_utc_time_under_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(harness, "RESULTS_DIR", tmp_path)
    path = harness.write_record("example", {})
    assert path.parent == tmp_path
    assert re.fullmatch(r"\d{8}-\d{6}-example\.json", path.name), path.name
    named = datetime.strptime(path.name[:15], "%Y%m%d-%H%M%S").replace(tzinfo=UTC)
    # UTC, not the machine's zone: records from machines in different zones sort by their names.
    assert abs((datetime.now(UTC) - named).total_seconds()) < 600
    assert datetime.fromisoformat(json.loads(path.read_text(encoding="utf-8"))["date"]) == named
