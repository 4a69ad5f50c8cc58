"""collect_sources against a loopback server: failures become results, others go on."""
from __future__ import annotations

import gzip
import os
import sys
from concurrent.futures import ProcessPoolExecutor
import types
from datetime import datetime, timezone

import pytest

from extractors.collect import MIN_POOL_FEEDS, collect_sources, dedupe_by_url, feed_parse_pool
from extractors.http import Fetcher, HttpSettings
from extractors.models import SourceResult, SourceSpec
from extractors.opml import write_opml
from tests.httpserver import Recorded, Route, TestServer


def rss(*items: tuple[str, str, str | None]) -> bytes:
    """items: (guid, link, pubDate)."""
    body = "".join(
        f"<item><title>Title {g}</title><link>{link}</link><guid isPermaLink='false'>{g}</guid>"
        + (f"<pubDate>{d}</pubDate>" if d else "")
        + "<description>&lt;p&gt;About AI.&lt;/p&gt;</description></item>"
        for g, link, d in items
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>F</title>{body}</channel></rss>'.encode()


FEED_A = rss(("a1", "https://news.example.com/story?utm_source=a", "Mon, 23 Nov 2026 06:00:00 GMT"), ("a2", "https://news.example.com/other", "Sun, 01 Nov 2026 06:00:00 GMT"))
FEED_B = rss(("b1", "https://NEWS.example.com/story/#x", "Mon, 23 Nov 2026 07:00:00 GMT"))


def conditional(body: bytes, etag: str) -> object:
    def handler(req: Recorded) -> Route:
        if req.headers.get("if-none-match") == etag:
            return Route(304, headers={"ETag": etag})
        return Route(body=body, headers={"ETag": etag, "Content-Type": "application/rss+xml"})

    return handler


@pytest.fixture
def server():
    with TestServer() as srv:
        yield srv


@pytest.fixture
async def fetcher():
    f = Fetcher(HttpSettings(allow_private_hosts="loopback", retries=1, backoff_base=0.01, backoff_max=0.02, read_timeout=1.0, max_bytes=200_000))
    yield f
    await f.aclose()


async def test_one_bad_source_does_not_stop_the_others(server: TestServer, fetcher: Fetcher, monkeypatch: pytest.MonkeyPatch) -> None:
    server.routes["/a"] = conditional(FEED_A, '"a"')
    server.routes["/b"] = Route(body=FEED_B)
    server.routes["/missing"] = Route(404)
    server.routes["/page"] = Route(body=b"<!doctype html><html><head><title>x</title></head><body>hi</body></html>")
    server.routes["/site"] = Route(body=b'<!doctype html><html><head><link rel="alternate" type="application/rss+xml" href="/b"></head></html>')
    server.routes["/bomb"] = Route(raw_gzip=gzip.compress(b"<rss>" + b" " * 5_000_000, 9))
    server.routes["/reset"] = Route(reset=True)
    server.routes["/slow"] = Route(body=FEED_B, delay=2.0)
    server.routes["/empty"] = Route(body=b"")
    server.routes["/garbage"] = Route(body=b"\x00\x01\x02 not xml at all <<<")
    crashing = types.ModuleType("extractors.social.crashnet")

    async def crash(spec: SourceSpec, fetcher: Fetcher, *, since: datetime | None = None) -> SourceResult:
        raise RuntimeError("boom")

    crashing.collect = crash  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "extractors.social.crashnet", crashing)
    specs = [
        SourceSpec("a", "rss", server.url("/a")),
        SourceSpec("missing", "rss", server.url("/missing")),
        SourceSpec("page", "feed", server.url("/page")),
        SourceSpec("site", "feed", server.url("/site")),
        SourceSpec("bomb", "atom", server.url("/bomb")),
        SourceSpec("reset", "rss", server.url("/reset")),
        SourceSpec("slow", "rss", server.url("/slow")),
        SourceSpec("empty", "jsonfeed", server.url("/empty")),
        SourceSpec("garbage", "rss", server.url("/garbage")),
        SourceSpec("nourl", "rss", None),
        SourceSpec("myspace", "myspace", handle="tom"),
        SourceSpec("weird", "../../etc", handle="x"),
        SourceSpec("crash", "crashnet", handle="x"),
        SourceSpec("b", "rss", server.url("/b")),
    ]
    results = await collect_sources(specs, fetcher)
    by = {r.source: r for r in results}
    assert [r.source for r in results] == [s.name for s in specs]
    assert by["a"].status == "ok" and len(by["a"].items) == 2 and by["a"].etag == '"a"'
    assert by["b"].status == "ok" and len(by["b"].items) == 1
    assert by["site"].status == "ok" and len(by["site"].items) == 1 and "advertises" in by["site"].warnings[0]
    expected_errors = {
        "missing": "HTTP 404",
        "page": "HTML page",
        "bomb": "exceeds",
        "reset": "",
        "slow": "timed out",
        "empty": "empty body",
        "garbage": "",
        "nourl": "has no url",
        "myspace": "unsupported source type",
        "weird": "unsupported source type",
        "crash": "boom",
    }
    for name, fragment in expected_errors.items():
        result = by[name]
        assert result.status == "error", name
        assert result.error and fragment in result.error and "\n" not in result.error, (name, result.error)
        assert result.items == []


