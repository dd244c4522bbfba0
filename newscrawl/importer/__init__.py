"""``newscrawl import``: the site's own post files, or every version of them in its git history, archived
as the crawl archives the pages Jekyll renders from them (docs/import.md)."""
