"""Write tests/fixtures/stories/holdout.json: the replica's posts that the story thresholds were not tuned on.

The near-text thresholds (newscrawl/stories.py) were chosen on the pairs of tests/fixtures/stories/posts.json
(the corpus's VARIANTS.md re-posts and look-alikes). This keeps every other post of the replica's full
snapshot, parsed and normalised as a crawl would, so that tests/test_stories.py can check the thresholds on
pairs not used to choose them. Run from the repository root with ../shared beside it:

    python tools/story_holdout.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from newscrawl.parsers import parse_article  # noqa: E402
from newscrawl.processing import normalise  # noqa: E402

SNAPSHOT = ROOT.parent / "shared" / "replica" / "snapshots" / "full"
FIXTURES = ROOT / "tests" / "fixtures" / "stories"


def main() -> int:
    tuned = json.loads((FIXTURES / "posts.json").read_text("utf-8"))
    held: dict[str, dict[str, str | None]] = {}
    for page in sorted(SNAPSHOT.rglob("*.html")):
        relative = page.relative_to(SNAPSHOT)
        if len(relative.parts) < 5:  # /<category>/YYYY/MM/DD/<slug>.html: article pages only
            continue
        article = normalise(parse_article(page.read_text("utf-8"), f"http://finews.withounder.com/{relative}"))
        if not article.article_id or article.article_id in tuned or article.published_at is None:
            continue
        held[article.article_id] = {"title": article.title, "published_at": article.published_at.isoformat(),
                                    "body_text": article.body_text}
    out = FIXTURES / "holdout.json"
    out.write_text(json.dumps(dict(sorted(held.items())), ensure_ascii=False, indent=0) + "\n", "utf-8")
    print(f"{len(held)} posts written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
