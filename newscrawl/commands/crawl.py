"""``scrapy crawl``, refusing a bad setting or an unwritable path before it starts (docs/cli.md).

Scrapy's own command would start the crawl and fail on the first use of a bad value: a traceback, or
one error per article. This one runs the same checks as ``newscrawl crawl`` once the ``-s`` settings
are applied, and stops with one line and exit status 2 (Scrapy's usage error), before any log line. (Scrapy's
UsageError would print a four-line usage block first: the line is printed here instead.)
"""

from __future__ import annotations

import argparse
import sys

from scrapy.commands.crawl import Command as ScrapyCrawl
from scrapy.utils.conf import arglist_to_dict

from newscrawl.preflight import crawl_refusal


class Command(ScrapyCrawl):
    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        super().process_options(args, opts)
        assert self.settings is not None
        refusal = crawl_refusal(self.settings, lock=False, given=arglist_to_dict(opts.set or []))
        if refusal:
            _refuse(refusal)
        url = opts.spargs.get("url")
        if url is not None:
            from newscrawl.urls import Kind, SitePolicy

            policy = SitePolicy.configured(self.settings)
            absolute = policy.absolute(url, policy.site_url)
            if absolute is None or policy.kind(absolute) is not Kind.ARTICLE:
                _refuse(f"-a url={url!r} is not an article page of {policy.site_url}")


def _refuse(message: str) -> None:
    print(f"scrapy crawl: {message}", file=sys.stderr)
    raise SystemExit(2)
