"""Posting the digest to Discord, Telegram, Mastodon and Bluesky, each as its API documents.

- Discord: POST {webhook}?wait=true with `content` (and no pings:
  allowed_mentions.parse = []); 200 gives the message object. A 429 says how
  long to wait in `Retry-After` (seconds) and `retry_after` in the body.
- Telegram: POST {base}/bot{token}/sendMessage with chat_id and text; the
  answer is {"ok": true, "result": {...message_id}} or {"ok": false,
  "error_code", "description", "parameters": {"retry_after"}}.
- Mastodon: POST {instance}/api/v1/statuses with a Bearer token and an
  `Idempotency-Key` header (the server keeps keys an hour, so a retry after a
  lost answer does not post twice); 200 gives the Status with its `url`.
- Bluesky: com.atproto.server.createSession (handle + app password) gives
  accessJwt and did; com.atproto.repo.createRecord writes an
  app.bsky.feed.post with a link facet; 200 gives {uri, cid}.
429s and 5xx/connection errors are retried (waiting what the server asks, up
to a cap); any other 4xx is a failure with the server's own message.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Awaitable, Callable

import httpx2

from review.delivery.posts import Post, link_facets
from review.delivery.settings import ChannelSettings


@dataclass(frozen=True)
class PostOutcome:
    status: str  # sent | deferred | failed
    attempts: int
    error: str | None = None
    remote_id: str | None = None


class _Failed(Exception):
    def __init__(self, status: str, message: str):
        super().__init__(message)
        self.status = status


def idempotency_key(day: str, revision: int, channel: str) -> str:
    """The same key as the delivery row: one post per (revision, channel), whoever retries."""
    return "newsdesk-" + hashlib.sha256(f"{day}|{revision}|{channel}".encode()).hexdigest()[:32]


def _seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds or an HTTP date; X-RateLimit-Reset as ISO time or epoch seconds."""
    if not value:
        return None
    value = value.strip()
    try:
        n = float(value)
    except ValueError:
        n = None
    now = now or datetime.now(timezone.utc)
    if n is not None:
        return max(0.0, n - now.timestamp()) if n > 10**9 else max(0.0, n)
    for parse in (parsedate_to_datetime, lambda v: datetime.fromisoformat(v.replace("Z", "+00:00"))):
        try:
            when = parse(value)
        except (TypeError, ValueError, IndexError):
            continue
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        return max(0.0, (when - now).total_seconds())
    return None


