"""The bundled sample day behind `newsdesk demo` and the end-to-end tests.

An invented AI-news day (SAMPLE_DAY) served by a real HTTP server on
127.0.0.1: feeds in four formats, article pages with real-world clutter, and
recorded Bluesky, Mastodon, Reddit and Hacker News API answers. `expected`
says which items must end up in one story and which must stay apart.

    with serve_sample_day() as base_url:
        sources = demo_sources(base_url)
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from newsdesk.demo.expected import EXPECTED_STORIES, NEAR_MISS_PAIRS, SAMPLE_DAY, item_ref

if TYPE_CHECKING:
    from newsdesk.demo.server import BROKEN_SOURCES, serve_sample_day
    from newsdesk.demo.sources import broken_sources, demo_sources

__all__ = [
    "SAMPLE_DAY",
    "serve_sample_day",
    "demo_sources",
    "broken_sources",
    "BROKEN_SOURCES",
    "EXPECTED_STORIES",
    "NEAR_MISS_PAIRS",
    "item_ref",
]

_LAZY = {
    "serve_sample_day": "newsdesk.demo.server",
    "BROKEN_SOURCES": "newsdesk.demo.server",
    "demo_sources": "newsdesk.demo.sources",
    "broken_sources": "newsdesk.demo.sources",
}


def __getattr__(name: str) -> Any:
    # Imported on first use so that `python -m newsdesk.demo.server` runs the
    # server module exactly once.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'newsdesk.demo' has no attribute {name!r}")
