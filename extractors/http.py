"""The one HTTP layer every fetch goes through (feeds, APIs, article pages, the LLM).

Why it is more than `client.get`: the nightly run fetches hundreds of sources
from hosts we do not control. It must be polite (a real User-Agent, a few
connections per host with spacing, conditional GETs, Retry-After, robots.txt
for article pages), safe (no requests to private or metadata addresses, even
via a redirect; bounded size after decompression; bounded time) and must turn
every failure into one `FetchError` an editor can read.
"""
from __future__ import annotations

import asyncio
import json
import random
import ssl
import time
import zlib
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any, AsyncContextManager, Mapping, Protocol
from urllib.parse import urljoin, urlsplit

import httpx2
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt

from extractors.guarded_connect import use_guarded_backend
from extractors.netguard import HostGuard, ResolutionFailed, UnsafeURL
from extractors.pools import PerHostTransport

PROJECT_URL = "https://github.com/newsdesk-ai/newsdesk"
ROBOTS_TOKEN = "newsdesk"

__all__ = [
    "PROJECT_URL",
    "ROBOTS_TOKEN",
    "HttpSettings",
    "FetchResponse",
    "FetchError",
    "BlockedAddressError",
    "TooLargeError",
    "TooManyRedirectsError",
    "FetchTimeoutError",
    "ConnectionFailedError",
    "HTTPStatusError",
    "RobotsDisallowedError",
    "build_async_client",
    "Fetcher",
    "SharedHostLimit",
]


def _version() -> str:
    try:
        return version("newsdesk")
    except PackageNotFoundError:  # running from a source tree
        return "0"


@dataclass
class HttpSettings:
    """Politeness and safety limits; defaults suit a nightly run of a few hundred sources.

    Pool sizes were measured (bench/collect.py): one httpx pool re-probes
    every pooled connection on each request, so a single 128-connection pool
    cost ~3 ms CPU per request; per-host pools (extractors.pools) cost ~1 ms,
    which is httpx's own floor. 500 conditional GETs over 50 hosts at 100 ms
    latency: 96 in flight took 0.65 s warm / 0.85 s on fresh connections,
    against 1.17 s / 1.37 s at 48. In the whole collect stage (bench/collect_stage.py,
    fresh connections, alternating runs) 200 in flight took the all-304 night from
    0.77-0.91 s to 0.58-0.74 s, night 1 unchanged; per-host limits still bound each host.
    `total_timeout` bounds one attempt of one hop once it has its slot.
    """

    user_agent: str = field(default_factory=lambda: f"newsdesk/{_version()} (+{PROJECT_URL})")
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    total_timeout: float = 60.0
    max_bytes: int = 10_000_000
    max_redirects: int = 5
    per_host_concurrency: int = 4
    per_host_delay: float = 0.0
    global_concurrency: int = 200
    allow_private_hosts: bool | str = False  # True: private addresses too; "loopback": 127.0.0.0/8 and ::1 only
    retries: int = 3
    backoff_base: float = 0.5
    max_retry_after: float = 60.0
    backoff_max: float = 30.0
    keepalive_expiry: float = 60.0
    pool_connections: int = 256  # idle keep-alive connections over all hosts
    http2: bool = True


@dataclass
class FetchResponse:
    url: str  # final URL after redirects
    status: int
    headers: Mapping[str, str]
    content: bytes
    not_modified: bool = False
    redirects: tuple[str, ...] = ()  # URLs that answered with a redirect, in order

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("last-modified")

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def json(self) -> Any:
        return json.loads(self.content)


class FetchError(Exception):
    """A fetch that failed for a reason worth showing an editor."""

    def __init__(self, url: str, reason: str):
        super().__init__(f"{reason} ({url})")
        self.url = url
        self.reason = reason


class BlockedAddressError(FetchError):
    """The URL's scheme or resolved address is not allowed (SSRF guard)."""


class TooLargeError(FetchError):
    """The body (after decompression) exceeded `max_bytes`."""


class TooManyRedirectsError(FetchError):
    """A redirect chain was longer than `max_redirects` or looped."""


class FetchTimeoutError(FetchError):
    """Connect, read or total time ran out."""


class ConnectionFailedError(FetchError):
    """DNS, connect, reset or truncated response: the transport failed."""


class RobotsDisallowedError(FetchError):
    """robots.txt forbids our token this URL (article pages only)."""


class HTTPStatusError(FetchError):
    def __init__(self, url: str, status: int, retry_after: float | None = None, detail: str = ""):
        super().__init__(url, f"HTTP {status}" + (f" ({detail})" if detail else ""))
        self.status = status
        self.retry_after = retry_after


