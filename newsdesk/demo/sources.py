"""The demo's source list, in the schema of sources.yaml."""
from __future__ import annotations

from newsdesk.demo._content import OUTLETS
from newsdesk.demo.server import BROKEN_SOURCES

_FEED_TAGS = {
    "circuit-ledger": ["news", "business"],
    "tensor-tribune": ["news", "ml"],
    "bitstream-herald": ["news"],
    "fernhill-review": ["analysis"],
    "harbor-city-chronicle": ["news", "general"],
    "lumen-labs": ["lab", "research"],
}


def demo_sources(base_url: str, include_broken: bool = False) -> list[dict]:
    """Sources of the sample day, all pointing at the demo server at `base_url`.

    With `include_broken=True` the two broken sources of `BROKEN_SOURCES` are
    appended (for tests of a night where one source fails).
    """
    base = base_url.rstrip("/")
    sources: list[dict] = [
        {"name": o["name"], "type": "feed", "url": f"{base}{o['feed_path']}", "tags": list(_FEED_TAGS[key])}
        for key, o in OUTLETS.items()
    ]
    sources += [
        {"name": "Tensor Tribune on Bluesky", "type": "bluesky", "handle": "tensortribune.example", "base_url": base, "tags": ["social", "news"]},
        {"name": "Priya Nair (Bluesky)", "type": "bluesky", "handle": "priya.lumenlabs.example", "base_url": base, "tags": ["social", "research"]},
        {"name": "Rita Koval (Mastodon)", "type": "mastodon", "handle": "@rkoval@newsfedi.example", "base_url": base, "tags": ["social"]},
        {"name": "r/ModelWatch", "type": "reddit", "handle": "ModelWatch", "base_url": base, "tags": ["social", "community"]},
        {"name": "Hacker News", "type": "hackernews", "base_url": base, "tags": ["community"], "options": {"min_points": 10}},
    ]
    if include_broken:
        sources += broken_sources(base)
    return sources


def broken_sources(base_url: str) -> list[dict]:
    """The deliberately broken sources, as sources.yaml entries."""
    base = base_url.rstrip("/")
    return [{"name": b.name, "type": "feed", "url": f"{base}{b.path}", "tags": ["broken"]} for b in BROKEN_SOURCES]
