"""parse_feed over fixtures that each state their expected result, plus discovery.

Every fixture `X.<ext>` has `X.expect.json`: either {"error": kind} or the
items it must yield (count, titles, urls, guids, dates, texts, warnings...).
"""
from __future__ import annotations

import json
from pathlib import Path

import feedparser
import pytest

from extractors.feeds import FeedError, discover_feeds, html_to_text, parse_feed
from extractors.models import SourceSpec

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"
EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval" / "feeds"
FEED_URL = "https://feeds.example.org/feed.xml"
SOURCE = SourceSpec(name="fixture", type="feed", url=FEED_URL)


def _cases() -> list[tuple[Path, dict]]:
    cases = []
    for expect in sorted(FIXTURES.glob("*.expect.json")):
        stem = expect.name[: -len(".expect.json")]
        body = [p for p in FIXTURES.glob(stem + ".*") if not p.name.endswith(".expect.json")]
        assert len(body) == 1, f"fixture {stem} needs exactly one body file"
        cases.append((body[0], json.loads(expect.read_text("utf-8"))))
    return cases


CASES = _cases()


def test_fixtures_present() -> None:
    assert len(CASES) >= 20


@pytest.mark.parametrize(("path", "expect"), CASES, ids=[p.name for p, _ in CASES])
def test_fixture(path: Path, expect: dict) -> None:
    content = path.read_bytes()
    if "error" in expect:
        with pytest.raises(FeedError) as info:
            parse_feed(content, FEED_URL, SOURCE)
        assert info.value.kind == expect["error"]
        assert str(info.value) and "\n" not in str(info.value)
        return
    feed = parse_feed(content, FEED_URL, SOURCE)
    items = feed.items
    if "count" in expect:
        assert len(items) == expect["count"], feed.warnings
    if "min_count" in expect:
        assert len(items) >= expect["min_count"], feed.warnings
    if "titles" in expect:
        assert [i.title for i in items] == expect["titles"]
    for fragment in expect.get("titles_contain", []):
        assert any(fragment in i.title for i in items), [i.title for i in items]
    if "urls" in expect:
        assert [i.url for i in items] == expect["urls"]
    for url in expect.get("urls_include", []):
        assert url in [i.url for i in items]
    if "guids" in expect:
        assert [i.guid for i in items] == expect["guids"]
    if "guid_prefixes" in expect:
        assert all(i.guid.startswith(p) for i, p in zip(items, expect["guid_prefixes"], strict=True))
    if "published" in expect:
        assert [i.published_at.isoformat() if i.published_at else None for i in items] == expect["published"]
    if "texts" in expect:
        assert [i.text for i in items] == expect["texts"]
    if "authors" in expect:
        assert [i.author for i in items] == expect["authors"]
    if "engagement" in expect:
        assert [i.engagement for i in items] == expect["engagement"]
    if "feed_title" in expect:
        assert feed.title == expect["feed_title"]
    for fragment in expect.get("warnings", []):
        assert any(fragment in w for w in feed.warnings), feed.warnings
    if expect.get("no_warnings"):
        assert feed.warnings == []
    for item in items:
        assert item.source == SOURCE.name and item.kind == "article" and item.guid
        assert item.published_at is None or item.published_at.utcoffset().total_seconds() == 0
        assert "<" not in item.text or "<" in html_to_text(item.text)
    assert len({i.guid for i in items}) == len(items)


def test_format_is_detected_from_body_not_headers() -> None:
    body = (FIXTURES / "jsonfeed10.json").read_bytes()
    feed = parse_feed(body, FEED_URL, SOURCE, headers={"Content-Type": "application/rss+xml"})
    assert len(feed.items) == 1
    rss = (FIXTURES / "rss20.xml").read_bytes()
    assert len(parse_feed(rss, FEED_URL, SOURCE, headers={"content-type": "text/html; charset=iso-8859-1"}).items) == 3


def test_html_to_text() -> None:
    assert html_to_text("<p>a <b>b</b></p><script>evil()</script><p>c&amp;d</p>") == "a b\nc&d"
    assert html_to_text("plain   text") == "plain text"
    assert html_to_text("") == ""
    assert html_to_text("<<<>>> broken <p") != ""


