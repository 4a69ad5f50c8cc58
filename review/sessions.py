"""Signed session cookies carrying the user name, a per-session CSRF token and, once signed in, a session id.

The cookie is signed, not encrypted. The session id is checked against the
`desk_sessions` table on every request (`review.session_store`), so logging
out, a password reset or disabling a user ends the session at once, whatever
the cookie's age. It is HttpOnly and SameSite=Lax; Secure when served over
TLS (or when forced).
"""
from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

COOKIE = "newsdesk_session"
CSRF_FIELD = "csrf_token"


@dataclass
class SessionData:
    csrf: str
    user: str | None = None
    sid: str | None = None  # the server-side session's token, for a signed-in user


class SessionCodec:
    def __init__(self, secret_key: str, max_age: int, secure: bool | None):
        self._serializer = URLSafeTimedSerializer(secret_key, salt="newsdesk-session")
        self.max_age = max_age
        self.secure = secure

    def load(self, request: Request) -> SessionData | None:
        raw = request.cookies.get(COOKIE)
        if not raw:
            return None
        try:
            data = self._serializer.loads(raw, max_age=self.max_age)
        except BadSignature:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("c"), str):
            return None
        user, sid = data.get("u"), data.get("s")
        return SessionData(csrf=data["c"], user=user if isinstance(user, str) else None,
                           sid=sid if isinstance(sid, str) else None)

    def save(self, request: Request, response: Response, data: SessionData) -> None:
        secure = self.secure if self.secure is not None else request.url.scheme == "https"
        response.set_cookie(
            COOKIE,
            self._serializer.dumps({"c": data.csrf, "u": data.user, "s": data.sid}),
            max_age=self.max_age,
            httponly=True,
            samesite="lax",
            secure=secure,
            path="/",
        )

    def clear(self, response: Response) -> None:
        response.delete_cookie(COOKIE, path="/")


def new_session(user: str | None = None, sid: str | None = None) -> SessionData:
    """A fresh session (and CSRF token): issued at login so a planted token never survives it."""
    return SessionData(csrf=secrets.token_urlsafe(32), user=user, sid=sid)


def csrf_matches(session: SessionData | None, submitted: str | None) -> bool:
    return bool(session and submitted) and hmac.compare_digest(session.csrf, submitted or "")
