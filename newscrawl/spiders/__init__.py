"""newscrawl's spiders: ``finews`` (see docs/crawling.md)."""
