"""``python -m newscrawl`` runs the ``newscrawl`` command."""

import os
import sys

from newscrawl.cli import main

os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "newscrawl.settings")
sys.exit(main())
