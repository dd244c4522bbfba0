"""The importer's fast paths give what the libraries they stand in for give, on the site's forms and off them.

``newscrawl.importer.post`` reads the site's ``date: 2022-01-01 08:00:00 +0800`` string itself, and
``newscrawl.importer.markdown`` writes a post's share link and footer paragraphs itself; every other input
goes to the library. Oracles: ``dateutil.parser.parse`` with the site's time-zone rule, markdown-it's own
``normalizeLink`` / ``normalizeLinkText`` and its rendering of lines and whole posts, on many generated
inputs, odd ones among them.
"""

from __future__ import annotations

import random
from datetime import date

import pytest
from dateutil import parser as date_parser
from markdown_it import MarkdownIt

from newscrawl.config import SITE_TZ
from newscrawl.importer import markdown, post


def _number(rng: random.Random, width: int, low: int, high: int, top: int, odd: bool) -> str:
    # A value in range; when ``odd``, maybe out of range, or not digits of that width at all.
    if not odd or rng.random() < 0.5:
        return f"{rng.randint(low, high):0{width}d}"
    if rng.random() < 0.7:
        return f"{rng.randint(0, top):0{width}d}"
    return rng.choice(["", "1", "123", "１２", "٠٨", "x" * width, " " * width, f"{rng.randint(0, top):0{width + 1}d}"])


def date_strings(count: int, seed: int) -> list[str]:
    """The site's form with values in and out of range, and strings near it (other separators, offsets)."""
    rng = random.Random(seed)
    found = ["2022-01-01 08:00:00 +0800", "2021-12-08 10:00:00 -0000", "9999-12-31 23:59:59 -2359",
             "0001-01-01 00:00:00 +0800", "0001-01-01 07:59:59 +0800", "0099-03-04 05:06:07 +0100",
             "2022-02-29 08:00:00 +0800", "2024-02-29 08:00:00 +0800", "2022-01-01 24:00:00 +0800",
             "2022-01-01 23:59:60 +0800", "2022-01-01 08:00:00 +2400", "2022-01-01 08:00:00 +0860",
             " +0800", "", "not a date", "2022-01-01 08:00:00 +0800 ", "2022-01-01T08:00:00+08:00",
             "2022-01-01 08:00:00 +08:00", "2022-01-01 08:00:00 Z", "2022-01-01 08:00 +0800", "2022-01-01"]
    years = ["0000", "0001", "0012", "0099", "0100", "0999", "1000", "1969", "2022", "9999"]
    while len(found) < count:
        odd = rng.random() < 0.3
        year = rng.choice(years) if rng.random() < 0.3 else _number(rng, 4, 1, 9999, 9999, odd)
        day = f"{year}-{_number(rng, 2, 1, 12, 13, odd)}-{_number(rng, 2, 1, 31, 32, odd)}"
        clock = ":".join(_number(rng, 2, 0, high, top, odd) for high, top in ((23, 25), (59, 61), (59, 61)))
        offset = f"{rng.choice('+-')}{_number(rng, 2, 0, 23, 25, odd)}{_number(rng, 2, 0, 59, 99, odd)}"
        between, before_offset = " ", " "
        if odd and rng.random() < 0.3:
            between, before_offset = rng.choice(["", "T", "  "]), rng.choice(["", "  "])
        if odd and rng.random() < 0.2:
            offset = rng.choice(["", "+08:00", "Z", "UTC", "+08", "GMT+8", "+08000", "+0800 +0800"])
        found.append(f"{day}{between}{clock}{before_offset}{offset}")
    return found


def dateutil_reading(text: str) -> str:
    """What the post's ``date`` string is to dateutil read in the site's zone: Jekyll's Time.parse rule."""
    try:
        parsed = date_parser.parse(text)
    except (ValueError, OverflowError):
        return "invalid_date"
    try:
        moment = parsed.replace(tzinfo=SITE_TZ) if parsed.tzinfo is None else parsed.astimezone(SITE_TZ)
    except (ValueError, OverflowError) as error:
        return type(error).__name__
    return repr(moment)


def import_reading(text: str) -> str:
    try:
        return repr(post._published_at(text, date(2022, 1, 1)))
    except post.NotAPost as error:
        return error.reason
    except (ValueError, OverflowError) as error:
        return type(error).__name__


