"""Every ``NEWSCRAWL_*`` knob in one place: its default and its meaning.

Each setting is a Scrapy setting and is also read from the environment variable of the same name;
``-s NAME=value`` wins over the environment, which wins over the default (see docs/settings.md, which a
test keeps in step with this table).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta, timezone


@dataclass(frozen=True)
class Setting:
    name: str
    default: str | None
    meaning: str


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "NEWSCRAWL_SITE_URL",
        "https://finews.withounder.com/",
        "root of the mirror site; the spider starts there",
    ),
    Setting(
        "NEWSCRAWL_DB_URL",
        "sqlite:///data/newscrawl.sqlite3",
        "SQLAlchemy URL of the archive database",
    ),
    Setting(
        "NEWSCRAWL_POSTS_DIR",
        None,
        "when set, every new or changed article is also written there as a Jekyll post",
    ),
    Setting(
        "NEWSCRAWL_FOLLOW_SHARE_LINKS",
        "true",
        "follow each article's share link to its origin's text API",
    ),
    Setting(
        "NEWSCRAWL_ORIGIN_HOSTS",
        "finews.zning.xyz,choicewzp1.eastmoney.com",
        "the only hosts whose share links are followed; other share links are recorded, not requested",
    ),
    Setting(
        "NEWSCRAWL_INCREMENTAL",
        "true",
        "do not download again, in full, article pages already archived and unchanged",
    ),
    Setting(
        "NEWSCRAWL_RECHECK_DAYS",
        "3",
        "archived posts younger than this are re-checked even when the listings that link them are unchanged",
    ),
    Setting(
        "NEWSCRAWL_RAW_ARCHIVE",
        "true",
        "keep the raw responses of article pages and origin answers as WARC files",
    ),
    Setting(
        "NEWSCRAWL_WARC_DIR",
        "data/warc",
        "where the raw responses are written, as gzip-compressed WARC files",
    ),
    Setting(
        "NEWSCRAWL_REDIS_URL",
        None,
        "when set, the crawl frontier and duplicate filter live in Redis (scrapy-redis)",
    ),
    Setting(
        "NEWSCRAWL_REDIS_CRAWL_ID",
        None,
        "with NEWSCRAWL_REDIS_URL: processes given the same id share one crawl; unset, each process crawls alone",
    ),
    Setting(
        "NEWSCRAWL_REDIS_IDLE_SECONDS",
        "15",
        "in a shared crawl: how long a process whose shared frontier is empty waits for more work before it ends",
    ),
    Setting(
        "NEWSCRAWL_MAX_PAGE_BYTES",
        "10485760",
        "largest response accepted, in bytes; larger ones are dropped with a reason",
    ),
    Setting(
        "NEWSCRAWL_MAX_LINKS_PER_PAGE",
        "50000",
        "most pages one page may lead to; a page linking more is followed for its first ones only (0: no limit)",
    ),
    Setting(
        "NEWSCRAWL_DB_RETRY_SECONDS",
        "60",
        "how long a crawl waits for an unavailable or locked database before it stops, failed",
    ),
    Setting(
        "NEWSCRAWL_PROGRESS_INTERVAL",
        "30",
        "seconds between progress lines in the log; 0 turns them off",
    ),
    Setting(
        "NEWSCRAWL_LOCK_FILE",
        "data/newscrawl.lock",
        "the lock file `newscrawl crawl` holds so runs never overlap",
    ),
    Setting(
        "NEWSCRAWL_STATS_FILE",
        None,
        "when set, each run's final Scrapy stats are written there as JSON (monitoring)",
    ),
    Setting(
        "NEWSCRAWL_NEAR_DUPLICATE_DISTANCE",
        "3",
        "largest simhash distance (of 64 bits) at which two posts count as one story",
    ),
)

DEFAULTS: Mapping[str, str | None] = {s.name: s.default for s in SETTINGS}


def from_environment(environ: Mapping[str, str] | None = None) -> dict[str, str | None]:
    """The NEWSCRAWL_* values as the environment sets them, falling back to the defaults."""
    env = os.environ if environ is None else environ
    return {name: env.get(name, default) for name, default in DEFAULTS.items()}

# The site publishes in China Standard Time; every published_at is expressed in this zone.
SITE_TZ = timezone(timedelta(hours=8), "UTC+08:00")
