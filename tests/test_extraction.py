"""Article extraction against small realistic pages stored as fixtures.

Each `tests/fixtures/pages/<name>.html` holds the raw bytes as fetched and
`<name>.json` states what extraction must produce, so adding a case needs
no new code.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from extractors import extract_article, extract_many
from extractors.article_clean import clean_text
from extractors.encoding import decode_html
from extractors.models import ExtractedArticle

PAGES = Path(__file__).parent / "fixtures" / "pages"
CASES = sorted(p.stem for p in PAGES.glob("*.json"))
META_FIELDS = ("page_kind", "title", "author", "site_name", "language", "canonical_url", "image")


def _load(name: str) -> tuple[bytes, str, dict]:
    spec = json.loads((PAGES / f"{name}.json").read_text(encoding="utf-8"))
    return (PAGES / f"{name}.html").read_bytes(), spec["url"], spec["expect"]


def test_fixtures_present() -> None:
    assert len(CASES) >= 8


@pytest.mark.parametrize("name", CASES)
def test_fixture_page(name: str) -> None:
    html, url, expect = _load(name)
    result = extract_article(html, url)
    if "result" in expect and expect["result"] is None:
        assert result is None or result.page_kind == "empty"
        return
    assert isinstance(result, ExtractedArticle)
    for field in META_FIELDS:
        if field in expect:
            assert getattr(result, field) == expect[field], field
    if "published_at" in expect:
        assert result.published_at == datetime.fromisoformat(expect["published_at"])
        assert result.published_at.utcoffset().total_seconds() == 0
    for phrase in expect.get("must_contain", []):
        assert phrase in result.text, phrase
    for phrase in expect.get("must_not_contain", []):
        assert phrase not in result.text, phrase


@pytest.mark.parametrize("name", CASES)
def test_str_input_matches_bytes(name: str) -> None:
    html, url, expect = _load(name)
    if expect.get("result", "") is None:
        return
    from_bytes = extract_article(html, url)
    from_str = extract_article(decode_html(html), url)
    assert from_bytes is not None and from_str is not None
    assert from_str.text == from_bytes.text


def test_article_text_drops_repeated_headline() -> None:
    html, url, expect = _load("normal_article")
    result = extract_article(html, url)
    assert result is not None
    assert not result.text.startswith(expect["title"])


@pytest.mark.parametrize(
    "garbage",
    [b"", b"   \n", "", b"\x00\x01\x02\x03" * 100, b"%PDF-1.7\n\x00\xff\xfe binary", "plain words, no markup", b"<html></html>"],
)
def test_garbage_never_raises(garbage: bytes | str) -> None:
    result = extract_article(garbage, "https://x.example/")
    assert result is None or result.page_kind in ("empty", "not_article")


def test_published_date_is_utc_aware() -> None:
    html, url, _ = _load("jsonld_article")
    result = extract_article(html, url)
    assert result is not None and result.published_at is not None
    assert result.published_at.tzinfo is not None
    assert result.published_at == datetime(2025, 1, 15, 19, 0, tzinfo=timezone.utc)


def test_decode_prefers_bom_and_valid_utf8() -> None:
    text = "Café – naïve"
    assert decode_html(b"\xef\xbb\xbf" + text.encode("utf-8")) == text
    assert decode_html(b'<meta charset="windows-1252">' + text.encode("utf-8")).endswith(text)
    assert decode_html(b'<meta charset="iso-8859-1"><p>' + "Café ‘quoted’".encode("cp1252")).endswith("Café ‘quoted’")


def _doubly(text: str, codec: str) -> bytes:
    """UTF-8 bytes of `text` after one wrong decode as `codec`, as a mangled site serves them."""
    return text.encode("utf-8").decode(codec).encode("utf-8")


@pytest.mark.parametrize(
    "data,expected",
    [
        # windows-1252 and Latin-1 manglings of apostrophes, dashes and accents are undone
        (_doubly("<p>It’s the team’s ‘best’ year — again…</p>", "cp1252"), "<p>It’s the team’s ‘best’ year — again…</p>"),
        (_doubly("<p>It’s the team’s ‘best’ year — again…</p>", "latin-1"), "<p>It’s the team’s ‘best’ year — again…</p>"),
        (_doubly("<p>Été à Zürich, café crème.</p>", "latin-1"), "<p>Été à Zürich, café crème.</p>"),
        # one or two look-alike runs are left alone: a 3×\u00a04 grid, a quoted "Ã©"
        ("<p>A 3×\u00a04 grid, 2×\u00a02 too.</p>".encode("utf-8"), "<p>A 3×\u00a04 grid, 2×\u00a02 too.</p>"),
        ("<p>Mojibake such as “Ã©” is a decoding bug.</p>".encode("utf-8"), "<p>Mojibake such as “Ã©” is a decoding bug.</p>"),
        # correct UTF-8 with many accents is unchanged
        ("<p>Ça a été très, très réussi à São Paulo.</p>".encode("utf-8"), "<p>Ça a été très, très réussi à São Paulo.</p>"),
    ],
)
def test_decode_repairs_doubly_decoded_utf8(data: bytes, expected: str) -> None:
    assert decode_html(data) == expected


@pytest.mark.parametrize(
    "line,dropped",
    [("Advertisement", True), ("Share on Facebook", True), ("Photo: Reuters", True), ("Copyright © 2025 Acme Inc. All rights reserved.", True),
     ("Sign up for our daily newsletter", True), ("Share prices fell sharply on Monday after the chipmaker cut its forecast for the year.", False),
     ("Advertising revenue at the company rose 12 percent in the quarter, beating estimates from analysts.", False),
     ("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua.", True),
     ("- Lorem ipsum 2", True),
     ("CLICK HERE TO GET THE FOX NEWS APP", True), ("GET FOX BUSINESS ON THE GO BY CLICKING HERE", True),
     ("Click here to read the council's full report on the harbour works and the new quay.", False)],
)
def test_boilerplate_lines(line: str, dropped: bool) -> None:
    text = f"First paragraph of the story with enough words to be a sentence.\n{line}\nLast paragraph."
    assert (line not in clean_text(text)) is dropped


def test_share_label_dropped_from_a_quote() -> None:
    quote = "Every harbour town lives by its tides, and ours is no exception."
    text = f"First paragraph of the story with enough words to be a sentence.\n{quote}Click To Tweet\nLast paragraph."
    assert clean_text(text).splitlines()[1] == quote


def test_extract_many_keeps_order_and_handles_garbage() -> None:
    pages = [_load(name)[:2] for name in CASES]
    pages = pages + pages  # large enough to use the process pool
    results = extract_many(pages, workers=2)
    assert len(results) == len(pages)
    for (html, url), result in zip(pages, results):
        single = extract_article(html, url)
        assert (result is None) == (single is None)
        if result is not None and single is not None:
            assert result.text == single.text and result.page_kind == single.page_kind


def test_extract_many_small_batch_in_process() -> None:
    html, url, _ = _load("normal_article")
    results = extract_many([(html, url), (b"", url)], workers=2)
    assert results[0] is not None and results[0].page_kind == "article"
    assert results[1] is None