def test_the_site_date_string_is_read_as_dateutil_reads_it_in_the_site_zone() -> None:
    strings = date_strings(6000, seed=24)
    fast = [text for text in strings if post._SITE_DATE.fullmatch(text)]
    # Both ways are exercised: the site's form (valid and not), and every other string.
    assert 3000 < len(fast) < len(strings) - 1000
    for text in strings:
        assert import_reading(text) == dateutil_reading(text), text


def link_addresses(count: int, seed: int) -> list[str]:
    """Addresses of the site's forms, and addresses with what mdurl, punycode or percent-encoding change."""
    rng = random.Random(seed)
    schemes = ["", "http:", "https:", "HTTP:", "Https:"]
    odd_schemes = ["ftp:", "mailto:", "javascript:", "a:", "x.y+z:", "..:", "http"]
    starts = ["//", "", "/", "../", "./", "#", "?"]
    odd_starts = ["///", "\\\\", " ", "/\\", ":"]
    hosts = ["finews.withounder.com", "finance.eastmoney.com", "a", "A.B-C", "a" * 63, ("ab." * 84) + "a"]
    odd_hosts = ["xn--fiq228c.com", "a.xn--p1ai", "XN--a.b", "例子.中国", "a..b", ".a", "a.", "a" * 64,
                 ("ab." * 86) + "a", "host:", "host:80", "host::", "user@host", "u:p@h", "[::1]", "a_b", "a+b",
                 "a%41", "a。b"]
    pieces = ["/", "/news/1350,202112082206672930.html", "?infoCode=NW202201212257099936", "#frag", "emnews/",
              "..", "category/cailianshe.html", "'", "(", ")", ":", "@", "~", "*", "$", ",", ";", "=", "&", "+",
              "!", "--", "xn--", "javascript:", "//"]
    odd_pieces = ["%41", "%zz", "%", "中", " ", "\t", "<", ">", "|", "^", "`", "{", "}", "\\", "\"", "[", "]",
                  "\ud800", "\uff0e"]
    found = ["//finews.withounder.com/", "../emnews/", "../", "http://finance.eastmoney.com/news/1350,1.html", ""]
    while len(found) < count:
        odd = rng.random() < 0.5
        address = _pick(rng, odd, schemes, odd_schemes) + _pick(rng, odd, starts, odd_starts)
        if rng.random() < 0.7:
            address += _pick(rng, odd, hosts, odd_hosts)
        address += "".join(_pick(rng, odd, pieces, odd_pieces) for _ in range(rng.randint(0, 5)))
        found.append(address)
    return found


def _pick(rng: random.Random, odd: bool, usual: list[str], unusual: list[str]) -> str:
    return rng.choice(unusual if odd and rng.random() < 0.3 else usual)


@pytest.mark.parametrize("method", ["normalizeLink", "normalizeLinkText"])
def test_plain_link_addresses_are_left_as_they_are_by_markdown_it(method: str) -> None:
    normalise = getattr(MarkdownIt("commonmark"), method)
    addresses = link_addresses(20000, seed=24)
    plain = [address for address in addresses if markdown._PLAIN_LINK.fullmatch(address)]
    assert 2000 < len(plain) < len(addresses) - 2000
    for address in plain:
        assert normalise(address) == address, address


