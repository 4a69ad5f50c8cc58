"""Desk accounts: editors and admins, argon2-hashed passwords, audited changes."""
from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from review.passwords import check_password, hash_password
from storage.db import Database
from storage.desk import audit
from storage.models import User

ROLES = ("editor", "admin")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024  # longer "passwords" are refused before hashing (a login form is not an upload)


class UserError(ValueError):
    """A user request refused, with a message fit for the person asking."""


@dataclass(frozen=True)
class Account:
    """What the app keeps of a logged-in user (never the hash)."""

    id: int
    name: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def _account(u: User) -> Account:
    return Account(id=u.id, name=u.name, role=u.role)


def add_user(db: Database, name: str, role: str, password: str, *, actor: str = "cli") -> Account:
    """Create an account; the name is unique (case-insensitively) and the password at least 8 characters."""
    name = (name or "").strip()
    if not NAME_RE.match(name):
        raise UserError("a user name is letters, digits, '.', '_' or '-' (at most 100)")
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}: use {' or '.join(ROLES)}")
    if len(password or "") < MIN_PASSWORD:
        raise UserError(f"a password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise UserError(f"a password has at most {MAX_PASSWORD} characters")
    with db.session() as s:
        if _find(s, name) is not None:
            raise UserError(f"user {name!r} already exists")
        user = User(name=name, role=role, password_hash=hash_password(password), active=True)
        s.add(user)
        s.flush()
        audit(s, actor, "user.created", "user", name, None, {"name": name, "role": role})
        return _account(user)


def reset_password(db: Database, name: str, password: str, *, actor: str = "cli") -> Account:
    """Reset a password; every session the user had ends (whoever held one must sign in again)."""
    from review.session_store import revoke_user_sessions

    if len(password or "") < MIN_PASSWORD:
        raise UserError(f"a password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise UserError(f"a password has at most {MAX_PASSWORD} characters")
    with db.session() as s:
        user = _find(s, name or "")
        if user is None:
            raise UserError(f"no user {name!r}")
        user.password_hash = hash_password(password)
        ended = revoke_user_sessions(s, user.id)
        audit(s, actor, "user.password_reset", "user", user.name, None, {"sessions_ended": ended})
        return _account(user)


def set_active(db: Database, name: str, active: bool, *, actor: str = "cli") -> Account:
    """Disable (or re-enable) a user; disabling ends every session the user had."""
    from review.session_store import revoke_user_sessions

    with db.session() as s:
        user = _find(s, name or "")
        if user is None:
            raise UserError(f"no user {name!r}")
        before = user.active
        user.active = bool(active)
        ended = 0 if active else revoke_user_sessions(s, user.id)
        audit(s, actor, "user.enabled" if active else "user.disabled", "user", user.name,
              {"active": before}, {"active": user.active, "sessions_ended": ended})
        return _account(user)


def _find(session: Session, name: str) -> User | None:
    from sqlalchemy import func

    return session.scalars(select(User).where(func.lower(User.name) == name.strip().lower())).one_or_none()


def verify(db: Database, name: str, password: str) -> Account | None:
    """The account when name and password match an active user, else None (same cost either way)."""
    if len(name or "") > 200 or len(password or "") > MAX_PASSWORD:
        return None  # never hash an oversized input
    with db.session() as s:
        user = _find(s, name or "")
        ok = check_password(user.password_hash if user else None, password or "")
        if user is None or not ok or not user.active:
            return None
        return _account(user)


def get_account(db: Database, name: str) -> Account | None:
    """The active account called `name`, read on every request so a disabled user is out at once."""
    with db.session() as s:
        user = _find(s, name)
        return _account(user) if user is not None and user.active else None


def require_admin_account(db: Database, name: str, doing: str) -> Account:
    """The active admin called `name`, or UserError saying `doing` is for admins: the desk's rule, for the CLI too."""
    account = get_account(db, name or "")
    if account is None:
        raise UserError(f"{doing} is for admins, and {name!r} is not an active desk account: "
                        "pass --as NAME of an admin (see `newsdesk users list`)")
    if not account.is_admin:
        raise UserError(f"{doing} is for admins, and {account.name} is an {account.role}: pass --as NAME of an admin")
    return account


def list_users(db: Database) -> list[dict]:
    with db.session() as s:
        return [
            {"name": u.name, "role": u.role, "active": u.active, "created_at": u.created_at}
            for u in s.scalars(select(User).order_by(User.name))
        ]
