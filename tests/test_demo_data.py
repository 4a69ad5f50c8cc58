"""The bundled sample day and its HTTP server (newsdesk.demo)."""
from __future__ import annotations

import json
from html import unescape
import re
from datetime import datetime, timezone
from email.utils import format_datetime
from importlib import resources
from urllib.parse import urlsplit

import feedparser
import httpx2
import pytest

from newsdesk.demo import (
    BROKEN_SOURCES,
    EXPECTED_STORIES,
    NEAR_MISS_PAIRS,
    SAMPLE_DAY,
    broken_sources,
    demo_sources,
    serve_sample_day,
)
from newsdesk.demo import expected as E

WINDOW_START = datetime(2026, 11, 18, 6, 0, tzinfo=timezone.utc)
WINDOW_END = datetime(2026, 11, 19, 6, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def served():
    log: list = []
    with serve_sample_day(request_log=log) as url:
        with httpx2.Client(timeout=10) as client:
            yield url, client, log


def _iso(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00")).astimezone(timezone.utc)


def _path(url: str, base: str) -> str:
    assert url.startswith(base + "/"), f"{url} is not on the demo server {base}"
    return urlsplit(url).path


def _feed_sources(base: str) -> list[dict]:
    return [s for s in demo_sources(base) if s["type"] == "feed"]


def _parse_feed(resp) -> list[dict]:
    """Entries of any of the four feed formats as {link, title, published}."""
    ctype = resp.headers["content-type"]
    if ctype.startswith("application/feed+json"):
        data = resp.json()
        assert data["version"] == "https://jsonfeed.org/version/1.1"
        return [{"link": i["url"], "title": i["title"], "published": _iso(i["date_published"])} for i in data["items"]]
    parsed = feedparser.parse(resp.content)
    assert not parsed.bozo, f"{resp.url}: {parsed.get('bozo_exception')}"
    out = []
    for e in parsed.entries:
        when = e.get("published_parsed") or e.get("updated_parsed")
        assert when is not None, f"{resp.url}: entry {e.get('title')} has no date"
        out.append({"link": e.link, "title": e.title, "published": datetime(*when[:6], tzinfo=timezone.utc)})
    return out


def _collect(base: str, client: httpx2.Client) -> dict[str, dict]:
    """Every item the demo sources deliver, keyed like expected.py refs.

    Value: {"published": datetime, "links": [paths], "title": str}.
    """
    items: dict[str, dict] = {}
    for src in _feed_sources(base):
        for e in _parse_feed(client.get(src["url"])):
            items[_path(e["link"], base)] = {"published": e["published"], "links": [], "title": e["title"]}
    for handle in ("tensortribune.example", "priya.lumenlabs.example"):
        feed = client.get(f"{base}/xrpc/app.bsky.feed.getAuthorFeed", params={"actor": handle, "limit": 50}).json()
        for it in feed["feed"]:
            post = it["post"]
            links = [f["uri"] for fc in post["record"].get("facets", []) for f in fc["features"] if "uri" in f]
            if "embed" in post:
                links.append(post["embed"]["external"]["uri"])
            when = _iso(it["reason"]["indexedAt"]) if "reason" in it else _iso(post["record"]["createdAt"])
            items[post["uri"]] = {
                "published": when,
                "links": sorted({_path(u, base) for u in links}),
                "title": post["record"]["text"],
                "created": _iso(post["record"]["createdAt"]),
            }
    acct = client.get(f"{base}/api/v1/accounts/lookup", params={"acct": "rkoval"}).json()
    for st in client.get(f"{base}/api/v1/accounts/{acct['id']}/statuses", params={"limit": 40}).json():
        hrefs = [h for h in re.findall(r'href="([^"]+)"', st["content"]) if h.startswith(base)]
        if st["card"]:
            hrefs.append(st["card"]["url"])
        items[st["uri"]] = {
            "published": _iso(st["created_at"]),
            "links": sorted({_path(h.replace("&amp;", "&"), base) for h in hrefs}),
            "title": st["content"],
        }
    listing = client.get(f"{base}/r/ModelWatch/top.json", params={"t": "day", "limit": 100}).json()
    for child in listing["data"]["children"]:
        d = child["data"]
        items["reddit:" + d["name"]] = {
            "published": datetime.fromtimestamp(d["created_utc"], timezone.utc),
            "links": [] if d["is_self"] else [_path(d["url"], base)],
            "title": d["title"],
        }
    hn = client.get(f"{base}/api/v1/search_by_date", params={"tags": "story", "hitsPerPage": 100}).json()
    for h in hn["hits"]:
        items["hn:" + h["objectID"]] = {
            "published": datetime.fromtimestamp(h["created_at_i"], timezone.utc),
            "links": [_path(h["url"], base)] if h.get("url") else [],
            "title": h["title"],
            "points": h["points"],
        }
    return items


@pytest.fixture(scope="module")
def items(served):
    base, client, _ = served
    return _collect(base, client)


# ----------------------------------------------------------------------------- data files


def test_data_is_package_data_and_compact():
    root = resources.files("newsdesk.demo") / "sample_day"
    assert (root / "site" / "robots.txt").is_file()
    assert (root / "api" / "hackernews" / "search_by_date.json").is_file()
    total = 0
    stack = [root]
    while stack:
        d = stack.pop()
        for child in d.iterdir():
            if child.is_dir():
                stack.append(child)
            else:
                total += len(child.read_bytes())
    assert 0 < total < 1_000_000


def test_sample_day_constant():
    assert SAMPLE_DAY == "2026-11-19"


# ----------------------------------------------------------------------------- feeds


def test_every_feed_serves_with_its_content_type_and_parses(served):
    base, client, _ = served
    formats = set()
    for src in _feed_sources(base):
        r = client.get(src["url"])
        assert r.status_code == 200, src
        ctype = r.headers["content-type"]
        formats.add(ctype.split(";")[0])
        entries = _parse_feed(r)
        assert 3 <= len(entries) <= 8, (src["name"], len(entries))
        for e in entries:
            assert e["title"].strip()
            _path(e["link"], base)
    assert formats == {"application/rss+xml", "application/atom+xml", "application/feed+json", "application/rdf+xml"}
    # at least one RSS 1.0 (RDF) feed, detected as such by feedparser
    rdf = [s for s in _feed_sources(base) if s["url"].endswith(".rdf")]
    assert rdf and feedparser.parse(client.get(rdf[0]["url"]).content).version == "rss10"


def test_some_feed_links_carry_tracking_parameters_but_pages_are_canonical(served):
    base, client, _ = served
    tracked = []
    for src in _feed_sources(base):
        tracked += [e["link"] for e in _parse_feed(client.get(src["url"])) if "utm_" in e["link"]]
    assert tracked
    for link in tracked:
        page = client.get(link)
        assert page.status_code == 200
        m = re.search(r'<link rel="canonical" href="([^"]+)">', page.text)
        assert m and m.group(1) == link.split("?")[0]


# ----------------------------------------------------------------------------- article pages


def test_every_linked_article_page_exists_and_looks_like_a_news_page(served, items):
    base, client, _ = served
    paths = {ref for ref in items if ref.startswith("/")}
    paths |= {p for it in items.values() for p in it["links"]}
    assert len(paths) >= 20
    for p in sorted(paths):
        r = client.get(base + p)
        assert r.status_code == 200, p
        assert r.headers["content-type"] == "text/html; charset=utf-8"
        html = r.text
        assert f'<link rel="canonical" href="{base}{p}">' in html, p
        ld = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S).group(1))
        assert ld["@type"] in ("NewsArticle", "BlogPosting")
        assert ld["headline"] and ld["datePublished"]
        for clutter in ("<nav", "Related stories", "Newsletter", "<footer", "share-tools"):
            assert clutter in html, (p, clutter)
        body = re.findall(r"<p>([^<]{80,})</p>", html)
        assert len(body) >= 2, p


