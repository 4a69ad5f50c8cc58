"""Open connections only to addresses the SSRF guard has vetted.

Why: checking a URL's host and then letting the HTTP library resolve the
name again leaves a window: a hostile DNS server can answer with a public
address for the check and a private one for the connect (DNS rebinding).
This network backend asks the guard for the host's vetted addresses (its
cache answers, so there is no second lookup) and connects to those IPs
directly. TLS still verifies the certificate against the host name, since
httpcore sends the original name as SNI.
"""
from __future__ import annotations

from typing import Iterable

import httpcore2
import httpx2

from extractors.netguard import HostGuard

__all__ = ["GuardedBackend", "use_guarded_backend"]


class GuardedBackend(httpcore2.AsyncNetworkBackend):
    """An httpcore network backend whose TCP connects go to vetted addresses only."""

    def __init__(self, guard: HostGuard, inner: httpcore2.AsyncNetworkBackend | None = None):
        self._guard = guard
        self._inner = inner or httpcore2.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        addresses = await self._guard.allowed_addresses(host, port)  # raises UnsafeURL
        failure: Exception | None = None
        for ip in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(ip), port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore2.ConnectError, httpcore2.ConnectTimeout) as exc:
                failure = exc  # try the host's next address, as the system resolver's order says
        assert failure is not None  # allowed_addresses never returns an empty list
        raise failure

    async def connect_unix_socket(self, *args: object, **kwargs: object) -> httpcore2.AsyncNetworkStream:
        raise httpcore2.ConnectError("unix sockets are not used for fetching")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def use_guarded_backend(transport: httpx2.AsyncHTTPTransport, guard: HostGuard) -> None:
    """Make `transport`'s connection pool connect through a GuardedBackend.

    httpx does not take a network backend, so it is set on its httpcore pool;
    if a new httpx release moves that attribute this fails loudly, not silently.
    """
    pool = getattr(transport, "_pool", None)
    if not isinstance(pool, httpcore2.AsyncConnectionPool) or not hasattr(pool, "_network_backend"):
        raise RuntimeError("httpx2 internals changed: cannot pin connections to vetted addresses")
    pool._network_backend = GuardedBackend(guard)
