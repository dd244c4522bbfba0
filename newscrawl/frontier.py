"""The shared crawl frontier in Redis: scrapy-redis's scheduler, its requests leased, and a known end.

``RedisFrontier`` (newscrawl.addons) configures scrapy-redis's scheduler whenever NEWSCRAWL_REDIS_URL is set,
with scrapy-redis's keys and format (``…:requests``, a sorted set of pickled requests scored by minus their
priority; ``…:dupefilter``, a set of request fingerprints) and these pieces:

* ``LeasedQueue`` (SCHEDULER_QUEUE_CLASS), scrapy-redis's priority queue whose requests are **leased** (the
  Redis reliable-queue pattern): the one Lua script that takes a request also copies it into this process's
  hash ``…:leased:<worker>``, lists the process in ``…:holders`` and sets its key ``…:alive:<worker>`` to
  expire NEWSCRAWL_REDIS_LEASE_SECONDS from now (Redis' own clock), which a thread renews every ``RENEW_S``
  whether or not the event loop is free (a long parse, a blocking call): a slow process keeps its lease.
  A request is acknowledged (removed from the hash) by the next trip after it has left Scrapy's engine:
  neither downloading nor being scraped, so its response or final failure has been handled, its items
  stored, and the requests it led to (links, a retry, a redirect, the text API request that carries its
  article) pushed to Redis. Every trip first takes back the leases of the processes whose ``alive`` key
  expired: their requests go back on the queue as they were (past the duplicate filter, which has them
  already), listed in ``…:requeued`` so that the process that takes one marks it (meta
  ``newscrawl_requeued``) and counts it (``newscrawl/redis/requeued``: "re-queued from a dead worker" in
  its run summary). A page is then fetched at most twice (once by the dead process); storage makes the
  second time harmless.
* ``SharedFrontier`` (SCHEDULER), scrapy-redis's scheduler, which asks the duplicate filter "seen?" and
  pushes in one step (``_PUSH``), gives back to the queue what the process holds leased and has not
  finished when it closes, and keeps a request its idle poll took (``TAKEN``).
* ``SharedCrawlEnd`` (an extension, in a crawl shared by NEWSCRAWL_REDIS_CRAWL_ID) ends a process when the
  crawl is over: the queue is empty and no process holds a lease. An idle process holds none; a busy one
  holds the requests it works on, which push what they find before they are acknowledged; a dead one's
  are taken back when they expire. Until then an idle process asks for work every ``IDLE_POLL_S`` (not at
  Scrapy's engine heartbeat, every 5 s): a process started a moment after another finds the start pages
  already taken, and near the end one process may empty the queue while another is still parsing a
  listing that fills it again. The wait is bounded by NEWSCRAWL_REDIS_IDLE_SECONDS (``IdleWait``).

See docs/distributed.md.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable
from typing import Any, cast

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider
from scrapy.statscollectors import StatsCollector
from scrapy.utils.defer import deferred_from_coro
from scrapy_redis.queue import PriorityQueue
from scrapy_redis.scheduler import Scheduler
from twisted.internet import task

from newscrawl.config import get_float

logger = logging.getLogger(__name__)

#: The request meta keys of a lease: its number in this process, and whether a dead process had it before.
LEASE = "newscrawl_lease"
REQUEUED = "newscrawl_requeued"
#: Marks a request the idle poll took from Redis and hands to the engine: it stays in this process.
TAKEN = "newscrawl_taken"

# How often an idle process of a shared crawl asks for work again, and whether the crawl is over.
IDLE_POLL_S = 0.25
# A process's lease is renewed this often (or four times per lease, if shorter), by a thread of its own.
RENEW_S = 1.0

# KEYS: the queue, holders (the processes with a leased hash), requeued (pickled requests taken back),
# the prefix of the leased hashes (lease number -> score, space, pickled request) and of the alive keys.
# ARGV[1]: this process. This part takes back the leases of processes whose alive key expired.
_TAKE_BACK = """
local function give_back(worker, mark)
    local leased = redis.call('HVALS', KEYS[4] .. worker)
    for _, entry in ipairs(leased) do
        local space = string.find(entry, ' ', 1, true)
        local request = string.sub(entry, space + 1)
        redis.call('ZADD', KEYS[1], string.sub(entry, 1, space - 1), request)
        if mark then redis.call('SADD', KEYS[3], request) end
    end
    redis.call('DEL', KEYS[4] .. worker)
    redis.call('SREM', KEYS[2], worker)
    return #leased
