"""The shared frontier (newscrawl.frontier): when a process may end, and its Redis scripts.

The waiting rule runs everywhere; the frontier itself against a real Redis server (NEWSCRAWL_TEST_REDIS_URL,
set by CI). The crawl by two processes is in test_redis.py.
"""

from __future__ import annotations

import inspect
import os
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from scrapy import Request, Spider, signals
from scrapy.core.engine import ExecutionEngine
from scrapy.http import HtmlResponse
from scrapy.statscollectors import MemoryStatsCollector
from scrapy.utils.test import get_crawler

from newscrawl import frontier
from newscrawl.frontier import IdleWait

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


def process(crawl_id: str | None, *, engine: bool = False) -> tuple[frontier.SharedFrontier, Pages]:
    """The frontier of one crawler process, as RedisFrontier configures it, opened (with Scrapy's engine
    made first if ``engine``, as in a crawl)."""
    settings: dict[str, Any] = {"NEWSCRAWL_REDIS_URL": REDIS_URL, "ADDONS": {"newscrawl.addons.RedisFrontier": 0}}
    if crawl_id:
        settings["NEWSCRAWL_REDIS_CRAWL_ID"] = crawl_id
    crawler = get_crawler(Pages, settings)
    assert crawler.settings["SCHEDULER"] == "newscrawl.frontier.SharedFrontier"
    spider = crawler.spider = Pages.from_crawler(crawler)
    if engine:
        crawler.engine = crawler._create_engine()
    scheduler = frontier.SharedFrontier.from_crawler(crawler)
    scheduler.open(spider)
    return scheduler, spider


@pytest.fixture
def pair(crawl_id: str) -> Iterator[tuple[frontier.SharedFrontier, frontier.SharedFrontier, Pages]]:
    """Two processes given one crawl id, and the first one's spider; both closed at the end."""
    a, spider = process(crawl_id)
    b, _ = process(crawl_id)
    yield a, b, spider
    a.close("finished")
    b.close("finished")


def page(spider: Pages, n: int, priority: int = 0) -> Request:
    return Request(f"http://finews.example/{n}.html", callback=spider.parse_page, priority=priority,
                   meta={"kind": "article"}, cb_kwargs={"n": n})


@needs_redis
def test_each_request_is_given_to_one_process_highest_priority_first(pair: Any) -> None:
    a, b, spider = pair
    assert a.enqueue_request(page(spider, 1))
    assert a.enqueue_request(page(spider, 2, priority=5))
    taken = [a.next_request(), a.next_request()]
    assert [r.url for r in taken if r is not None] == ["http://finews.example/2.html", "http://finews.example/1.html"]
    first = taken[0]
    assert first is not None
    # The request survives the trip: callback (by name), meta, keyword arguments, priority.
    assert first.callback.__func__ is Pages.parse_page
    assert (first.meta["kind"], first.cb_kwargs, first.priority) == ("article", {"n": 2}, 5)
    assert a.stats.get_value("scheduler/enqueued/redis") == 2
    assert a.stats.get_value("scheduler/dequeued/redis") == 2

    dropped: list[str] = []

    def on_dropped(request: Request, spider: Spider) -> None:
        dropped.append(request.url)

    b.crawler.signals.connect(on_dropped, signal=signals.request_dropped)
    b.enqueue_request(page(b.spider, 1))  # already seen by the other process: known when b's outbox goes out
    assert b.next_request() is None
    assert dropped == ["http://finews.example/1.html"]
    assert b.stats.get_value("dupefilter/filtered") == 1 and b.stats.get_value("scheduler/enqueued/redis") is None


@needs_redis
def test_the_requests_found_go_out_together_with_the_next_take(pair: Any) -> None:
    a, b, spider = pair
    trips = count_trips(a)
    for n in range(3):
        a.enqueue_request(page(spider, n, priority=n))
    assert len(a.queue) == 0 and a.has_pending_requests() and len(a) == 3  # in the outbox, not in Redis yet
    assert b.next_request() is None  # so another process cannot have them yet
    assert [a.next_request().url.rsplit("/", 1)[1] for _ in range(3)] == ["2.html", "1.html", "0.html"]
    assert trips == [3]  # one round trip sent the three and took them back


