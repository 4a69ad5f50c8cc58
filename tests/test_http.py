"""The polite fetcher against a real loopback server: every bad answer becomes one clear FetchError."""
from __future__ import annotations

import gzip
import ipaddress
import threading

import httpx2
import pytest

from extractors.http import (
    BlockedAddressError,
    ConnectionFailedError,
    FetchError,
    Fetcher,
    FetchTimeoutError,
    HttpSettings,
    HTTPStatusError,
    RobotsDisallowedError,
    TooLargeError,
    TooManyRedirectsError,
    parse_retry_after,
)
from extractors.netguard import HostGuard, UnsafeURL, blocked_reason
from extractors.robots import parse_robots
from tests.httpserver import Recorded, Route, TestServer


def settings(**kw: object) -> HttpSettings:
    base: dict[str, object] = dict(allow_private_hosts="loopback", backoff_base=0.01, backoff_max=0.05, retries=2)
    base.update(kw)
    return HttpSettings(**base)  # type: ignore[arg-type]


@pytest.fixture
def server():
    with TestServer() as srv:
        yield srv


async def test_plain_get_sends_user_agent(server: TestServer) -> None:
    server.routes["/a"] = Route(body=b"hello", headers={"ETag": '"v1"', "Content-Type": "text/plain"})
    async with Fetcher(settings()) as f:
        resp = await f.get(server.url("/a"))
    assert resp.content == b"hello" and resp.status == 200 and resp.etag == '"v1"'
    ua = server.hits("/a")[0].headers["user-agent"]
    assert ua.startswith("newsdesk/") and "(+http" in ua


async def test_conditional_get_returns_not_modified(server: TestServer) -> None:
    def handler(req: Recorded) -> Route:
        if req.headers.get("if-none-match") == '"v1"' or req.headers.get("if-modified-since"):
            return Route(304, headers={"ETag": '"v1"'})
        return Route(body=b"<rss/>", headers={"ETag": '"v1"', "Last-Modified": "Mon, 23 Nov 2026 08:00:00 GMT"})

    server.routes["/feed"] = handler
    async with Fetcher(settings()) as f:
        first = await f.get(server.url("/feed"))
        second = await f.get(server.url("/feed"), etag=first.etag)
        third = await f.get(server.url("/feed"), last_modified=first.last_modified)
    assert not first.not_modified and first.content == b"<rss/>"
    assert second.not_modified and second.status == 304 and second.content == b""
    assert third.not_modified
    assert server.hits("/feed")[1].headers["if-none-match"] == '"v1"'


async def test_gzip_body_is_decoded(server: TestServer) -> None:
    server.routes["/gz"] = Route(body=b"x" * 5000, gzip=True)
    async with Fetcher(settings()) as f:
        resp = await f.get(server.url("/gz"))
    assert resp.content == b"x" * 5000


async def test_gzip_bomb_is_refused(server: TestServer) -> None:
    server.routes["/bomb"] = Route(raw_gzip=gzip.compress(b"\0" * 20_000_000, 9))
    async with Fetcher(settings(max_bytes=1_000_000)) as f:
        with pytest.raises(TooLargeError, match="after decompression"):
            await f.get(server.url("/bomb"))


async def test_oversized_declared_body_is_refused(server: TestServer) -> None:
    server.routes["/big"] = Route(body=b"y" * 200_000)
    async with Fetcher(settings(max_bytes=100_000)) as f:
        with pytest.raises(TooLargeError, match="Content-Length"):
            await f.get(server.url("/big"))


async def test_oversized_chunked_body_is_refused_while_streaming(server: TestServer) -> None:
    server.routes["/bigc"] = Route(body=b"y" * 200_000, chunked=True)
    async with Fetcher(settings(max_bytes=100_000)) as f:
        with pytest.raises(TooLargeError, match="exceeds 100000"):
            await f.get(server.url("/bigc"))


@pytest.mark.parametrize("route", [Route(body=b"abc", truncate=True), Route(body=b"abcdef", chunked=True, truncate=True)])
async def test_truncated_response_is_a_connection_error(server: TestServer, route: Route) -> None:
    server.routes["/t"] = route
    async with Fetcher(settings(retries=0)) as f:
        with pytest.raises(ConnectionFailedError):
            await f.get(server.url("/t"))