end
local taken_back = 0
for _, worker in ipairs(redis.call('SMEMBERS', KEYS[2])) do
    if worker ~= ARGV[1] and redis.call('EXISTS', KEYS[5] .. worker) == 0 then
        taken_back = taken_back + give_back(worker, true)
    end
end
local mine = KEYS[4] .. ARGV[1]
"""
# ARGV[2] the lease in ms, ARGV[3] 1 to take a request, ARGV[4] its lease number, then the numbers
# acknowledged. Answers {request or nil, requeued (1/0), taken back, the crawl is over (1/0)}.
_TAKE = _TAKE_BACK + """
for i = 5, #ARGV do redis.call('HDEL', mine, ARGV[i]) end
local top = {}
if ARGV[3] == '1' then top = redis.call('ZPOPMIN', KEYS[1]) end
if #top == 0 then
    if redis.call('EXISTS', mine) == 0 then redis.call('SREM', KEYS[2], ARGV[1]) end
    local over = redis.call('ZCARD', KEYS[1]) == 0 and redis.call('SCARD', KEYS[2]) == 0
    return {false, 0, taken_back, over and 1 or 0}
end
redis.call('HSET', mine, ARGV[4], top[2] .. ' ' .. top[1])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('SET', KEYS[5] .. ARGV[1], 1, 'PX', ARGV[2])
return {top[1], redis.call('SREM', KEYS[3], top[1]), taken_back, 0}
"""
# A request found: KEYS the duplicate filter and the queue, ARGV its fingerprint ('' for one not filtered), score
# and pickled form. "Seen?" and the push in one step: a process killed in between would leave the request seen
# and queued nowhere, so that found again it would be dropped as a duplicate and never fetched.
_PUSH = """
if ARGV[1] ~= '' and redis.call('SADD', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
return 1
"""
# At close: ARGV from 2 the numbers acknowledged; the rest goes back, unmarked. Answers how many went back.
_RELEASE = _TAKE_BACK + """
for i = 2, #ARGV do redis.call('HDEL', mine, ARGV[i]) end
redis.call('DEL', KEYS[5] .. ARGV[1])
return give_back(ARGV[1], false)
"""


class LeasedQueue(PriorityQueue):  # type: ignore[misc]  # scrapy-redis has no type hints
    """scrapy-redis's priority queue whose requests are leased to the process that takes them (see above)."""

    def __init__(self, server: Any, spider: Spider, key: str, serializer: Any = None) -> None:
        super().__init__(server, spider, key, serializer)
        self.crawler: Crawler = spider.crawler
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        prefix = self.key.rsplit(":", 1)[0]
        self.keys = [self.key, f"{prefix}:holders", f"{prefix}:requeued", f"{prefix}:leased:", f"{prefix}:alive:"]
        self.lease_ms = round(1000 * get_float(self.crawler.settings, "NEWSCRAWL_REDIS_LEASE_SECONDS"))
        self.leased: set[int] = set()  # the numbers of this process's leases not yet acknowledged
        self.next_lease = 1
        self.held: deque[Request] = deque()  # taken by the idle poll, handed to the engine, not yet started
        self.finished = False  # what the last trip that took nothing found: the crawl is over
        self._push = server.register_script(_PUSH)
        self._take = server.register_script(_TAKE)
        self._release = server.register_script(_RELEASE)
        self.stopping = threading.Event()
        self.renewal = threading.Thread(target=self.renew, name="newscrawl-lease", daemon=True)
        self.renewal.start()

    def __len__(self) -> int:
        return int(super().__len__()) + len(self.held)

    def push_unseen(self, request: Request, filter_key: str, fingerprint: str) -> bool:
        """Push ``request`` unless the duplicate filter at ``filter_key`` has ``fingerprint`` ('': not filtered);
        False if it has."""
        return bool(self._push(keys=[filter_key, self.key],
                               args=[fingerprint, -request.priority, self._encode_request(request)]))

    def pop(self, timeout: int = 0) -> Request | None:
        if self.held:
            return self.held.popleft()
        return self.exchange(take=True)

    def exchange(self, take: bool) -> Request | None:
        """One trip: take back expired leases, acknowledge what is done, take one request if ``take``."""
        done = self.done()
        data, requeued, taken_back, self.finished = self._take(
            keys=self.keys, args=[self.worker, self.lease_ms, int(take), self.next_lease, *done])
        self.leased.difference_update(done)
        if taken_back:
            self.crawler.stats.inc_value("newscrawl/redis/taken_back", taken_back)
            logger.warning("%d requests leased by a process that stopped renewing its lease went back to the "
                           "shared frontier", taken_back)
        if data is None:
            return None
        request: Request = self._decode_request(data)
        request.meta[LEASE], request.meta[REQUEUED] = self.next_lease, bool(requeued)
        self.leased.add(self.next_lease)
        self.next_lease += 1
        if requeued:
            self.crawler.stats.inc_value("newscrawl/redis/requeued")
        return request

    def done(self) -> list[int]:
        """This process's leases whose requests have left the engine and are not held here."""
        if not self.leased:
            return []
        live = {request.meta.get(LEASE) for request in self.in_progress()}
        return [n for n in self.leased if n not in live]

    def in_progress(self) -> Iterable[Request]:
        """The requests this process has taken and not finished: held, downloading (the downloader's
        ``active``, downloader middlewares included) or being scraped (the scraper's ``active``, until its
        callback's output has been handled: items stored, requests scheduled)."""
        try:
            engine = self.crawler.engine
        except RuntimeError:  # no engine: a queue used on its own
            return self.held
        scraping = engine.scraper.slot.active if engine.scraper.slot is not None else ()
        return [*self.held, *engine.downloader.active, *scraping]

    def renew(self) -> None:
        """Renew this process's lease until it closes: a thread, so that a process whose event loop is held
        (a long parse, a blocking call) keeps its lease; only one that is gone (or frozen whole) loses it."""
        every = max(0.05, min(RENEW_S, self.lease_ms / 4000))
        alive = self.keys[4] + self.worker
        while not self.stopping.wait(every):
            try:
                self.server.set(alive, 1, px=self.lease_ms)
            except Exception as error:  # Redis away: tried again next time; the lease may expire meanwhile
                logger.warning("could not renew this process's lease in the shared frontier: %s", error)

    def release(self) -> None:
        """At close: stop renewing; what is done is acknowledged, the rest goes back on the queue."""
        self.stopping.set()
        self.renewal.join()
        pushed_back = self._release(keys=self.keys, args=[self.worker, *self.done()])
        self.held.clear()
        self.leased.clear()
        if pushed_back:
            self.crawler.stats.inc_value("newscrawl/redis/pushed_back", pushed_back)
            logger.info("%d requests taken but not finished went back to the shared frontier", pushed_back)

    def clear(self) -> None:
        self.server.delete(*self.keys[:3])


class SharedFrontier(Scheduler):  # type: ignore[misc]  # scrapy-redis has no type hints
    """scrapy-redis's scheduler over a ``LeasedQueue``."""

    queue: LeasedQueue

    def enqueue_request(self, request: Request) -> bool:
        if request.meta.pop(TAKEN, False):  # taken from Redis already, and leased to this process
            self.queue.held.append(request)
            return True
        # scrapy-redis's, with "seen?" and the push in one step (``_PUSH``)
        fingerprint = "" if request.dont_filter else self.df.request_fingerprint(request)
        if not self.queue.push_unseen(request, self.df.key, fingerprint):
            self.df.log(request, self.spider)
            return False
        self.stats.inc_value("scheduler/enqueued/redis")
        return True

    def close(self, reason: str) -> None:
        self.queue.release()
        super().close(reason)


class IdleWait:
    """When a process of a shared crawl whose engine is idle may end.

    At once when the crawl is over (``finished``). Otherwise after ``seconds`` of continuous idleness,
    asked every ``IDLE_POLL_S``; a request taken from the frontier in between (``scheduler/dequeued/redis``)
    starts the wait again. Counted in ``newscrawl/redis/idle_waits``.
    """

    def __init__(self, stats: StatsCollector, seconds: float) -> None:
        self.stats = stats
        self.seconds = seconds
        self.idle_since: float | None = None
        self.dequeued_then: int | None = None

    def should_end(self, finished: bool) -> bool:
        if finished:
            logger.info("the shared frontier is empty and every process is idle: this process is done")
            return True
        if self.seconds <= 0:
            return True
        dequeued = self.stats.get_value("scheduler/dequeued/redis", 0)
        now = time.monotonic()
        if self.idle_since is None or dequeued != self.dequeued_then:
            self.idle_since, self.dequeued_then = now, dequeued
        waited = now - self.idle_since
        if waited < self.seconds:
            self.stats.inc_value("newscrawl/redis/idle_waits")
            logger.debug("another process is still busy: waiting for work (%.0fs of %gs)", waited, self.seconds)
            return False
        logger.info("the shared frontier stayed empty for %gs while another process held leased requests: "
                    "this process is done", self.seconds)
        return True


class SharedCrawlEnd:
    """Ends a process of a shared crawl when the crawl is over; meanwhile, an idle process asks for work
    every ``IDLE_POLL_S`` (see the module's docstring). Enabled by RedisFrontier with a crawl id."""

    def __init__(self, crawler: Crawler) -> None:
        assert crawler.stats is not None
        self.crawler = crawler
        self.wait = IdleWait(crawler.stats, get_float(crawler.settings, "NEWSCRAWL_REDIS_IDLE_SECONDS"))
        self.poll = task.LoopingCall(self.poll_once)
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SharedCrawlEnd:
        return cls(crawler)

    def spider_opened(self, spider: Spider) -> None:
        self.wait.stats.set_value("newscrawl/redis/shared", 1)  # how its run is judged (newscrawl.runs)

    def spider_idle(self, spider: Spider) -> None:
        if not self.check():
            raise DontCloseSpider

    def poll_once(self) -> None:
        try:
            over = self.check()
        except Exception as error:  # Redis away: asked again at the next poll
            logger.warning("could not ask the shared frontier for work: %s", error)
            return
        if over:
            assert self.crawler.engine is not None
            deferred_from_coro(self.crawler.engine.close_spider_async(reason="finished"))

    def check(self) -> bool:
        """True when this process may end; else hand the engine a request if there is one, or poll."""
        engine = self.crawler.engine
        assert engine is not None
        queue = cast(SharedFrontier, engine.scheduler).queue
        request = queue.exchange(take=True)
        if request is not None:  # the engine asks its scheduler again only at its heartbeat: wake it now
            request.meta[TAKEN] = True
            engine.crawl(request)
        elif not self.wait.should_end(queue.finished):
            if not self.poll.running:
                self.poll.start(IDLE_POLL_S, now=False)
            return False
        if self.poll.running:
            self.poll.stop()
        return request is None

    def spider_closed(self, spider: Spider) -> None:
        if self.poll.running:
            self.poll.stop()
