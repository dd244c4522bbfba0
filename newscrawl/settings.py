"""Scrapy settings for newscrawl (the ``default`` in scrapy.cfg).

The NEWSCRAWL_* values come from newscrawl.config: environment first, then the documented default.
Command-line ``-s`` settings override them, as Scrapy gives them a higher priority than this module.
"""

from __future__ import annotations

from scrapy.settings import default_settings

from newscrawl import crawllog, logredact
from newscrawl.config import from_environment

# Scrapy imports this module before it configures logging: from here on no log line carries a password,
# and a network failure costs one WARNING line, not a traceback (newscrawl.crawllog).
logredact.install()
crawllog.install()

BOT_NAME = "newscrawl"
SPIDER_MODULES = ["newscrawl.spiders"]
NEWSPIDER_MODULE = "newscrawl.spiders"
# `scrapy crawl` checks every NEWSCRAWL_* setting and the paths it will write before it starts (and
# refuses with one line, exit 2), as `newscrawl crawl` does: newscrawl/commands/crawl.py.
COMMANDS_MODULE = "newscrawl.commands"

globals().update(from_environment())

ROBOTSTXT_OBEY = True

AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 0.25
AUTOTHROTTLE_MAX_DELAY = 10.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 4.0
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 8
# Items per response handled at once. Scrapy starts this many tasks for every response, whatever it yields
# (default 100: a third of a bare crawl's CPU, benchmarks/README.md); our callbacks yield one item at most,
# and the pipelines wait on nothing but the database, so a handful is plenty.
CONCURRENT_ITEMS = 4
# A static mirror sets no cookies: the middleware would only cost time per request. (The Referer one stays:
# without it Scrapy's redirect middleware warns on every run.)
COOKIES_ENABLED = False
DOWNLOAD_TIMEOUT = 30
RETRY_ENABLED = True
RETRY_TIMES = 3
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
# The spider's errback logs the one WARNING line for a page given up (URL and reason); Scrapy's own
# "Gave up retrying" line would be a second one, at ERROR. Its count stays in the retry/max_reached stat.
RETRY_GIVE_UP_LOG_LEVEL = "DEBUG"
REDIRECT_MAX_TIMES = 5
DEPTH_LIMIT = 4

ITEM_PIPELINES = {
    "pipelines.validate.ValidatePipeline": 100,
    "pipelines.normalise.NormalisePipeline": 200,
    "pipelines.dedupe.DedupePipeline": 300,
    "pipelines.store.StorePipeline": 400,
    "pipelines.export.ExportPipeline": 500,
}

REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
FEED_EXPORT_ENCODING = "utf-8"
LOG_LEVEL = "INFO"
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False

# Scrapy 2.19's remote control runs Python code sent to a local HTTP port and writes a job file to the
# user's profile on every run: no place in an unattended archiver (nor is the telnet console, above). It is
# left out of Scrapy's own list rather than switched off by name in EXTENSIONS: a name there is imported
# to be compared, and this one imports aiohttp, ~0.1 s of CPU at every start of every crawl.
_REMOTE_CONTROL = "scrapy.extensions.remote_control.RemoteControl"
EXTENSIONS_BASE = {path: order for path, order in default_settings.EXTENSIONS_BASE.items() if path != _REMOTE_CONTROL}
EXTENSIONS = {
    # Made first: the others look it up (CrawlState.of).
    "newscrawl.crawlstate.CrawlState": 50,
    "newscrawl.extensions.RunRecordExtension": 100,
    "newscrawl.monitors.CoverageExtension": 105,
    "newscrawl.extensions.RawArchiveExtension": 110,
    "newscrawl.extensions.ProgressExtension": 120,
    "scrapy.extensions.logstats.LogStats": None,
    "scrapy.extensions.throttle.AutoThrottle": None,
    "newscrawl.extensions.ConditionalAutoThrottle": 0,  # ProgressExtension says the same in the archive's terms
}
ADDONS = {
    "newscrawl.addons.Limits": 0,  # USER_AGENT, DOWNLOAD_MAXSIZE from NEWSCRAWL_CONTACT, NEWSCRAWL_MAX_PAGE_BYTES
    "newscrawl.addons.RedisFrontier": 0,
}
DOWNLOADER_MIDDLEWARES = {
    "newscrawl.middlewares.SitePolicyMiddleware": 40,
    # Scrapy's allowed_domains filter drops requests as they are scheduled, with no errback and a DEBUG
    # line per host; newscrawl's runs in its place, after the policy, and says why.
    "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,
    "newscrawl.middlewares.OffsiteMiddleware": 50,
    # Response order runs from high to low: the encoding is decided on the decompressed body (after
    # HttpCompressionMiddleware, 590, and before MetaRefreshMiddleware, 580, reads it); a redirect cycle is
    # named before RedirectMiddleware (600) acts.
    "newscrawl.middlewares.DeclaredEncodingMiddleware": 585,
    "newscrawl.middlewares.RedirectGuardMiddleware": 610,
}
# The mirror is a static Jekyll site with no <meta http-equiv="refresh"> page; honouring one would only
# let a page steer the crawl.
METAREFRESH_ENABLED = False
