"""Progress reporting for long stages, so the CLI can draw bars and flows stay quiet."""
from __future__ import annotations

from typing import Protocol


class Reporter(Protocol):
    def start(self, stage: str, total: int) -> None: ...
    def advance(self, stage: str, n: int = 1) -> None: ...
    def done(self, stage: str) -> None: ...
    def status(self, stage: str, text: str) -> None: ...  # e.g. the LLM's tokens per second


class _Quiet:
    def start(self, stage: str, total: int) -> None:
        pass

    def status(self, stage: str, text: str) -> None:
        pass

    def advance(self, stage: str, n: int = 1) -> None:
        pass

    def done(self, stage: str) -> None:
        pass


def quiet() -> Reporter:
    return _Quiet()


_current: Reporter = _Quiet()


def set_reporter(reporter: Reporter | None) -> None:
    """The CLI installs a progress-bar reporter before it starts a flow."""
    global _current
    _current = reporter or _Quiet()


def current() -> Reporter:
    return _current