def test_feed_titles_match_page_headlines(served, items):
    base, client, _ = served
    for ref, it in items.items():
        if ref.startswith("/"):
            html = client.get(base + ref).text
            ld = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S).group(1))
            assert ld["headline"] == it["title"], ref
            assert _iso(ld["datePublished"]) == it["published"], ref


def test_syndicated_copy_has_same_text_and_different_boilerplate(served):
    base, client, _ = served
    (a, b), = E.SYNDICATED_PAIRS
    ha, hb = client.get(base + a).text, client.get(base + b).text
    def paras(h: str) -> list[str]:
        story = h.split("</figure>", 1)[1].split('<ul class="tags">', 1)[0]
        return re.findall(r"<p>([^<]{80,})</p>", story)

    assert paras(ha) == paras(hb) and len(paras(ha)) >= 4
    assert ha != hb
    assert "Harbor City Chronicle" in ha and "Bitstream Herald" in hb


def test_placeholders_are_substituted_everywhere(served):
    base, client, log = served
    urls = [s["url"] for s in _feed_sources(base)]
    urls += [
        f"{base}/xrpc/app.bsky.feed.getAuthorFeed?actor=tensortribune.example",
        f"{base}/xrpc/app.bsky.feed.getAuthorFeed?actor=priya.lumenlabs.example",
        f"{base}/api/v1/accounts/lookup?acct=rkoval",
        f"{base}/r/ModelWatch/top.json",
        f"{base}/api/v1/search_by_date?tags=story",
        f"{base}/",
    ]
    urls += [base + p for p in E.EXPECTED_STORIES[0] if p.startswith("/")]
    for u in urls:
        text = client.get(u).text
        assert "{{BASE_URL}}" not in text, u
        assert "BASE_URL" not in text, u
    assert base in client.get(urls[0]).text


