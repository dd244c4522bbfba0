"""A process of a shared crawl waits for work when the shared frontier is empty (SharedCrawlLinger).

The two-process crawl itself is in test_redis.py (it needs a Redis server); this is the waiting rule.
"""

from __future__ import annotations

import pytest
from scrapy import Spider
from scrapy.exceptions import DontCloseSpider, NotConfigured
from scrapy.utils.test import get_crawler

from newscrawl import extensions
from newscrawl.extensions import SharedCrawlLinger

SHARED = {"NEWSCRAWL_REDIS_URL": "redis://127.0.0.1:6379/0", "NEWSCRAWL_REDIS_CRAWL_ID": "daily-1",
          "NEWSCRAWL_REDIS_IDLE_SECONDS": "10"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(extensions.time, "monotonic", fake)
    return fake


def linger(settings: dict[str, str]) -> tuple[SharedCrawlLinger, Spider]:
    crawler = get_crawler(Spider, settings)
    spider = Spider("finews")
    return SharedCrawlLinger.from_crawler(crawler), spider


@pytest.mark.parametrize("settings", [
    {},                                                                       # no Redis
    {"NEWSCRAWL_REDIS_URL": "redis://127.0.0.1:6379/0"},                      # a crawl of its own
    {**SHARED, "NEWSCRAWL_REDIS_IDLE_SECONDS": "0"},                          # switched off
])
def test_only_a_shared_crawl_waits(settings: dict[str, str]) -> None:
    with pytest.raises(NotConfigured):
        linger(settings)


def test_waits_for_the_idle_window_then_lets_the_process_end(clock: Clock) -> None:
    ext, spider = linger(SHARED)
    for _ in range(2):  # Scrapy's heartbeat asks again every 5 s
        with pytest.raises(DontCloseSpider):
            ext.spider_idle(spider)
        clock.now += 5
    ext.spider_idle(spider)  # 10 s of continuous idleness: done
    assert ext.stats.get_value("newscrawl/redis/idle_waits") == 2


def test_work_taken_from_the_frontier_starts_the_wait_again(clock: Clock) -> None:
    ext, spider = linger(SHARED)
    with pytest.raises(DontCloseSpider):
        ext.spider_idle(spider)
    clock.now += 9
    ext.stats.inc_value("scheduler/dequeued/redis", 3)  # another process filled the frontier again
    with pytest.raises(DontCloseSpider):
        ext.spider_idle(spider)
    clock.now += 9
    with pytest.raises(DontCloseSpider):
        ext.spider_idle(spider)  # 9 s since the last request taken, not 18
    clock.now += 1
    ext.spider_idle(spider)
