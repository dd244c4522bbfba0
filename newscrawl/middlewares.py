"""newscrawl's downloader middlewares: the address policy, redirects, and page encodings.

Every request the guards below refuse is explained once: one WARNING line ``request dropped (<reason>):
<what and why>``, a counter ``newscrawl/<component>/<event>``, and an ``IgnoreRequest`` (``RequestRefused``)
that carries the reason to the request's errback, where the spider counts an article page in
``newscrawl/spider/dropped/<reason>`` for the run summary (docs/crawling.md, "What is never requested").

* ``SitePolicyMiddleware`` enforces the address policy on every request, redirects included. The spider
  only yields requests the policy allows, but a redirect or a robots.txt fetch makes new requests outside
  the spider; this is the one gate all of them pass (``refused_by_policy``, ``newscrawl/policy/refused``).
* ``RedirectGuardMiddleware`` judges a redirect before Scrapy follows it: outside the policy as Scrapy
  or as a browser would read its Location (``refused_by_policy``), back into its own chain or into a
  redirect seen earlier in the run (``redirect_loop``, ``newscrawl/redirect/loop``); and it explains a
  redirect the scheduler drops because its target was already requested (``redirect_duplicate``,
  ``newscrawl/redirect/duplicate``), which Scrapy drops without a word.
* ``OffsiteMiddleware`` is Scrapy's ``allowed_domains`` filter, made to say why (``offsite``).
* ``DeclaredEncodingMiddleware`` decides the encoding of pages that do not declare it, or declare it wrong.
docs/reliability.md lists the faults each one handles.
"""

from __future__ import annotations

import logging
from typing import Self
from urllib.parse import urljoin, urlsplit

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.offsite import OffsiteMiddleware as ScrapyOffsiteMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response, TextResponse
from scrapy.statscollectors import StatsCollector
from twisted.python.failure import Failure
from w3lib.url import safe_url_string

from newscrawl.components import CountingComponent
from newscrawl.encoding import decide_encoding, declared_encoding
from newscrawl.parsers import looks_like_text
from newscrawl.urls import SitePolicy, browser_url

logger = logging.getLogger(__name__)

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Redirects remembered per run, to find a loop that runs through pages requested apart (A → B, B → A).
REDIRECTS_KEPT = 100_000
# Hops followed through remembered redirects when looking for a loop (Scrapy stops a chain at 5).
LOOP_HOPS = 20


