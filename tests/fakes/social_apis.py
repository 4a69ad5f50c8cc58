"""Loopback look-alikes of the Discord webhook, Telegram Bot, Mastodon and Bluesky (atproto) APIs.

Written from each API's documented behaviour, so the posters are tested
against the same answers the real services give:
- Discord: POST /api/webhooks/{id}/{token}[?wait=true] -> 200 message object
  (204 without wait); content over 2000 characters -> 400 code 50035; an
  unknown webhook -> 404 code 10015; 429 with Retry-After and
  {"message", "retry_after", "global"}.
- Telegram: POST /bot{token}/sendMessage -> {"ok": true, "result": message};
  errors {"ok": false, "error_code", "description"}, 429 with
  "parameters": {"retry_after": n}; text over 4096 -> 400 "message is too long".
- Mastodon: POST /api/v1/statuses with Bearer token -> Status; over the limit
  (URLs count 23) -> 422 "Validation failed: Text character limit of 500
  exceeded"; the same Idempotency-Key returns the first status, no new one;
  429 with X-RateLimit-Reset.
- Bluesky: com.atproto.server.createSession -> {accessJwt, refreshJwt,
  handle, did}; com.atproto.repo.createRecord -> {uri, cid}; text over 300
  graphemes -> 400 InvalidRequest; expired token -> 400 ExpiredToken; 429
  RateLimitExceeded with ratelimit-reset (epoch seconds).
A test scripts failures with `fail[channel] = [(status, body, headers), ...]`
(consumed one per request), or `drop[channel] = n` to do the work and then
close the connection without answering n times.
"""
from __future__ import annotations

import json
import re
import socket
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import regex

WEBHOOK = "/api/webhooks/123456/hook-token"
TG_TOKEN = "123456:ABC-bot-token"
TG_CHAT = "@newsdesk_test"
MASTODON_TOKEN = "mastodon-token"
BSKY_HANDLE = "newsdesk.test"
BSKY_PASSWORD = "app-pass-word"
BSKY_DID = "did:plc:newsdesktest123"