def build_async_client(
    settings: HttpSettings, transport: httpx2.AsyncBaseTransport | None = None, guard: HostGuard | None = None
) -> httpx2.AsyncClient:
    """The one client factory, so the fetcher and the LLM share timeouts and test transports.

    With a `guard`, connections go only to the addresses it vetted (see
    extractors.guarded_connect); the LLM's client has none, since its server
    is often a local one the operator chose.
    """
    # The Fetcher's semaphores bound requests in flight. Each host gets its
    # own small pool (see extractors.pools); `pool_connections` bounds the
    # idle keep-alive connections kept over all hosts.
    pool = max(settings.global_concurrency, settings.pool_connections)
    limits = httpx2.Limits(
        max_connections=pool,
        max_keepalive_connections=pool,
        keepalive_expiry=settings.keepalive_expiry,
    )
    if transport is None:

        def host_pool(ssl_context: ssl.SSLContext) -> httpx2.AsyncHTTPTransport:
            pool = httpx2.AsyncHTTPTransport(verify=ssl_context, http2=settings.http2, limits=limits)
            if guard is not None:
                use_guarded_backend(pool, guard)
            return pool

        per_host = max(1, settings.per_host_concurrency)
        transport = PerHostTransport(host_pool, max_pools=max(1, settings.pool_connections // per_host))
    return httpx2.AsyncClient(
        timeout=httpx2.Timeout(
            settings.read_timeout,
            connect=settings.connect_timeout,
            pool=max(settings.total_timeout, settings.read_timeout),
        ),
        headers={"User-Agent": settings.user_agent},
        transport=transport,
        http2=settings.http2,
        limits=limits,
        follow_redirects=True,  # the Fetcher overrides this per request and follows hops itself
        max_redirects=settings.max_redirects,
    )


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


class _Decoder:
    """Decompresses gzip/deflate bodies with a hard cap on the output size (gzip bombs)."""

    def __init__(self, encoding: str):
        enc = encoding.strip().lower()
        self._raw_deflate_fallback = False
        if enc in ("gzip", "x-gzip"):
            self._z: Any = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif enc == "deflate":
            self._z = zlib.decompressobj()
            self._raw_deflate_fallback = True
        elif enc in ("", "identity"):
            self._z = None
        else:
            raise ValueError(f"unsupported content-encoding {encoding!r}")

    def feed(self, data: bytes, room: int) -> bytes:
        """At most `room + 1` decoded bytes for `data` (the +1 proves it overflowed)."""
        if self._z is None:
            return data
        try:
            out = self._z.decompress(data, room + 1)
        except zlib.error:
            if not self._raw_deflate_fallback:
                raise
            # Some servers send raw deflate without the zlib header.
            self._z = zlib.decompressobj(-zlib.MAX_WBITS)
            self._raw_deflate_fallback = False
            out = self._z.decompress(data, room + 1)
        if len(out) <= room and self._z.unconsumed_tail:
            out += self._z.decompress(self._z.unconsumed_tail, room + 1 - len(out))
        return out

    def flush(self) -> bytes:
        return self._z.flush() if self._z is not None else b""


class _HostGate:
    """At most N requests at a time to one host, started at least `delay` apart."""

    def __init__(self, concurrency: int, delay: float):
        self._sem = asyncio.Semaphore(max(1, concurrency))
        self._delay = delay
        self._next_start = 0.0
        self._lock = asyncio.Lock()

    def hold_off(self, seconds: float) -> None:
        """Make every request to this host wait (Retry-After applies to the host, not one URL)."""
        self._next_start = max(self._next_start, time.monotonic() + seconds)

    async def __aenter__(self) -> None:
        await self._sem.acquire()
        try:
            async with self._lock:
                wait = self._next_start - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                self._next_start = max(self._next_start, time.monotonic()) + self._delay
        except BaseException:
            self._sem.release()
            raise

    async def __aexit__(self, *exc: object) -> None:
        self._sem.release()


def _is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, ConnectionFailedError):
        return True
    if isinstance(exc, HTTPStatusError):
        if exc.status >= 500 and exc.status != 501:
            return True
        return exc.status == 429 and exc.retry_after is not None
    return False


class SharedHostLimit(Protocol):
    """A per-host limit shared with other processes (e.g. storage.hostlimits.DatabaseHostLimit).

    The fetcher's own per-host gate only bounds this process; with one of these, a request also
    holds one of the host's shared slots, so the limit holds over every worker of a night.
    """

    def slot(self, host: str) -> AsyncContextManager[None]: ...

    async def hold_off(self, host: str, seconds: float) -> None: ...


_REDIRECTS = {301, 302, 303, 307, 308}
_DROP_ON_NEW_HOST = {"authorization", "cookie", "proxy-authorization"}


class Fetcher:
    """Polite async GETs with conditional requests."""

    def __init__(
        self,
        settings: HttpSettings | None = None,
        transport: httpx2.AsyncBaseTransport | None = None,
        guard: HostGuard | None = None,
        host_limit: SharedHostLimit | None = None,
    ):
        self.settings = settings or HttpSettings()
        self.host_limit = host_limit
        on_network = transport is None or isinstance(transport, httpx2.AsyncHTTPTransport)
        self.guard = guard or HostGuard(allow_private=self.settings.allow_private_hosts, resolve_names=on_network)
        self.client = build_async_client(self.settings, transport, self.guard)
        self._global = asyncio.Semaphore(max(1, self.settings.global_concurrency))
        self._gates: dict[str, _HostGate] = {}
        self._robots: Any = None

    # -- public -------------------------------------------------------------

    async def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        headers: Mapping[str, str] | None = None,
        respect_robots: bool = False,
    ) -> FetchResponse:
        """GET `url`, following up to `max_redirects` hops, each one vetted.

        A 304 answer to If-None-Match/If-Modified-Since comes back with
        `not_modified=True` and no body. Any failure raises a FetchError subclass.
        """
        req_headers = {"Accept-Encoding": "gzip, deflate"}
        req_headers.update(headers or {})
        if etag:
            req_headers["If-None-Match"] = etag
        if last_modified:
            req_headers["If-Modified-Since"] = last_modified
        current = url
        seen: list[str] = []
        while True:
            await self._vet(current)
            if respect_robots:
                await self._check_robots(current)
            resp = await self._with_retries(current, req_headers)
            if resp.status not in _REDIRECTS:
                resp.url = current
                resp.redirects = tuple(seen)
                return resp
            location = resp.headers.get("location")
            if not location:
                raise HTTPStatusError(current, resp.status, detail="redirect without Location")
            seen.append(current)
            target = urljoin(current, location.strip())
            if target in seen:
                raise TooManyRedirectsError(url, f"redirect loop via {target}")
            if len(seen) > self.settings.max_redirects:
                raise TooManyRedirectsError(url, f"more than {self.settings.max_redirects} redirects")
            if _host_key(target) != _host_key(current):
                req_headers = {k: v for k, v in req_headers.items() if k.lower() not in _DROP_ON_NEW_HOST}
            current = target

    async def aclose(self) -> None:
        await self.client.aclose()

    async def __aenter__(self) -> "Fetcher":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- internals ----------------------------------------------------------

    async def _vet(self, url: str) -> None:
        try:
            await self.guard.check(url)
        except UnsafeURL as exc:
            raise _fetch_error(url, exc) from None

    async def _check_robots(self, url: str) -> None:
        if self._robots is None:
            from extractors.robots import RobotsCache  # robots fetches through us

            self._robots = RobotsCache(self)
        if not await self._robots.allowed(url):
            raise RobotsDisallowedError(url, "disallowed by robots.txt")

    def _gate(self, url: str) -> _HostGate:
        key = _host_key(url)
        gate = self._gates.get(key)
        if gate is None:
            gate = self._gates[key] = _HostGate(self.settings.per_host_concurrency, self.settings.per_host_delay)
        return gate

    async def _with_retries(self, url: str, headers: Mapping[str, str]) -> FetchResponse:
        s = self.settings

        def wait(state: Any) -> float:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, HTTPStatusError) and exc.retry_after is not None:
                return exc.retry_after
            backoff = min(s.backoff_max, s.backoff_base * 2 ** (state.attempt_number - 1))
            return backoff + random.uniform(0, backoff)

        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(s.retries + 1),
            wait=wait,
            retry=retry_if_exception(_is_retryable),
            reraise=True,
        ):
            with attempt:
                return await self._send_once(url, headers)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send_once(self, url: str, headers: Mapping[str, str]) -> FetchResponse:
        gate = self._gate(url)
        async with gate:
            if self.host_limit is None:
                async with self._global:
                    return await self._timed_exchange(url, headers, gate)
            async with self.host_limit.slot(_host_key(url)), self._global:  # the slot before a global place
                return await self._timed_exchange(url, headers, gate)

    async def _timed_exchange(self, url: str, headers: Mapping[str, str], gate: _HostGate) -> FetchResponse:
        try:
            async with asyncio.timeout(self.settings.total_timeout):
                return await self._exchange(url, headers, gate)
        except TimeoutError:
            raise FetchTimeoutError(url, f"no complete response within {self.settings.total_timeout:g}s") from None

    async def _exchange(self, url: str, headers: Mapping[str, str], gate: _HostGate) -> FetchResponse:
        try:
            request = self.client.build_request("GET", url, headers=headers)
            resp = await self.client.send(request, stream=True, follow_redirects=False)
        except (httpx2.TransportError, OSError, UnsafeURL) as exc:  # UnsafeURL: the guarded backend, at connect
            raise _fetch_error(url, exc) from None
        except httpx2.InvalidURL as exc:
            raise FetchError(url, f"invalid URL: {exc}") from None
        try:
            hdrs = {k.lower(): v for k, v in resp.headers.items()}
            status = resp.status_code
            if status == 304:
                await _drain(resp)
                return FetchResponse(url, 304, hdrs, b"", not_modified=True)
            if status in _REDIRECTS:
                await _drain(resp)
                return FetchResponse(url, status, hdrs, b"")
            if status >= 400:
                await _drain(resp)
                retry_after = None
                if status in (429, 503):
                    retry_after = parse_retry_after(hdrs.get("retry-after"))
                    if retry_after is not None:
                        if retry_after > self.settings.max_retry_after:
                            raise HTTPStatusError(
                                url, status, None, f"Retry-After {retry_after:.0f}s exceeds {self.settings.max_retry_after:g}s cap"
                            )
                        gate.hold_off(retry_after)
                        if self.host_limit is not None:
                            await self.host_limit.hold_off(_host_key(url), retry_after)
                raise HTTPStatusError(url, status, retry_after)
            content = await self._read_body(resp, url, hdrs)
            return FetchResponse(url, status, hdrs, content)
        finally:
            await resp.aclose()

    async def _read_body(self, resp: httpx2.Response, url: str, hdrs: Mapping[str, str]) -> bytes:
        limit = self.settings.max_bytes
        declared = hdrs.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise TooLargeError(url, f"Content-Length {declared} exceeds {limit} bytes")
        encodings = [e for e in hdrs.get("content-encoding", "").split(",") if e.strip()]
        if len(encodings) > 1:
            raise FetchError(url, f"unsupported stacked content-encoding {hdrs['content-encoding']!r}")
        try:
            decoder = _Decoder(encodings[0] if encodings else "")
        except ValueError as exc:
            raise FetchError(url, str(exc)) from None
        chunks: list[bytes] = []
        size = 0
        if resp.is_stream_consumed or getattr(resp, "_content", None) is not None:
            # In-memory responses (mock transports in tests) arrive already read.
            content = resp.content
            if len(content) > limit:
                raise TooLargeError(url, f"body exceeds {limit} bytes")
            return content
        try:
            async for raw in resp.aiter_raw():
                out = decoder.feed(raw, limit - size)
                size += len(out)
                if size > limit:
                    raise TooLargeError(url, f"body exceeds {limit} bytes" + (" after decompression" if encodings else ""))
                chunks.append(out)
            tail = decoder.flush()
            size += len(tail)
            if size > limit:
                raise TooLargeError(url, f"body exceeds {limit} bytes after decompression")
            chunks.append(tail)
        except (httpx2.TransportError, OSError) as exc:
            raise _fetch_error(url, exc) from None
        except zlib.error as exc:
            raise FetchError(url, f"corrupt compressed body: {exc}") from None
        return b"".join(chunks)