@needs_redis
def test_a_full_outbox_goes_out_at_once(pair: Any) -> None:
    a, b, spider = pair
    trips = count_trips(a)
    for n in range(frontier.OUTBOX_MAX + 1):
        a.enqueue_request(page(spider, n))
    assert trips == [frontier.OUTBOX_MAX] and len(a.queue) == frontier.OUTBOX_MAX and len(a.outbox) == 1
    assert b.next_request() is not None


@needs_redis
def test_an_outbox_waits_at_most_a_moment_while_its_process_has_work(pair: Any, clock: Clock) -> None:
    a, b, spider = pair
    for n in range(2):
        a.enqueue_request(page(spider, n))
    assert a.next_request() is not None  # takes both (the outbox went with the take), starts one
    a.enqueue_request(page(spider, 10))
    assert a.next_request() is not None  # the other one taken: no trip needed, the new one stays
    assert b.next_request() is None
    a.enqueue_request(page(spider, 11))
    clock.now += 1
    assert a.next_request() is not None  # nothing left in hand: the outbox goes, and a takes both back
    a.enqueue_request(page(spider, 12))
    text = Request("http://origin.example/text?id=13", callback=spider.parse_page, dont_filter=True,
                   meta={frontier.LOCAL: True})
    a.enqueue_request(text)
    clock.now += 1
    assert a.next_request() is text  # local work in hand: the outbox only goes out
    assert b.next_request().url.endswith("/12.html")


@needs_redis
def test_the_outbox_goes_out_when_a_process_closes(pair: Any) -> None:
    a, b, spider = pair
    a.enqueue_request(page(spider, 1))
    a.close("shutdown")
    assert b.next_request().url.endswith("/1.html")


