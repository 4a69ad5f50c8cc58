"""What every route shares: the app's state, templates, and the login/CSRF gate."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from fastapi import Request
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse

from review.clientaddr import real_client
from review.ratelimit import HashGate, LoginLimiter
from review.sessions import CSRF_FIELD, SessionCodec, SessionData, csrf_matches
from review.settings import ReviewSettings
from review.session_store import session_account
from review.users import Account
from storage.db import Database
from summarizer.render import safe_url

TEMPLATES = Path(__file__).parent / "templates"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# Short confirmations after a redirect (?ok=key): fixed texts, so the URL cannot inject any.
MESSAGES = {
    "saved": "Saved. Linter and grounding checks were re-run on your text.",
    "nochange": "Nothing changed, nothing saved.",
    "approved": "Approved.",
    "rejected": "Rejected.",
    "reopened": "Back in the queue.",
    "regenerated": "Redrafted by the model: check the new text.",
    "drafted": "Drafted: check the new text.",
    "digest": "Digest updated.",
    "published": "Published. The archive and feeds are up to date.",
    "user": "User added.",
    "disabled": "User disabled and signed out everywhere.",
    "enabled": "User enabled.",
    "password": "Password reset; the user was signed out everywhere.",
    "added": "Link added: it is one of this story's sources now.",
    "split": "Split off into a story of its own: regenerate it or write it. The story it left is marked for a look.",
    "merged": "Merged: the other story's sources are this story's now, and it left the queue. Regenerate or edit this draft.",
}


class LoginRequired(Exception):
    """No valid session: GET goes to the login page, anything else gets 401."""


class CsrfFailed(Exception):
    """A state-changing request without this session's CSRF token."""


class Forbidden(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class DeskApp:
    """Everything the routes need, hung on `app.state.desk`."""

    settings: ReviewSettings
    db: Database
    sessions: SessionCodec
    limiter: LoginLimiter
    env: Environment
    hash_gate: HashGate = field(default_factory=HashGate)
    proxies: tuple = ()  # trusted reverse proxies (networks), from settings.trusted_proxies


def make_env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(enabled_extensions=("html", "j2"), default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["safe_url"] = safe_url  # the one URL policy: no javascript: or data: links on the desk either
    env.filters["money"] = lambda v: f"${v:,.2f}" if v is not None else "–"
    env.filters["num"] = lambda v: f"{v:,}" if isinstance(v, int) else v
    env.filters["when"] = lambda v: v.strftime("%Y-%m-%d %H:%M UTC") if v is not None and hasattr(v, "strftime") else (str(v)[:16].replace("T", " ") + " UTC" if v else "never")
    return env


def desk_of(request: Request) -> DeskApp:
    return request.app.state.desk


def session_of(request: Request) -> SessionData:
    return request.state.session


def client_address(request: Request) -> str:
    """The address login throttling and the audit log use (forwarded headers only from trusted proxies)."""
    peer = request.client.host if request.client else None
    return real_client(peer, request.headers.getlist("x-forwarded-for"), desk_of(request).proxies)


def check_day(day: str) -> str:
    from storage.desk import NotFound

    if not DAY_RE.match(day or ""):
        raise NotFound(f"{day!r} is not a day (YYYY-MM-DD)")
    try:
        date.fromisoformat(day)
    except ValueError:
        raise NotFound(f"there is no such date as {day}") from None
    return day


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    app = desk_of(request)
    ok = request.query_params.get("ok")
    base = {
        "request": request,
        "user": getattr(request.state, "user", None),
        "csrf_field": CSRF_FIELD,
        "csrf_token": session_of(request).csrf,
        "notice": MESSAGES.get(ok or ""),
        "path": request.url.path,
    }
    html = app.env.get_template(template).render(**(base | context))
    return HTMLResponse(html, status_code=status_code)


async def check_csrf(request: Request) -> None:
    """Every state-changing request carries the session's token in a hidden form field."""
    if request.method in SAFE_METHODS:
        return
    submitted = None
    ctype = request.headers.get("content-type", "")
    if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        submitted = (await request.form()).get(CSRF_FIELD)
    submitted = submitted or request.headers.get("x-csrf-token")
    if not csrf_matches(session_of(request), submitted if isinstance(submitted, str) else None):
        raise CsrfFailed()


async def require_user(request: Request) -> Account:
    """Dependency for every page but login: a live account, and a CSRF token on POST."""
    session = session_of(request)
    account = (await run_in_threadpool(session_account, desk_of(request).db, session.user, session.sid)
               if session.user else None)  # a live server-side session of an active user, or nobody
    if account is None:
        raise LoginRequired()
    request.state.user = account
    await check_csrf(request)
    return account


def require_admin(account: Account) -> None:
    if not account.is_admin:
        raise Forbidden("Only an admin can do this.")
