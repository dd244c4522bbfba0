"""Which URLs newscrawl may request, and what each one is: the crawl's address policy.

Pure functions over strings (no Scrapy): the spider asks here whether a link is the site, an origin
text API, or somewhere it must never go, and how the site names its pages. The rules are described in
docs/crawling.md.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from enum import Enum
from functools import cached_property
from typing import Any, NamedTuple, Protocol
from urllib.parse import SplitResult, parse_qs, quote, unquote, urljoin, urlsplit, urlunsplit

import ada_url
from w3lib.url import canonicalize_url

# A Jekyll post URL: /<category>/YYYY/MM/DD/<slug>.html; posts without a category live at /YYYY/MM/DD/.
ARTICLE_PATH = re.compile(r"^/(?:(?P<category>[^/]+)/)?(?P<y>\d{4})/(?P<m>\d{2})/(?P<d>\d{2})/(?P<slug>[^/]+)\.html$")
CATEGORY_PATH = re.compile(r"^/category/(?P<slug>[^/]+)\.html$")
# Listing pages the site links to besides category pages: the root, /emnews/ (latest 20) and the feed.
LISTING_PATHS = frozenset({"/", "/index.html", "/emnews/", "/emnews/index.html", "/feed.xml"})
SHARE_PATH = "/html_News/NewsShare.html"
TEXT_API_PATH = "/NewsData/GetNewsText.do"
INFO_CODE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# Category page URLs remembered by slug; beyond this many (only a hostile site has them) they are rebuilt.
CATEGORY_PAGES_KEPT = 50_000


class SettingsLike(Protocol):
    def get(self, name: str, default: Any = None, /) -> Any: ...


class Kind(Enum):
    ARTICLE = "article"
    CATEGORY = "category"
    LISTING = "listing"
    OTHER_SITE_PAGE = "other"  # on the site but not a page newscrawl reads (404.html, assets)
    SHARE = "share"  # an origin share link; its text comes from the text API
    OFFSITE = "offsite"  # anything else: recorded, never requested


class Link(NamedTuple):
    """A link resolved and classified: ``absolute``, ``kind``, and for an article its category (None for
    a post without one) and slug (``article_id_from_url``)."""

    url: str
    kind: Kind
    category: str | None = None
    slug: str | None = None


@dataclass(frozen=True)
class SitePolicy:
    """The configured site and origin hosts, and the address rules that follow from them."""

    site_url: str
    origin_hosts: frozenset[str]

    @classmethod
    def from_settings(cls, site_url: str, origin_hosts: str | list[str] | tuple[str, ...]) -> SitePolicy:
        hosts = origin_hosts.split(",") if isinstance(origin_hosts, str) else list(origin_hosts)
        site = site_url if site_url.endswith("/") else site_url + "/"
        return cls(site, frozenset(h.strip().lower() for h in hosts if h.strip()))

    @classmethod
    def configured(cls, settings: SettingsLike) -> SitePolicy:
        """The policy that NEWSCRAWL_SITE_URL and NEWSCRAWL_ORIGIN_HOSTS set (Scrapy settings or a dict)."""
        return cls.from_settings(settings.get("NEWSCRAWL_SITE_URL") or "", settings.get("NEWSCRAWL_ORIGIN_HOSTS") or "")

    # Parts of the site URL, parsed once: every link of every page is compared with them.
    @cached_property
    def site_host(self) -> str:
        return (urlsplit(self.site_url).hostname or "").lower()

    @cached_property
    def site_scheme(self) -> str:
        return urlsplit(self.site_url).scheme or "https"

    @cached_property
    def site_netloc(self) -> str:
        return urlsplit(self.site_url).netloc

    @cached_property
    def _site_port(self) -> int | None:
        return urlsplit(self.site_url).port

    def allowed_domains(self) -> list[str]:
        return sorted({self.site_host, *self.origin_hosts})

    def absolute(self, href: str, base_url: str) -> str | None:
        """``href`` resolved against ``base_url``; site URLs in the configured scheme; None if unusable."""
        joined = self._join(href, base_url)
        return joined[0] if joined is not None else None

    def link(self, href: str, base_url: str) -> Link | None:
        """``absolute`` and ``kind`` of ``href`` in one pass, with an article's category and slug.

        What the spider asks of every link of every page: one split of the URL instead of four.
        """
        joined = self._join(href, base_url)
        if joined is None:
            return None
        url, site_path = joined
        if site_path is None:
            return Link(url, self.kind(url))
        article = ARTICLE_PATH.match(site_path)
        if article:
            return Link(url, Kind.ARTICLE, article.group("category"), article.group("slug"))
        return Link(url, _site_kind(site_path))

    def _join(self, href: str, base_url: str) -> tuple[str, str | None] | None:
        """(``absolute``'s URL, and its unquoted path when it is the site's), or None if unusable.

        Resolved against the page, then put in w3lib's canonical form (percent-encoding normalised, dot
        segments resolved, query arguments sorted, no fragment): one page, one URL, however it is linked.
        """
        href = href.strip()
        if not href or href.startswith(("#", "javascript:", "mailto:", "data:")):
            return None
        try:
            parts = urlsplit(canonicalize_url(urljoin(base_url, href)))
        except ValueError:
            return None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return None
        path = parts.path or "/"
        if self._is_site(parts):
            # The site is reachable over http and https; links mix both (and //host/ forms), so one page
            # must have one URL: the configured scheme and netloc.
            return urlunsplit((self.site_scheme, self.site_netloc, path, parts.query, "")), unquote(path)
        return urlunsplit((parts.scheme, parts.netloc, path, parts.query, "")), None

    def is_site(self, url: str) -> bool:
        """Same host and port as the configured site, over http or https (both serve the same pages)."""
        try:
            return self._is_site(urlsplit(url))
        except ValueError:
            return False

    def _is_site(self, parts: SplitResult) -> bool:
        """``is_site`` of a URL already split."""
        if parts.scheme not in ("http", "https") or (parts.hostname or "").lower() != self.site_host:
            return False
        try:
            port = parts.port
        except ValueError:
            return False
        site_port = self._site_port
        # An explicit port must match the site's; default ports stand for either scheme.
        return port == site_port or (port in (None, 80, 443) and site_port in (None, 80, 443))

    def kind(self, url: str) -> Kind:
        try:
            parts = urlsplit(url)
        except ValueError:
            return Kind.OFFSITE
        host = (parts.hostname or "").lower()
        if self._is_site(parts):
            path = unquote(parts.path or "/")
            return Kind.ARTICLE if ARTICLE_PATH.match(path) else _site_kind(path)
        if parts.scheme not in ("http", "https") or _is_ip_literal(host):
            return Kind.OFFSITE
        if host in self.origin_hosts and parts.path == SHARE_PATH and self.info_code(url):
            return Kind.SHARE
        return Kind.OFFSITE

    def may_request(self, url: str) -> bool:
        """True only for the configured site and the origin hosts' share/text API paths, as Python reads
        ``url`` (what Scrapy requests) and as a browser reads it (``browser_url``): a URL the two read as
        different hosts, or that a browser cannot read, is refused."""
        browser = browser_url(url)
        return browser is not None and self._may_request(url) and self._may_request(browser)

    def _may_request(self, url: str) -> bool:
        if self.is_site(url):
            return True
        try:
            parts = urlsplit(url)
            host = (parts.hostname or "").lower()
            port = parts.port
        except ValueError:
            return False
        if parts.scheme not in ("http", "https") or port not in (None, 80, 443) or _is_ip_literal(host):
            return False
        return host in self.origin_hosts and parts.path in (SHARE_PATH, TEXT_API_PATH, "/robots.txt")

    @staticmethod
    def info_code(share_url: str) -> str | None:
        """The ``infoCode`` of a NewsShare.html share link, if it has a sane one."""
        parts = urlsplit(share_url)
        if parts.path != SHARE_PATH:
            return None
        codes = parse_qs(parts.query).get("infoCode") or []
        return codes[0] if codes and INFO_CODE.match(codes[0]) else None

    def text_api_url(self, share_url: str) -> str | None:
        """The origin's text API URL for a followable share link, else None."""
        if self.kind(share_url) is not Kind.SHARE:
            return None
        code = self.info_code(share_url)
        parts = urlsplit(share_url)
        return urlunsplit(("http" if parts.scheme == "http" else parts.scheme, parts.netloc, TEXT_API_PATH,
                           f"id={quote(code or '')}", ""))

    def category_page(self, slug: str) -> str:
        # Asked for every article link (its category page is followed too): a site has a few thousand.
        page = self._category_pages.get(slug)
        if page is None:
            page = urljoin(self.site_url, f"category/{quote(slug, safe='()+,;=:@!$&*~')}.html")
            if len(self._category_pages) < CATEGORY_PAGES_KEPT:
                self._category_pages[slug] = page
        return page

    @cached_property
    def _category_pages(self) -> dict[str, str]:
        return {}

    def start_urls(self) -> list[str]:
        return [self.site_url, urljoin(self.site_url, "feed.xml"), urljoin(self.site_url, "emnews/")]


