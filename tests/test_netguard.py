"""The address policy: the metadata service in every IPv6 disguise, and the loopback-only mode tests and the demo use."""
from __future__ import annotations

import ipaddress

import pytest

from extractors.http import BlockedAddressError, Fetcher, HttpSettings
from extractors.netguard import LOOPBACK, HostGuard, UnsafeURL, blocked_reason, refusal
from newsdesk.config import ConfigError, load_settings

# 169.254.169.254 written as IPv6 forms a gateway translates back to it.
METADATA_DISGUISES = [
    "64:ff9b::a9fe:a9fe",  # NAT64 well-known prefix (RFC 6052)
    "64:ff9b::169.254.169.254",
    "64:ff9b:1::a9fe:a9fe",  # NAT64 local-use prefix (RFC 8215), /96 layout
    "2002:a9fe:a9fe::",  # 6to4
    "2002:a9fe:a9fe:1234::1",
    "2001:0:4136:e378:8000:63bf:5601:5601",  # Teredo, client 169.254.169.254 (obfuscated)
    "::a9fe:a9fe",  # IPv4-compatible (deprecated, still routed by some stacks)
    "::ffff:169.254.169.254",  # IPv4-mapped
]


@pytest.mark.parametrize("policy", [False, True, LOOPBACK], ids=["public-only", "private-allowed", "loopback-only"])
@pytest.mark.parametrize("address", METADATA_DISGUISES)
def test_metadata_address_refused_in_every_ipv6_form_under_every_policy(address: str, policy) -> None:
    reason = refusal(ipaddress.ip_address(address), policy)
    assert reason is not None and "metadata" in reason, (address, policy, reason)


@pytest.mark.parametrize("policy", [True, LOOPBACK])
@pytest.mark.parametrize("address", METADATA_DISGUISES[:4])
async def test_guard_refuses_disguised_metadata_even_with_private_hosts_allowed(address: str, policy) -> None:
    with pytest.raises(UnsafeURL, match="metadata"):
        await HostGuard(allow_private=policy).check(f"http://[{address}]/latest/meta-data/")


@pytest.mark.parametrize(
    ("address", "reason"),
    [("64:ff9b::7f00:1", "loopback"), ("64:ff9b::a00:1", "private"), ("2002:c0a8:101::", "private")],
)
def test_nat64_and_6to4_forms_of_private_addresses_are_not_public(address: str, reason: str) -> None:
    got = blocked_reason(ipaddress.ip_address(address))
    assert got is not None and reason in got


@pytest.mark.parametrize("address", ["127.0.0.1", "127.8.9.10", "::1"])
def test_loopback_policy_allows_loopback(address: str) -> None:
    assert refusal(ipaddress.ip_address(address), LOOPBACK) is None


@pytest.mark.parametrize(
    "address",
    ["10.0.0.1", "172.16.0.1", "192.168.1.1", "100.64.0.1", "fd12::1", "fe80::1", "93.184.216.34", "2606:4700::1111",
     "64:ff9b::7f00:1", "0.0.0.0", "::"],
)
def test_loopback_policy_refuses_everything_else(address: str) -> None:
    reason = refusal(ipaddress.ip_address(address), LOOPBACK)
    assert reason is not None and "loopback" in reason


def _resolver(answer: list[str]):
    async def resolve(host: str, port: int) -> list[str]:
        return answer

    return resolve


@pytest.mark.parametrize("answer", [["93.184.216.34"], ["10.1.2.3"], ["127.0.0.1", "192.168.0.7"]])
async def test_loopback_only_fetcher_never_leaves_loopback(answer: list[str]) -> None:
    guard = HostGuard(allow_private=LOOPBACK, resolver=_resolver(answer))
    async with Fetcher(HttpSettings(allow_private_hosts=LOOPBACK, retries=0), guard=guard) as f:
        with pytest.raises(BlockedAddressError, match="outside loopback"):
            await f.get("http://feeds.newsdesk.test/rss")


def test_setting_reads_loopback_and_refuses_nonsense(tmp_path) -> None:
    base = {"NEWSDESK_DATA_DIR": str(tmp_path)}
    assert load_settings(base | {"NEWSDESK_ALLOW_PRIVATE_HOSTS": "loopback"}).http.allow_private_hosts == LOOPBACK
    assert load_settings(base | {"NEWSDESK_ALLOW_PRIVATE_HOSTS": "1"}).http.allow_private_hosts is True
    assert load_settings(base).http.allow_private_hosts is False
    with pytest.raises(ConfigError, match="true, false or loopback"):
        load_settings(base | {"NEWSDESK_ALLOW_PRIVATE_HOSTS": "sometimes"})


def test_no_test_can_connect_outside_loopback() -> None:
    import socket

    for address in (("192.0.2.1", 80), ("10.0.0.1", 5432)):  # TEST-NET-1, a private address: never reached
        with socket.socket() as s, pytest.raises(ConnectionRefusedError, match="only connect to loopback"):
            s.connect(address)
    with socket.socket(socket.AF_INET6) as s, pytest.raises(ConnectionRefusedError, match="only connect to loopback"):
        s.connect_ex(("2001:db8::1", 80, 0, 0))
