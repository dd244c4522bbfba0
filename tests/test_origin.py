"""The origin text API answer: GetNewsText.do?id=<infoCode> → the article HTML, byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newscrawl.parsers import OriginText, parse_origin_text

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def test_seed_answer_is_the_post_html_exactly() -> None:
    raw = (FIXTURES / "nw_seed_zhongguofazhanwang" / "origin.json").read_bytes()
    answer = parse_origin_text(raw)
    assert answer.status == "ok"
    assert answer.html == json.loads(raw)["text"]
    post = (FIXTURES / "nw_seed_zhongguofazhanwang" / "post.md").read_text(encoding="utf-8")
    assert answer.html is not None and answer.html in post


@pytest.mark.parametrize(("body", "expected"), [
    (b'{"text": "<p>a</p>\\r\\n <p>b</p> "}', OriginText("<p>a</p>\r\n <p>b</p> ", "ok")),
    (b'{"content": "<p>c</p>"}', OriginText("<p>c</p>", "ok")),
    (b'\xef\xbb\xbf{"text": "<p>bom</p>"}', OriginText("<p>bom</p>", "ok")),
    (b'{"text": "   "}', OriginText(None, "empty_text")),
    (b'{"text": ""}', OriginText(None, "empty_text")),
    (b'{"text": null}', OriginText(None, "no_text")),
    (b'{"text": 12}', OriginText(None, "no_text")),
    (b'{"other": "x"}', OriginText(None, "no_text")),
    (b'["text"]', OriginText(None, "no_text")),
    (b"<html>502 Bad Gateway</html>", OriginText(None, "invalid_json")),
    (b"", OriginText(None, "invalid_json")),
    (b"\xff\xfe\x00", OriginText(None, "invalid_json")),
    (b"[" * 100000, OriginText(None, "invalid_json")),
])
def test_answers(body: bytes, expected: OriginText) -> None:
    assert parse_origin_text(body) == expected


def test_result_is_frozen() -> None:
    answer = parse_origin_text(b'{"text": "x"}')
    with pytest.raises(AttributeError):
        answer.html = "y"  # type: ignore[misc]


@settings(max_examples=300, deadline=None)
@given(body=st.binary())
def test_never_raises(body: bytes) -> None:
    assert parse_origin_text(body).status in {"ok", "invalid_json", "no_text", "empty_text"}


@settings(max_examples=200, deadline=None)
@given(text=st.text(min_size=1).filter(str.strip))
def test_any_text_comes_back_exactly(text: str) -> None:
    body = json.dumps({"text": text}).encode()
    assert parse_origin_text(body) == OriginText(text, "ok")