def browser_url(href: str, base_url: str | None = None) -> str | None:
    r"""``href`` resolved against ``base_url`` as a browser does (the WHATWG URL standard), or None if a
    browser could not read it.

    Python's ``urljoin`` and w3lib read some forms differently from a browser, and a site (or a redirect)
    can use the difference to name one host to a check and reach another: a browser reads
    ``http:\\169.254.169.254\latest`` and ``\\169.254.169.254`` (backslashes as slashes), ``http:/host``
    from an https page, tabs and newlines inside the URL (dropped), leading and trailing control
    characters and spaces (stripped), ``HTTP:``, and hosts such as ``0xA9.0xFE.0xA9.0xFE``, ``2852039166``
    or ``0251.0376.0251.0376`` (all 169.254.169.254) as what they are. Read by ada, the URL parser of
    Node.js and curl.
    """
    try:
        return str(ada_url.URL(href, base_url).href)
    except ValueError:
        return None


def article_id_from_url(url: str) -> str | None:
    """The post's slug, as in its file name: the last path segment of a Jekyll post URL without .html."""
    m = ARTICLE_PATH.match(unquote(urlsplit(url).path))
    return m.group("slug") if m else None


def _site_kind(path: str) -> Kind:
    """The kind of a site page that is not an article, by its unquoted path."""
    if CATEGORY_PATH.match(path):
        return Kind.CATEGORY
    if path in LISTING_PATHS:
        return Kind.LISTING
    return Kind.OTHER_SITE_PAGE


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True

