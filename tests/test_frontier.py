"""The shared frontier (newscrawl.frontier): leased requests, when a process may end, and its Redis scripts.

The waiting rule runs everywhere; the frontier itself against a real Redis server (NEWSCRAWL_TEST_REDIS_URL,
set by CI). The crawl by several processes, one of them killed, is in test_redis.py.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from scrapy import Request, Spider
from scrapy.exceptions import DontCloseSpider
from scrapy.statscollectors import MemoryStatsCollector
from scrapy.utils.test import get_crawler
from twisted.internet import task

from newscrawl import frontier
from newscrawl.frontier import IdleWait, SharedCrawlEnd, SharedFrontier
from newscrawl.items import Article

REDIS_URL = os.environ.get("NEWSCRAWL_TEST_REDIS_URL")
needs_redis = pytest.mark.skipif(not REDIS_URL, reason="NEWSCRAWL_TEST_REDIS_URL is not set "
                                 "(CI starts redis-server and sets it; see .ci/run)")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(frontier.time, "monotonic", fake)
    return fake


def idle_wait(seconds: float = 10) -> IdleWait:
    return IdleWait(MemoryStatsCollector(get_crawler(Spider)), seconds)


# -- the waiting rule ---------------------------------------------------------------------------------


def test_ends_at_once_when_the_crawl_is_over(clock: Clock) -> None:
    wait = idle_wait()
    assert wait.should_end(finished=True)
    assert wait.stats.get_value("newscrawl/redis/idle_waits") is None


def test_waits_while_another_process_is_busy_then_gives_up(clock: Clock) -> None:
    wait = idle_wait()
    for _ in range(2):  # asked again at each engine heartbeat
        assert not wait.should_end(finished=False)
        clock.now += 5
    assert wait.should_end(finished=False)  # 10 s of continuous idleness: a busy mark left by a dead process
    assert wait.stats.get_value("newscrawl/redis/idle_waits") == 2


def test_work_taken_from_the_frontier_starts_the_wait_again(clock: Clock) -> None:
    wait = idle_wait()
    assert not wait.should_end(finished=False)
    clock.now += 9
    wait.stats.inc_value("scheduler/dequeued/redis", 3)  # another process filled the frontier again
    assert not wait.should_end(finished=False)
    clock.now += 9
    assert not wait.should_end(finished=False)  # 9 s since the last request taken, not 18
    clock.now += 1
    assert wait.should_end(finished=False)


def test_no_wait_when_switched_off(clock: Clock) -> None:
    assert idle_wait(seconds=0).should_end(finished=False)


# -- the frontier, on a real Redis ----------------------------------------------------------------------


class Pages(Spider):
    name = "finews"

    def parse_page(self, response: Any, **kwargs: Any) -> None:
        pass


@pytest.fixture
def crawl_id() -> Iterator[str]:
    crawl = f"test-{uuid.uuid4().hex[:8]}"
    yield crawl
    import redis

    client = redis.Redis.from_url(str(REDIS_URL))
    keys = client.keys(f"newscrawl:finews:{crawl}:*")
    if keys:
        client.delete(*keys)


def process(crawl_id: str | None, lease_seconds: float = 10) -> SharedFrontier:
    """The scheduler of one crawler process, as RedisFrontier configures it, opened."""
    settings: dict[str, Any] = {"NEWSCRAWL_REDIS_URL": REDIS_URL, "ADDONS": {"newscrawl.addons.RedisFrontier": 0},
                                "NEWSCRAWL_REDIS_LEASE_SECONDS": lease_seconds}
    if crawl_id:
        settings["NEWSCRAWL_REDIS_CRAWL_ID"] = crawl_id
    crawler = get_crawler(Pages, settings)
    assert crawler.settings["SCHEDULER"] == "newscrawl.frontier.SharedFrontier"
    assert crawler.settings["SCHEDULER_QUEUE_CLASS"] == "newscrawl.frontier.LeasedQueue"
    spider = crawler.spider = Pages.from_crawler(crawler)
    scheduler: SharedFrontier = SharedFrontier.from_crawler(crawler)
    scheduler.open(spider)
    return scheduler


@pytest.fixture
def pair(crawl_id: str) -> Iterator[tuple[SharedFrontier, SharedFrontier]]:
    """Two processes given one crawl id, with a lease of 0.2 s; both closed at the end."""
    a, b = process(crawl_id, 0.2), process(crawl_id, 0.2)
    yield a, b
    for scheduler in (a, b):
        if not scheduler.queue.stopping.is_set():
            scheduler.close("finished")


def page(scheduler: SharedFrontier, n: int, priority: int = 0) -> Request:
    return Request(f"http://finews.example/{n}.html", callback=scheduler.spider.parse_page, priority=priority,
                   meta={"kind": "article"}, cb_kwargs={"n": n})


def name(request: Request | None) -> str | None:
    return request.url.rsplit("/", 1)[1] if request is not None else None


def working_on(scheduler: SharedFrontier, monkeypatch: pytest.MonkeyPatch, requests: list[Request]) -> None:
    """Makes ``scheduler`` see ``requests`` as still in its engine (downloading or being scraped)."""
    monkeypatch.setattr(scheduler.queue, "in_progress", lambda: requests)


def crawl_over(scheduler: SharedFrontier) -> bool:
    """What the process's idle check finds: the crawl is over (one trip, taking nothing)."""
    scheduler.queue.exchange(take=False)
    return bool(scheduler.queue.finished)


