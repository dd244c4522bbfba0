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


def _is_crawler(node: ast.expr) -> bool:
    return (isinstance(node, ast.Name) and node.id == "crawler") or (
        isinstance(node, ast.Attribute) and node.attr == "crawler")


def test_components_share_state_through_scrapy_s_api_not_private_crawler_attributes() -> None:
    # The crawl state, the run record and the coverage are extensions, found with crawler.get_extension.
    offenders = []
    for path in sorted([*(ROOT / "newscrawl").rglob("*.py"), *(ROOT / "pipelines").rglob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
            private = (isinstance(node, ast.Attribute) and _is_crawler(node.value) and node.attr.startswith("_")) or (
                isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in ("getattr", "setattr", "hasattr") and len(node.args) >= 2
                and _is_crawler(node.args[0]) and isinstance(node.args[1], ast.Constant)
                and str(node.args[1].value).startswith("_"))
            if private:
                offenders.append(f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}")
    assert offenders == []
