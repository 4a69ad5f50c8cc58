"""The bundled sample day behind `newsdesk demo` and the end-to-end tests.

An invented AI-news day (SAMPLE_DAY) served by a real HTTP server on
127.0.0.1: feeds in four formats, article pages with real-world clutter, and
recorded Bluesky, Mastodon, Reddit and Hacker News API answers. `expected`
says which items must end up in one story and which must stay apart.
"""
from newsdesk.demo.expected import EXPECTED_STORIES, NEAR_MISS_PAIRS, SAMPLE_DAY
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
]