async def test_connection_reset_is_retried_then_reported(server: TestServer) -> None:
    server.routes["/reset"] = Route(reset=True)
    async with Fetcher(settings(retries=2)) as f:
        with pytest.raises(ConnectionFailedError):
            await f.get(server.url("/reset"))
    assert len(server.hits("/reset")) == 3


async def test_retry_on_5xx_until_success(server: TestServer) -> None:
    answers = iter([Route(500), Route(502), Route(body=b"ok")])
    server.routes["/flaky"] = lambda req: next(answers)
    async with Fetcher(settings(retries=3)) as f:
        resp = await f.get(server.url("/flaky"))
    assert resp.content == b"ok" and len(server.hits("/flaky")) == 3


@pytest.mark.parametrize("status", [400, 403, 404, 410])
async def test_no_retry_on_4xx(server: TestServer, status: int) -> None:
    server.routes["/gone"] = Route(status)
    async with Fetcher(settings(retries=3)) as f:
        with pytest.raises(HTTPStatusError) as info:
            await f.get(server.url("/gone"))
    assert info.value.status == status and len(server.hits("/gone")) == 1


async def test_retry_after_is_honoured(server: TestServer) -> None:
    answers = iter([Route(503, headers={"Retry-After": "1"}), Route(body=b"ok")])
    server.routes["/busy"] = lambda req: next(answers)
    async with Fetcher(settings(retries=1, backoff_base=100.0)) as f:  # backoff alone would be 100 s
        resp = await f.get(server.url("/busy"))
    assert resp.content == b"ok" and len(server.hits("/busy")) == 2


async def test_429_with_retry_after_beyond_cap_fails_at_once(server: TestServer) -> None:
    server.routes["/limited"] = Route(429, headers={"Retry-After": "3600"})
    async with Fetcher(settings(retries=3, max_retry_after=5)) as f:
        with pytest.raises(HTTPStatusError, match="exceeds"):
            await f.get(server.url("/limited"))
    assert len(server.hits("/limited")) == 1


async def test_429_without_retry_after_is_not_retried(server: TestServer) -> None:
    server.routes["/limited"] = Route(429)
    async with Fetcher(settings(retries=3)) as f:
        with pytest.raises(HTTPStatusError):
            await f.get(server.url("/limited"))
    assert len(server.hits("/limited")) == 1


def test_parse_retry_after() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480.0 - 60) == pytest.approx(60.0)
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


async def test_redirect_chain_is_followed(server: TestServer) -> None:
    server.routes["/r1"] = Route(301, headers={"Location": "/r2"})
    server.routes["/r2"] = Route(302, headers={"Location": server.url("/r3")})
    server.routes["/r3"] = Route(307, headers={"Location": "/final"})
    server.routes["/final"] = Route(body=b"done")
    async with Fetcher(settings()) as f:
        resp = await f.get(server.url("/r1"))
    assert resp.content == b"done" and resp.url == server.url("/final") and len(resp.redirects) == 3


async def test_redirect_loop_is_refused(server: TestServer) -> None:
    server.routes["/a"] = Route(302, headers={"Location": "/b"})
    server.routes["/b"] = Route(302, headers={"Location": "/a"})
    async with Fetcher(settings()) as f:
        with pytest.raises(TooManyRedirectsError, match="loop"):
            await f.get(server.url("/a"))


async def test_too_many_redirects(server: TestServer) -> None:
    for i in range(10):
        server.routes[f"/hop{i}"] = Route(302, headers={"Location": f"/hop{i + 1}"})
    async with Fetcher(settings(max_redirects=3)) as f:
        with pytest.raises(TooManyRedirectsError, match="more than 3"):
            await f.get(server.url("/hop0"))
    assert len(server.requests) == 4


async def test_read_timeout(server: TestServer) -> None:
    server.routes["/slow"] = Route(body=b"late", delay=1.0)
    async with Fetcher(settings(read_timeout=0.2, retries=0)) as f:
        with pytest.raises(FetchTimeoutError):
            await f.get(server.url("/slow"))


