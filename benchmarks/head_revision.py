"""What knowing the archive's head schema revision costs every command that opens an archive: reading the
migration scripts' ``revision`` / ``down_revision`` lines (``newscrawl.storage.migrate.head_revision``, what
``Archive.open`` does) against asking Alembic (``ScriptDirectory.get_current_head``, which imports Alembic and
loads every script).

    python benchmarks/head_revision.py [--runs 15]

Each figure is the CPU time a fresh interpreter that has imported ``newscrawl.storage`` spends getting the
head: the median over --runs interpreters. Prints both and writes a dated JSON record to benchmarks/results/.
docs/schema.md ("Migrations") names the choice.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

import harness

ROOT = Path(__file__).resolve().parent.parent
BASE = "import time, newscrawl.storage; from newscrawl.storage.migrate import alembic_config, head_revision"
WAYS = {
    "the scripts' lines (head_revision)": "head = head_revision()",
    "Alembic (ScriptDirectory.get_current_head)": (
        "from alembic.script import ScriptDirectory; "
        "head = ScriptDirectory.from_config(alembic_config()).get_current_head()"),
}


def cpu_ms(statement: str) -> float:
    code = f"{BASE}\nstarted = time.process_time()\n{statement}\nprint((time.process_time() - started) * 1000)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return float(out.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    samples: dict[str, list[float]] = {way: [] for way in WAYS}
    for _ in range(args.runs):  # interleaved, so that a busy moment of the machine hits both alike
        for way, statement in WAYS.items():
            samples[way].append(cpu_ms(statement))
    figures = {way: round(statistics.median(values), 2) for way, values in samples.items()}
    for way, median in figures.items():
        print(f"{median:8.2f} ms CPU  {way}")
    harness.write_record("head_revision", {"runs": args.runs, "median_cpu_ms": figures})


if __name__ == "__main__":
    main()