async def test_second_run_is_not_modified_and_not_parsed(server: TestServer, fetcher: Fetcher) -> None:
    server.routes["/a"] = conditional(FEED_A, '"v7"')
    spec = SourceSpec("a", "rss", server.url("/a"))
    [first] = await collect_sources([spec], fetcher)
    validators = {"a": (first.etag, first.last_modified)}
    [second] = await collect_sources([spec], fetcher, validators)
    assert first.status == "ok" and len(first.items) == 2
    assert second.status == "not_modified" and second.items == [] and second.etag == '"v7"'
    assert server.hits("/a")[-1].headers.get("if-none-match") == '"v7"'


async def test_parsing_in_worker_processes_gives_the_same_results(server: TestServer, fetcher: Fetcher) -> None:
    # Enough feeds for the collect stage's parsing pool, with the answers that
    # take other paths: feedparser for broken XML, discovery for an HTML page,
    # a clear error for a page without a feed, and 304s that start no worker.
    server.routes["/site"] = Route(body=b'<html><head><link rel="alternate" type="application/rss+xml" href="/f/0"></head></html>')
    server.routes["/nofeed"] = Route(body=b"<!doctype html><html><body>hello</body></html>")
    server.routes["/broken"] = Route(body=FEED_A.replace(b"</channel>", b""))
    specs = [SourceSpec("site", "rss", server.url("/site")), SourceSpec("nofeed", "rss", server.url("/nofeed")),
             SourceSpec("broken", "rss", server.url("/broken"))]
    for i in range(MIN_POOL_FEEDS):
        server.routes[f"/f/{i}"] = conditional(rss((f"g{i}", f"https://news.example.com/{i}?utm_source=x", None)), f'"e{i}"')
        specs.append(SourceSpec(f"f{i}", "rss", server.url(f"/f/{i}")))

    def outcome(results: list[SourceResult]) -> list[tuple]:
        return [(r.source, r.status, r.error, r.warnings, [(i.guid, i.url, i.title, i.text) for i in r.items]) for r in results]

    in_process = await collect_sources(specs, fetcher)
    pooled = await collect_sources(specs, fetcher, parse_workers=2)
    assert outcome(pooled) == outcome(in_process)
    by_name = {r.source: r for r in pooled}
    assert by_name["site"].status == "ok" and "advertises" in by_name["site"].warnings[0]
    assert by_name["nofeed"].status == "error" and "HTML page" in (by_name["nofeed"].error or "")
    assert by_name["broken"].status == "ok" and len(by_name["broken"].items) == 2
    validators = {r.source: (r.etag, r.last_modified) for r in pooled}
    again = await collect_sources(specs, fetcher, validators, parse_workers=2)
    assert sum(r.status == "not_modified" for r in again) == MIN_POOL_FEEDS + 1  # + the discovered feed


def test_parsing_pool_only_for_enough_feeds() -> None:
    with feed_parse_pool(MIN_POOL_FEEDS, workers=2) as pool:
        assert isinstance(pool, ProcessPoolExecutor)
        assert pool.submit(os.getpid).result() != os.getpid()
    for feeds, workers in ((MIN_POOL_FEEDS - 1, 2), (MIN_POOL_FEEDS, 1)):
        with feed_parse_pool(feeds, workers) as pool:
            assert pool is None


