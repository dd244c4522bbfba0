"""Scrapy add-ons of newscrawl: settings that follow from other settings.

``Limits``: every request names newscrawl, its version and, with NEWSCRAWL_CONTACT set, how to reach
whoever runs the crawl (``USER_AGENT``: ``newscrawl/1.0 (+mailto:archive@example.org)``); DOWNLOAD_MAXSIZE
(and DOWNLOAD_WARNSIZE, half of it) is NEWSCRAWL_MAX_PAGE_BYTES, at that setting's own priority: a
``-s DOWNLOAD_MAXSIZE=…`` still wins over an environment value, as ``-s USER_AGENT=…`` wins.

``RedisFrontier``: with NEWSCRAWL_REDIS_URL set, the crawl frontier (scheduler queue) and the duplicate
filter live in Redis (scrapy-redis). Processes that are given the same NEWSCRAWL_REDIS_CRAWL_ID share
one crawl: each request is made by exactly one of them, and the shared keys are kept when a process ends
(another may still be working), and a process ends once the frontier is empty and every process is
idle (newscrawl.frontier). Without a crawl id a process gets a fresh id of its own, and its keys
are removed when it ends. See docs/distributed.md.
"""

from __future__ import annotations

import uuid
import warnings
from typing import Any

from scrapy.exceptions import ScrapyDeprecationWarning

from newscrawl import __version__
from newscrawl.config import get_int, get_str
from newscrawl.logredact import remember


class Limits:
    def update_settings(self, settings: Any) -> None:
        contact = get_str(settings, "NEWSCRAWL_CONTACT")
        settings.set("USER_AGENT", f"newscrawl/{__version__}" + (f" (+{contact})" if contact else ""), "addon")
        priority = settings.getpriority("NEWSCRAWL_MAX_PAGE_BYTES") or "addon"
        max_bytes = get_int(settings, "NEWSCRAWL_MAX_PAGE_BYTES")
        settings.set("DOWNLOAD_MAXSIZE", max_bytes, priority=priority)
        settings.set("DOWNLOAD_WARNSIZE", max_bytes // 2, priority=priority)


class RedisFrontier:
    def update_settings(self, settings: Any) -> None:
        redis_url = settings.get("NEWSCRAWL_REDIS_URL")
        if not redis_url:
            return
        remember(redis_url)  # its password is redacted from every log line from now on
        crawl_id = settings.get("NEWSCRAWL_REDIS_CRAWL_ID")
        shared = bool(crawl_id)
        prefix = f"newscrawl:%(spider)s:{crawl_id or uuid.uuid4().hex}"
        # scrapy-redis's scheduler and priority queue, its requests leased (newscrawl.frontier).
        settings.set("SCHEDULER", "newscrawl.frontier.SharedFrontier", priority="addon")
        settings.set("SCHEDULER_QUEUE_CLASS", "newscrawl.frontier.LeasedQueue", priority="addon")
        settings.set("DUPEFILTER_CLASS", "scrapy_redis.dupefilter.RFPDupeFilter", priority="addon")
        settings.set("REDIS_URL", redis_url, priority="addon")
        # In a shared crawl the first process to finish must not delete the frontier under the others, and
        # a process ends when the crawl is over; a crawl of its own cleans up after itself.
        settings.set("SCHEDULER_PERSIST", shared, priority="addon")
        settings.set("SCHEDULER_QUEUE_KEY", f"{prefix}:requests", priority="addon")
        settings.set("SCHEDULER_DUPEFILTER_KEY", f"{prefix}:dupefilter", priority="addon")
        if shared:
            settings["EXTENSIONS"]["newscrawl.frontier.SharedCrawlEnd"] = 0
        # scrapy-redis 0.9 still passes ``spider=`` to the stats collector, which Scrapy 2.19 warns about on
        # its first request and first dequeue: two WARNING lines in every shared run's log for nothing a
        # user can change.
        warnings.filterwarnings("ignore", category=ScrapyDeprecationWarning, module="scrapy_redis")