def _json(resp: httpx2.Response) -> dict[str, Any]:
    try:
        data = resp.json()
    except (json.JSONDecodeError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _wait_asked(resp: httpx2.Response) -> float | None:
    """How long a 429 asks us to wait, from whichever header or body field the network uses."""
    for header in ("retry-after", "x-ratelimit-reset", "ratelimit-reset"):
        wait = _seconds(resp.headers.get(header))
        if wait is not None:
            return wait
    body = _json(resp)
    for value in (body.get("retry_after"), (body.get("parameters") or {}).get("retry_after")):
        if isinstance(value, (int, float)):
            return float(value)
    return None


def _message(resp: httpx2.Response) -> str:
    body = _json(resp)
    text = body.get("description") or body.get("message") or body.get("error") or resp.text[:200]
    if body.get("error") and body.get("message") and body["error"] != body["message"]:
        text = f"{body['error']}: {body['message']}"
    return f"HTTP {resp.status_code}: {' '.join(str(text).split())}"[:500]


class Poster:
    """Shared retry logic; subclasses implement `_post`, which returns the remote id."""

    channel = ""

    def __init__(self, settings: ChannelSettings, client: httpx2.AsyncClient,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep):
        self.settings = settings
        self.client = client
        self.sleep = sleep
        self.attempts = 0

    async def request(self, method: str, url: str, **kw: Any) -> httpx2.Response:
        """One call with retries: 429 waits what it is told, 5xx and network errors back off, 4xx fail."""
        s = self.settings
        last = ""
        for attempt in range(s.max_retries + 1):
            self.attempts += 1
            wait = min(s.backoff_seconds * (2 ** attempt), s.max_wait_seconds)
            try:
                resp = await self.client.request(method, url, timeout=s.timeout, **kw)
            except httpx2.HTTPError as exc:
                last = f"{exc.__class__.__name__}: {exc}"[:300]
            else:
                if resp.status_code < 400:
                    return resp
                last = _message(resp)
                if resp.status_code == 429:
                    asked = _wait_asked(resp)
                    if asked is not None and asked > s.max_wait_seconds:
                        raise _Failed("deferred", f"{last} (asked to wait {asked:.0f}s: left for the next run)")
                    wait = asked if asked is not None else wait
                elif resp.status_code < 500:
                    raise _Failed("failed", last)
            if attempt < s.max_retries:
                await self.sleep(wait)
        raise _Failed("deferred", last)

    async def post(self, post: Post, key: str) -> PostOutcome:
        self.attempts = 0
        try:
            remote = await self._post(post, key)
        except _Failed as exc:
            return PostOutcome(exc.status, self.attempts, str(exc))
        return PostOutcome("sent", self.attempts, None, remote)

    async def _post(self, post: Post, key: str) -> str | None:  # pragma: no cover - abstract
        raise NotImplementedError


class DiscordPoster(Poster):
    channel = "discord"

    async def _post(self, post: Post, key: str) -> str | None:
        url = self.settings.discord_webhook_url or ""
        sep = "&" if "?" in url else "?"
        resp = await self.request("POST", f"{url}{sep}wait=true",
                                  json={"content": post.text, "allowed_mentions": {"parse": []}})
        return str(_json(resp).get("id") or "") or None


class TelegramPoster(Poster):
    channel = "telegram"

    async def _post(self, post: Post, key: str) -> str | None:
        s = self.settings
        resp = await self.request("POST", f"{s.telegram_base_url}/bot{s.telegram_bot_token}/sendMessage",
                                  json={"chat_id": s.telegram_chat_id, "text": post.text})
        body = _json(resp)
        if not body.get("ok"):
            raise _Failed("failed", f"Telegram: {body.get('description') or 'answer without ok'}")
        return str((body.get("result") or {}).get("message_id") or "") or None


class MastodonPoster(Poster):
    channel = "mastodon"

    async def _post(self, post: Post, key: str) -> str | None:
        s = self.settings
        resp = await self.request(
            "POST", f"{s.mastodon_base_url}/api/v1/statuses",
            headers={"Authorization": f"Bearer {s.mastodon_token}", "Idempotency-Key": key},
            json={"status": post.text, "visibility": s.mastodon_visibility, "language": "en"},
        )
        body = _json(resp)
        return body.get("url") or body.get("uri") or (str(body["id"]) if "id" in body else None)


class BlueskyPoster(Poster):
    channel = "bluesky"

    def __init__(self, *args: Any, **kw: Any):
        super().__init__(*args, **kw)
        self._session: dict[str, str] | None = None

    async def _login(self) -> dict[str, str]:
        s = self.settings
        resp = await self.request("POST", f"{s.bluesky_base_url}/xrpc/com.atproto.server.createSession",
                                  json={"identifier": s.bluesky_handle, "password": s.bluesky_app_password})
        body = _json(resp)
        if not body.get("accessJwt") or not body.get("did"):
            raise _Failed("failed", "Bluesky: createSession answered without accessJwt/did")
        self._session = {"jwt": body["accessJwt"], "did": body["did"]}
        return self._session

    async def _post(self, post: Post, key: str) -> str | None:
        s = self.settings
        record: dict[str, Any] = {
            "$type": "app.bsky.feed.post",
            "text": post.text,
            "createdAt": datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "langs": ["en"],
        }
        facets = link_facets(post.text, post.url)
        if facets:
            record["facets"] = facets
        for fresh in (False, True):
            session = self._session if (self._session and not fresh) else await self._login()
            try:
                resp = await self.request(
                    "POST", f"{s.bluesky_base_url}/xrpc/com.atproto.repo.createRecord",
                    headers={"Authorization": f"Bearer {session['jwt']}"},
                    json={"repo": session["did"], "collection": "app.bsky.feed.post", "record": record},
                )
            except _Failed as exc:
                if not fresh and "ExpiredToken" in str(exc):
                    continue  # the access token ran out: log in again, once
                raise
            return _json(resp).get("uri")
        return None


POSTERS: dict[str, type[Poster]] = {p.channel: p for p in (DiscordPoster, TelegramPoster, MastodonPoster, BlueskyPoster)}
