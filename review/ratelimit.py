"""Login throttling per name and address, per address, and for the whole desk, plus a gate on password hashing.

Each attempt is charged *before* its password is hashed and refunded when it
succeeds, so forty attempts sent at once are throttled like forty sent one
after another. Three sliding windows apply:

- one name from one address (a guessed password): `max_failures` per `window`;
- one address, whatever the names (password spraying): `max_per_address` per `window`;
- the whole desk (many addresses): `max_global` per `global_window`.

Memory stays bounded whatever the attacker sends: at most `max_keys`
name/address and address entries are kept (the oldest forgotten first).
"""
from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict, deque
from contextlib import asynccontextmanager
from typing import AsyncIterator, Callable


class _Windows:
    """Timestamps per key in a sliding window, for at most `max_keys` keys."""

    def __init__(self, window: float, max_keys: int, clock: Callable[[], float]):
        self.window = window
        self.max_keys = max_keys
        self.clock = clock
        self._hits: OrderedDict[object, deque[float]] = OrderedDict()

    def recent(self, key: object) -> deque[float]:
        now = self.clock()
        q = self._hits.get(key)
        if q is None:
            q = self._hits[key] = deque()
            while len(self._hits) > self.max_keys:
                self._hits.popitem(last=False)
        else:
            self._hits.move_to_end(key)
        while q and now - q[0] >= self.window:
            q.popleft()
        return q

    def count(self, key: object) -> int:
        return len(self.recent(key))

    def wait(self, key: object) -> int:
        q = self.recent(key)
        return max(1, int(self.window - (self.clock() - q[0])) + 1) if q else 0

    def add(self, key: object) -> None:
        self.recent(key).append(self.clock())

    def refund(self, key: object) -> None:
        q = self._hits.get(key)
        if q:
            q.pop()

    def forget(self, key: object) -> None:
        self._hits.pop(key, None)

    def __len__(self) -> int:
        return len(self._hits)


class LoginLimiter:
    """Counts login attempts in memory (one process serves the desk; a restart forgives)."""

    def __init__(
        self,
        max_failures: int,
        window_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        *,
        max_per_address: int = 20,
        max_global: int = 100,
        global_window_seconds: float = 60.0,
        max_keys: int = 10_000,
    ):
        self.max_failures = max_failures
        self.max_per_address = max_per_address
        self.max_global = max_global
        self.window = window_seconds
        self.clock = clock
        self._pairs = _Windows(window_seconds, max_keys, clock)
        self._addresses = _Windows(window_seconds, max_keys, clock)
        self._global = _Windows(global_window_seconds, 1, clock)
        self._lock = threading.Lock()

    @staticmethod
    def _pair(name: str, address: str) -> tuple[str, str]:
        return name.strip().lower()[:200], address

    def attempt(self, name: str, address: str) -> int:
        """Charge one attempt: 0 when it may go ahead, else the seconds to wait (nothing charged)."""
        pair = self._pair(name, address)
        with self._lock:
            waits = [
                self._pairs.wait(pair) if self._pairs.count(pair) >= self.max_failures else 0,
                self._addresses.wait(address) if self._addresses.count(address) >= self.max_per_address else 0,
                self._global.wait("*") if self._global.count("*") >= self.max_global else 0,
            ]
            if any(waits):
                return max(waits)
            self._pairs.add(pair)
            self._addresses.add(address)
            self._global.add("*")
            return 0

    def succeeded(self, name: str, address: str) -> None:
        """A correct password: refund the charge and forgive this name's failures from this address."""
        pair = self._pair(name, address)
        with self._lock:
            self._pairs.forget(pair)
            self._addresses.refund(address)
            self._global.refund("*")

    # The earlier interface (check, then count a failure), kept for callers that use it.

    def blocked(self, name: str, address: str) -> bool:
        with self._lock:
            return self._pairs.count(self._pair(name, address)) >= self.max_failures

    def retry_after(self, name: str, address: str) -> int:
        with self._lock:
            return self._pairs.wait(self._pair(name, address))

    def failed(self, name: str, address: str) -> None:
        with self._lock:
            self._pairs.add(self._pair(name, address))
            self._addresses.add(address)
            self._global.add("*")

    def tracked_keys(self) -> int:
        """How many name/address and address entries are held (bounded by `max_keys` each)."""
        with self._lock:
            return len(self._pairs) + len(self._addresses)


class Busy(Exception):
    """Too many sign-ins are already waiting for a password check."""


class HashGate:
    """At most `slots` password hashes at once, and at most `max_waiting` sign-ins queued for one.

    argon2id takes 64 MiB per hash: forty at once took the desk from 113 MB to
    over 1 GB. Queued sign-ins wait here, on the event loop, not in worker
    threads, so the pages every editor uses keep their threads.
    """

    def __init__(self, slots: int = 2, max_waiting: int = 32):
        self.slots = max(1, slots)
        self.max_waiting = max_waiting
        self._sem = asyncio.Semaphore(self.slots)
        self._waiting = 0

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        if self._sem.locked() and self._waiting >= self.max_waiting:
            raise Busy()
        self._waiting += 1
        try:
            await self._sem.acquire()
        finally:
            self._waiting -= 1
        try:
            yield
        finally:
            self._sem.release()
