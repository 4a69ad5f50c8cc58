"""Connection reuse through the per-host pools, against real loopback servers."""
from __future__ import annotations

import asyncio

import pytest

from extractors.http import Fetcher, HTTPStatusError, HttpSettings
from tests.httpserver import Recorded, Route, TestServer


def settings(**kw: object) -> HttpSettings:
    base: dict[str, object] = dict(allow_private_hosts="loopback", retries=0, http2=False)
    base.update(kw)
    return HttpSettings(**base)  # type: ignore[arg-type]


def not_modified(req: Recorded) -> Route:
    if req.headers.get("if-none-match") == '"v1"':
        return Route(304, headers={"ETag": '"v1"'})
    return Route(body=b"<rss/>", headers={"ETag": '"v1"'})


async def test_304_redirect_and_error_answers_keep_the_connection() -> None:
    with TestServer() as server:
        server.routes["/feed"] = not_modified
        server.routes["/moved"] = Route(301, body=b"moved", headers={"Location": "/feed"})
        server.routes["/gone"] = Route(410, body=b"gone for good")
        async with Fetcher(settings()) as f:
            await f.get(server.url("/feed"))
            assert (await f.get(server.url("/feed"), etag='"v1"')).not_modified
            assert (await f.get(server.url("/moved"), etag='"v1"')).not_modified
            with pytest.raises(HTTPStatusError):
                await f.get(server.url("/gone"))
            await f.get(server.url("/feed"))
    assert len({r.peer for r in server.requests}) == 1, [r.peer for r in server.requests]


async def test_hosts_beyond_the_pool_budget_still_work_concurrently() -> None:
    with TestServer() as a, TestServer() as b, TestServer() as c:
        for srv in (a, b, c):
            srv.routes["/x"] = Route(body=b"ok", delay=0.05)
        urls = [srv.url("/x") for srv in (a, b, c)] * 4
        async with Fetcher(settings(pool_connections=1, per_host_concurrency=1)) as f:
            for _ in range(2):
                bodies = await asyncio.gather(*(f.get(u) for u in urls))
                assert [r.content for r in bodies] == [b"ok"] * len(urls)
