"""Posts of one X account, from the API v2 user timeline (needs a bearer token)."""
from __future__ import annotations

import html
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from extractors.http import Fetcher
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
    malformed,
    parse_time,
    require_dict,
)

DEFAULT_BASE = "https://api.x.com"
SKIPPED = "X source skipped: set NEWSDESK_X_BEARER_TOKEN to collect posts from X"
ENGAGEMENT = {"likes": "like_count", "reposts": "retweet_count", "replies": "reply_count", "quotes": "quote_count"}
TIMELINE_PARAMS = {
    "max_results": "100",
    "tweet.fields": "created_at,public_metrics,conversation_id,referenced_tweets,entities,author_id",
    "expansions": "referenced_tweets.id,referenced_tweets.id.author_id",
}
_OWN_HOSTS = {"x.com", "twitter.com", "www.x.com", "www.twitter.com", "mobile.x.com", "mobile.twitter.com",
              "pic.x.com", "pic.twitter.com"}


def _is_own(host: str, path: str) -> bool:
    return host in _OWN_HOSTS


def _api_error(payload: dict) -> str:
    errors = payload.get("errors") or []
    first = errors[0] if errors and isinstance(errors[0], dict) else {}
    return first.get("detail") or first.get("title") or payload.get("detail") or payload.get("title") or "no data"


def _text(tweet: dict) -> str:
    """The text with t.co short links spelled out (X escapes &, < and > in text)."""
    text = tweet.get("text")
    if not isinstance(text, str):
        raise TypeError("tweet text is not a string")
    for entity in (tweet.get("entities") or {}).get("urls") or []:
        if entity.get("url") and entity.get("expanded_url"):
            text = text.replace(entity["url"], entity["expanded_url"])
    return html.unescape(text).strip()


def _links(tweet: dict) -> list[str]:
    return [e.get("unwound_url") or e.get("expanded_url") for e in (tweet.get("entities") or {}).get("urls") or []]


def _post(tweet: dict, own: dict, tweets: dict[str, dict], users: dict[str, dict]) -> Post:
    refs = {r["type"]: str(r["id"]) for r in tweet.get("referenced_tweets") or []}
    own_id = str(own["id"])
    source, username = tweet, own["username"]
    parent = root = None
    if "retweeted" in refs:
        source = tweets[refs["retweeted"]]  # KeyError: the original was not expanded (deleted, protected)
        username = users[str(source["author_id"])]["username"]
    elif "replied_to" in refs:
        parent_author = tweet.get("in_reply_to_user_id") or (tweets.get(refs["replied_to"]) or {}).get("author_id")
        if str(parent_author) == own_id:
            parent = refs["replied_to"]
            root = str(tweet.get("conversation_id") or "") or None
    tweet_id = str(source["id"])
    return Post(
        key=tweet_id,
        guid=f"x:{tweet_id}",
        url=f"https://x.com/{username}/status/{tweet_id}",
        author=f"@{username}",
        text=_text(source),
        published_at=parse_time(source["created_at"]),
        engagement=counts(source.get("public_metrics"), ENGAGEMENT),
        links=clean_links(_links(source), _is_own),
        parent=parent,
        reply_to_other="replied_to" in refs and "retweeted" not in refs and parent is None,
        root=root,
    )


def parse_x(payload: dict, spec: SourceSpec) -> tuple[list[CollectedItem], list[str]]:
    """Items from `{"user": <users/by/username answer>, "tweets": <users/:id/tweets answer>}`.

    Retweets become their original's post; a reply to oneself continues a thread.
    """
    payload = require_dict(payload, "X answer")
    user_answer = require_dict(payload.get("user"), "X user answer")
    own = user_answer.get("data")
    if not isinstance(own, dict) or "id" not in own:
        raise CollectError(f"user lookup failed: {_api_error(user_answer)}")
    answer = require_dict(payload.get("tweets"), "X timeline answer")
    data = answer.get("data")
    if data is None:
        if "meta" in answer:  # a quiet account: no data, result_count 0
            return [], []
        raise CollectError(f"timeline failed: {_api_error(answer)}")
    if not isinstance(data, list):
        raise CollectError("unexpected X timeline answer: data is not a list")
    includes = answer.get("includes") or {}
    tweets = {str(t.get("id")): t for t in includes.get("tweets") or [] if isinstance(t, dict)}
    users = {str(u.get("id")): u for u in includes.get("users") or [] if isinstance(u, dict)}
    users.setdefault(str(own["id"]), own)
    posts: list[Post] = []
    warnings: list[str] = []
    for index, tweet in enumerate(data):
        try:
            posts.append(_post(tweet, own, tweets, users))
        except MALFORMED as exc:
            malformed(warnings, index, exc)
    return build_items(posts, spec), warnings


def timeline_query(since: datetime | None) -> str:
    params = dict(TIMELINE_PARAMS)
    if since is not None:
        params["start_time"] = as_utc(since).strftime("%Y-%m-%dT%H:%M:%SZ")
    return urlencode(params)


async def collect(spec: SourceSpec, fetcher: Fetcher, *, since: datetime | None = None) -> SourceResult:
    """The token comes in `spec.options["bearer_token"]`; without one the source is skipped, not failed."""
    token = spec.options.get("bearer_token")
    if not token:
        return SourceResult(source=spec.name, status="skipped", error=SKIPPED)

    async def run() -> SourceResult:
        handle = (spec.handle or "").strip().lstrip("@")
        if not handle:
            raise CollectError("no handle configured")
        base = api_base(spec, DEFAULT_BASE)
        headers = {"Authorization": f"Bearer {token}"}
        user: Any = await fetch_json(fetcher, f"{base}/2/users/by/username/{quote(handle, safe='')}", headers)
        own = require_dict(user, "X user answer").get("data")
        if not isinstance(own, dict) or "id" not in own:
            raise CollectError(f"user lookup failed: {_api_error(user)}")
        url = f"{base}/2/users/{quote(str(own['id']), safe='')}/tweets?{timeline_query(since)}"
        tweets = await fetch_json(fetcher, url, headers)
        items, warnings = parse_x({"user": user, "tweets": tweets}, spec)
        return finish(spec, items, warnings, since)

    return await guarded(spec, "x", run)