# ----------------------------------------------------------------------------- social APIs


def test_bluesky_author_feed_shape(served):
    base, client, _ = served
    r = client.get(f"{base}/xrpc/app.bsky.feed.getAuthorFeed", params={"actor": "priya.lumenlabs.example", "limit": 50})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    feed = r.json()["feed"]
    uris = {it["post"]["uri"] for it in feed}
    replies = [it for it in feed if "reply" in it]
    assert len(replies) == 2
    for it in replies:
        rec = it["post"]["record"]["reply"]
        assert rec["root"]["uri"] in uris and rec["parent"]["uri"] in uris
        assert it["post"]["author"]["handle"] == "priya.lumenlabs.example"
        assert it["reply"]["root"]["uri"] == rec["root"]["uri"]
    reposts = [it for it in feed if it.get("reason", {}).get("$type") == "app.bsky.feed.defs#reasonRepost"]
    assert len(reposts) == 1 and reposts[0]["post"]["author"]["handle"] != "priya.lumenlabs.example"
    for it in feed:
        post = it["post"]
        for key in ("uri", "cid", "author", "record", "indexedAt", "likeCount", "repostCount", "replyCount"):
            assert key in post
        text = post["record"]["text"].encode()
        for facet in post["record"].get("facets", []):
            start, end = facet["index"]["byteStart"], facet["index"]["byteEnd"]
            assert 0 <= start < end <= len(text)
            assert facet["features"][0]["uri"].startswith(base + "/")
            assert text[start:end].decode().startswith(urlsplit(facet["features"][0]["uri"]).path.lstrip("/")[:10])
    other = client.get(f"{base}/xrpc/app.bsky.feed.getAuthorFeed", params={"actor": "tensortribune.example"}).json()
    assert other["feed"] and all(it["post"]["embed"]["$type"] == "app.bsky.embed.external#view" for it in other["feed"])


def test_bluesky_unknown_actor_is_an_error(served):
    base, client, _ = served
    r = client.get(f"{base}/xrpc/app.bsky.feed.getAuthorFeed", params={"actor": "nobody.example"})
    assert r.status_code == 400 and r.json()["error"] == "InvalidRequest"