def site_lines(count: int, seed: int) -> list[str]:
    """Share link lines and back-link footers as the site writes them, and lines near them that markdown-it
    reads otherwise (emphasis, escapes, entities, titles, other separators, addresses it rewrites or refuses)."""
    rng = random.Random(seed)
    labels = ["返回首页", "返回东财滚动新闻", "返回财联社新闻", "返回21世纪经济报道新闻", "返回Wind新闻", "返回"]
    odd_labels = ["返回*强调*", "返回_x_", "返回`c`", "返回 a", "返回&amp;", "返回\\]", "返回[x]", '返回"引"',
                  "返回...", "返回--", "回首页", "返回<b>", "返回!", ""]
    addresses = ["//finews.withounder.com/", "//finews.withounder.com/category/cailianshe.html", "../emnews/", "../",
                 "//finews.zning.me/", "http://finance.eastmoney.com/news/1350,1.html"]
    odd_addresses = ["javascript:alert(1)", "../a b", "<../x>", '../x "t"', "../(x)", "../x&amp;y", "%41", "中文",
                     "//xn--fiq228c.com/", "HTTP://A/", "", "../x\\)", "vbscript:x", "data:image/png;x"]
    separators = ["｜", "\n"]
    odd_separators = ["|", " ｜ ", "｜\n", "", "  \n", " ", "\\\n", "｜｜", "\n\n"]
    shares = ["http://finews.zning.xyz/html_News/NewsShare.html?infoCode=NW202201010000000000",
              "http://finance.eastmoney.com/news/1350,202112082206672930.html", "https://a.b/"]
    odd_shares = [address.removeprefix("//") for address in link_addresses(500, seed)]
    found: list[str] = []
    while len(found) < count:
        odd = rng.random() < 0.5
        if rng.random() < 0.3:
            share = _pick(rng, odd, shares, ["http://" + rng.choice(odd_shares), "", "http://a b", "<x>",
                                             "http://a.b/x'y", "https://a.b/'s", "http://a.b/?x=1&y=2"])
            found.append("<" + share + ">" + _pick(rng, odd, [""], [" ", "x", ">", "\n"]))
            continue
        links = [f"[{_pick(rng, odd, labels, odd_labels)}]({_pick(rng, odd, addresses, odd_addresses)})"
                 for _ in range(rng.randint(1, 3))]
        line = links[0]
        for link in links[1:]:
            line += _pick(rng, odd, separators, odd_separators) + link
        found.append(line + _pick(rng, odd, [""], ["｜", " ", "x", "\n"]))
    return found


def test_share_and_footer_paragraphs_are_written_as_markdown_it_writes_them() -> None:
    parser = markdown._parser()
    lines = site_lines(6000, seed=24)
    taken = 0
    for line in lines:
        html = markdown._site_line(line)
        if html is not None:
            taken += 1
            assert html == parser.render(line).strip("\n"), line
    assert 1500 < taken < len(lines) - 1500


# Post bodies before the share line and footer, among them blocks that run on over blank lines (an unclosed
# fence, comment, <pre>, processing instruction, declaration or CDATA: a ">" or "-->" in the share line
# may end them), lists, quotes, code, references, HTML blocks and text with quotes.
BODIES = ["<p>正文</p>", "正文。", "\n摘要。", "> 摘要\n\n<p>正文</p>", "* 一\n* 二", "1. 一\n\n2. 二", "- 项\n\n  续",
          "```\n<http://a.b/>", "```\n代码\n```", "~~~", "<!--\n注", "<!-- 注 -->", "<pre>", "<?php", "<!X",
          "<![CDATA[", "<div>\n块", "<span>行</span>", "    缩进", "[返回首页]: /reference", "# 标题", "---", "***",
          '说"好"', "a  ", "", "\n\n", "正文\n\n\n", "<script>", "> 引\n续", "- 项\n\n      代码", "> ```\n> 码",
          "- 项\n  ```\n  码", "    码\n\n    码", "<!-- 注 -->\n<p>正文</p>", "<div>\n\n块\n\n</div>", "> 引\n\n> 引"]


def test_posts_render_the_same_with_and_without_the_site_tail(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(24)
    lines = site_lines(400, seed=7)
    posts = [rng.choice(BODIES) + "".join(rng.choice(["\n\n", "\n\n\n", "\n"]) + line
                                           for line in rng.sample(lines, rng.randint(1, 3)))
             + rng.choice(["", "\n", "\n\n"]) for _ in range(3000)]
    parser = markdown._parser()
    heads = [head for head, tail in map(markdown._site_tail, posts) if tail]
    # Most posts are written with their share line and footer in place; some are parsed whole because a block
    # before them runs on, and some have no such tail at all.
    taken = sum(markdown._blocks(parser, parser.parse(head))[1] < head.count("\n") for head in heads)
    assert 1000 < taken < len(heads) - 100 < len(posts) - 500
    fast = [markdown.render_markdown(post_text) for post_text in posts]
    monkeypatch.setattr(markdown, "_site_line", lambda line: None)
    assert [markdown.render_markdown(post_text) for post_text in posts] == fast
