"""newscrawl's downloader middlewares: the address policy, redirect loops, and page encodings.

* ``SitePolicyMiddleware`` enforces the address policy on every request, redirects included. The spider
  only yields requests the policy allows, but a redirect or a robots.txt fetch makes new requests outside
  the spider; this is the one gate all of them pass. Refused requests are counted in
  ``newscrawl/policy/refused`` and logged with the URL (docs/crawling.md, "What is never requested").
* ``RedirectGuardMiddleware`` names a redirect cycle, or a redirect out of the policy, as the reason a
  page is missing.
* ``DeclaredEncodingMiddleware`` decides the encoding of pages that do not declare it, or declare it wrong.
docs/reliability.md lists the faults each one handles.
"""

from __future__ import annotations

import logging
from typing import Self
from urllib.parse import urljoin

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response, TextResponse
from scrapy.statscollectors import StatsCollector
from w3lib.url import safe_url_string

from newscrawl.encoding import decide_encoding, declared_encoding
from newscrawl.parsers import looks_like_text
from newscrawl.urls import SitePolicy

logger = logging.getLogger(__name__)


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
            self.stats.inc_value("newscrawl/policy/refused")
            logger.warning("refused by the site policy, not requested: %s", request.url)
            raise IgnoreRequest(f"outside the site policy: {request.url}")


class RedirectGuardMiddleware(_PolicyMiddleware):
    """Name the reason when a redirect loops or leads outside the address policy.

    Scrapy ends an endless chain of new URLs at REDIRECT_MAX_TIMES, but a cycle (A → B → A) ends
    silently: the duplicate filter drops the repeated request. A redirect to another host ends silently
    too (Scrapy's offsite filter drops it when it is scheduled, before ``SitePolicyMiddleware`` sees it).
    Placed before RedirectMiddleware in the response chain, this raises ``IgnoreRequest`` with the reason
    (``redirect_loop: …`` or ``outside the site policy: …``), so the request's errback counts the page as
    dropped and the log says why. Policy refusals are counted in ``newscrawl/policy/refused`` as well.
    """

    def process_response(self, request: Request, response: Response, spider: Spider | None = None) -> Response:
        location = response.headers.get(b"Location")
        if response.status not in (301, 302, 303, 307, 308) or not location:
            return response
        target = safe_url_string(urljoin(request.url, location.decode("latin-1")))
        chain = [*request.meta.get("redirect_urls", []), request.url]
        if target in chain:
            raise IgnoreRequest(f"redirect_loop: {' -> '.join([*chain, target])}")
        if not self.policy.may_request(target):
            self.stats.inc_value("newscrawl/policy/refused")
            logger.warning("refused by the site policy, not requested: %s (redirect from %s)", target, request.url)
            raise IgnoreRequest(f"outside the site policy: redirect from {request.url} to {target}")
        return response


class DeclaredEncodingMiddleware:
    """Read a page in the encoding it is really in: ``newscrawl.encoding.decide_encoding``'s choice.

    Scrapy (w3lib's ``html_to_unicode``) takes the encoding from a byte-order mark, then the Content-Type
    charset, then a ``<meta>`` charset; when none is there it guesses with charset-normalizer among all the
    world's encodings, which on a short GBK page often says Korean (cp949). newscrawl.encoding reads an
    undeclared page as UTF-8 when it is, else detects GB18030 or Big5; a declared encoding the body cannot
    be decoded in gives way the same way. Counted in ``newscrawl/encoding/<decision>``; a low-confidence
    guess sets the request's ``newscrawl_encoding_guessed`` meta key, which flags the article.
    """

    def __init__(self, stats: StatsCollector) -> None:
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DeclaredEncodingMiddleware:
        assert crawler.stats is not None
        return cls(crawler.stats)

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
