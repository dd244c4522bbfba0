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
  the local requests not started; the outbox is sent first.
* **Taken requests are leased** (the Redis reliable-queue pattern). The trip that takes requests also
  copies each into this process's hash ``…:leased:<worker>`` and sets the process's lease in ``…:leases``
  (a sorted set of worker → expiry, Redis' own clock) to NEWSCRAWL_REDIS_LEASE_SECONDS from now. A request
  is acknowledged (removed from the hash) on the first trip after it has left the engine, its response or
  final failure handled and its items stored; a request it leads to that stays local (``LOCAL``) carries
  the same lease (``LeaseMiddleware``), and the requests it found are sent in the same atomic trip as the
  acknowledgement. Every trip renews the lease, and so does a thread every ``RENEW_S``, whether or not
  the event loop is free (a long parse, a blocking call): a slow process keeps its lease. Any process's
  trip first takes back the leases that expired: their requests go back on the shared queue as they
  were (past the duplicate filter, which has them already), listed in ``…:requeued`` so that the
  process that takes one marks it (meta ``newscrawl_requeued``) and counts it
  (``newscrawl/redis/requeued``: "re-queued from a dead worker" in its run summary), and the dead
  process's busy mark goes. A page is then fetched at most twice (once by the dead process); storage makes
  the second time harmless. A process killed outright still loses its outbox (at most ``OUTBOX_MAX``
  requests found since its last trip, its parent request not yet acknowledged: so it is re-done).
* **A shared crawl knows when it is over.** Each process marks itself busy in ``…:workers`` when it opens
  and when it takes requests (in the same script, atomically), and idle when Scrapy finds it idle. A
  process whose engine is idle ends as soon as the frontier is empty and every process is idle: nobody
  can add work any more. An idle process holds no lease; a dead process keeps its busy mark until its
  lease expires and its requests are back on the queue, so the crawl is not over while a lease is out.
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
import threading
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Iterable
from typing import Any

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider
from scrapy.http import Response
from scrapy.statscollectors import StatsCollector
from scrapy_redis.scheduler import Scheduler

logger = logging.getLogger(__name__)

#: The request meta key that keeps a request in the process that made it (see the module docstring).
LOCAL = "newscrawl_local"
#: The request meta keys of a lease: its number in this process, and whether a dead process had it before.
LEASE = "newscrawl_lease"
REQUEUED = "newscrawl_requeued"

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
# A process's lease is renewed this often (or four times per lease, if shorter), by a thread of its own.
RENEW_S = 1.0

# Every script's KEYS: filter, queue, workers (worker -> busy/idle), leases (worker -> expiry in ms),
# requeued (a set of pickled requests), the prefix of the leased hashes (number -> pickled request,
# 's' .. number -> its score); ARGV[1] this worker, ARGV[2] its lease in ms. This part takes back the leases
# that expired, other than this worker's own (renewed next).
_TAKE_BACK = """
local clock = redis.call('TIME')
local now = clock[1] * 1000 + math.floor(clock[2] / 1000)
local taken_back = 0
for _, dead in ipairs(redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now)) do
  if dead ~= ARGV[1] then
    local leased = redis.call('HGETALL', KEYS[6] .. dead)
    local score = {}
    for i = 1, #leased, 2 do
        if string.sub(leased[i], 1, 1) == 's' then score[string.sub(leased[i], 2)] = leased[i + 1] end
    end
    for i = 1, #leased, 2 do
        if string.sub(leased[i], 1, 1) ~= 's' then
            redis.call('ZADD', KEYS[2], score[leased[i]] or 0, leased[i + 1])
            redis.call('SADD', KEYS[5], leased[i + 1])
            taken_back = taken_back + 1
        end
    end
    redis.call('DEL', KEYS[6] .. dead)
    redis.call('ZREM', KEYS[4], dead)
    redis.call('HDEL', KEYS[3], dead)
  end
end
"""
# ARGV from 3: how many to take, the number of the first lease taken, how many acknowledged, the numbers
# acknowledged, then fingerprint ('' for a request that is not filtered), score and pickled request of
# each request sent.
# Answers {pushed (1/0 each), taken (request, score, ...), requeued (1/0 each taken), taken back}.
_EXCHANGE = _TAKE_BACK + """
local worker = ARGV[1]
local leased = KEYS[6] .. worker
redis.call('ZADD', KEYS[4], now + tonumber(ARGV[2]), worker)
local acks = tonumber(ARGV[5])
for i = 6, 5 + acks do redis.call('HDEL', leased, ARGV[i], 's' .. ARGV[i]) end
local pushed = {}
for i = 6 + acks, #ARGV, 3 do
    if ARGV[i] ~= '' and redis.call('SADD', KEYS[1], ARGV[i]) == 0 then
        pushed[#pushed + 1] = 0
    else
        redis.call('ZADD', KEYS[2], ARGV[i + 1], ARGV[i + 2])
        pushed[#pushed + 1] = 1
    end
end
local taken = {}
local requeued = {}
if tonumber(ARGV[3]) > 0 then
    taken = redis.call('ZPOPMIN', KEYS[2], ARGV[3])
    if #taken > 0 then redis.call('HSET', KEYS[3], worker, 'busy') end
    local seq = tonumber(ARGV[4])
    for i = 1, #taken, 2 do
        redis.call('HSET', leased, seq, taken[i], 's' .. seq, taken[i + 1])
        requeued[#requeued + 1] = redis.call('SREM', KEYS[5], taken[i])
        seq = seq + 1
    end
end
return {pushed, taken, requeued, taken_back}
"""
# An idle process holds no lease. Answers {finished (1/0), taken back}.
_IDLE = _TAKE_BACK + """
redis.call('HSET', KEYS[3], ARGV[1], 'idle')
redis.call('DEL', KEYS[6] .. ARGV[1])
redis.call('ZADD', KEYS[4], now + tonumber(ARGV[2]), ARGV[1])
if redis.call('ZCARD', KEYS[2]) > 0 then return {0, taken_back} end
for _, state in ipairs(redis.call('HVALS', KEYS[3])) do
    if state ~= 'idle' then return {0, taken_back} end
end
return {1, taken_back}
"""
_RENEW = """
local clock = redis.call('TIME')
redis.call('ZADD', KEYS[1], clock[1] * 1000 + math.floor(clock[2] / 1000) + tonumber(ARGV[2]), ARGV[1])
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
    lease_ms: int
    leased: set[int]  # the numbers of this process's leases not yet acknowledged
    next_lease: int
    renewal: threading.Thread | None
    stopping: threading.Event

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
        frontier.lease_ms = round(1000 * crawler.settings.getfloat("NEWSCRAWL_REDIS_LEASE_SECONDS", 10.0))
        frontier.leased, frontier.next_lease, frontier.renewal = set(), 1, None
        frontier.stopping = threading.Event()
        return frontier

    def open(self, spider: Spider) -> None:
        super().open(spider)
        prefix = self.queue.key.rsplit(":", 1)[0]
        self.workers_key = prefix + ":workers"
        self.leased_key = f"{prefix}:leased:{self.worker}"
        self.keys = [self.df.key, self.queue.key, self.workers_key, prefix + ":leases", prefix + ":requeued",
                     prefix + ":leased:"]
        self._exchange_script = self.server.register_script(_EXCHANGE)
        self._idle = self.server.register_script(_IDLE)
        self._renew = self.server.register_script(_RENEW)
        # Busy from the start: the start requests wait in this process's outbox until its first trip, and
        # another process must not find the crawl over meanwhile.
        self.server.hset(self.workers_key, self.worker, "busy")
        self.crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        if self.idle_wait is not None:
            self.stats.set_value("newscrawl/redis/shared", 1)  # how its run is judged (newscrawl.runs)
            self.crawler.signals.connect(self.spider_idle, signal=signals.spider_idle)

    def spider_opened(self, spider: Spider) -> None:
        # A class attribute of Scrapy's engine, read when the engine starts, after the spider is open.
        self.crawler.engine._SLOT_HEARTBEAT_INTERVAL = IDLE_POLL_S
        self.renewal = threading.Thread(target=self.renew, name="newscrawl-lease", daemon=True)
        self.renewal.start()

    def renew(self) -> None:
        """Renew this process's lease until it closes: a thread, so that a process whose event loop is held
        (a long parse, a blocking call) keeps its lease, as does one waiting for its database; only one that is gone
        (or frozen whole) loses it."""
        every = max(0.05, min(RENEW_S, self.lease_ms / 4000))
        while not self.stopping.wait(every):
            try:
                self._renew(keys=[self.keys[3]], args=[self.worker, self.lease_ms])
            except Exception as error:  # Redis away: tried again next time; the lease may expire meanwhile
                logger.warning("could not renew this process's lease in the shared frontier: %s", error)

    def close(self, reason: str) -> None:
        self.stopping.set()
        if self.renewal is not None:
            self.renewal.join()
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
        # What this process took has been done or pushed back: its lease goes with it.
        with self.server.pipeline() as pipe:
            pipe.delete(self.leased_key).zrem(self.keys[3], self.worker).hdel(self.workers_key, self.worker)
            pipe.execute()
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
        done = self._done_leases()
        pushed, taken, requeued, taken_back = self._exchange_script(
            keys=self.keys, args=[self.worker, self.lease_ms, take, self.next_lease, len(done), *done,
                                  *self.outgoing])
        self.leased.difference_update(done)
        sent, self.outbox, self.outgoing = self.outbox, [], []
        for request, new in zip(sent, pushed, strict=True):
            if new:
                self.stats.inc_value("scheduler/enqueued/redis")
            else:  # as Scrapy's own scheduler and duplicate filter do with a duplicate
                self.df.log(request, self.spider)
                self.stats.inc_value("dupefilter/filtered")
                self.crawler.signals.send_catch_log(signals.request_dropped, request=request, spider=self.spider)
        self._count_taken_back(taken_back)
        # ZPOPMIN answers member, score, member, score, ...: highest priority first.
        for data, again in zip(taken[::2], requeued, strict=True):
            request = self.queue._decode_request(data)
            request.meta[LEASE], request.meta[REQUEUED] = self.next_lease, bool(again)
            self.leased.add(self.next_lease)
            self.next_lease += 1
            if again:
                self.stats.inc_value("newscrawl/redis/requeued")
            self.taken.append(request)

    def _done_leases(self) -> list[int]:
        """This process's leases whose requests (and the local requests they led to) are all done.

        A request is done when it has left the engine (Scrapy's engine slot keeps it until its response or
        final failure has been handled and its items stored) and is in none of this process's queues; a
        retry or a redirect waiting in the outbox is sent in the same trip as the acknowledgement.
        """
        if not self.leased:
            return []
        live = {r.meta.get(LEASE) for queue in (self.in_progress(), self.taken, self.local) for r in queue}
        return [n for n in self.leased if n not in live]

    def in_progress(self) -> Iterable[Request]:
        """The requests Scrapy's engine has started and not finished (Scrapy has no public view of them)."""
        try:
            slot = getattr(self.crawler.engine, "_slot", None)
        except RuntimeError:  # no engine yet (a frontier used on its own)
            return ()
        return slot.inprogress if slot is not None else ()

    def _count_taken_back(self, taken_back: int) -> None:
        if taken_back:
            self.stats.inc_value("newscrawl/redis/taken_back", taken_back)
            logger.warning("%d requests leased by a process that stopped renewing its lease went back to the "
                           "shared frontier", taken_back)

    def has_pending_requests(self) -> bool:
        return bool(self.local) or bool(self.taken) or bool(self.outbox) or len(self.queue) > 0

    def __len__(self) -> int:
        return len(self.local) + len(self.taken) + len(self.outbox) + len(self.queue)

    def crawl_finished(self) -> bool:
        """Mark this process idle; True when the frontier is empty and every process is idle (atomic)."""
        if self.outbox:
            self._exchange(0)
        finished, taken_back = self._idle(keys=self.keys, args=[self.worker, self.lease_ms])
        self.leased.clear()  # an idle engine holds nothing: the script dropped the leases
        self._count_taken_back(taken_back)
        return bool(finished)

    def spider_idle(self, spider: Spider) -> None:
        assert self.idle_wait is not None
        if not self.idle_wait.should_end(self.crawl_finished()):
            raise DontCloseSpider


class LeaseMiddleware:
    """A request that stays local (``LOCAL``) carries the lease of the response that led to it.

    The text API request carries an article not yet stored: the page's lease is not acknowledged until
    the article is, so a process that dies in between has the page re-done. Enabled by RedisFrontier.
    """

    def process_spider_output(self, response: Response, result: Iterable[Any]) -> Iterable[Any]:
        for item in result:
            yield self._inherit(response, item)

    async def process_spider_output_async(self, response: Response,
                                          result: AsyncIterator[Any]) -> AsyncIterator[Any]:
        async for item in result:
            yield self._inherit(response, item)

    @staticmethod
    def _inherit(response: Response, item: Any) -> Any:
        if isinstance(item, Request) and item.meta.get(LOCAL) and LEASE in response.meta:
            item.meta[LEASE] = response.meta[LEASE]
        return item