def die(scheduler: SharedFrontier) -> None:
    """``scheduler``'s process dies: its lease is not renewed any more, and runs out."""
    scheduler.queue.stopping.set()
    scheduler.queue.renewal.join()
    time.sleep(scheduler.queue.lease_ms / 1000 + 0.05)


class Engine:
    """What the frontier asks of Scrapy's engine: its scheduler, what its downloader and scraper work on
    (``active``), crawl(), close_spider_async()."""

    def __init__(self, scheduler: SharedFrontier) -> None:
        self.scheduler = scheduler
        self.downloader = SimpleNamespace(active=set())
        self.scraper = SimpleNamespace(slot=SimpleNamespace(active=set()))
        self.closed: list[str] = []
        self.crawled: list[Request] = []

    def crawl(self, request: Request) -> None:
        self.crawled.append(request)
        self.scheduler.enqueue_request(request)

    async def close_spider_async(self, *, reason: str) -> None:
        self.closed.append(reason)


@needs_redis
def test_each_request_is_given_to_one_process_highest_priority_first(pair: Any) -> None:
    a, b = pair
    assert a.enqueue_request(page(a, 1))
    assert a.enqueue_request(page(a, 2, priority=5))
    taken = [a.next_request(), a.next_request()]
    assert [name(r) for r in taken] == ["2.html", "1.html"]
    first = taken[0]
    assert first is not None
    # The request survives the trip: callback (by name), meta, keyword arguments, priority.
    assert first.callback.__func__ is Pages.parse_page
    assert (first.meta["kind"], first.cb_kwargs, first.priority) == ("article", {"n": 2}, 5)
    assert a.stats.get_value("scheduler/enqueued/redis") == 2
    assert a.stats.get_value("scheduler/dequeued/redis") == 2
    assert not b.enqueue_request(page(b, 1))  # already seen by the other process: Scrapy drops and signals it
    assert b.next_request() is None
    assert b.stats.get_value("scheduler/enqueued/redis") is None


