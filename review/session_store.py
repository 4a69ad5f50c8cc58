"""Server-side desk sessions: started at login, checked on every request, ended by logout or revocation.

The cookie carries a random token; the table keeps only its SHA-256, the
user, an expiry and a fingerprint of the password hash at sign-in. A session
is live while its row exists, has not expired, its user is active and the
user's password is still the one it signed in with.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from review.users import Account
from storage.db import Database
from storage.models import DeskSession, User, utcnow


def _key(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def credential(password_hash: str) -> str:
    """A fingerprint of the password hash: a changed password no longer matches older sessions."""
    return hashlib.sha256(("newsdesk-session:" + (password_hash or "")).encode("utf-8")).hexdigest()


def start_session(db: Database, account: Account, max_age_seconds: int) -> str:
    """A new session for `account`; returns the token for the cookie. The user's expired sessions are swept."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    with db.session() as s:
        user = s.get(User, account.id)
        if user is None:
            raise LookupError(f"no user {account.name!r}")
        s.execute(delete(DeskSession).where(DeskSession.user_id == user.id, DeskSession.expires_at <= now))
        s.add(DeskSession(id=_key(token), user_id=user.id, credential=credential(user.password_hash),
                          created_at=now, expires_at=now + timedelta(seconds=max_age_seconds)))
    return token


def session_account(db: Database, name: str | None, token: str | None) -> Account | None:
    """The account of a live session (name and token both from the signed cookie), else None."""
    if not name or not token:
        return None
    with db.session() as s:
        row = s.execute(
            select(User, DeskSession.credential)
            .join(DeskSession, DeskSession.user_id == User.id)
            .where(DeskSession.id == _key(token), DeskSession.expires_at > utcnow(), User.active.is_(True),
                   func.lower(User.name) == name.strip().lower())
        ).one_or_none()
        if row is None:
            return None
        user, cred = row
        if cred != credential(user.password_hash):
            return None
        return Account(id=user.id, name=user.name, role=user.role)


def end_session(db: Database, token: str | None) -> None:
    """Logout: the token stops working at once, even if someone kept a copy of the cookie."""
    if token:
        with db.session() as s:
            s.execute(delete(DeskSession).where(DeskSession.id == _key(token)))


def revoke_user_sessions(session: Session, user_id: int) -> int:
    """End every session of one user (password reset, user disabled); returns how many."""
    return session.execute(delete(DeskSession).where(DeskSession.user_id == user_id)).rowcount or 0
