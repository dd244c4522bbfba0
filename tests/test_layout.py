"""The module layout the architecture promises (docs/architecture.md): no module under newscrawl/ imports
pipelines/, and the article-processing functions need no Scrapy."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The one processing path: plain functions the pipelines and reparse share.
PLAIN_MODULES = ("newscrawl.processing", "newscrawl.revisions", "newscrawl.stories", "newscrawl.linking",
                 "newscrawl.encoding")


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_module_under_newscrawl_imports_pipelines() -> None:
    offenders = {}
    for path in sorted((ROOT / "newscrawl").rglob("*.py")):
        names = sorted(n for n in imported_modules(path) if n.split(".")[0] == "pipelines")
        if names:
            offenders[str(path.relative_to(ROOT))] = names
    assert offenders == {}


def test_the_processing_functions_load_without_scrapy() -> None:
    # A fresh interpreter: importing them must not bring Scrapy (or Twisted) in.
    code = ("import sys\n" + "".join(f"import {m}\n" for m in PLAIN_MODULES)
            + "print(sorted(m for m in ('scrapy', 'twisted', 'pipelines') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
