"""robots.txt (RFC 9309) for article pages, fetched once per host per run.

Feeds and APIs are published to be fetched by programs, so only article
pages consult robots.txt (`Fetcher.get(..., respect_robots=True)`). A missing
file (4xx) allows everything; an unreachable one (5xx, network failure)
disallows the host for this run, as the RFC asks.
"""
from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote, urlsplit

if TYPE_CHECKING:
    from extractors.http import Fetcher

__all__ = ["RobotsRules", "RobotsCache", "parse_robots"]

_MAX_ROBOTS_BYTES = 500 * 1024  # RFC 9309: parse at least the first 500 KiB


@dataclass
class RobotsRules:
    """The rules of the one group that applies to our token; empty means allow all."""

    rules: list[tuple[bool, str]] = field(default_factory=list)  # (allow, path pattern)
    disallow_all: bool = False

    def allowed(self, path: str) -> bool:
        """Longest matching rule wins; on a tie, allow wins (RFC 9309 section 2.2.2)."""
        if self.disallow_all:
            return False
        if path == "/robots.txt":
            return True
        best_len, verdict = -1, True
        for allow, pattern in self.rules:
            if _matches(pattern, path):
                length = len(pattern)
                if length > best_len or (length == best_len and allow):
                    best_len, verdict = length, allow
        return verdict


def _normalise(path: str) -> str:
    return quote(unquote(path), safe="/?=&*$%:@!,;+~-._")


def _matches(pattern: str, path: str) -> bool:
    if not pattern:
        return False
    regex = "".join(".*" if ch == "*" else re.escape(ch) for ch in _normalise(pattern).rstrip("$"))
    if pattern.endswith("$"):
        regex += "$"
    return re.match(regex, _normalise(path)) is not None


def parse_robots(text: str, token: str) -> RobotsRules:
    """The rules for `token` (case-insensitive), else for `*`, else none."""
    groups: list[tuple[list[str], list[tuple[bool, str]]]] = []
    agents: list[str] = []
    rules: list[tuple[bool, str]] = []
    in_rules = False
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if ":" not in line:
            continue
        key, value = (part.strip() for part in line.split(":", 1))
        key = key.lower()
        if key == "user-agent":
            if in_rules:
                groups.append((agents, rules))
                agents, rules, in_rules = [], [], False
            agents.append(value.lower())
        elif key in ("allow", "disallow") and agents:
            in_rules = True
            if value or key == "allow":
                rules.append((key == "allow", value))
    if agents:
        groups.append((agents, rules))
    token = token.lower()
    mine = [r for a, r in groups if token in a]
    if not mine:
        mine = [r for a, r in groups if "*" in a]
    return RobotsRules([rule for group in mine for rule in group])


class RobotsCache:
    """robots.txt per host (scheme + netloc), fetched once, concurrently safe."""

    def __init__(self, fetcher: "Fetcher", token: str | None = None):
        from extractors.http import ROBOTS_TOKEN

        self.fetcher = fetcher
        self.token = token or ROBOTS_TOKEN
        self._rules: dict[str, RobotsRules] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def allowed(self, url: str) -> bool:
        parts = urlsplit(url)
        origin = f"{parts.scheme.lower()}://{parts.netloc.lower()}"
        rules = await self.rules_for(origin)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        return rules.allowed(path)

    async def rules_for(self, origin: str) -> RobotsRules:
        if origin in self._rules:
            return self._rules[origin]
        lock = self._locks.setdefault(origin, asyncio.Lock())
        async with lock:
            if origin not in self._rules:
                self._rules[origin] = await self._fetch(origin)
        return self._rules[origin]

    async def _fetch(self, origin: str) -> RobotsRules:
        from extractors.http import FetchError, HTTPStatusError

        try:
            resp = await self.fetcher.get(origin + "/robots.txt", respect_robots=False)
        except HTTPStatusError as exc:
            if 400 <= exc.status < 500:
                return RobotsRules()
            return RobotsRules(disallow_all=True)
        except FetchError:
            return RobotsRules(disallow_all=True)
        text = resp.content[:_MAX_ROBOTS_BYTES].decode("utf-8", errors="replace")
        return parse_robots(text, self.token)
