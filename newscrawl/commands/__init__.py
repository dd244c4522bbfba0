"""newscrawl's Scrapy commands (COMMANDS_MODULE in newscrawl.settings): ``crawl``, checked before it starts."""