async def test_since_drops_older_entries(server: TestServer, fetcher: Fetcher) -> None:
    server.routes["/a"] = Route(body=FEED_A)
    [result] = await collect_sources([SourceSpec("a", "rss", server.url("/a"))], fetcher, since=datetime(2026, 11, 22, tzinfo=timezone.utc))
    assert [i.guid for i in result.items] == ["a1"]


async def test_dedup_across_feeds_by_canonical_url(server: TestServer, fetcher: Fetcher) -> None:
    server.routes["/a"] = Route(body=FEED_A)
    server.routes["/b"] = Route(body=FEED_B)
    results = await collect_sources([SourceSpec("a", "rss", server.url("/a")), SourceSpec("b", "rss", server.url("/b"))], fetcher)
    assert results[0].items[0].url == results[1].items[0].url == "https://news.example.com/story"
    unique = dedupe_by_url(results)
    assert [i.guid for i in unique] == ["a1", "a2"]


async def test_opml_source_expands_to_its_feeds(server: TestServer, fetcher: Fetcher) -> None:
    server.routes["/a"] = Route(body=FEED_A)
    server.routes["/list.opml"] = Route(body=write_opml([SourceSpec("A feed", "rss", server.url("/a"), tags=("ai",)), SourceSpec("gone", "rss", server.url("/nope"))]))
    results = await collect_sources([SourceSpec("list", "opml", server.url("/list.opml"), tags=("imported",))], fetcher)
    assert [r.source for r in results] == ["list", "A feed", "gone"]
    assert [r.status for r in results] == ["ok", "ok", "error"]


async def test_refused_address_is_an_error_result(server: TestServer) -> None:
    server.routes["/a"] = Route(body=FEED_A)
    async with Fetcher(HttpSettings(allow_private_hosts=False)) as strict:
        [result] = await collect_sources([SourceSpec("a", "rss", server.url("/a"))], strict)
    assert result.status == "error" and "loopback" in (result.error or "")
    assert server.requests == []


# -- the bad-input list, end to end: served over HTTP, collected as a source ----

FIXTURES = __import__("pathlib").Path(__file__).parent / "fixtures" / "feeds"


@pytest.mark.parametrize(
    ("fixture", "warning", "min_items"),
    [
        ("malformed.xml", "not well-formed", 2),
        ("truncated.xml", "not well-formed", 2),
        ("wrong_encoding.xml", "not well-formed", 2),
        ("missing_encoding_cp1252.xml", None, 1),
        ("invalid_dates.xml", "invalid published date", 2),
        ("duplicate_guids.xml", "duplicate guid", 2),
        ("no_links.xml", "has no link", 3),
    ],
)
async def test_damaged_feeds_keep_their_readable_entries(server: TestServer, fetcher: Fetcher, fixture: str, warning: str | None, min_items: int) -> None:
    server.routes["/f"] = Route(body=(FIXTURES / fixture).read_bytes(), headers={"Content-Type": "text/html; charset=utf-8"})
    [result] = await collect_sources([SourceSpec("f", "rss", server.url("/f"))], fetcher)
    assert result.status == "ok" and len(result.items) >= min_items, result
    if warning:
        assert any(warning in w for w in result.warnings), result.warnings
    assert all("\n" not in w for w in result.warnings)


@pytest.mark.parametrize(
    ("route", "fragment"),
    [
        (Route(body=b"<!doctype html><html><head><title>Blog</title></head><body><p>hi</p></body></html>"), "advertises no feed"),
        (Route(body=b""), "empty body"),
        (Route(body=b"   \n\t "), "empty body"),
        (Route(body=(FIXTURES / "binary.xml").read_bytes()), "not a readable feed"),
        (Route(body=FEED_A, truncate=True), "truncated"),
        (Route(body=FEED_A, chunked=True, truncate=True), "truncated"),
        (Route(body=b"<rss>" + b"x" * 300_000 + b"</rss>"), "exceeds"),
        (Route(body=b"<rss>" + b"x" * 300_000 + b"</rss>", chunked=True), "exceeds"),
        (Route(raw_gzip=gzip.compress(b"<rss>" + b" " * 5_000_000, 9)), "after decompression"),
        (Route(reset=True), "connection"),
        (Route(302, headers={"Location": "/loop"}), "redirect loop"),
        (Route(503, headers={"Retry-After": "3600"}), "Retry-After"),
    ],
    ids=["html", "empty", "whitespace", "binary", "truncated", "truncated-chunked", "oversized", "oversized-chunked", "gzip-bomb", "reset", "redirect-loop", "retry-after-too-long"],
)
async def test_bad_answers_are_one_clear_error_and_the_other_source_is_kept(server: TestServer, fetcher: Fetcher, route: Route, fragment: str) -> None:
    server.routes["/loop"] = route
    server.routes["/b"] = Route(body=FEED_B)
    results = await collect_sources([SourceSpec("bad", "rss", server.url("/loop")), SourceSpec("b", "rss", server.url("/b"))], fetcher)
    bad, good = results
    assert bad.status == "error" and bad.items == [], bad
    assert bad.error and fragment.lower() in bad.error.lower() and "\n" not in bad.error, bad.error
    assert good.status == "ok" and len(good.items) == 1


