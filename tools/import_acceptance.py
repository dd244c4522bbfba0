#!/usr/bin/env python3
"""The import acceptance run: import the corpus, score it, export it, and share an archive with a crawl.

    python3 tools/import_acceptance.py [--corpus ../shared/corpus/finews] [--replica ../shared/replica]
                                       [--work DIR] [--json FILE]

Steps, as a user would take them (``python -m newscrawl …`` and ``serve.py``):
 1. ``newscrawl import CORPUS`` into a fresh archive; every published post of ``expected.jsonl``
    (reachable or not) compared field by field with the archive;
 2. ``newscrawl export`` of that archive compared byte for byte with the corpus files;
 3. crawl the replica's ``full`` snapshot, then import the corpus into the same archive; and the other way
    round: rows, duplicates (two rows for one post URL) and revisions (``article_revisions`` rows).
Prints the figures as Markdown, for docs/import.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

from replica_acceptance import FIELDS, archived_summary, run_one, same  # noqa: E402

SITE = "http://finews.withounder.com/"


def newscrawl(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "newscrawl", *args], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"newscrawl {' '.join(args)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stdout.strip()


def rows(db_url: str, query: str) -> list[dict[str, Any]]:
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    with engine.connect() as connection:
        found = [dict(row._mapping) for row in connection.execute(text(query))]
    engine.dispose()
    return found


def score(db_url: str, replica: Path) -> tuple[dict[str, Any], list[str]]:
    expected = [json.loads(line) for line in (replica / "expected.jsonl").open(encoding="utf-8")]
    published = [e for e in expected if e["url"]]
    archived = {r["url"].split("finews.withounder.com", 1)[-1]: r for r in rows(db_url, "SELECT * FROM articles")}
    for row in archived.values():
        archived_summary["".join((row["body_text"] or "").split())] = row["summary"] or ""
    per_field = dict.fromkeys(FIELDS, 0)
    mismatches = []
    found = [e for e in published if e["url"] in archived]
    for e in found:
        for field in FIELDS:
            if same(field, e[field], archived[e["url"]][field]):
                per_field[field] += 1
            else:
                mismatches.append(f"{e['file']} {field}: expected {str(e[field])[:60]!r}… "
                                  f"got {str(archived[e['url']][field])[:60]!r}…")
    unreachable = [e["file"] for e in found if not e["reachable"]]
    flagged = [r["article_id"] for r in archived.values() if "unreachable" in (r["flags"] or "")]
    return {"published": len(published), "found": len(found), "rows": len(archived),
            "per_field": {f: per_field[f] / max(1, len(found)) for f in FIELDS},
            "unreachable_expected": unreachable, "unreachable_flagged": flagged}, mismatches


def compare_export(out: Path, corpus: Path) -> tuple[int, int, list[str]]:
    originals = {p.name: p for folder in ("old_post", "_posts") for p in sorted((corpus / folder).glob("*.md"))}
    same_bytes, differing = 0, []
    for name, path in sorted(originals.items()):
        exported = out / name
        if exported.is_file() and exported.read_bytes() == path.read_bytes():
            same_bytes += 1
        else:
            differing.append(name + (" (not exported)" if not exported.is_file() else " (bytes differ)"))
    return same_bytes, len(originals), differing


def shared_archive(args: argparse.Namespace, order: str) -> dict[str, Any]:
    work = args.work / order
    work.mkdir(parents=True)
    db_url = f"sqlite:///{work / 'archive.sqlite3'}"
    crawl_args = argparse.Namespace(work=work, replica=args.replica, fail_rate=0.0, command="newscrawl")
    outputs = []
    for step in order.split("-"):
        if step == "crawl":
            run = run_one(crawl_args, "full", 1, db_url)
            outputs.append(f"crawl: exit {run['exit']}, {run['summary']}")
        else:
            outputs.append(newscrawl("import", str(args.corpus), "--db", db_url, "--site", SITE))
    articles = rows(db_url, "SELECT article_id, url FROM articles")
    revisions = rows(db_url, "SELECT article_id, revision FROM article_revisions")
    urls = [r["url"].replace("https://", "http://") for r in articles]
    return {"order": order, "rows": len(articles), "duplicates": len(urls) - len(set(urls)),
            "revisions": len(revisions), "revised": sorted({r["article_id"] for r in revisions}),
            "outputs": outputs}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus" / "finews")
    ap.add_argument("--replica", type=Path, default=ROOT.parent / "shared" / "replica")
    ap.add_argument("--work", type=Path, default=Path("/tmp/newscrawl-import-acceptance"))
    ap.add_argument("--json", type=Path, help="also write the figures as JSON to this file (for tests)")
    args = ap.parse_args()
    if args.work.exists():
        shutil.rmtree(args.work)
    args.work.mkdir(parents=True)
    db_url = f"sqlite:///{args.work / 'import.sqlite3'}"
    summary = newscrawl("import", str(args.corpus), "--db", db_url, "--site", SITE)
    figures, mismatches = score(db_url, args.replica)
    out = args.work / "posts"
    newscrawl("export", "--db", db_url, "--out", str(out))
    identical, total, differing = compare_export(out, args.corpus)
    orders = [shared_archive(args, "crawl-import"), shared_archive(args, "import-crawl")]
    result = {**figures, "summary": summary, "mismatches": mismatches, "export_identical": [identical, total],
              "export_differing": differing, "orders": orders}
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=1), "utf-8")
    print(f"## Import of the corpus\n\n- `{summary}`")
    print(f"- published posts: {figures['published']}; archived: {figures['found']}; rows: {figures['rows']}; "
          f"flagged unreachable: {', '.join(figures['unreachable_flagged']) or 'none'}")
    print("\n| field | match |\n|---|---|")
    for field, rate in figures["per_field"].items():
        print(f"| {field} | {rate:.1%} |")
    for line in mismatches:
        print(f"  - {line}")
    print(f"\n- export byte-identical to the corpus files: {identical}/{total}")
    for name in differing:
        print(f"  - {name}")
    print("\n| order | rows | duplicates | revisions |\n|---|---|---|---|")
    for order in orders:
        print(f"| {order['order']} | {order['rows']} | {order['duplicates']} | {order['revisions']} "
              f"{' '.join(order['revised'])} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
