"""Bluesky posts of one account, from the public AppView (no login needed)."""
from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

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

DEFAULT_BASE = "https://public.api.bsky.app"
REPOST = "app.bsky.feed.defs#reasonRepost"
LINK_FACET = "app.bsky.richtext.facet#link"
ENGAGEMENT = {"likes": "likeCount", "reposts": "repostCount", "replies": "replyCount", "quotes": "quoteCount"}


def _is_own(host: str, path: str) -> bool:
    return host in ("bsky.app", "www.bsky.app") and path.startswith("/profile/")


def _did(at_uri: str) -> str:
    """The repository (author DID) of an at:// URI."""
    if not at_uri.startswith("at://"):
        raise ValueError(f"not an at:// URI: {at_uri!r}")
    return at_uri[5:].split("/", 1)[0]


def _external_links(embed: Any) -> list[str]:
    """Link cards, directly or inside a record-with-media embed, as record or as view."""
    if not isinstance(embed, dict):
        return []
    out: list[str] = []
    external = embed.get("external")
    if isinstance(external, dict) and external.get("uri"):
        out.append(external["uri"])
    out.extend(_external_links(embed.get("media")))
    return out


def _facet_links(record: dict) -> list[str]:
    out: list[str] = []
    for facet in record.get("facets") or []:
        for feature in (facet or {}).get("features") or []:
            if isinstance(feature, dict) and feature.get("$type") == LINK_FACET and feature.get("uri"):
                out.append(feature["uri"])
    return out


def _post(entry: dict) -> Post:
    post = entry["post"]
    record = post["record"]
    author = post["author"]
    uri: str = post["uri"]
    did = author["did"]
    handle = author.get("handle") or did
    if handle == "handle.invalid":
        handle = did
    rkey = uri.rstrip("/").rsplit("/", 1)[1]
    reposted = (entry.get("reason") or {}).get("$type") == REPOST
    parent = root = None
    reply = record.get("reply")
    if reply and not reposted:
        parent_uri = reply["parent"]["uri"]
        if _did(parent_uri) == did:  # a reply to oneself continues a thread
            parent = parent_uri
            root_uri = (reply.get("root") or {}).get("uri")
            root = root_uri if root_uri and _did(root_uri) == did else None
    text = record.get("text") or ""
    if not isinstance(text, str):
        raise TypeError("record.text is not a string")
    return Post(
        key=uri,
        guid=uri,
        url=f"https://bsky.app/profile/{handle}/post/{rkey}",
        author=f"@{handle}",
        text=text,
        published_at=parse_time(record.get("createdAt") or post["indexedAt"]),
        engagement=counts(post, ENGAGEMENT),
        links=clean_links(
            _facet_links(record) + _external_links(record.get("embed")) + _external_links(post.get("embed")),
            _is_own,
        ),
        parent=parent,
        root=root,
        reply_to_other=bool(reply and not reposted and parent is None),
    )


def parse_bluesky(payload: dict, spec: SourceSpec) -> tuple[list[CollectedItem], list[str]]:
    """Items from an `app.bsky.feed.getAuthorFeed` answer; reposts count as their original author's posts."""
    feed = require_dict(payload, "Bluesky answer").get("feed")
    if not isinstance(feed, list):
        raise CollectError("unexpected Bluesky answer: no feed list")
    posts: list[Post] = []
    warnings: list[str] = []
    for index, entry in enumerate(feed):
        try:
            posts.append(_post(entry))
        except MALFORMED as exc:
            malformed(warnings, index, exc)
    return build_items(posts, spec), warnings


async def collect(spec: SourceSpec, fetcher: Fetcher, *, since: datetime | None = None) -> SourceResult:
    """The author feed has no time filter, so `since` is applied to the answer."""

    async def run() -> SourceResult:
        if not spec.handle:
            raise CollectError("no handle configured")
        actor = spec.handle.lstrip("@")
        query = urlencode({"actor": actor, "limit": 50})
        payload = await fetch_json(fetcher, f"{api_base(spec, DEFAULT_BASE)}/xrpc/app.bsky.feed.getAuthorFeed?{query}")
        items, warnings = parse_bluesky(payload, spec)
        return finish(spec, items, warnings, since)

    return await guarded(spec, "bluesky", run)
