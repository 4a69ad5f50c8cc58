"""Refuse requests to addresses a feed URL should never reach (SSRF guard).

Source lists and redirects come from the outside world, so a feed or a link
inside a post could point the nightly run at the metadata service of the cloud
it runs in, or at a database on the private network. The host is resolved
here (off the event loop) and every address it resolves to must be public;
the check runs before the first request and again after every redirect, and
connections are opened only to the addresses it vetted
(`extractors.guarded_connect`), so a name that resolves differently a moment
later (DNS rebinding) cannot slip a private address in between.
"""
from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from typing import Awaitable, Callable
from urllib.parse import urlsplit

__all__ = ["UnsafeURL", "ResolutionFailed", "HostGuard", "blocked_reason", "refusal", "embedded_ipv4", "LOOPBACK",
           "METADATA_ADDRESSES"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# (host, port) -> the addresses it resolves to, as text; the system resolver by default.
Resolver = Callable[[str, int], Awaitable[list[str]]]

# Cloud instance metadata endpoints (AWS, GCP, Azure, OpenStack, Alibaba,
# Oracle). Most are link-local already; listed so the reason is explicit
# and so the IPv6 and non-link-local ones are refused too.
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",
        "169.254.170.2",
        "169.254.169.253",
        "fd00:ec2::254",
        "fd00:ec2::23",
        "100.100.100.200",
        "168.63.129.16",
        "192.0.0.192",
    )
)
_SCHEMES = {"http", "https"}
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
# IPv6 forms that carry an IPv4 address inside (RFC 6052 NAT64, RFC 4291 IPv4-compatible):
# a gateway translates them to the IPv4 address, metadata service included.
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/96"))
_V4_COMPATIBLE = ipaddress.ip_network("::/96")

LOOPBACK = "loopback"
"""`allow_private="loopback"`: only 127.0.0.0/8 and ::1 may be reached (tests, the demo); nothing else, public or private."""
PrivatePolicy = bool | str  # False: public only; True: private too; "loopback": loopback only


class UnsafeURL(Exception):
    """The URL may not be fetched; `reason` says why in one line."""

    def __init__(self, url: str, reason: str):
        super().__init__(f"{reason} ({url})")
        self.url = url
        self.reason = reason


class ResolutionFailed(UnsafeURL):
    """The host did not resolve: a connection problem, not a policy refusal."""


def embedded_ipv4(ip: IPAddress) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address stands for: mapped, 6to4, Teredo, NAT64, IPv4-compatible."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return []
    found: list[ipaddress.IPv4Address] = []
    if ip.ipv4_mapped is not None:
        found.append(ip.ipv4_mapped)
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip.teredo is not None:
        found.extend(ip.teredo)
    low32 = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if any(ip in net for net in _NAT64):
        found.append(low32)
    elif ip in _V4_COMPATIBLE and int(ip) > 1:  # not :: or ::1
        found.append(low32)
    return found


def blocked_reason(ip: IPAddress) -> str | None:
    """Why this address is off-limits, or None when it is public."""
    if ip in METADATA_ADDRESSES:
        return "cloud metadata address"
    for inner_ip in embedded_ipv4(ip):
        inner = blocked_reason(inner_ip)
        if inner:
            return inner
    checks = (
        ("is_unspecified", "unspecified address"),
        ("is_loopback", "loopback address"),
        ("is_link_local", "link-local address"),
        ("is_multicast", "multicast address"),
        ("is_reserved", "reserved address"),
        ("is_private", "private address"),
    )
    for attr, reason in checks:
        if getattr(ip, attr):
            return reason
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return "shared (carrier-grade NAT) address"
    if not ip.is_global:
        return "non-global address"
    return None


def _is_metadata(ip: IPAddress) -> bool:
    return ip in METADATA_ADDRESSES or any(inner in METADATA_ADDRESSES for inner in embedded_ipv4(ip))


def _is_loopback(ip: IPAddress) -> bool:
    """127.0.0.0/8 or ::1 itself (not an IPv6 form that a gateway would translate)."""
    return ip.is_loopback


def refusal(ip: IPAddress, allow_private: PrivatePolicy = False) -> str | None:
    """Why `ip` may not be reached under this policy, or None.

    The metadata service is refused under every policy, in every IPv6 form
    (mapped, 6to4, Teredo, NAT64): it hands out credentials.
    """
    if _is_metadata(ip):
        return "cloud metadata address"
    if allow_private == LOOPBACK:
        return None if _is_loopback(ip) else "address outside loopback (private hosts allowed: loopback only)"
    if allow_private:
        return None
    return blocked_reason(ip)


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]").split("%")[0])
        return True
    except ValueError:
        return False


class HostGuard:
    """Resolves hosts and vets their addresses, with a short cache per host."""

    def __init__(
        self,
        allow_private: PrivatePolicy = False,
        cache_ttl: float = 300.0,
        resolve_names: bool = True,
        resolver: Resolver | None = None,
    ):
        self.allow_private = allow_private
        self._resolver = resolver or _system_resolver
        # False when requests never reach the network (a mock transport in
        # tests): IP literals are still vetted, names are not looked up.
        self.resolve_names = resolve_names
        self.cache_ttl = cache_ttl
        self._cache: dict[tuple[str, int], tuple[float, list[IPAddress]]] = {}

    async def check(self, url: str) -> None:
        """Raise UnsafeURL unless `url` is http(s) and resolves only to allowed addresses."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise UnsafeURL(url, f"invalid URL: {exc}") from None
        if parts.scheme.lower() not in _SCHEMES:
            raise UnsafeURL(url, f"scheme {parts.scheme or '(none)'!r} not allowed")
        host = parts.hostname
        if not host:
            raise UnsafeURL(url, "URL has no host")
        port = port or (443 if parts.scheme.lower() == "https" else 80)
        if not self.resolve_names and not _is_ip_literal(host):
            return
        await self.allowed_addresses(host, port, url)

    async def allowed_addresses(self, host: str, port: int, url: str = "") -> list[IPAddress]:
        """Every address of `host`, all vetted; UnsafeURL if any one is refused."""
        addresses = await self.resolve(host, port, url)
        for ip in addresses:
            # Allowing private hosts (demo, tests, an intranet feed) never
            # opens the cloud metadata service: it hands out credentials.
            reason = refusal(ip, self.allow_private)
            if reason:
                raise UnsafeURL(url or host, f"blocked: {host} resolves to {reason} {ip}")
        return addresses

    async def resolve(self, host: str, port: int, url: str = "") -> list[IPAddress]:
        """Every address `host` resolves to (IP literals need no lookup)."""
        try:
            return [ipaddress.ip_address(host.strip("[]").split("%")[0])]
        except ValueError:
            pass
        key = (host.lower(), port)
        hit = self._cache.get(key)
        now = time.monotonic()
        if hit and now - hit[0] < self.cache_ttl:
            return hit[1]
        try:
            found = await self._resolver(host, port)
        except (socket.gaierror, UnicodeError, OSError) as exc:
            raise ResolutionFailed(url or host, f"cannot resolve {host}: {exc}") from None
        addrs: list[IPAddress] = []
        for text in found:
            try:
                ip = ipaddress.ip_address(text.split("%")[0])
            except ValueError:
                continue
            if ip not in addrs:
                addrs.append(ip)
        if not addrs:
            raise ResolutionFailed(url or host, f"cannot resolve {host}: no addresses")
        self._cache[key] = (now, addrs)
        return addrs


async def _system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]
