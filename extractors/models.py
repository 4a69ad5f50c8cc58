"""Plain data shared by the collectors, the HTTP layer and the article extractor.

These types are the contract between `extractors/` and the layers that use it
(`flows/` stores them with `storage/`). They carry no behaviour and import
nothing from the rest of newsdesk, so every collector can be tested alone.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

SourceType = Literal["rss", "atom", "feed", "jsonfeed", "opml", "bluesky", "mastodon", "reddit", "hackernews", "x"]
ItemKind = Literal["article", "post"]


@dataclass(frozen=True)
class SourceSpec:
    """One entry of sources.yaml: where to collect from and how much to trust it."""

    name: str
    type: str
    url: str | None = None
    handle: str | None = None
    tags: tuple[str, ...] = ()
    base_url: str | None = None
    weight: float = 1.0
    options: dict = field(default_factory=dict, hash=False, compare=False)


@dataclass
class CollectedItem:
    """One post or feed entry as a source delivered it, already normalised.

    `url` is the canonical URL (tracking parameters stripped). `links` are
    article URLs found inside a post, to be fetched as articles of their own so
    that a post and the article it points to can join the same story.
    """

    source: str
    kind: ItemKind
    guid: str
    url: str | None
    title: str
    text: str
    author: str | None = None
    published_at: datetime | None = None  # timezone-aware, UTC
    engagement: dict[str, int] = field(default_factory=dict)
    links: list[str] = field(default_factory=list)
    content_hash: str = ""

    def __post_init__(self) -> None:
        if not self.content_hash:
            self.content_hash = content_hash(self.title, self.text)


@dataclass
class SourceResult:
    """What collecting one source produced: items, or a clear reason why not."""

    source: str
    status: Literal["ok", "not_modified", "skipped", "error"]
    items: list[CollectedItem] = field(default_factory=list)
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    etag: str | None = None
    last_modified: str | None = None


@dataclass
class ExtractedArticle:
    """The main text and metadata of one article page.

    `page_kind` says what the page turned out to be; for anything but
    "article" the caller falls back to the feed's own summary.
    """

    text: str
    title: str | None = None
    author: str | None = None
    published_at: datetime | None = None
    site_name: str | None = None
    language: str | None = None
    canonical_url: str | None = None
    image: str | None = None
    page_kind: Literal["article", "paywalled", "empty", "not_article"] = "article"


_SPACE = re.compile(r"\s+")


def content_hash(*parts: str | None) -> str:
    """A stable hash of text content, insensitive to whitespace and case."""
    norm = "\n".join(_SPACE.sub(" ", (p or "")).strip().lower() for p in parts)
    return hashlib.sha256(norm.encode("utf-8")).hexdigest()
