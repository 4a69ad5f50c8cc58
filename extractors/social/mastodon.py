"""Mastodon statuses of one account, from its home instance's public API."""
from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import quote, urlencode, urlsplit

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
    html_to_text,
    malformed,
    parse_time,
    require_dict,
)

ENGAGEMENT = {"likes": "favourites_count", "reposts": "reblogs_count", "replies": "replies_count"}
# A status page anywhere in the fediverse (`/@user/123`, `/@user@host/123`, `/users/user/statuses/123`).
_STATUS_PATH = re.compile(r"^/(@[^/]+/\d+|users/[^/]+/statuses/\d+)/?$")
# Profile, tag and app pages on the account's own instance.
_LOCAL_PATH = re.compile(r"^/(@[^/]+|users/|tags/|web/)")


def split_handle(handle: str) -> tuple[str, str]:
    """`@user@host` -> (user, host)."""
    parts = handle.strip().lstrip("@").split("@")
    if len(parts) != 2 or not all(parts):
        raise CollectError(f"handle {handle!r} should look like @user@host")
    return parts[0], parts[1].lower()


def _link_filter(instance_host: str):
    def is_own(host: str, path: str) -> bool:
        return bool(_STATUS_PATH.match(path)) or (host == instance_host and bool(_LOCAL_PATH.match(path)))

    return is_own


def _author(account: dict) -> str:
    acct: str = account["acct"]
    if "@" not in acct:  # a local account: its acct has no host
        acct = f"{acct}@{urlsplit(account.get('url') or '').hostname or ''}".rstrip("@")
    return f"@{acct}"


def _post(status: dict, own_id: str, is_own) -> Post:
    original = status.get("reblog") or status
    reblogged = status.get("reblog") is not None
    text, hrefs = html_to_text(original.get("content") or "")
    card = original.get("card") or {}
    parent = None
    if not reblogged and status.get("in_reply_to_id") and str(status.get("in_reply_to_account_id")) == own_id:
        parent = str(status["in_reply_to_id"])
    return Post(
        key=str(original["id"]),
        guid=original["uri"],
        url=original.get("url") or original["uri"],
        author=_author(original["account"]),
        text=text,
        published_at=parse_time(original["created_at"]),
        engagement=counts(original, ENGAGEMENT),
        links=clean_links(hrefs + [card.get("url")], is_own),
        parent=parent,
        reply_to_other=bool(not reblogged and status.get("in_reply_to_id") and parent is None),
    )


def parse_mastodon(payload: dict, spec: SourceSpec) -> tuple[list[CollectedItem], list[str]]:
    """Items from `{"account": <accounts/lookup answer>, "statuses": <accounts/:id/statuses answer>}`.

    The account is needed to tell self-replies (threads) from replies to others.
    """
    account = require_dict(require_dict(payload, "Mastodon answer").get("account"), "Mastodon account")
    statuses = payload.get("statuses")
    if not isinstance(statuses, list):
        raise CollectError("unexpected Mastodon statuses answer: expected a JSON list")
    own_id = str(account.get("id"))
    instance = (urlsplit(account.get("url") or "").hostname or "").lower()
    if not instance and spec.handle:
        instance = split_handle(spec.handle)[1]
    is_own = _link_filter(instance)
    posts: list[Post] = []
    warnings: list[str] = []
    for index, status in enumerate(statuses):
        try:
            posts.append(_post(status, own_id, is_own))
        except MALFORMED as exc:
            malformed(warnings, index, exc)
    return build_items(posts, spec), warnings


async def collect(spec: SourceSpec, fetcher: Fetcher, *, since: datetime | None = None) -> SourceResult:
    """Status IDs are not times on every server, so `since` is applied to the answer."""

    async def run() -> SourceResult:
        user, host = split_handle(spec.handle or "")
        base = api_base(spec, f"https://{host}")
        account = require_dict(
            await fetch_json(fetcher, f"{base}/api/v1/accounts/lookup?{urlencode({'acct': user})}"),
            "Mastodon account lookup",
        )
        if "id" not in account:
            raise CollectError(f"account lookup returned no id: {account.get('error', 'unknown answer')}")
        statuses = await fetch_json(fetcher, f"{base}/api/v1/accounts/{quote(str(account['id']), safe='')}/statuses?limit=40")
        items, warnings = parse_mastodon({"account": account, "statuses": statuses}, spec)
        return finish(spec, items, warnings, since)

    return await guarded(spec, "mastodon", run)
