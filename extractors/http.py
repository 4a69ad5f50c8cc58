"""The one HTTP layer every fetch goes through (feeds, APIs, article pages, the LLM).

MINIMAL FIRST VERSION: the signatures here are the contract; the politeness
machinery (per-host limits, robots.txt, SSRF checks after DNS, streamed size
limits, Retry-After, tenacity backoff) is filled in behind them.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Mapping

import httpx2

PROJECT_URL = "https://github.com/newsdesk-ai/newsdesk"


def _version() -> str:
    try:
        return version("newsdesk")
    except PackageNotFoundError:  # running from a source tree
        return "0"


@dataclass
class HttpSettings:
    """Politeness and safety limits; defaults suit a nightly run of a few hundred sources."""

    user_agent: str = field(default_factory=lambda: f"newsdesk/{_version()} (+{PROJECT_URL})")
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    total_timeout: float = 60.0
    max_bytes: int = 10_000_000
    max_redirects: int = 5
    per_host_concurrency: int = 4
    per_host_delay: float = 0.0
    global_concurrency: int = 48
    allow_private_hosts: bool = False
    retries: int = 3
    backoff_base: float = 0.5
    max_retry_after: float = 60.0


@dataclass
class FetchResponse:
    url: str  # final URL after redirects
    status: int
    headers: Mapping[str, str]
    content: bytes
    not_modified: bool = False

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("last-modified")

    def json(self) -> Any:
        return json.loads(self.content)


class FetchError(Exception):
    """A fetch that failed for a reason worth showing an editor."""

    def __init__(self, url: str, reason: str):
        super().__init__(f"{reason} ({url})")
        self.url = url
        self.reason = reason


class HTTPStatusError(FetchError):
    def __init__(self, url: str, status: int):
        super().__init__(url, f"HTTP {status}")
        self.status = status


def build_async_client(settings: HttpSettings, transport: httpx2.AsyncBaseTransport | None = None) -> httpx2.AsyncClient:
    """The one client factory, so the fetcher and the LLM share timeouts and test transports."""
    return httpx2.AsyncClient(
        timeout=httpx2.Timeout(settings.read_timeout, connect=settings.connect_timeout),
        headers={"User-Agent": settings.user_agent},
        transport=transport,
        follow_redirects=True,
        max_redirects=settings.max_redirects,
    )


class Fetcher:
    """Polite async GETs with conditional requests."""

    def __init__(self, settings: HttpSettings | None = None, transport: httpx2.AsyncBaseTransport | None = None):
        self.settings = settings or HttpSettings()
        self.client = build_async_client(self.settings, transport)

    async def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        headers: Mapping[str, str] | None = None,
        respect_robots: bool = False,
    ) -> FetchResponse:
        req_headers = dict(headers or {})
        if etag:
            req_headers["If-None-Match"] = etag
        if last_modified:
            req_headers["If-Modified-Since"] = last_modified
        try:
            resp = await self.client.get(url, headers=req_headers)
        except httpx2.HTTPError as exc:
            raise FetchError(url, f"{type(exc).__name__}: {exc}") from exc
        if resp.status_code == 304:
            return FetchResponse(str(resp.url), 304, dict(resp.headers), b"", not_modified=True)
        if resp.status_code >= 400:
            raise HTTPStatusError(url, resp.status_code)
        return FetchResponse(str(resp.url), resp.status_code, {k.lower(): v for k, v in resp.headers.items()}, resp.content)

    async def aclose(self) -> None:
        await self.client.aclose()

    async def __aenter__(self) -> "Fetcher":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
