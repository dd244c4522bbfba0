"""One post file of the site's source → the ``Article`` the crawl makes of the page Jekyll renders from it.

Pure: no database, no network. Jekyll's rules, as the site's Jekyll 4 applies them (docs/import.md):

* a post's name is ``YYYY-MM-DD-<slug>.<ext>``; anything else in ``_posts/`` is no post (Jekyll ignores it);
* front matter is YAML between ``---`` lines at byte 0 (a BOM aside); without it the post is still
  published, with no layout, its title made from the slug and its date from the name;
* a front-matter ``date`` without an offset is a YAML timestamp, read as UTC: the page shows it 8 hours
  later, in the site's zone, and that is what the archive holds;
* the URL is ``/<categories, lower case>/YYYY/MM/DD/<slug>.html``, the date in the site's zone;
* the content is Markdown rendered as kramdown does (``newscrawl.importer.markdown``).

The page is then laid out as ``_layouts/post.html`` lays it out and handed to the crawl's own
``parse_article``: the fields come from the same code, whichever way the post arrived.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from urllib.parse import quote, urljoin

import yaml
from dateutil import parser as date_parser

from newscrawl.config import SITE_TZ
from newscrawl.importer.markdown import render_markdown
from newscrawl.items import Article, PostFile
from newscrawl.parsers import parse_article
from newscrawl.parsers.text import html_to_text

# Jekyll's Document::DATE_FILENAME_MATCHER: a post file name.
POST_NAME = re.compile(r"^(?P<date>\d{2,4}-\d{1,2}-\d{1,2})-(?P<slug>.+)(?P<ext>\.[^.]+)$")
MARKDOWN_EXTENSIONS = frozenset({".md", ".markdown", ".mkdown", ".mkdn", ".mkd"})
# Jekyll's Document::YAML_FRONT_MATTER_REGEXP, and its has_yaml_header? test of the first line.
FRONT_MATTER = re.compile(r"\A(---\s*\n.*?\n?)^((---|\.\.\.)\s*$\n?)", re.M | re.S)
YAML_HEADER = re.compile(r"\A---\s*\r?\n")
# Jekyll's slugify in "pretty" mode, cased: what the URL's :title keeps of a slug.
_SLUG_UNSAFE = re.compile(r"[^\w.~!$&'()+,;=@]+|_+")
# Characters Jekyll (Addressable's path class) leaves as they are in a URL path.
_PATH_SAFE = "/:@!$&'()*+,;=-._~"
# _layouts/post.html inside default.html's <section>, as the site renders it.
_PAGE = ("<section>\n\n      <small>(GMT+8, Asia/Shanghai, CST) {date}</small>\n<h1>{title}</h1>\n\n"
         "{content}\n\n{tags}\n\n      </section>")
_TAGS_LINE = "  <small>tags: <em>{tags}</em></small>"
_LIQUID = re.compile(r"\{[{%]")
# The share link line after the article's text (an empty one too), and a digest line's Markdown mark.
_SHARE_LINE = re.compile(r"^<(?:https?://[^>\s]+)?>[ \t]*$", re.M)
_DIGEST_MARK = re.compile(r"^> ", re.M)
# The site's date string, "2022-01-01 08:00:00 +0800" (YAML reads it as a string for its "+0800"): read
# here as dateutil reads it, at a tenth of its cost; any other string goes to dateutil.
_SITE_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) "
                        r"([+-])([01][0-9]|2[0-3])([0-5][0-9])")


class NotAPost(ValueError):
    """A file that gives no article: ``reason`` is one word for the summary, the message says why."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass(frozen=True)
class PostName:
    day: date
    slug: str
    extension: str


def post_name(file_name: str) -> PostName:
    """The date and slug of a post file name; NotAPost when Jekyll would not publish a file so named."""
    match = POST_NAME.match(file_name)
    if match is None:
        raise NotAPost("not_a_post_name", "not YYYY-MM-DD-<slug>.md, Jekyll publishes no page for it")
    if match.group("ext").lower() not in MARKDOWN_EXTENSIONS:
        raise NotAPost("not_markdown", "not a Markdown file")
    try:
        day = date(*(int(part) for part in match.group("date").split("-")))
    except ValueError:
        raise NotAPost("not_a_post_name", f"{match.group('date')} is no date") from None
    return PostName(day, match.group("slug"), match.group("ext"))