async def test_retry_after_is_waited_for_then_the_feed_is_collected(server: TestServer, fetcher: Fetcher) -> None:
    answers = iter([Route(503, headers={"Retry-After": "1"}), Route(body=FEED_A)])
    server.routes["/a"] = lambda req: next(answers)
    [result] = await collect_sources([SourceSpec("a", "rss", server.url("/a"))], fetcher)
    assert result.status == "ok" and len(result.items) == 2
    assert len(server.hits("/a")) == 2


async def test_last_modified_is_sent_back_and_304_costs_no_parsing(server: TestServer, fetcher: Fetcher) -> None:
    stamp = "Mon, 23 Nov 2026 08:00:00 GMT"

    def handler(req: Recorded) -> Route:
        if req.headers.get("if-modified-since") == stamp:
            return Route(304)
        return Route(body=FEED_A, headers={"Last-Modified": stamp})

    server.routes["/a"] = handler
    spec = SourceSpec("a", "rss", server.url("/a"))
    [first] = await collect_sources([spec], fetcher)
    [second] = await collect_sources([spec], fetcher, {"a": (first.etag, first.last_modified)})
    assert first.last_modified == stamp and second.status == "not_modified" and second.last_modified == stamp


async def test_the_same_article_from_a_feed_and_a_post_has_one_canonical_url(server: TestServer, fetcher: Fetcher) -> None:
    """Dedup across feeds and posts: the post's link and the feed item's URL are the same string."""
    hit = {
        "objectID": "4242", "title": "A model does a thing", "author": "pg", "points": 300, "num_comments": 12,
        "url": "https://NEWS.example.com/story?fbclid=abc&ref=hn#comments", "created_at_i": 1795413600,
    }
    server.routes["/api/v1/search_by_date"] = Route(body=__import__("json").dumps({"hits": [hit]}).encode())
    server.routes["/a"] = Route(body=FEED_A)
    specs = [SourceSpec("a", "rss", server.url("/a")), SourceSpec("hn", "hackernews", base_url=server.url(""), options={"min_points": 100})]
    feed, hn = await collect_sources(specs, fetcher)
    assert hn.status == "ok" and hn.items[0].kind == "post", hn
    assert feed.items[0].url in hn.items[0].links
    assert feed.items[0].url == "https://news.example.com/story"


async def test_future_dates_are_unknown_not_stored(server: TestServer, fetcher: Fetcher) -> None:
    from datetime import timedelta
    from email.utils import format_datetime

    now = datetime.now(timezone.utc)
    soon = format_datetime(now + timedelta(minutes=30), usegmt=True)  # within the clock skew
    server.routes["/f"] = Route(body=rss(
        ("f1", "https://f.example.com/1", "Fri, 01 Jan 2100 00:00:00 GMT"),
        ("f2", "https://f.example.com/2", format_datetime(now + timedelta(days=40), usegmt=True)),
        ("f3", "https://f.example.com/3", soon),
        ("f4", "https://f.example.com/4", "Mon, 23 Nov 2026 06:00:00 GMT"),
    ))
    (result,) = await collect_sources([SourceSpec("f", "rss", server.url("/f"))], fetcher)
    dates = {i.guid: i.published_at for i in result.items}
    assert dates["f1"] is None and dates["f2"] is None
    assert dates["f3"] is not None and dates["f4"] == datetime(2026, 11, 23, 6, tzinfo=timezone.utc)
    assert sum("in the future" in w for w in result.warnings) == 2