async def test_total_timeout(server: TestServer) -> None:
    server.routes["/slow"] = Route(body=b"late", delay=1.0)
    async with Fetcher(settings(read_timeout=30, total_timeout=0.2, retries=0)) as f:
        with pytest.raises(FetchTimeoutError, match="within"):
            await f.get(server.url("/slow"))


async def test_per_host_concurrency_is_bounded(server: TestServer) -> None:
    lock = threading.Lock()
    state = {"now": 0, "max": 0}

    def handler(req: Recorded) -> Route:
        with lock:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
        import time

        time.sleep(0.05)
        with lock:
            state["now"] -= 1
        return Route(body=b"ok")

    server.routes["/c"] = handler
    async with Fetcher(settings(per_host_concurrency=2)) as f:
        import asyncio

        await asyncio.gather(*(f.get(server.url("/c")) for _ in range(8)))
    assert 1 <= state["max"] <= 2


# -- SSRF guard -----------------------------------------------------------


async def test_loopback_refused_without_allow_private(server: TestServer) -> None:
    server.routes["/a"] = Route(body=b"secret")
    async with Fetcher(HttpSettings(allow_private_hosts=False)) as f:
        with pytest.raises(BlockedAddressError, match="loopback"):
            await f.get(server.url("/a"))
    assert server.requests == []


@pytest.mark.parametrize(
    "target",
    ["http://127.0.0.1/admin", "http://169.254.169.254/latest/meta-data/", "http://[::1]/", "http://10.0.0.5/", "http://[fd00:ec2::254]/"],
)
async def test_redirect_to_private_address_refused(target: str) -> None:
    calls: list[str] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        calls.append(str(request.url))
        return httpx2.Response(302, headers={"Location": target})

    async with Fetcher(HttpSettings(allow_private_hosts=False), transport=httpx2.MockTransport(handler)) as f:
        with pytest.raises(BlockedAddressError):
            await f.get("https://feeds.example.org/rss")
    assert calls == ["https://feeds.example.org/rss"]


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/x", "gopher://example.org/", "javascript:alert(1)"])
async def test_non_http_schemes_refused(url: str) -> None:
    async with Fetcher(HttpSettings()) as f:
        with pytest.raises(BlockedAddressError, match="scheme"):
            await f.get(url)


async def test_authorization_dropped_on_cross_host_redirect() -> None:
    seen: dict[str, str | None] = {}

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen[request.url.host] = request.headers.get("authorization")
        if request.url.host == "api.example.org":
            return httpx2.Response(302, headers={"Location": "https://cdn.example.net/x"})
        return httpx2.Response(200, content=b"{}")

    async with Fetcher(HttpSettings(), transport=httpx2.MockTransport(handler)) as f:
        await f.get("https://api.example.org/x", headers={"Authorization": "Bearer t"})
    assert seen == {"api.example.org": "Bearer t", "cdn.example.net": None}


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.1.1", "link-local"),
        ("169.254.169.254", "metadata"),
        ("fd00:ec2::254", "metadata"),
        ("100.100.100.200", "metadata"),
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("fe80::1", "link-local"),
        ("::ffff:127.0.0.1", "loopback"),
        ("100.64.0.1", "NAT"),
        ("93.184.216.34", None),
        ("2606:4700::1111", None),
    ],
)
def test_blocked_reason(address: str, reason: str | None) -> None:
    got = blocked_reason(ipaddress.ip_address(address))
    if reason is None:
        assert got is None
    else:
        assert got is not None and reason in got


async def test_guard_resolves_names() -> None:
    with pytest.raises(UnsafeURL, match="loopback"):
        await HostGuard().check("http://localhost:8080/")
    await HostGuard(allow_private=True).check("http://localhost:8080/")


def fixed_resolver(*answers: list[str]):
    """A DNS stand-in: each lookup gets the next answer (the last one repeats)."""
    queue = list(answers)

    async def resolve(host: str, port: int) -> list[str]:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return resolve


async def test_connections_go_to_the_address_the_guard_vetted(server: TestServer) -> None:
    # The name exists only in the guard's resolver: the request can succeed
    # only if the connection uses the vetted address, not a second lookup.
    server.routes["/a"] = Route(body=b"vetted")
    guard = HostGuard(allow_private="loopback", resolver=fixed_resolver(["127.0.0.1"]))
    async with Fetcher(settings(), guard=guard) as f:
        resp = await f.get(f"http://feeds.newsdesk.test:{server.port}/a")
    assert resp.content == b"vetted"
    assert server.hits("/a")[0].headers["host"] == f"feeds.newsdesk.test:{server.port}"


