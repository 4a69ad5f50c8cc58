"""The lxml fast path gives exactly what the feedparser path gives, or declines."""
from __future__ import annotations

from pathlib import Path

import pytest

from extractors.feeds import FeedError, parse_feed
from extractors.feeds_fast import parse_rss_fast
from extractors.models import SourceSpec

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"
EVAL = Path(__file__).parents[2] / "shared" / "eval" / "feeds"
URL = "https://feeds.example.org/dir/feed.xml"
SOURCE = SourceSpec(name="fixture", type="rss", url=URL)
BENCH_LIKE = (
    b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" '
    b'xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:slash="http://purl.org/rss/1.0/modules/slash/">'
    b"<channel><title>Lab &amp; notes</title>"
    b"<item><title>One &lt;b&gt;bold&lt;/b&gt;</title><link>posts/1?utm_source=rss</link><guid isPermaLink='false'>g1</guid>"
    b"<pubDate>Mon, 23 Nov 2026 06:00:00 GMT</pubDate><dc:creator> Ana </dc:creator><slash:comments>7</slash:comments>"
    b"<description>&lt;p&gt;Short&lt;/p&gt;</description><content:encoded><![CDATA[<p>Long <script>x()</script>body</p>]]></content:encoded></item>"
    b"<item><title>Two</title><guid>https://ex.example.com/2</guid><pubDate>not a date</pubDate><category>ai</category></item>"
    b"<item><title>Three</title><guid isPermaLink='false'>g3</guid><pubDate>2026-11-20T10:00:00+02:00</pubDate></item>"
    b"<item><description>no title no link</description></item>"
    b"</channel></rss>"
)


def _files() -> list[Path]:
    files = [p for p in sorted(FIXTURES.iterdir()) if not p.name.endswith(".expect.json")]
    if EVAL.is_dir():
        files += sorted(p for p in EVAL.rglob("*") if p.is_file() and p.suffix.lower() in (".xml", ".rss", ".rdf", ".atom"))
    return files


def _both(content: bytes) -> tuple[object, object]:
    out = []
    for fast in (True, False):
        try:
            feed = parse_feed(content, URL, SOURCE, fast_path=fast)
            out.append((feed.title, [vars(i) for i in feed.items], feed.warnings))
        except FeedError as exc:
            out.append(("FeedError", exc.kind, str(exc)))
    return out[0], out[1]


@pytest.mark.parametrize("path", _files(), ids=lambda p: p.name)
def test_fast_path_matches_feedparser(path: Path) -> None:
    fast, slow = _both(path.read_bytes())
    assert fast == slow


def test_fast_path_is_taken_for_plain_rss_and_matches() -> None:
    assert parse_rss_fast(BENCH_LIKE, URL, SOURCE) is not None
    fast, slow = _both(BENCH_LIKE)
    assert fast == slow


@pytest.mark.parametrize(
    "body",
    [
        BENCH_LIKE.replace(b'version="2.0"', b'version="0.91"'),
        BENCH_LIKE.replace(b"<channel>", b'<channel xml:base="https://x.example.org/">'),
        BENCH_LIKE.replace(b"<category>ai</category>", b"<media:thumbnail xmlns:media='http://search.yahoo.com/mrss/' url='x'/>"),
        BENCH_LIKE.replace(b"<title>Two</title>", b"<title>Two</title><title>Again</title>"),
        BENCH_LIKE.replace(b"</channel>", b"</channel"),
        b'<?xml version="1.0"?><!DOCTYPE rss SYSTEM "x.dtd"><rss version="2.0"><channel><title>t</title></channel></rss>',
        b'<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title></feed>',
    ],
    ids=["rss091", "xml-base", "unknown-element", "repeated-title", "malformed", "doctype", "atom"],
)
def test_fast_path_declines_what_it_does_not_reproduce(body: bytes) -> None:
    assert parse_rss_fast(body, URL, SOURCE) is None