@needs_redis
def test_a_failed_trip_keeps_the_outbox(pair: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import redis

    a, _, spider = pair
    a.enqueue_request(page(spider, 1))
    working = a._exchange_script

    def refused(**kwargs: Any) -> Any:
        raise redis.ConnectionError("Connection refused")

    monkeypatch.setattr(a, "_exchange_script", refused)
    with pytest.raises(redis.ConnectionError):
        a.next_request()
    assert len(a.outbox) == 1 and a.has_pending_requests()
    monkeypatch.setattr(a, "_exchange_script", working)
    assert a.next_request().url.endswith("/1.html")


def count_trips(scheduler: frontier.SharedFrontier) -> list[int]:
    """Records, for each round trip of ``scheduler`` to Redis, how many requests it sent."""
    trips: list[int] = []
    script = scheduler._exchange_script

    def counted(*, keys: list[str], args: list[Any]) -> Any:
        trips.append((len(args) - 5 - args[4]) // 3)  # after worker, lease, take, first lease, acks
        return script(keys=keys, args=args)

    scheduler._exchange_script = counted
    return trips


@needs_redis
def test_the_crawl_is_over_when_the_frontier_is_empty_and_every_process_idle(pair: Any) -> None:
    a, b, spider = pair
    a.enqueue_request(page(spider, 1))
    assert not b.crawl_finished()  # a holds a request, and has been busy since it started
    assert a.next_request() is not None and b.next_request() is None  # a is busy with it now
    assert not b.crawl_finished()
    assert a.crawl_finished()  # a is done with it and found nothing left: nobody can add work
    assert b.crawl_finished()


@needs_redis
def test_an_idle_process_asks_the_frontier_again_within_a_quarter_second(crawl_id: str) -> None:
    # Scrapy's engine asks an idle scheduler again at each heartbeat, every 5 s by default: a process that
    # found the shared frontier empty for a moment (another process took the start pages) would sit idle
    # that long, and at the end every process but the last would end up to 5 s late.
    scheduler, spider = process(crawl_id, engine=True)
    try:
        scheduler.crawler.signals.send_catch_log(signals.spider_opened, spider=spider)
        assert scheduler.crawler.engine is not None
        assert scheduler.crawler.engine._SLOT_HEARTBEAT_INTERVAL == frontier.IDLE_POLL_S == 0.25
        # ... the value Scrapy starts the heartbeat with (a rename in a new Scrapy would undo this silently).
        assert "self._SLOT_HEARTBEAT_INTERVAL)" in inspect.getsource(ExecutionEngine._start_request_processing)
        assert ExecutionEngine._SLOT_HEARTBEAT_INTERVAL == 5.0  # other crawls keep Scrapy's
    finally:
        scheduler.close("finished")


@needs_redis
def test_the_crawl_is_not_over_while_a_request_waits_in_the_frontier(pair: Any) -> None:
    a, b, spider = pair
    for n in range(2):
        a.enqueue_request(page(spider, n))
    assert a.next_request() is not None  # the outbox went out: both in Redis, both taken by a
    a.close("shutdown")  # the one not started goes back
    assert not b.crawl_finished()  # a request waits in the frontier
    assert b.next_request() is not None  # b is busy with it now
    assert b.crawl_finished()  # b is done with it and found nothing left: nobody can add work


@needs_redis
def test_requests_taken_but_not_started_go_back_when_a_process_closes(pair: Any) -> None:
    a, b, spider = pair
    for n in range(3):
        a.enqueue_request(page(spider, n, priority=n))
    started = a.next_request()  # takes all three at once (PREFETCH), starts the first
    assert started is not None and started.url.endswith("/2.html")
    assert b.next_request() is None
    a.close("shutdown")
    assert a.stats.get_value("newscrawl/redis/pushed_back") == 2
    rest = [b.next_request(), b.next_request(), b.next_request()]
    assert [r.url.rsplit("/", 1)[1] if r else None for r in rest] == ["1.html", "0.html", None]
    assert b.crawl_finished()  # a closed: it is no longer counted


@needs_redis
def test_a_request_that_finishes_an_item_stays_in_its_process(pair: Any, clock: Clock) -> None:
    a, b, spider = pair
    a.enqueue_request(page(spider, 1, priority=20))
    text = Request("http://origin.example/text?id=1", callback=spider.parse_page, dont_filter=True,
                   meta={frontier.LOCAL: True}, cb_kwargs={"n": 1})
    assert a.enqueue_request(text) and a.has_pending_requests() and len(a) == 2
    clock.now += 1  # the outbox goes out at a's next request
    assert a.next_request() is text  # the same object, first: it never left the process
    assert len(a.queue) == 1  # only the page went to Redis
    assert b.next_request() is not None and b.next_request() is None  # b takes the page
    assert a.next_request() is None and not a.has_pending_requests()
    assert (a.stats.get_value("scheduler/enqueued/local"), a.stats.get_value("scheduler/dequeued/local")) == (1, 1)
    assert a.stats.get_value("scheduler/enqueued/redis") == 1


@needs_redis
def test_local_requests_not_started_go_back_when_a_process_closes(pair: Any) -> None:
    a, b, spider = pair
    for n in range(2):
        a.enqueue_request(Request(f"http://origin.example/text?id={n}", callback=spider.parse_page,
                                  dont_filter=True, meta={frontier.LOCAL: True}, cb_kwargs={"n": n}))
    assert b.next_request() is None
    a.close("shutdown")
    assert a.stats.get_value("newscrawl/redis/pushed_back") == 2
    rest = [b.next_request(), b.next_request(), b.next_request()]
    assert sorted(r.cb_kwargs["n"] for r in rest if r is not None) == [0, 1] and rest[2] is None


@needs_redis
def test_a_crawl_of_its_own_removes_its_keys() -> None:
    import redis

    alone, spider = process(None)
    alone.enqueue_request(page(spider, 1))
    alone.enqueue_request(page(spider, 2))
    assert alone.next_request() is not None
    key = alone.queue.key
    alone.close("shutdown")
    prefix = key.rsplit(":", 1)[0]
    assert redis.Redis.from_url(str(REDIS_URL)).keys(f"{prefix}:*") == []


# -- leases ---------------------------------------------------------------------------------------------


def expire(scheduler: frontier.SharedFrontier) -> None:
    """Let ``scheduler``'s lease run out, as for a process that died: it is not renewed any more."""
    time.sleep(scheduler.lease_ms / 1000 + 0.05)


@needs_redis
def test_a_dead_process_requests_go_back_to_the_others_marked_as_retries(pair: Any) -> None:
    a, b, spider = pair
    a.lease_ms = 100
    for n in range(3):
        a.enqueue_request(page(spider, n))
    taken = [a.next_request(), a.next_request()]  # a took all three (one trip), started two, then died
    assert all(not r.meta[frontier.REQUEUED] for r in taken)
    assert b.next_request() is None  # leased to a: nobody else has them
    expire(a)
    again = [b.next_request() for _ in range(3)]
    assert sorted(r.url.rsplit("/", 1)[1] for r in again) == ["0.html", "1.html", "2.html"]
    assert all(r.meta[frontier.REQUEUED] for r in again)
    assert b.stats.get_value("newscrawl/redis/taken_back") == 3
    assert b.stats.get_value("newscrawl/redis/requeued") == 3
    assert b.stats.get_value("dupefilter/filtered") is None  # not passed through the duplicate filter again
    assert b.next_request() is None


@needs_redis
def test_only_the_requests_not_done_are_taken_back(pair: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b, spider = pair
    a.lease_ms = 300
    for n in range(2):
        a.enqueue_request(page(spider, n))
    _, second = a.next_request(), a.next_request()
    monkeypatch.setattr(a, "in_progress", lambda: [second])  # the first is done, the second still running
    a.enqueue_request(page(spider, 5))
    a._exchange(0)  # the next trip acknowledges the first, with the request it found
    expire(a)
    assert [r.url.rsplit("/", 1)[1] for r in (b.next_request(), b.next_request())] == ["1.html", "5.html"]
    assert b.next_request() is None
    assert b.stats.get_value("newscrawl/redis/requeued") == 1


@needs_redis
def test_the_crawl_is_not_over_while_a_dead_process_holds_a_lease(pair: Any) -> None:
    a, b, spider = pair
    a.lease_ms = 100
    a.enqueue_request(page(spider, 1))
    assert a.next_request() is not None  # then a dies
    assert not b.crawl_finished()  # a is busy with it
    expire(a)
    assert not b.crawl_finished()  # a's lease expired: its request is back in the frontier, a's mark gone
    assert b.next_request().url.endswith("/1.html")
    assert b.crawl_finished()


@needs_redis
def test_a_slow_process_keeps_its_lease(pair: Any) -> None:
    # The lease is renewed by a thread, whatever the event loop is doing.
    a, b, spider = pair
    a.lease_ms = 200
    a.enqueue_request(page(spider, 1))
    assert a.next_request() is not None
    a.renewal = threading.Thread(target=a.renew, daemon=True)
    a.renewal.start()
    time.sleep(0.8)  # four leases
    assert b.next_request() is None
    assert not b.crawl_finished()


def test_a_local_request_carries_the_lease_of_its_page() -> None:
    page_request = Request("http://finews.example/1.html", meta={frontier.LEASE: 7})
    response = HtmlResponse(page_request.url, body=b"", request=page_request)
    local = Request("http://api.example/1", meta={frontier.LOCAL: True})
    shared = Request("http://finews.example/2.html")
    out = list(frontier.LeaseMiddleware().process_spider_output(response, [local, shared, {"item": 1}]))
    assert out[0].meta[frontier.LEASE] == 7
    assert frontier.LEASE not in out[1].meta  # goes through Redis, where it gets a lease of its own
