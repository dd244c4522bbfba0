"""A Spidermon action for the tests: writes the reasons a run was degraded to the file named by the
setting TEST_ACTION_FILE, one line each (NEWSCRAWL_MONITOR_ACTIONS names it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from spidermon import Action


class WriteReasons(Action):  # type: ignore[misc]
    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = Path(path)

    @classmethod
    def from_crawler_kwargs(cls, crawler: Any) -> dict[str, Any]:
        return {"path": crawler.settings.get("TEST_ACTION_FILE")}

    def run_action(self) -> None:
        self.path.write_text("".join(f"{reason.line()}\n" for reason in self.data.reasons), "utf-8")
