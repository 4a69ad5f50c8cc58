"""The day's top posts of one subreddit, from Reddit's public JSON listing."""
from __future__ import annotations

import html
import re
from datetime import datetime
from urllib.parse import quote

from extractors.http import Fetcher
from extractors.models import CollectedItem, SourceResult, SourceSpec
from extractors.social.common import (
    MALFORMED,
    CollectError,
    Post,
    api_base,
    build_items,
    clean_links,
    counts,
    fetch_json,
    finish,
    guarded,
    malformed,
    parse_time,
    require_dict,
)

DEFAULT_BASE = "https://www.reddit.com"
SITE = "https://www.reddit.com"
ENGAGEMENT = {"score": "score", "comments": "num_comments"}
_URL_IN_TEXT = re.compile(r"https?://[^\s<>()\[\]\"']+")
_REMOVED_TEXT = {"[removed]", "[deleted]"}


def _is_own(host: str, path: str) -> bool:
    """Reddit's own pages and media hosts (galleries, i.redd.it images) are not articles."""
    return host == "reddit.com" or host.endswith(".reddit.com") or host == "redd.it" or host.endswith(".redd.it")


def _removed(data: dict) -> bool:
    return bool(data.get("removed_by_category")) or (data.get("selftext") or "").strip() in _REMOVED_TEXT


def _post(data: dict) -> Post:
    # The legacy JSON escapes &, < and > in text fields unless raw_json=1 is asked for.
    title = html.unescape(data["title"])
    selftext = html.unescape(data.get("selftext") or "").strip()
    links: list[str] = []
    if not data.get("is_self"):
        links.append(html.unescape(data.get("url_overridden_by_dest") or data.get("url") or ""))
    links.extend(m.rstrip(".,;:!?") for m in _URL_IN_TEXT.findall(selftext))
    author = data.get("author")
    return Post(
        key=data["name"],
        guid=f"reddit:{data['name']}",
        url=SITE + data["permalink"],
        author=f"u/{author}" if author and author != "[deleted]" else None,
        text=selftext or title,
        published_at=parse_time(data["created_utc"]),
        engagement=counts(data, ENGAGEMENT),
        links=clean_links(links, _is_own),
        title=title,
    )


def parse_reddit(payload: dict, spec: SourceSpec) -> tuple[list[CollectedItem], list[str]]:
    """Items from a subreddit listing, skipping stickied and removed posts."""
    listing = require_dict(payload, "Reddit answer")
    children = (listing.get("data") or {}).get("children") if isinstance(listing.get("data"), dict) else None
    if listing.get("kind") != "Listing" or not isinstance(children, list):
        reason = listing.get("message") or listing.get("reason") or "not a listing"
        raise CollectError(f"unexpected Reddit answer: {reason}")
    posts: list[Post] = []
    warnings: list[str] = []
    for index, child in enumerate(children):
        try:
            data = child["data"]
            if child.get("kind") != "t3" or data.get("stickied") or _removed(data):
                continue
            posts.append(_post(data))
        except MALFORMED as exc:
            malformed(warnings, index, exc)
    return build_items(posts, spec), warnings


async def collect(spec: SourceSpec, fetcher: Fetcher, *, since: datetime | None = None) -> SourceResult:
    """`t=day` is the listing's only time filter; `since` is applied to the answer as well."""

    async def run() -> SourceResult:
        sub = (spec.handle or "").strip().removeprefix("/").removeprefix("r/").strip("/")
        if not sub:
            raise CollectError("no subreddit configured")
        url = f"{api_base(spec, DEFAULT_BASE)}/r/{quote(sub, safe='')}/top.json?t=day&limit=100"
        items, warnings = parse_reddit(await fetch_json(fetcher, url), spec)
        return finish(spec, items, warnings, since)

    return await guarded(spec, "reddit", run)
