"""Which encoding an article page is read in: one decision for the crawl and for ``newscrawl reparse``.

The page's own word comes first: a byte-order mark, then the Content-Type charset, then a ``<meta>``
charset (read by w3lib, as Scrapy reads them). A page that declares nothing is read as UTF-8 when it is
valid UTF-8 (the web's default, and what the mirror serves). Otherwise charset-normalizer detects it,
among the encodings a Chinese site uses: GB18030 (a superset of GB2312 and GBK) and Big5. Left to all the
world's encodings it reads a short GBK page as Korean (cp949); between these two it tells a GBK page from a
Big5 one on all but the shortest texts. When both stay plausible (a text of a few characters), the page is
read as GB18030, the likelier for a mainland site; then, or when neither decodes cleanly, the guess is
marked ``guessed`` and the article is flagged ``encoding_guessed`` for review. A declared encoding the
body cannot be decoded in gives way the same way (UTF-8, then detection).

The crawl stores the encoding it read a page in with the page's WARC record (docs/warc.md), so reparse
decodes each page exactly as the crawl did; a record without one is decided again here.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

from charset_normalizer import from_bytes
from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding, read_bom

#: The encodings an undeclared, non-UTF-8 page is detected among, most likely first.
CHINESE_ENCODINGS = ("gb18030", "big5")
#: The flag of an article read in a low-confidence guess.
GUESSED_FLAG = "encoding_guessed"


@dataclass(frozen=True)
class PageEncoding:
    """The decision on one page.

    ``name``: the encoding to read it in, or None when the declared one stands. ``decision``: a word for
    the stats (``declared``, ``utf-8``, ``undeclared_<name>``, ``mislabelled_<name>``, ``undecodable``).
    ``guessed``: detection could not tell with confidence.
    """

    name: str | None
    decision: str
    guessed: bool = False


def declared_encoding(body: bytes, content_type: str) -> str | None:
    """What the page says it is in: byte-order mark, Content-Type charset, ``<meta>`` charset; or None."""
    return read_bom(body)[0] or http_content_type_encoding(content_type) or html_body_declared_encoding(body)


def decide_encoding(body: bytes, content_type: str, declared_reading: str | None) -> PageEncoding:
    """The encoding to read ``body`` in. ``declared_reading``: the encoding Scrapy would use (its reading
    of the declaration, e.g. gb18030 for a page that says gbk)."""
    declared = declared_encoding(body, content_type)
    if declared is not None and declared_reading and decodes(body, declared_reading):
        return PageEncoding(None, "declared")
    if decodes(body, "utf-8"):
        if declared is None:
            return PageEncoding("utf-8", "utf-8")
        return PageEncoding("utf-8", "mislabelled_utf-8")
    name, guessed = detect_chinese(body)
    if name is None:
        return PageEncoding(None, "undecodable", guessed=True)
    return PageEncoding(name, f"{'undeclared' if declared is None else 'mislabelled'}_{name}", guessed)


def detect_chinese(body: bytes) -> tuple[str | None, bool]:
    """(encoding, guessed) among CHINESE_ENCODINGS: the one charset-normalizer finds plausible; when it
    finds both, GB18030 (the mainland's), guessed; when neither, the first that decodes, guessed; else None."""
    matches = from_bytes(body, cp_isolation=list(CHINESE_ENCODINGS))
    plausible = [codecs.lookup(match.encoding).name for match in matches]
    if len(plausible) == 1:
        return plausible[0], False
    if plausible:
        # Both read as Chinese (a text of a few characters): the likelier for a mainland site, flagged.
        return next(name for name in CHINESE_ENCODINGS if name in plausible), True
    for name in CHINESE_ENCODINGS:
        if decodes(body, name):
            return name, True
    return None, True


def decodes(body: bytes, encoding: str) -> bool:
    try:
        codecs.decode(body, encoding)
    except (UnicodeDecodeError, LookupError):
        return False
    return True