def read_post(file_name: str, data: bytes, site_url: str, *, folder: str | None = None,
              commit: str | None = None) -> Article:
    """The article of one post file (its bytes as stored); NotAPost when there is none."""
    name = post_name(file_name)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise NotAPost("unknown_encoding", f"not UTF-8 (byte {error.start})") from None
    source = text.removeprefix("\ufeff")  # Jekyll reads files as "bom|utf-8"
    fields, content = _front_matter(source)
    if fields.get("published") is False:
        raise NotAPost("unpublished", "published: false")
    published_at = _published_at(fields.get("date"), name.day)
    title = fields.get("title")
    title = _titleize(name.slug) if title is None else _liquid_string(title)
    categories = _words(fields.get("categories", fields.get("category")))
    tags = _words(fields.get("tags", fields.get("tag")))
    url = urljoin(site_url if site_url.endswith("/") else site_url + "/", _url_path(categories, published_at, name))
    # kramdown reads CR LF line ends as LF.
    content = content.replace("\r\n", "\n").replace("\r", "\n")
    html = render_markdown(content)
    page = _PAGE.format(
        date=published_at.strftime("%Y-%m-%d %H:%M:%S"), title=title, content=html,
        tags=_TAGS_LINE.format(tags="</em> - <em>".join(tags)) if tags else "",
    )
    article = parse_article(page, url)
    article.post_file = PostFile(file_name=file_name, text=text, folder=folder, commit=commit)
    # Import reads no origin: the text of a share link stays to be fetched by a crawl.
    article.origin_status = "not_followed" if article.share_url else None
    if not YAML_HEADER.match(source):
        article.flags.append("no_front_matter")
        # No crawl reaches its page (below): the archive holds the post's text as written, not kramdown's
        # typography of its would-be front matter (curly quotes, a rule, an em dash for "---").
        article.body_text = written_text(content) or article.body_text
    elif fields.get("layout") != "post":
        article.flags.append("no_layout")  # Jekyll published the bare content: no crawl could read its page
    if not categories:
        # Published at /YYYY/MM/DD/<slug>.html: no category page lists it and no page links to it.
        article.flags.append("unreachable")
    if _LIQUID.search(content) and fields.get("render_with_liquid") is not False:
        article.flags.append("liquid_markup")  # Jekyll ran it as Liquid; the archive keeps it as written
    return article


def written_text(content: str) -> str | None:
    """The article's text as the post file writes it: the lines before its share link line (``<http…>``
    or ``<>``), HTML tags and ``> `` digest marks left out, white space folded, one line per line."""
    share = _SHARE_LINE.search(content)
    article = _DIGEST_MARK.sub("", content[:share.start()] if share else content)
    lines = (" ".join(line.split()) for line in html_to_text(article).splitlines()) if article.strip() else ()
    return "\n".join(line for line in lines if line) or None


def _front_matter(text: str) -> tuple[dict[str, object], str]:
    if not YAML_HEADER.match(text):
        return {}, text
    match = FRONT_MATTER.match(text)
    if match is None:
        raise NotAPost("broken_front_matter", "front matter opened with --- is never closed")
    try:
        fields = yaml.load(match.group(1), Loader=_LOADER)
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        line = f" (line {where.line + 1})" if where is not None else ""
        raise NotAPost("broken_front_matter", f"front matter is not YAML{line}") from None
    if fields is None:
        fields = {}
    if not isinstance(fields, dict):
        raise NotAPost("broken_front_matter", "front matter is not a mapping of keys to values")
    return {str(key): value for key, value in fields.items()}, text[match.end():]


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _published_at(value: object, day: date) -> datetime:
    if value is None:
        return datetime.combine(day, time.min, SITE_TZ)
    if isinstance(value, datetime):
        # A YAML timestamp without an offset is UTC (Psych, which Jekyll uses, reads it so).
        moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value
        return moment.astimezone(SITE_TZ)
    if isinstance(value, date):
        return datetime.combine(value, time.min, SITE_TZ)
    try:
        parsed = _parse_date(str(value))
    except (ValueError, OverflowError):
        raise NotAPost("invalid_date", f"date {str(value)[:40]!r} is no date (Jekyll fails)") from None
    # A date string (not a YAML timestamp) is parsed by Ruby's Time.parse in the site's zone.
    return parsed.replace(tzinfo=SITE_TZ) if parsed.tzinfo is None else parsed.astimezone(SITE_TZ)


def _parse_date(text: str) -> datetime:
    """``dateutil.parser.parse(text)``, without dateutil for the site's own form."""
    match = _SITE_DATE.fullmatch(text)
    if match is not None:
        year, month, day, hour, minute, second, sign, offset_hours, offset_minutes = match.groups()
        offset = timedelta(hours=int(offset_hours), minutes=int(offset_minutes))
        try:
            return datetime(int(year), int(month), int(day), int(hour), int(minute), int(second),
                            tzinfo=timezone(-offset if sign == "-" else offset))
        except ValueError:
            pass  # no such day or time: dateutil says so (or reads it its own way)
    return date_parser.parse(text)


def _words(value: object) -> list[str]:
    """Jekyll's categories and tags: a string split on white space, or a list of values."""
    if value is None:
        return []
    if isinstance(value, list):
        return [_liquid_string(item) for item in value if item is not None]
    return _liquid_string(value).split()


def _liquid_string(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def _titleize(slug: str) -> str:
    # Jekyll's Utils.titleize_slug: each "-"-separated word capitalised (Ruby's capitalize lowers the rest).
    return " ".join(word[:1].upper() + word[1:].lower() for word in slug.split("-"))


def _url_path(categories: list[str], published_at: datetime, name: PostName) -> str:
    segments: list[str] = []
    for category in categories:
        lowered = category.lower()
        if lowered not in segments:
            segments.append(lowered)
    slug = _SLUG_UNSAFE.sub("-", name.slug).strip("-")
    path = "/".join([*segments, f"{published_at:%Y}", f"{published_at:%m}", f"{published_at:%d}", f"{slug}.html"])
    return quote(path, safe=_PATH_SAFE)


__all__ = ["NotAPost", "PostName", "post_name", "read_post", "written_text"]
