"""Who is asking: the peer address, or the client a configured reverse proxy forwarded for.

`X-Forwarded-For` is believed only when the connection comes from a proxy the
operator listed (NEWSDESK_TRUSTED_PROXIES, default none): otherwise anyone can
send the header and pick the address the login throttle counts against.
"""
from __future__ import annotations

import ipaddress
from typing import Iterable, Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_proxies(values: Iterable[str]) -> tuple[Network, ...]:
    """Addresses or CIDR ranges of trusted proxies; ValueError names a bad one."""
    nets = []
    for value in values:
        value = value.strip()
        if not value:
            continue
        try:
            nets.append(ipaddress.ip_network(value, strict=False))
        except ValueError:
            raise ValueError(f"{value!r} is not an IP address or range (e.g. 10.0.0.5 or 10.0.0.0/24)") from None
    return tuple(nets)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def _trusted(text: str, proxies: Sequence[Network]) -> bool:
    ip = _ip(text)
    return ip is not None and any(ip in net for net in proxies)


def real_client(peer: str | None, forwarded_for: Sequence[str], proxies: Sequence[Network]) -> str:
    """The client's address: the peer, unless the peer is a trusted proxy.

    Behind trusted proxies the client is the right-most `X-Forwarded-For`
    entry that is not itself a trusted proxy: entries further left were
    written by the client and prove nothing.
    """
    if not peer:
        return "unknown"
    if not proxies or not _trusted(peer, proxies):
        return peer
    hops = [h.strip() for header in forwarded_for for h in header.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, proxies):
            return hop[:100]
    return hops[0][:100] if hops else peer
