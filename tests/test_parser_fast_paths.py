"""parse_article's fast paths give what the libraries they stand in for give, on the layout's forms and off them.

The date line is read by ``datetime.fromisoformat`` before dateutil, and article HTML that is paragraphs of
plain text is read without lxml. Oracles: ``dateutil.parser.isoparse`` in the site's zone, and
``html_to_text``'s lxml reading, on many generated inputs, odd ones among them.
"""

from __future__ import annotations

import random
import re

import pytest
from dateutil import parser as date_parser

from newscrawl.config import SITE_TZ
from newscrawl.parsers import article, text


def date_lines(count: int, seed: int) -> list[str]:
    """Strings of the date line's pattern (``xpaths.DATE_LINE``): the layout's form with values in and out
    of range, without seconds, with a "T", with digits of other scripts."""
    rng = random.Random(seed)
    found = ["2022-01-01 08:00:00", "2022-01-01 24:00:00", "2022-01-01 24:00", "2022-02-29 08:00",
             "0000-01-01 00:00:00", "0001-01-01 00:00:00", "9999-12-31 23:59:59", "٢٠٢٢-01-01 08:00:00",
             "2022-01-01T08:00:60", "2022-13-01 08:00:00"]
    while len(found) < count:
        odd = rng.random() < 0.4
        values = [rng.randint(0, 9999) if odd else rng.randint(1, 9999), rng.randint(0, 13) if odd else
                  rng.randint(1, 12), rng.randint(0, 32) if odd else rng.randint(1, 28),
                  rng.randint(0, 25) if odd else rng.randint(0, 23), rng.randint(0, 61) if odd else rng.randint(0, 59),
                  rng.randint(0, 61) if odd else rng.randint(0, 59)]
        line = "{:04d}-{:02d}-{:02d}{}{:02d}:{:02d}".format(*values[:3], rng.choice(" T") if odd else " ", *values[3:5])
        if not odd or rng.random() < 0.7:
            line += f":{values[5]:02d}"
        if odd and rng.random() < 0.1:
            line = line.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
        found.append(line)
    return found


def dateutil_reading(value: str) -> str:
    try:
        return repr(date_parser.isoparse(value.replace(" ", "T", 1)).replace(tzinfo=SITE_TZ))
    except (ValueError, OverflowError):
        return "None"


def test_the_date_line_is_read_as_dateutil_reads_it() -> None:
    lines = date_lines(6000, seed=24)
    pattern = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2})?")  # xpaths.DATE_LINE's date
    assert all(pattern.fullmatch(line) for line in lines)
    for line in lines:
        assert repr(article._site_date(line)) == dateutil_reading(line), line


def paragraph_fragments(count: int, seed: int) -> list[str]:
    """Article HTML of paragraphs: plain text as kramdown writes a digest, and text with what the HTML parser
    reads apart (markup, entities, NUL, a lone surrogate) or might (control characters, a BOM, white space)."""
    rng = random.Random(seed)
    words = ["北向资金净流入超40亿元。", "Paramount+", "a b", "  ", "\t", "\u3000", "\xa0", "\n", "（文章来源：X）",
             "1%"]
    odd_words = ["<", ">", "&", "&amp;", "&lt;", "<b>x</b>", "\r", "\r\n", "\x0c", "\x0b", "\x01", "\x7f", "\x85",
                 "\ufeff", "\u2028", "<br />", "</p>", "<p>", "\x00", "\ud800"]
    spaces = ["", "\n", " ", "\n\n", "\t"]
    fragments = []
    while len(fragments) < count:
        odd = rng.random() < 0.4
        paragraphs = []
        for _ in range(rng.randint(1, 4)):
            pool = odd_words if odd and rng.random() < 0.3 else words
            paragraphs.append("<p>" + "".join(rng.choice(pool if rng.random() < 0.5 else words)
                                              for _ in range(rng.randint(0, 6))) + "</p>")
        fragments.append(rng.choice(spaces) + "".join(p + rng.choice(spaces) for p in paragraphs))
    return fragments


def test_plain_paragraphs_give_the_text_lxml_gives(monkeypatch: pytest.MonkeyPatch) -> None:
    fragments = paragraph_fragments(4000, seed=24)
    plain = sum(bool(text._PLAIN_PARAGRAPHS.fullmatch(fragment)) for fragment in fragments)
    assert 1500 < plain < len(fragments) - 500
    fast = [text.html_to_text(fragment) for fragment in fragments]
    monkeypatch.setattr(text, "_PLAIN_PARAGRAPHS", re.compile(r"(?!)"))  # every fragment read by lxml
    assert [text.html_to_text(fragment) for fragment in fragments] == fast