async def test_dns_rebinding_is_refused_at_connect(server: TestServer) -> None:
    # Public for the check before the request, loopback a moment later.
    server.routes["/a"] = Route(body=b"secret")
    guard = HostGuard(allow_private=False, cache_ttl=0, resolver=fixed_resolver(["93.184.216.34"], ["127.0.0.1"]))
    async with Fetcher(HttpSettings(allow_private_hosts=False), guard=guard) as f:
        with pytest.raises(BlockedAddressError, match="loopback"):
            await f.get(f"http://rebind.newsdesk.test:{server.port}/a")
    assert server.requests == []


# -- robots.txt -----------------------------------------------------------


async def test_robots_disallow_applies_to_articles_only(server: TestServer) -> None:
    server.routes["/robots.txt"] = Route(body=b"User-agent: *\nDisallow: /private\n\nUser-agent: other\nDisallow: /\n")
    server.routes["/private/page"] = Route(body=b"article")
    server.routes["/public/page"] = Route(body=b"article")
    async with Fetcher(settings()) as f:
        with pytest.raises(RobotsDisallowedError):
            await f.get(server.url("/private/page"), respect_robots=True)
        assert (await f.get(server.url("/public/page"), respect_robots=True)).content == b"article"
        assert (await f.get(server.url("/private/page"))).content == b"article"  # feeds/APIs ignore robots
    assert len(server.hits("/robots.txt")) == 1  # cached per host


@pytest.mark.parametrize(("status", "allowed"), [(404, True), (410, True), (500, False), (503, False)])
async def test_robots_missing_or_unavailable(server: TestServer, status: int, allowed: bool) -> None:
    server.routes["/robots.txt"] = Route(status)
    server.routes["/page"] = Route(body=b"article")
    async with Fetcher(settings(retries=0)) as f:
        if allowed:
            assert (await f.get(server.url("/page"), respect_robots=True)).content == b"article"
        else:
            with pytest.raises(RobotsDisallowedError):
                await f.get(server.url("/page"), respect_robots=True)


ROBOTS = """
User-agent: *
Disallow: /

User-agent: NewsDesk
Disallow: /drafts/
Allow: /drafts/public$
Disallow: /*.pdf$
Disallow: /search?
"""


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/", True),
        ("/story/1", True),
        ("/drafts/x", False),
        ("/drafts/public", True),
        ("/drafts/public/more", False),
        ("/files/report.pdf", False),
        ("/files/report.pdf?x=1", True),
        ("/search?q=ai", False),
        ("/robots.txt", True),
    ],
)
def test_robots_rules(path: str, allowed: bool) -> None:
    assert parse_robots(ROBOTS, "newsdesk").allowed(path) is allowed


def test_robots_falls_back_to_star_group() -> None:
    assert parse_robots(ROBOTS, "otherbot").allowed("/story") is False
    assert parse_robots("", "newsdesk").allowed("/anything") is True


async def test_fetch_error_messages_are_one_line(server: TestServer) -> None:
    server.routes["/reset"] = Route(reset=True)
    async with Fetcher(settings(retries=0)) as f:
        with pytest.raises(FetchError) as info:
            await f.get(server.url("/reset"))
    assert "\n" not in str(info.value) and server.url("/reset") in str(info.value)


# -- SSRF over a real loopback server ----------------------------------------


@pytest.mark.parametrize("target", ["http://169.254.169.254/latest/meta-data/", "http://[::ffff:169.254.169.254]/", "http://[fd00:ec2::254]/"])
async def test_redirect_to_metadata_refused_even_when_private_hosts_are_allowed(server: TestServer, target: str) -> None:
    server.routes["/feed"] = Route(302, headers={"Location": target})
    async with Fetcher(settings()) as f:
        with pytest.raises(BlockedAddressError, match="metadata"):
            await f.get(server.url("/feed"))
    assert [r.path for r in server.requests] == ["/feed"]

