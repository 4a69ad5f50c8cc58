"""The nightly LLM spending cap, so a bad night can never turn into a surprise bill.

Before a call, the caller reserves its worst case (prompt tokens + max output tokens);
after it, the reservation is replaced by what `usage` says was spent. Concurrent calls
therefore cannot overshoot the cap by more than the estimates are wrong. A call that does
not fit waits while others are in flight (their real usage is usually far below the worst
case) and fails only when nothing in flight could free room.
"""
from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field

from summarizer.models import CallRecord


class BudgetExhausted(Exception):
    """Raised when a call would go over the nightly cap."""

    def __init__(self, budget: "Budget"):
        self.budget = budget
        super().__init__(budget.describe())


@dataclass
class Reservation:
    tokens: int
    usd: float
    settled: bool = False


@dataclass
class Budget:
    """Max tokens and/or max USD per night; None means no cap on that axis."""

    max_tokens: int | None = None
    max_usd: float | None = None
    spent_tokens: int = 0
    spent_usd: float = 0.0
    calls: int = 0
    reached: bool = False
    _reserved_tokens: int = 0
    _reserved_usd: float = 0.0
    _outstanding: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def describe(self) -> str:
        parts = []
        if self.max_tokens is not None:
            parts.append(f"{self.spent_tokens:,} of {self.max_tokens:,} tokens")
        if self.max_usd is not None:
            parts.append(f"${self.spent_usd:.4f} of ${self.max_usd:.2f}")
        return "; ".join(parts) or "no cap"

    def exhausted_message(self) -> str:
        return f"nightly LLM budget reached ({self.describe()}): not drafted"

    def _fits(self, tokens: int, usd: float) -> bool:
        if self.max_tokens is not None and self.spent_tokens + self._reserved_tokens + tokens > self.max_tokens:
            return False
        if self.max_usd is not None and self.spent_usd + self._reserved_usd + usd > self.max_usd:
            return False
        return True

    def try_reserve(self, tokens: int, usd: float = 0.0) -> Reservation | None:
        """Reserve a call's worst case; None while in-flight reservations may still free room;
        BudgetExhausted when nothing in flight can help. Once reached, the budget stays reached."""
        with self._lock:
            if self.reached:
                raise BudgetExhausted(self)
            if self._fits(tokens, usd):
                self._reserved_tokens += tokens
                self._reserved_usd += usd
                self._outstanding += 1
                return Reservation(tokens, usd)
            if self._outstanding == 0:
                self.reached = True
                raise BudgetExhausted(self)
            return None

    def reserve(self, tokens: int, usd: float = 0.0) -> Reservation:
        """Reserve now or raise BudgetExhausted (no waiting for in-flight calls)."""
        reservation = self.try_reserve(tokens, usd)
        if reservation is None:
            raise BudgetExhausted(self)
        return reservation

    async def reserve_async(self, tokens: int, usd: float = 0.0, poll: float = 0.02) -> Reservation:
        """Reserve, waiting while calls in flight hold reservations that may settle lower."""
        while (reservation := self.try_reserve(tokens, usd)) is None:
            await asyncio.sleep(poll)
        return reservation

    def settle(self, reservation: Reservation | None, record: CallRecord) -> None:
        """Replace a reservation by the call's real usage (failed calls included)."""
        with self._lock:
            if reservation is not None and not reservation.settled:
                self._reserved_tokens -= reservation.tokens
                self._reserved_usd -= reservation.usd
                self._outstanding -= 1
                reservation.settled = True
            self.spent_tokens += record.input_tokens + record.output_tokens
            self.spent_usd += record.cost_usd
            self.calls += 1
            if (self.max_tokens is not None and self.spent_tokens >= self.max_tokens) or (
                self.max_usd is not None and self.spent_usd >= self.max_usd
            ):
                self.reached = True

    def charge(self, record: CallRecord) -> None:
        """Account a call that was not reserved (e.g. replayed from a log)."""
        self.settle(None, record)

    @property
    def is_reached(self) -> bool:
        with self._lock:
            return self.reached