@needs_redis
def test_a_process_killed_while_pushing_leaves_no_request_seen_but_queued_nowhere(
        pair: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Found again (its page re-done by another process), a request seen by the duplicate filter but never
    # pushed would be dropped as a duplicate and never fetched: the replica kill run lost a page that way.
    import redis

    a, b = pair
    calls: list[Any] = []
    execute = redis.Redis.execute_command

    def killed_after_one_call(client: Any, *args: Any, **options: Any) -> Any:
        if args[0] == "SET":  # a lease renewal, from the renewing threads
            return execute(client, *args, **options)
        if calls:
            raise KeyboardInterrupt  # the process is gone before its next call
        result = execute(client, *args, **options)
        calls.append(args[0])
        return result

    monkeypatch.setattr(redis.Redis, "execute_command", killed_after_one_call)
    with contextlib.suppress(KeyboardInterrupt):
        a.enqueue_request(page(a, 1))
    monkeypatch.setattr(redis.Redis, "execute_command", execute)
    b.enqueue_request(page(b, 1))  # the link found again
    assert name(b.next_request()) == "1.html"


@needs_redis
def test_a_text_api_request_carries_its_article_through_redis(pair: Any) -> None:
    a, b = pair
    article = Article(article_id="NW1", url="http://finews.example/a/2022/01/01/NW1.html", title="标题",
                      body_html="<p>正文</p>", flags=["no_date"])
    a.enqueue_request(Request("http://origin.example/text?id=NW1", callback=a.spider.parse_page, dont_filter=True,
                              cb_kwargs={"article": article}, priority=10))
    taken = b.next_request()
    assert taken is not None and taken.cb_kwargs["article"] == article


@needs_redis
def test_the_crawl_is_over_when_the_queue_is_empty_and_nobody_holds_a_lease(pair: Any) -> None:
    a, b = pair
    a.enqueue_request(page(a, 1))
    assert not crawl_over(b)  # a request waits in the queue
    assert a.next_request() is not None and b.next_request() is None  # a works on it: leased to a
    assert not crawl_over(b)
    assert crawl_over(a)  # a is done with it (its engine holds nothing) and found nothing left
    assert crawl_over(b)


@needs_redis
def test_a_request_is_acknowledged_once_it_has_left_the_engine(pair: Any) -> None:
    # Scrapy's downloader and scraper each keep the requests they work on (``active``): a request is done
    # when neither has it, after its callback's items were stored and the requests it found scheduled.
    import redis

    a, _ = pair
    engine = a.queue.crawler.engine = Engine(a)  # type: ignore[assignment]
    for n in range(3):
        a.enqueue_request(page(a, n))
    downloading = a.next_request()
    engine.downloader.active.add(downloading)
    scraping = a.next_request()
    engine.scraper.slot.active.add(scraping)
    finished = a.next_request()

    def leased() -> list[str | None]:
        """What a's hash in Redis holds: what would be re-done if a died now."""
        numbers = redis.Redis.from_url(str(REDIS_URL)).hkeys(a.queue.keys[3] + a.queue.worker)
        by_number = {r.meta[frontier.LEASE]: name(r) for r in (downloading, scraping, finished)}
        return sorted(by_number[int(n)] for n in numbers)

    assert leased() == ["0.html", "1.html", "2.html"]
    a.queue.exchange(take=False)
    assert leased() == ["0.html", "1.html"]
    engine.downloader.active.clear()
    a.queue.exchange(take=False)
    assert leased() == ["1.html"]
    engine.scraper.slot.active.clear()
    a.queue.exchange(take=False)
    assert leased() == []


@needs_redis
def test_requests_not_finished_go_back_when_a_process_closes(pair: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = pair
    for n in range(3):
        a.enqueue_request(page(a, n, priority=n))
    started, cancelled = a.next_request(), a.next_request()  # the second never finished (Ctrl-C, a limit)
    working_on(a, monkeypatch, [cancelled])
    a.close("shutdown")
    assert a.stats.get_value("newscrawl/redis/pushed_back") == 1
    rest = [b.next_request(), b.next_request(), b.next_request()]
    assert [name(r) for r in rest] == ["1.html", "0.html", None]
    assert not rest[0].meta[frontier.REQUEUED]  # given back, not taken from a dead process
    assert name(started) == "2.html"
    assert crawl_over(b)  # a closed: it holds nothing


@needs_redis
def test_a_crawl_of_its_own_removes_its_keys() -> None:
    import redis

    alone = process(None)
    alone.enqueue_request(page(alone, 1))
    alone.enqueue_request(page(alone, 2))
    assert alone.next_request() is not None
    key = alone.queue.key
    alone.close("shutdown")
    prefix = key.rsplit(":", 1)[0]
    assert redis.Redis.from_url(str(REDIS_URL)).keys(f"{prefix}:*") == []


# -- leases ---------------------------------------------------------------------------------------------


@needs_redis
def test_a_dead_process_requests_go_back_to_the_others_marked_as_retries(pair: Any,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = pair
    for n in range(3):
        a.enqueue_request(page(a, n))
    taken: list[Request] = []
    working_on(a, monkeypatch, taken)
    for _ in range(3):  # a works on all three, then dies
        taken.append(a.next_request())
    assert not any(r.meta[frontier.REQUEUED] for r in taken)
    assert b.next_request() is None  # leased to a: nobody else has them
    die(a)
    again = [b.next_request() for _ in range(3)]
    assert sorted(name(r) for r in again) == ["0.html", "1.html", "2.html"]
    assert all(r.meta[frontier.REQUEUED] for r in again)
    assert b.stats.get_value("newscrawl/redis/taken_back") == 3
    assert b.stats.get_value("newscrawl/redis/requeued") == 3
    # (not passed through the duplicate filter again, which would have dropped them)
    assert b.next_request() is None


@needs_redis
def test_only_the_requests_not_done_are_taken_back(pair: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = pair
    for n in range(2):
        a.enqueue_request(page(a, n))
    first, second = a.next_request(), a.next_request()
    working_on(a, monkeypatch, [first, second])
    a.enqueue_request(page(a, 5))  # the first found a link ...
    working_on(a, monkeypatch, [second])  # ... and is done; the second still runs
    assert a.next_request() is not None  # the trip acknowledges the first (and takes the link: a works on it)
    working_on(a, monkeypatch, [second])  # ... the link is done too
    a.queue.exchange(take=False)
    die(a)
    assert [name(b.next_request()), name(b.next_request())] == ["1.html", None]
    assert b.stats.get_value("newscrawl/redis/requeued") == 1


@needs_redis
def test_the_crawl_is_not_over_while_a_dead_process_holds_a_lease(pair: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = pair
    a.enqueue_request(page(a, 1))
    working_on(a, monkeypatch, [a.next_request()])  # then a dies
    assert not crawl_over(b)  # a holds it
    die(a)
    assert not crawl_over(b)  # a's lease expired: its request is back in the queue
    assert name(b.next_request()) == "1.html"
    assert crawl_over(b)


@needs_redis
def test_a_slow_process_keeps_its_lease(pair: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # The lease is renewed by a thread, whatever the event loop is doing.
    a, b = pair
    a.enqueue_request(page(a, 1))
    working_on(a, monkeypatch, [a.next_request()])
    time.sleep(0.8)  # four leases
    assert b.next_request() is None
    assert not crawl_over(b)


# -- the end of a shared crawl -------------------------------------------------------------------------------


def ending(scheduler: SharedFrontier) -> tuple[SharedCrawlEnd, Engine, task.Clock]:
    crawler = scheduler.queue.crawler
    engine = crawler.engine = Engine(scheduler)  # type: ignore[assignment]
    extension = SharedCrawlEnd.from_crawler(crawler)
    clock = extension.poll.clock = task.Clock()
    return extension, engine, clock


@needs_redis
def test_an_idle_process_asks_for_work_every_quarter_second(pair: Any) -> None:
    # Scrapy's engine asks an idle scheduler again at each heartbeat, every 5 s: a process that found the
    # shared queue empty for a moment (another process took the start pages) would sit idle that long.
    a, b = pair
    extension, engine, clock = ending(b)
    a.enqueue_request(page(a, 1))
    assert a.next_request() is not None  # a is busy with it
    with pytest.raises(DontCloseSpider):
        extension.spider_idle(b.spider)  # b is idle, the crawl is not over
    a.enqueue_request(page(a, 2))  # a found a link
    clock.advance(frontier.IDLE_POLL_S)
    # b's engine was handed it at once, not at Scrapy's next heartbeat; b's scheduler keeps it for the engine.
    assert [name(r) for r in engine.crawled] == ["2.html"] and len(b.queue) == 1
    assert b.next_request() is engine.crawled[0] and len(b.queue) == 0
    assert not extension.poll.running and engine.closed == []


@needs_redis
def test_an_idle_process_ends_as_soon_as_the_crawl_is_over(pair: Any) -> None:
    a, b = pair
    extension, engine, clock = ending(b)
    a.enqueue_request(page(a, 1))
    assert a.next_request() is not None
    with pytest.raises(DontCloseSpider):
        extension.spider_idle(b.spider)
    clock.advance(frontier.IDLE_POLL_S)
    assert engine.closed == []
    assert crawl_over(a)  # a is done and idle
    clock.advance(frontier.IDLE_POLL_S)
    assert engine.closed == ["finished"] and not extension.poll.running
    extension.spider_idle(b.spider)  # and at Scrapy's own check: no DontCloseSpider