class RequestRefused(IgnoreRequest):
    """A request a newscrawl guard refused, already logged and counted; ``reason`` is the word the stats
    and the run summary use for it (``refused_by_policy``, ``redirect_loop``, ``redirect_duplicate``,
    ``offsite``)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def refuse(stats: StatsCollector, counter: str, reason: str, detail: str) -> RequestRefused:
    """Log and count one refused request; returns the exception to raise (or hand to its errback)."""
    stats.inc_value(counter)
    logger.warning("request dropped (%s): %s", reason, detail)
    return RequestRefused(reason, detail)


class _PolicyMiddleware:
    """A middleware that judges requests by the configured address policy and counts what it does."""

    def __init__(self, policy: SitePolicy, stats: StatsCollector) -> None:
        self.policy = policy
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        assert crawler.stats is not None
        return cls(SitePolicy.configured(crawler.settings), crawler.stats)


class SitePolicyMiddleware(_PolicyMiddleware):
    """Refuse any request the address policy does not allow (``SitePolicy.may_request``)."""

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        if not self.policy.may_request(request.url):
            raise refuse(self.stats, "newscrawl/policy/refused", "refused_by_policy",
                         f"{request.url} is outside the site policy, not requested")


class RedirectGuardMiddleware(_PolicyMiddleware):
    r"""Judge a redirect before RedirectMiddleware follows it, and explain one the scheduler drops.

    Placed before RedirectMiddleware in the response chain (a higher order), it reads the Location as
    Scrapy will request it and as a browser would (``newscrawl.urls.browser_url``: ``http:\\host``,
    ``\\host``, ``http:/host``, numeric IPv4 hosts), and refuses the redirect when either reading is
    outside the policy. A cycle within one chain (A → B → A) is named; so is one through pages the site
    links apart (A → B requested from A's page, B → A from B's), found in the redirects seen this run.
    Scrapy's duplicate filter drops a redirect to a URL already requested with no word (A → B when B is
    requested on its own); the ``request_dropped`` signal names it and fails the request through its
    errback, as a refusal in the downloader does, so the page is counted as dropped.
    """

    def __init__(self, policy: SitePolicy, stats: StatsCollector) -> None:
        super().__init__(policy, stats)
        self.redirects: dict[str, str] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        guard = super().from_crawler(crawler)
        crawler.signals.connect(guard.request_dropped, signal=signals.request_dropped)
        return guard

    def process_response(self, request: Request, response: Response, spider: Spider | None = None) -> Response:
        location = response.headers.get(b"Location")
        if response.status not in REDIRECT_STATUSES or not location or not _follows_redirects(request, response):
            return response
        target = safe_url_string(scrapy_redirect_url(location, request.url))
        written = location.decode("utf-8", errors="replace")
        chain = [*request.meta.get("redirect_urls", []), request.url]
        for reading in (browser_url(written, request.url), target):
            if reading is None or not self.policy.may_request(reading):
                raise refuse(self.stats, "newscrawl/policy/refused", "refused_by_policy",
                             f"redirect from {request.url} to {written!r} (read as {reading or 'no URL'}) "
                             "is outside the site policy, not followed")
        loop = self._loop(chain, target)
        if loop is not None:
            raise refuse(self.stats, "newscrawl/redirect/loop", "redirect_loop", " -> ".join(loop))
        if len(self.redirects) < REDIRECTS_KEPT:
            self.redirects[request.url] = target
        return response

    def _loop(self, chain: list[str], target: str) -> list[str] | None:
        """The redirects from ``chain`` through ``target`` back into ``chain``, if they lead back."""
        path = [target]
        while path[-1] not in chain:
            following = self.redirects.get(path[-1])
            if following is None or len(path) > LOOP_HOPS:
                return None
            path.append(following)
        return [*chain, *path]

    def request_dropped(self, request: Request, spider: Spider) -> None:
        redirected_from = request.meta.get("redirect_urls")
        if not redirected_from:
            return  # an ordinary duplicate: the page is fetched by the request made first
        refused = refuse(self.stats, "newscrawl/redirect/duplicate", "redirect_duplicate",
                         f"{redirected_from[-1]} redirects to {request.url}, which was already requested; "
                         "not requested again")
        if request.errback is not None:
            failure = Failure(refused)  # type: ignore[no-untyped-call]
            failure.request = request  # type: ignore[attr-defined]
            request.errback(failure)


class OffsiteMiddleware(ScrapyOffsiteMiddleware):
    """Scrapy's ``allowed_domains`` filter, made to say why it drops a request.

    Scrapy's runs when a request is scheduled, where a refusal reaches no errback and is logged once per
    host at DEBUG: a page dropped there vanishes. This one runs in the downloader chain only (order 50,
    after ``SitePolicyMiddleware``, which refuses everything it would), so a refusal is logged, counted
    in ``newscrawl/offsite/refused`` and reaches the request's errback.
    """

    def request_scheduled(self, request: Request, spider: Spider) -> None:
        return None

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        try:
            super().process_request(request)
        except IgnoreRequest as error:
            raise refuse(self.stats, "newscrawl/offsite/refused", "offsite",
                         f"{request.url} is not in the spider's allowed_domains ({error})") from None


def scrapy_redirect_url(location: bytes, request_url: str) -> str:
    """The URL Scrapy's RedirectMiddleware requests for a ``Location`` header, computed as it does
    (tests/test_middlewares.py compares the two)."""
    target = safe_url_string(location)
    if location.startswith(b"//"):
        target = urlsplit(request_url).scheme + "://" + target.lstrip("/")
    return urljoin(request_url, target)


def _follows_redirects(request: Request, response: Response) -> bool:
    """Whether RedirectMiddleware would follow this answer (a request may ask to handle it itself)."""
    return not (request.meta.get("dont_redirect") or request.meta.get("handle_httpstatus_all")
                or response.status in request.meta.get("handle_httpstatus_list", ()))


class DeclaredEncodingMiddleware(CountingComponent):
    """Read a page in the encoding it is really in: ``newscrawl.encoding.decide_encoding``'s choice.

    Scrapy (w3lib's ``html_to_unicode``) takes the encoding from a byte-order mark, then the Content-Type
    charset, then a ``<meta>`` charset; when none is there it guesses with charset-normalizer among all the
    world's encodings, which on a short GBK page often says Korean (cp949). newscrawl.encoding reads an
    undeclared page as UTF-8 when it is, else detects GB18030 or Big5; a declared encoding the body cannot
    be decoded in gives way the same way. Counted in ``newscrawl/encoding/<decision>``; a low-confidence
    guess sets the request's ``newscrawl_encoding_guessed`` meta key, which flags the article.
    """

    def process_response(self, request: Request, response: Response, spider: Spider | None = None) -> Response:
        if not isinstance(response, TextResponse) or not looks_like_text(response.body[:5000]):
            return response  # binary content is no encoding problem: the spider names it (not_html)
        content_type = (response.headers.get(b"Content-Type") or b"").decode("latin-1")
        declared = declared_encoding(response.body, content_type)
        choice = decide_encoding(response.body, content_type, response.encoding if declared else None)
        if choice.decision not in ("declared", "utf-8"):
            self.stats.inc_value(f"newscrawl/encoding/{choice.decision}")
        if choice.guessed and request is not None:
            request.meta["newscrawl_encoding_guessed"] = True
        if choice.name is None:
            if choice.decision == "undecodable":
                logger.warning("page decodes in no encoding tried (%s, UTF-8, GB18030, Big5); read with "
                               "replacement characters: %s", declared or "undeclared", response.url)
            return response
        if declared is not None:
            logger.warning("page says %s but is %s; read as %s: %s", declared, choice.name, choice.name,
                           response.url)
        return response.replace(encoding=choice.name)