def test_mastodon_lookup_then_statuses(served):
    base, client, _ = served
    for acct in ("rkoval", "@rkoval@newsfedi.example", "rkoval@newsfedi.example"):
        account = client.get(f"{base}/api/v1/accounts/lookup", params={"acct": acct}).json()
        assert account["username"] == "rkoval" and account["id"].isdigit()
    statuses = client.get(f"{base}/api/v1/accounts/{account['id']}/statuses", params={"limit": 40}).json()
    assert isinstance(statuses, list) and len(statuses) >= 3
    for st in statuses:
        for key in ("id", "created_at", "content", "url", "account", "reblogs_count", "favourites_count", "card"):
            assert key in st
    assert any(st["in_reply_to_id"] for st in statuses)
    assert any(st["card"] and "utm_source" in st["card"]["url"] for st in statuses)
    assert client.get(f"{base}/api/v1/accounts/lookup", params={"acct": "ghost"}).status_code == 404
    assert client.get(f"{base}/api/v1/accounts/1/statuses").status_code == 404


def test_reddit_top_listing(served):
    base, client, _ = served
    r = client.get(f"{base}/r/ModelWatch/top.json", params={"t": "day", "limit": 100})
    assert r.status_code == 200
    data = r.json()
    assert data["kind"] == "Listing"
    kids = data["data"]["children"]
    assert all(k["kind"] == "t3" for k in kids)
    links = [k["data"] for k in kids if not k["data"]["is_self"]]
    assert links and all(d["url"].startswith(base + "/") for d in links)
    assert all(isinstance(k["data"]["created_utc"], float) and k["data"]["permalink"].startswith("/r/ModelWatch/") for k in kids)
    # subreddit names are case-insensitive, unknown ones 404
    assert client.get(f"{base}/r/modelwatch/top.json").status_code == 200
    assert client.get(f"{base}/r/nosuchsub/top.json").status_code == 404


def test_hackernews_search_by_date_applies_filters(served):
    base, client, _ = served
    url = f"{base}/api/v1/search_by_date"
    everything = client.get(url, params={"tags": "story", "hitsPerPage": 100}).json()
    assert len(everything["hits"]) >= 4
    for h in everything["hits"]:
        for key in ("objectID", "title", "points", "num_comments", "created_at", "created_at_i", "author", "_tags"):
            assert key in h
    since = int(WINDOW_START.timestamp())
    r = client.get(url, params={"tags": "story", "numericFilters": f"points>=10,created_at_i>{since}", "hitsPerPage": 100})
    hits = r.json()["hits"]
    ids = {"hn:" + h["objectID"] for h in hits}
    assert ids == {E.HN_ATLAS, E.HN_SMR, E.HN_KESTREL}
    assert all(h["points"] >= 10 and h["created_at_i"] > since for h in hits)
    assert r.json()["nbHits"] == 3


# ----------------------------------------------------------------------------- HTTP caching


def _all_source_urls(base: str) -> list[str]:
    urls = []
    for s in demo_sources(base):
        if s["type"] == "feed":
            urls.append(s["url"])
        elif s["type"] == "bluesky":
            urls.append(f"{base}/xrpc/app.bsky.feed.getAuthorFeed?actor={s['handle']}&limit=50")
        elif s["type"] == "mastodon":
            urls += [f"{base}/api/v1/accounts/lookup?acct=rkoval", f"{base}/api/v1/accounts/109348215566201874/statuses?limit=40"]
        elif s["type"] == "reddit":
            urls.append(f"{base}/r/{s['handle']}/top.json?t=day&limit=100")
        elif s["type"] == "hackernews":
            urls.append(f"{base}/api/v1/search_by_date?tags=story&numericFilters=points>=10,created_at_i>1763445600&hitsPerPage=100")
    return urls + [base + p for p in E.EXPECTED_STORIES[0] if p.startswith("/")]


