"""The shared crawl frontier in Redis: scrapy-redis's scheduler, with fewer round trips and a known end.

``RedisFrontier`` (newscrawl.addons) makes this the scheduler whenever NEWSCRAWL_REDIS_URL is set. The
keys and their format are scrapy-redis's own (``…:requests``, a sorted set of pickled requests scored by
minus their priority; ``…:dupefilter``, a set of request fingerprints), plus ``…:workers``, a hash of
each process's state. What this adds to ``scrapy_redis.scheduler.Scheduler``:

* **One round trip for many requests.** scrapy-redis makes two round trips for every request it is given
  (SADD "seen?", then ZADD) and one more for every request it hands out (a MULTI/EXEC of two commands).
  Here the requests a process finds wait in its outbox, and one Lua script sends them all (each pushed
  unless its fingerprint is in the filter) and takes up to ``PREFETCH`` requests in the same trip, kept
  in this process until the engine asks for them. The outbox goes out whenever the process takes work,
  when it holds ``OUTBOX_MAX`` requests, when its oldest has waited ``OUTBOX_MAX_WAIT_S``, and before
  the process idles or closes. redis-py spends ~40 µs of Python per command on top of the round trip,
  and a round trip blocks the process's event loop: a few hundred microseconds on a LAN
  (benchmarks: docs/performance.md). A duplicate is known only when the outbox goes out: it is then
  logged and counted by the duplicate filter and signalled (``request_dropped``) as Scrapy does.
* **Requests that finish an item stay in the process.** A request whose meta has ``newscrawl_local`` set
  (the spider's text API request, which carries the article it completes) is queued in this process,
  ahead of the shared ones, instead of being pickled with its article and sent through Redis: no other
  process could do it sooner, and it ends an item this process already holds.
* **Taken requests go back.** Requests prefetched but not started when the process closes (a
  ``CLOSESPIDER_*`` limit, Ctrl-C) are pushed back for the other processes or the next run, and so are
  the local requests not started; the outbox is sent first. A process killed outright loses them, as it
  loses the requests it was downloading (at most ``PREFETCH`` more) and the items it holds; its outbox
  (at most ``OUTBOX_MAX`` requests, found since its last trip) never reached the filter, so
  another process or the next run that finds those links again still fetches them.
* **A shared crawl knows when it is over.** Each process marks itself busy in ``…:workers`` when it opens
  and when it takes requests (in the same script, atomically), and idle when Scrapy finds it idle. A
  process whose engine is idle ends as soon as the frontier is empty and every process is idle: nobody
  can add work any more.
  Otherwise it waits (``IdleWait``): a process started a moment after another finds the start pages
  already taken, and near the end one process may empty the frontier while another is still parsing a
  listing that fills it again. The wait is bounded by NEWSCRAWL_REDIS_IDLE_SECONDS of continuous
  idleness, for a process that died while marked busy. An idle process asks again every ``IDLE_POLL_S``
  (Scrapy's engine heartbeat, set here), not every 5 s.

See docs/distributed.md.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections import deque

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider
from scrapy.statscollectors import StatsCollector
from scrapy_redis.scheduler import Scheduler

logger = logging.getLogger(__name__)

#: The request meta key that keeps a request in the process that made it (see the module docstring).
LOCAL = "newscrawl_local"

# Requests taken from Redis per trip. Each trip is one round trip whatever its size; what a process takes
# but has not started is what another process cannot have and what a kill -9 loses.
PREFETCH = 4
# The outbox goes out at the latest when it holds this many requests or its oldest has waited this long:
# another process may be waiting for work, and a kill -9 loses the outbox.
OUTBOX_MAX = 64
OUTBOX_MAX_WAIT_S = 0.1
# How often an idle process asks the frontier for work again: Scrapy's engine heartbeat, 5 s by default.
# A process of a shared crawl finds the frontier empty for a while at the start (another process took the
# start pages and is still parsing them) and near the end, and it would sit idle for up to a heartbeat each
# time; the last process to finish ends at once, but the others only at their next heartbeat.
IDLE_POLL_S = 0.25

# KEYS: filter, queue, workers. ARGV: how many to take, this worker, then fingerprint ('' for a request that
# is not filtered), score and pickled request of each request sent. Answers {pushed (1/0 each), taken}.
_EXCHANGE = """
local pushed = {}
for i = 3, #ARGV, 3 do
    if ARGV[i] ~= '' and redis.call('SADD', KEYS[1], ARGV[i]) == 0 then
        pushed[#pushed + 1] = 0
    else
        redis.call('ZADD', KEYS[2], ARGV[i + 1], ARGV[i + 2])
        pushed[#pushed + 1] = 1
    end
end
local taken = {}
if tonumber(ARGV[1]) > 0 then
    taken = redis.call('ZPOPMIN', KEYS[2], ARGV[1])
    if #taken > 0 then redis.call('HSET', KEYS[3], ARGV[2], 'busy') end
end
return {pushed, taken}
"""
_IDLE = """
redis.call('HSET', KEYS[2], ARGV[1], 'idle')
if redis.call('ZCARD', KEYS[1]) > 0 then return 0 end
for _, state in ipairs(redis.call('HVALS', KEYS[2])) do
    if state ~= 'idle' then return 0 end
end
return 1
"""


class IdleWait:
    """When a process of a shared crawl whose engine is idle may end.

    At once when the crawl is over (``finished``). Otherwise after ``seconds`` of continuous idleness,
    checked at each of Scrapy's engine heartbeats (every ``IDLE_POLL_S``); a request taken from the frontier in
    between (``scheduler/dequeued/redis``) starts the wait again. Counted in ``newscrawl/redis/idle_waits``.
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
        logger.info("the shared frontier stayed empty for %gs while another process was marked busy: "
                    "this process is done", self.seconds)
        return True


class SharedFrontier(Scheduler):  # type: ignore[misc]  # scrapy-redis has no type hints
    """scrapy-redis's scheduler with the changes in this module's docstring; same keys, same format."""

    crawler: Crawler
    worker: str
    taken: deque[Request]
    local: deque[Request]
    outbox: list[Request]
    outgoing: list[str | int | bytes]  # fingerprint, score, pickled request of each request in the outbox
    outbox_since: float
    idle_wait: IdleWait | None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SharedFrontier:
        frontier: SharedFrontier = super().from_crawler(crawler)
        frontier.crawler = crawler
        frontier.worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        frontier.taken = deque()
        frontier.local = deque()
        frontier.outbox, frontier.outgoing, frontier.outbox_since = [], [], 0.0
        # A crawl of its own (no crawl id, keys removed at the end) is over when its frontier is empty.
        shared = bool(crawler.settings.get("NEWSCRAWL_REDIS_CRAWL_ID"))
        assert crawler.stats is not None
        seconds = crawler.settings.getfloat("NEWSCRAWL_REDIS_IDLE_SECONDS", 15.0)
        frontier.idle_wait = IdleWait(crawler.stats, seconds) if shared else None
        return frontier

    def open(self, spider: Spider) -> None:
        super().open(spider)
        self.workers_key = self.queue.key.rsplit(":", 1)[0] + ":workers"
        self._exchange_script = self.server.register_script(_EXCHANGE)
        self._idle = self.server.register_script(_IDLE)
        # Busy from the start: the start requests wait in this process's outbox until its first trip, and
        # another process must not find the crawl over meanwhile.
        self.server.hset(self.workers_key, self.worker, "busy")
        self.crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        if self.idle_wait is not None:
            self.crawler.signals.connect(self.spider_idle, signal=signals.spider_idle)

    def spider_opened(self, spider: Spider) -> None:
        # A class attribute of Scrapy's engine, read when the engine starts, after the spider is open.
        self.crawler.engine._SLOT_HEARTBEAT_INTERVAL = IDLE_POLL_S

    def close(self, reason: str) -> None:
        if self.outbox:
            self._exchange(0)
        unstarted = [*self.local, *self.taken]
        if unstarted and self.persist:
            # Scores as scrapy-redis's PriorityQueue gives them; the fingerprints are in the filter already.
            pairs: dict[bytes, float] = {self.queue._encode_request(r): -r.priority for r in unstarted}
            self.server.zadd(self.queue.key, pairs)
            self.stats.inc_value("newscrawl/redis/pushed_back", len(pairs))
            logger.info("%d requests taken but not started went back to the shared frontier", len(pairs))
        self.taken.clear()
        self.local.clear()
        self.server.hdel(self.workers_key, self.worker)
        super().close(reason)

    def enqueue_request(self, request: Request) -> bool:
        if request.meta.get(LOCAL):
            self.local.append(request)
            self.stats.inc_value("scheduler/enqueued/local")
            return True
        if not self.outbox:
            self.outbox_since = time.monotonic()
        fingerprint = "" if request.dont_filter else self.df.request_fingerprint(request)
        self.outbox.append(request)
        self.outgoing += (fingerprint, -request.priority, self.queue._encode_request(request))
        if len(self.outbox) >= OUTBOX_MAX:
            self._exchange(0)
        # Whether it was a duplicate is known when the outbox goes out (``_exchange``).
        return True

    def next_request(self) -> Request | None:
        # With nothing in hand the take below sends the outbox; with work in hand it goes once it is old.
        if (self.local or self.taken) and self.outbox and time.monotonic() - self.outbox_since >= OUTBOX_MAX_WAIT_S:
            self._exchange(0)
        if self.local:
            self.stats.inc_value("scheduler/dequeued/local")
            return self.local.popleft()
        if not self.taken:
            self._exchange(PREFETCH)
            if not self.taken:
                return None
        self.stats.inc_value("scheduler/dequeued/redis")
        return self.taken.popleft()

    def _exchange(self, take: int) -> None:
        """One round trip: send the outbox, take up to ``take`` requests (``take`` 0: only send).

        If Redis fails, the outbox stays for the next attempt and the error goes to Scrapy.
        """
        pushed, taken = self._exchange_script(keys=[self.df.key, self.queue.key, self.workers_key],
                                              args=[take, self.worker, *self.outgoing])
        sent, self.outbox, self.outgoing = self.outbox, [], []
        for request, new in zip(sent, pushed, strict=True):
            if new:
                self.stats.inc_value("scheduler/enqueued/redis")
            else:  # as Scrapy's own scheduler and duplicate filter do with a duplicate
                self.df.log(request, self.spider)
                self.stats.inc_value("dupefilter/filtered")
                self.crawler.signals.send_catch_log(signals.request_dropped, request=request, spider=self.spider)
        # ZPOPMIN answers member, score, member, score, ...: highest priority first.
        self.taken.extend(self.queue._decode_request(data) for data in taken[::2])

    def has_pending_requests(self) -> bool:
        return bool(self.local) or bool(self.taken) or bool(self.outbox) or len(self.queue) > 0

    def __len__(self) -> int:
        return len(self.local) + len(self.taken) + len(self.outbox) + len(self.queue)

    def crawl_finished(self) -> bool:
        """Mark this process idle; True when the frontier is empty and every process is idle (atomic)."""
        if self.outbox:
            self._exchange(0)
        return bool(self._idle(keys=[self.queue.key, self.workers_key], args=[self.worker]))

    def spider_idle(self, spider: Spider) -> None:
        assert self.idle_wait is not None
        if not self.idle_wait.should_end(self.crawl_finished()):
            raise DontCloseSpider
