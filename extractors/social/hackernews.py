"""Hacker News stories above a points threshold, from the Algolia search API."""
from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from extractors.http import Fetcher
from extractors.urls import web_url
from extractors.models import CollectedItem, SourceResult, SourceSpec
from extractors.social.common import (
    MALFORMED,
    CollectError,
    Post,
    api_base,
    as_utc,
    build_items,
    clean_links,
    counts,
    fetch_json,
    finish,
    guarded,
    html_to_text,
    malformed,
    parse_time,
    require_dict,
)

DEFAULT_BASE = "https://hn.algolia.com"
ITEM_PAGE = "https://news.ycombinator.com/item?id={id}"
DEFAULT_MIN_POINTS = 50
ENGAGEMENT = {"points": "points", "comments": "num_comments"}


def _is_own(host: str, path: str) -> bool:
    return host == "news.ycombinator.com"


def min_points(spec: SourceSpec) -> int:
    try:
        return int(spec.options.get("min_points", DEFAULT_MIN_POINTS))
    except (TypeError, ValueError):
        return DEFAULT_MIN_POINTS


def _post(hit: dict) -> Post:
    story_id = str(hit["objectID"])
    title = hit["title"]
    if not isinstance(title, str) or not title.strip():
        raise ValueError("story has no title")
    story_text, hrefs = html_to_text(hit.get("story_text") or "")
    article = web_url(hit.get("url"))  # a javascript: or data: "url" is no article: the discussion is the item
    page = ITEM_PAGE.format(id=story_id)
    created = hit.get("created_at_i")
    return Post(
        key=story_id,
        guid=f"hn:{story_id}",
        url=article or page,  # Ask HN and friends have no article: the discussion is the item
        author=hit.get("author"),
        text=story_text or title,
        published_at=parse_time(created if created is not None else hit["created_at"]),
        engagement=counts(hit, ENGAGEMENT),
        links=clean_links([article] + hrefs, _is_own),
        title=title.strip(),
    )


def parse_hackernews(payload: dict, spec: SourceSpec) -> tuple[list[CollectedItem], list[str]]:
    """Items from an Algolia `search_by_date` answer, dropping anything under `min_points`."""
    hits = require_dict(payload, "Hacker News answer").get("hits")
    if not isinstance(hits, list):
        raise CollectError(f"unexpected Hacker News answer: {payload.get('message') or 'no hits list'}")
    threshold = min_points(spec)
    posts: list[Post] = []
    warnings: list[str] = []
    for index, hit in enumerate(hits):
        try:
            post = _post(hit)
        except MALFORMED as exc:
            malformed(warnings, index, exc)
            continue
        if post.engagement.get("points", 0) >= threshold:
            posts.append(post)
    return build_items(posts, spec), warnings


def search_url(spec: SourceSpec, since: datetime | None) -> str:
    filters = [f"points>={min_points(spec)}"]
    if since is not None:
        filters.append(f"created_at_i>{int(as_utc(since).timestamp())}")
    query = urlencode({"tags": "story", "numericFilters": ",".join(filters), "hitsPerPage": 100})
    return f"{api_base(spec, DEFAULT_BASE)}/api/v1/search_by_date?{query}"


async def collect(spec: SourceSpec, fetcher: Fetcher, *, since: datetime | None = None) -> SourceResult:
    """`since` and `min_points` go into the query, so Algolia does the filtering."""

    async def run() -> SourceResult:
        items, warnings = parse_hackernews(await fetch_json(fetcher, search_url(spec, since)), spec)
        return finish(spec, items, warnings, since)

    return await guarded(spec, "hackernews", run)
