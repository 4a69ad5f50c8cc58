"""Login throttling: too many failures for one name from one address -> 429 for a while."""
from __future__ import annotations

import threading
import time
from collections import deque
from typing import Callable


class LoginLimiter:
    """Counts failed logins per (name, address) in a sliding window, in memory.

    One process serves the desk, so memory is enough; a restart forgives.
    """

    def __init__(self, max_failures: int, window_seconds: float, clock: Callable[[], float] = time.monotonic):
        self.max_failures = max_failures
        self.window = window_seconds
        self.clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str]) -> deque[float]:
        now = self.clock()
        q = self._failures.setdefault(key, deque())
        while q and now - q[0] >= self.window:
            q.popleft()
        return q

    def blocked(self, name: str, address: str) -> bool:
        with self._lock:
            return len(self._recent((name.strip().lower(), address))) >= self.max_failures

    def retry_after(self, name: str, address: str) -> int:
        with self._lock:
            q = self._recent((name.strip().lower(), address))
            return max(1, int(self.window - (self.clock() - q[0]))) if q else 0

    def failed(self, name: str, address: str) -> None:
        with self._lock:
            self._recent((name.strip().lower(), address)).append(self.clock())

    def succeeded(self, name: str, address: str) -> None:
        with self._lock:
            self._failures.pop((name.strip().lower(), address), None)