class SocialApis:
    """`with SocialApis() as api:` ... api.base is http://127.0.0.1:PORT; api.posts[channel] lists what was posted."""

    __test__ = False

    def __init__(self, mastodon_max_chars: int = 500) -> None:
        self.posts: dict[str, list[dict[str, Any]]] = {"discord": [], "telegram": [], "mastodon": [], "bluesky": []}
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.fail: dict[str, list[tuple[int, Any, dict[str, str]]]] = {}
        self.drop: dict[str, int] = {}
        self.mastodon_max_chars = mastodon_max_chars
        self.idempotency: dict[str, dict[str, Any]] = {}
        self.expired_tokens: set[str] = set()
        self.sessions: int = 0
        self.lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw or b"{}")
                except json.JSONDecodeError:
                    body = {}
                headers = {k.lower(): v for k, v in self.headers.items()}
                with api.lock:
                    api.requests.append(("POST", self.path, headers))
                status, payload, extra, dropped = api.answer(self.path, headers, body)
                if dropped:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                data = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                if payload is not None:
                    self.send_header("Content-Type", "application/json")
                for k, v in extra.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address) -> None:  # a dropped connection is the point, not noise
                pass

        self.server = Server(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> "SocialApis":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    # ------------------------------------------------------------------ routing

    def _scripted(self, channel: str) -> tuple[int, Any, dict[str, str]] | None:
        with self.lock:
            queue = self.fail.get(channel)
            return queue.pop(0) if queue else None

    def _drop(self, channel: str) -> bool:
        with self.lock:
            n = self.drop.get(channel, 0)
            if n:
                self.drop[channel] = n - 1
            return bool(n)

    def answer(self, path: str, headers: dict[str, str], body: dict[str, Any]) -> tuple[int, Any, dict[str, str], bool]:
        route = path.split("?", 1)[0]
        channel = ("discord" if route.startswith("/api/webhooks/") else "telegram" if route.startswith("/bot")
                   else "mastodon" if route.startswith("/api/v1/") else "bluesky")
        scripted = self._scripted(channel)
        if scripted is not None:
            return (*scripted, False)
        handler = getattr(self, channel)
        status, payload, extra = handler(path, headers, body)
        dropped = status < 400 and route != "/xrpc/com.atproto.server.createSession" and self._drop(channel)
        return status, payload, extra, dropped

    def _record(self, channel: str, item: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.posts[channel].append(item)
            item["id"] = str(len(self.posts[channel]) + 1000)
        return item

    def discord(self, path: str, headers: dict[str, str], body: dict[str, Any]):
        route, _, query = path.partition("?")
        if route != WEBHOOK:
            return 404, {"message": "Unknown Webhook", "code": 10015}, {}
        content = body.get("content") or ""
        if not content:
            return 400, {"message": "Cannot send an empty message", "code": 50006}, {}
        if len(content) > 2000:
            return 400, {"code": 50035, "message": "Invalid Form Body",
                         "errors": {"content": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer in length."}]}}}, {}
        msg = self._record("discord", {"content": content, "allowed_mentions": body.get("allowed_mentions")})
        if "wait=true" not in query:
            return 204, None, {}
        return 200, {"id": msg["id"], "type": 0, "content": content, "channel_id": "999", "webhook_id": "123456"}, {}

    def telegram(self, path: str, headers: dict[str, str], body: dict[str, Any]):
        m = re.match(r"^/bot([^/]+)/sendMessage$", path)
        if not m or m.group(1) != TG_TOKEN:
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}, {}
        if body.get("chat_id") != TG_CHAT:
            return 400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}, {}
        text = body.get("text") or ""
        if not text.strip():
            return 400, {"ok": False, "error_code": 400, "description": "Bad Request: message text is empty"}, {}
        if len(text.encode("utf-16-le")) // 2 > 4096:
            return 400, {"ok": False, "error_code": 400, "description": "Bad Request: message is too long"}, {}
        msg = self._record("telegram", {"text": text, "chat_id": body["chat_id"]})
        return 200, {"ok": True, "result": {"message_id": int(msg["id"]), "date": int(time.time()),
                                            "chat": {"id": -100123, "type": "channel", "username": TG_CHAT[1:]}, "text": text}}, {}

    def mastodon(self, path: str, headers: dict[str, str], body: dict[str, Any]):
        if path != "/api/v1/statuses":
            return 404, {"error": "Record not found"}, {}
        if headers.get("authorization") != f"Bearer {MASTODON_TOKEN}":
            return 401, {"error": "The access token is invalid"}, {}
        key = headers.get("idempotency-key")
        with self.lock:
            if key and key in self.idempotency:
                return 200, self.idempotency[key], {}
        text = body.get("status") or ""
        counted = len(regex.findall(r"\X", re.sub(r"https?://\S+", "x" * 23, text)))
        if counted > self.mastodon_max_chars:
            return 422, {"error": f"Validation failed: Text character limit of {self.mastodon_max_chars} exceeded"}, {}
        st = self._record("mastodon", {"status": text, "visibility": body.get("visibility"), "key": key})
        status = {"id": st["id"], "url": f"https://social.test/@newsdesk/{st['id']}", "uri": f"https://social.test/users/newsdesk/statuses/{st['id']}",
                  "content": f"<p>{text}</p>", "visibility": body.get("visibility", "public")}
        with self.lock:
            if key:
                self.idempotency[key] = status
        return 200, status, {}

    def bluesky(self, path: str, headers: dict[str, str], body: dict[str, Any]):
        if path == "/xrpc/com.atproto.server.createSession":
            if body.get("identifier") != BSKY_HANDLE or body.get("password") != BSKY_PASSWORD:
                return 401, {"error": "AuthenticationRequired", "message": "Invalid identifier or password"}, {}
            with self.lock:
                self.sessions += 1
                n = self.sessions
            return 200, {"accessJwt": f"access-{n}", "refreshJwt": f"refresh-{n}", "handle": BSKY_HANDLE, "did": BSKY_DID,
                         "active": True}, {}
        if path != "/xrpc/com.atproto.repo.createRecord":
            return 501, {"error": "MethodNotImplemented", "message": "Method Not Implemented"}, {}
        auth = headers.get("authorization", "")
        if not auth.startswith("Bearer access-"):
            return 401, {"error": "AuthenticationRequired", "message": "Authentication Required"}, {}
        if auth[len("Bearer "):] in self.expired_tokens:
            return 400, {"error": "ExpiredToken", "message": "Token has expired"}, {}
        record = body.get("record") or {}
        if body.get("repo") != BSKY_DID or body.get("collection") != "app.bsky.feed.post" or record.get("$type") != "app.bsky.feed.post":
            return 400, {"error": "InvalidRequest", "message": "Invalid repo, collection or record type"}, {}
        text = record.get("text", "")
        if len(regex.findall(r"\X", text)) > 300 or len(text.encode()) > 3000:
            return 400, {"error": "InvalidRequest", "message": "Invalid app.bsky.feed.post record: Record/text must not be longer than 300 graphemes"}, {}
        try:
            datetime.fromisoformat(record.get("createdAt", "").replace("Z", "+00:00"))
        except ValueError:
            return 400, {"error": "InvalidRequest", "message": "Record/createdAt must be an valid atproto datetime"}, {}
        raw = text.encode()
        for facet in record.get("facets", []):
            idx, feature = facet["index"], facet["features"][0]
            if raw[idx["byteStart"]:idx["byteEnd"]].decode("utf-8", "replace") != feature.get("uri"):
                return 400, {"error": "InvalidRequest", "message": "facet byte range does not cover its link"}, {}
        post = self._record("bluesky", {"text": text, "facets": record.get("facets", []), "langs": record.get("langs")})
        return 200, {"uri": f"at://{BSKY_DID}/app.bsky.feed.post/3k{post['id']}", "cid": f"bafyrei{post['id']}",
                     "commit": {"cid": "bafyreicommit", "rev": "3l"}, "validationStatus": "valid"}, {}


def rate_limited(channel: str, wait: float) -> tuple[int, Any, dict[str, str]]:
    """A 429 the way each network sends it."""
    if channel == "discord":
        return 429, {"message": "You are being rate limited.", "retry_after": wait, "global": False}, {"Retry-After": f"{wait}"}
    if channel == "telegram":
        n = max(1, int(wait))
        return 429, {"ok": False, "error_code": 429, "description": f"Too Many Requests: retry after {n}",
                     "parameters": {"retry_after": n}}, {}
    if channel == "mastodon":
        reset = (datetime.now(timezone.utc) + timedelta(seconds=wait)).isoformat()
        return 429, {"error": "Too many requests"}, {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}
    return 429, {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}, {"ratelimit-reset": str(int(time.time() + wait) + 1)}