def test_discover_feeds() -> None:
    html = b"""<html><head><base href="https://site.example.com/blog/">
    <link rel="alternate" type="application/rss+xml" href="feed.xml">
    <link rel="ALTERNATE" type="application/atom+xml; charset=utf-8" href="/atom.xml">
    <link rel="alternate" type="application/feed+json" href="https://cdn.example.com/feed.json">
    <link rel="alternate" type="text/html" href="/fr/">
    <link rel="stylesheet" type="application/rss+xml" href="/not-a-feed">
    <link rel="alternate" type="application/rss+xml" href="feed.xml">
    </head><body></body></html>"""
    assert discover_feeds(html, "https://site.example.com/") == [
        "https://site.example.com/blog/feed.xml",
        "https://site.example.com/atom.xml",
        "https://cdn.example.com/feed.json",
    ]
    assert discover_feeds(b"", "https://x.example.com/") == []
    assert discover_feeds(b"<html><body>nothing</body></html>", "https://x.example.com/") == []


def test_discover_from_html_fixture() -> None:
    body = (FIXTURES / "html_page.html").read_bytes()
    assert discover_feeds(body, "https://blog.example.com/post/1") == ["https://blog.example.com/feed.xml"]


# -- optional: the shared corpus of real and ill-formed feeds -------------------


def _eval_files() -> list[Path]:
    if not EVAL.is_dir():
        return []
    return sorted(p for p in EVAL.rglob("*") if p.is_file() and p.suffix.lower() in (".xml", ".rss", ".atom", ".rdf", ".json"))


EVAL_FILES = _eval_files()


@pytest.mark.skipif(not EVAL_FILES, reason="shared feed corpus not present")
@pytest.mark.parametrize("path", EVAL_FILES, ids=[str(p.relative_to(EVAL)) for p in EVAL_FILES] if EVAL_FILES else None)
def test_eval_corpus_keeps_every_readable_entry(path: Path) -> None:
    content = path.read_bytes()
    reference = feedparser.parse(content)
    try:
        feed = parse_feed(content, "https://eval.example.org/feed", SOURCE)
    except FeedError:
        assert not reference.entries, f"FeedError but feedparser reads {len(reference.entries)} entries"
        return
    duplicates = sum("duplicate guid" in w for w in feed.warnings)
    assert len(feed.items) + duplicates >= len(reference.entries)


def test_content_location_header_sets_the_base_for_relative_links() -> None:
    body = (FIXTURES / "rss_relative_links.xml").read_bytes()
    feed = parse_feed(body, FEED_URL, SOURCE, headers={"Content-Location": "/moved/feed.xml"})
    assert [i.url for i in feed.items][:2] == ["https://feeds.example.org/moved/posts/1", "https://feeds.example.org/p/2"]
    atom = (FIXTURES / "atom_relative_xmlbase.xml").read_bytes()
    feed = parse_feed(atom, FEED_URL, SOURCE, headers={"content-location": "https://mirror.example.net/a/feed"})
    assert feed.items[0].url == "https://mirror.example.net/a/blog/2026/post-one"


def test_a_reused_guid_with_distinct_links_keeps_every_entry_under_stable_ids() -> None:
    body = (FIXTURES / "duplicate_guids.xml").read_bytes()
    first = parse_feed(body, FEED_URL, SOURCE)
    again = parse_feed(body, FEED_URL, SOURCE, fast_path=False)
    assert [i.url for i in first.items] == ["https://dup.example.com/1", "https://dup.example.com/1b", "https://dup.example.com/2"]
    assert first.items[0].guid == "same" and first.items[1].guid != "same"
    assert [i.guid for i in again.items] == [i.guid for i in first.items]  # a rerun (either parser) finds the same rows
    assert any("another link" in w for w in first.warnings) and any("kept the first entry" in w for w in first.warnings)


def test_tidy_is_the_regex_it_replaced_on_random_whitespace() -> None:
    import random
    import re

    from extractors.feeds import _tidy

    def by_regex(text: str) -> str:
        text = re.sub(r"[ \t\r\f\v]+", " ", text.replace("\xa0", " "))
        return re.sub(r"\s*\n\s*", "\n", text).strip()

    pieces = ["a", "b", "é", " ", "  ", "\n", "\n\n", " \n ", "\t", "\r", "\x0b", "\x0c", "\xa0", "\u2003", "\u3000",
              "\x1c", "\x85", "\u2028"]
    rng = random.Random(13)
    for _ in range(20000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 16)))
        assert _tidy(text) == by_regex(text), repr(text)
