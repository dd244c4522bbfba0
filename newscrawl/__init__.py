"""newscrawl: a Scrapy crawler and archive for the finews Chinese financial news mirror.

See README.md for what it does and docs/ for the settings, schema and operations.
"""

__version__ = "0.1.0"