def test_second_run_is_all_304(served):
    base, client, _ = served
    validators = {}
    for u in _all_source_urls(base):
        r = client.get(u)
        assert r.status_code == 200, u
        assert r.headers.get("etag") and r.headers.get("last-modified"), u
        validators[u] = (r.headers["etag"], r.headers["last-modified"])
    for u, (etag, lm) in validators.items():
        r = client.get(u, headers={"If-None-Match": etag, "If-Modified-Since": lm})
        assert r.status_code == 304 and r.content == b"", u
        assert r.headers["etag"] == etag
        assert client.get(u, headers={"If-Modified-Since": lm}).status_code == 304, u
    # A different ETag or an older date gets the full body again.
    u = _all_source_urls(base)[0]
    assert client.get(u, headers={"If-None-Match": '"stale"'}).status_code == 200
    old = format_datetime(datetime(2026, 11, 1, tzinfo=timezone.utc), usegmt=True)
    assert client.get(u, headers={"If-Modified-Since": old}).status_code == 200


def test_request_log_and_head(served):
    base, client, log = served
    n = len(log)
    r = client.head(base + "/robots.txt")
    assert r.status_code == 200 and r.content == b"" and int(r.headers["content-length"]) > 0
    assert log[n:] == [("HEAD", "/robots.txt", 200)]


def test_robots_txt_and_private(served):
    base, client, _ = served
    r = client.get(base + "/robots.txt")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    lines = [line.strip() for line in r.text.splitlines() if line.strip()]
    assert lines == ["User-agent: *", "Disallow: /private/"]
    assert client.get(base + "/private/staff-notes.html").status_code == 403
    assert client.get(base + "/no/such/page").status_code == 404
    assert client.get(base + "/../../etc/passwd").status_code == 404


def test_two_servers_have_their_own_urls():
    with serve_sample_day() as a, serve_sample_day() as b:
        assert a != b
        ta = httpx2.get(a + "/tensor-tribune/atom.xml").text
        tb = httpx2.get(b + "/tensor-tribune/atom.xml").text
        assert a in ta and b not in ta and b in tb


# ----------------------------------------------------------------------------- broken sources


def test_broken_sources_misbehave_as_documented(served):
    base, client, _ = served
    assert {s["name"] for s in broken_sources(base)} == {b.name for b in BROKEN_SOURCES}
    assert not any(s["name"] in {b.name for b in BROKEN_SOURCES} for s in demo_sources(base))
    assert len(demo_sources(base, include_broken=True)) == len(demo_sources(base)) + len(BROKEN_SOURCES)
    for b, src in zip(BROKEN_SOURCES, broken_sources(base)):
        r = client.get(src["url"])
        assert r.status_code == b.status
        if b.status == 200:
            assert r.headers["content-type"].startswith("application/rss+xml")
            assert feedparser.parse(r.content).bozo
        else:
            assert r.status_code == 500


# ----------------------------------------------------------------------------- sources


def test_demo_sources_follow_the_sources_yaml_schema(served):
    base, _, _ = served
    sources = demo_sources(base)
    types = {s["type"] for s in sources}
    assert types == {"feed", "bluesky", "mastodon", "reddit", "hackernews"}
    names = [s["name"] for s in sources]
    assert len(names) == len(set(names))
    for s in sources:
        assert set(s) <= {"name", "type", "url", "handle", "tags", "base_url", "weight", "options"}
        if s["type"] == "feed":
            assert s["url"].startswith(base + "/")
        else:
            assert s["base_url"] == base
        if s["type"] in ("bluesky", "mastodon", "reddit"):
            assert s["handle"]
    hn = next(s for s in sources if s["type"] == "hackernews")
    assert hn["options"] == {"min_points": 10}
    masto = next(s for s in sources if s["type"] == "mastodon")
    assert re.fullmatch(r"@[^@]+@[^@]+", masto["handle"])


# ----------------------------------------------------------------------------- expected grouping


def test_expected_groups_reference_items_that_exist(items):
    refs = [r for g in EXPECTED_STORIES for r in g]
    assert len(refs) == len(set(refs)), "an item is in two groups"
    missing = [r for r in refs if r not in items]
    assert not missing
    for ref in E.NOISE + E.OUT_OF_WINDOW:
        assert ref in items, ref
        assert ref not in refs, ref
    # Every item the sources deliver is accounted for exactly once.
    assert set(items) == set(refs) | set(E.NOISE) | set(E.OUT_OF_WINDOW)