async def _drain(resp: httpx2.Response, limit: int = 65_536) -> None:
    """Read a small unwanted body (304, redirect, error page) to its end.

    Closing a streamed response before its end closes the connection, so
    without this every 304 of a nightly run would pay for a new connection.
    A body larger than `limit` is not worth reading: the connection goes.
    """
    if resp.is_stream_consumed or getattr(resp, "_content", None) is not None:
        return
    size = 0
    try:
        async for raw in resp.aiter_raw():
            size += len(raw)
            if size > limit:
                return
    except (httpx2.TransportError, OSError):
        return  # the status line is what we needed; a broken body changes nothing


def _host_key(url: str) -> str:
    try:
        parts = urlsplit(url)
        return f"{(parts.hostname or '').lower()}:{parts.port or ''}"
    except ValueError:
        return url


def _fetch_error(url: str, exc: BaseException) -> FetchError:
    """The FetchError an editor sees for a refused address or a failed send or read."""
    if isinstance(exc, httpx2.TimeoutException):
        return FetchTimeoutError(url, f"{_timeout_kind(exc)} timed out")
    if isinstance(exc, ResolutionFailed):  # the name did not resolve: a connection problem
        return ConnectionFailedError(url, exc.reason)
    if isinstance(exc, UnsafeURL):
        return BlockedAddressError(url, exc.reason)
    return ConnectionFailedError(url, _describe(exc))


def _timeout_kind(exc: Exception) -> str:
    return {
        httpx2.ConnectTimeout: "connect",
        httpx2.ReadTimeout: "read",
        httpx2.WriteTimeout: "write",
        httpx2.PoolTimeout: "connection pool",
    }.get(type(exc), "request")


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    kind = {
        httpx2.ConnectError: "connection failed",
        httpx2.ReadError: "connection reset while reading",
        httpx2.RemoteProtocolError: "server broke the protocol (truncated or reset)",
        httpx2.WriteError: "connection failed while sending",
    }.get(type(exc), type(exc).__name__)
    return f"{kind}: {text}" if text else kind