def test_story_shapes(items):
    assert len(EXPECTED_STORIES) >= 8
    outlet_counts = sorted(len({r.split("/")[1] for r in g if r.startswith("/")}) for g in EXPECTED_STORIES)
    assert outlet_counts[-3:] == [2, 3, 4] or outlet_counts.count(2) >= 2 and 3 in outlet_counts and 4 in outlet_counts
    assert sum(1 for g in EXPECTED_STORIES if len(g) == 1) >= 3  # single-source stories
    big = max(EXPECTED_STORIES, key=len)
    assert sum(1 for r in big if not r.startswith("/")) >= 2  # posts join the big story
    thread = next(g for g in EXPECTED_STORIES if E.BSKY_SMR_ROOT in g)
    assert {E.BSKY_SMR_REPLY1, E.BSKY_SMR_REPLY2} <= set(thread)


def test_posts_link_to_articles_of_their_own_story(items):
    for group in EXPECTED_STORIES:
        articles = {r for r in group if r.startswith("/")}
        for ref in group:
            if not ref.startswith("/"):
                assert set(items[ref]["links"]) <= articles, ref
                assert sorted(items[ref]["links"]) == sorted(E.POSTS[ref]["links"]), ref
    for ref, meta in E.POSTS.items():
        assert ref in items, ref
        assert sorted(items[ref]["links"]) == sorted(meta["links"]), ref


def test_near_miss_pairs_are_in_different_groups(items):
    assert len(NEAR_MISS_PAIRS) >= 3
    for a, b in NEAR_MISS_PAIRS:
        ia, ib = E.story_index(a), E.story_index(b)
        assert ia is not None and ib is not None, (a, b)
        assert ia != ib, (a, b)


def test_day_window(items):
    for ref, it in items.items():
        if ref in E.OUT_OF_WINDOW:
            assert it["published"] < WINDOW_START, ref
        else:
            assert datetime(2026, 11, 18, 7, tzinfo=timezone.utc) <= it["published"] <= datetime(
                2026, 11, 19, 5, tzinfo=timezone.utc
            ), ref
    # the repost is new, the reposted post is old
    repost = items[E.BSKY_LISBON_REPOST]
    assert repost["created"] < WINDOW_START <= repost["published"]


def test_shared_facts_are_consistent_across_outlets(served):
    base, client, _ = served
    pages = {p: client.get(base + p).text for p in EXPECTED_STORIES[0] if p.startswith("/")}
    for p, html in pages.items():
        text = unescape(html)
        assert "Atlas-3" in text and "Dana Okafor" in text, p
        assert "$2 per million input tokens" in text or "$2 per million" in text, p
        assert "71.4%" in text, p
        assert "Atlas-3 is the first model we've shipped that we trust to finish a long task without a person checking every step" in text, p
    headlines = {re.search(r"<h1>(.*?)</h1>", h).group(1) for h in pages.values()}
    assert len(headlines) == len(pages)  # different headlines


def test_no_real_outlet_names(served):
    base, client, _ = served
    real = ["TechCrunch", "The Verge", "Reuters", "Bloomberg", "Associated Press", "Wired", "CNBC", "New York Times",
            "OpenAI", "Anthropic", "Google", "Nvidia", "Microsoft", "Meta "]
    for src in _feed_sources(base):
        text = client.get(src["url"]).text
        for name in real:
            assert name not in text, (src["name"], name)


def test_item_ref_and_thread_merges():
    from types import SimpleNamespace as NS

    base = "http://127.0.0.1:9"
    art = NS(kind="article", url=f"{base}{E.CL_ATLAS}?utm_source=rss&utm_medium=feed", guid="circuit-ledger-1")
    assert E.item_ref(art, base) == E.CL_ATLAS
    post = NS(kind="post", url="https://news.ycombinator.com/item?id=45012345", guid=E.HN_ATLAS)
    assert E.item_ref(post, base) == E.HN_ATLAS
    for reply, root in E.MERGED_INTO.items():
        assert E.story_index(reply) == E.story_index(root) is not None
