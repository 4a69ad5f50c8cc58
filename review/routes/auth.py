"""Login and logout: throttled, hashing bounded, audited; a fresh server-side session (and CSRF token) on success."""
from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from review.ratelimit import Busy
from review.session_store import end_session, start_session
from review.sessions import new_session
from review.users import Account, verify
from review.web import check_csrf, client_address, desk_of, render, require_user, session_of
from storage.desk import audit

router = APIRouter()


def safe_next(target: str | None) -> str:
    """Only same-site paths: a login link must not bounce editors to another site."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _audit(request: Request, actor: str, action: str) -> None:
    with desk_of(request).db.session() as s:
        audit(s, actor, action, "user", actor, None, {"ip": client_address(request)})


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    if session_of(request).user:
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, "login.html", next=safe_next(next), name="")


@router.post("/login", dependencies=[Depends(check_csrf)])
async def login(request: Request, name: str = Form(""), password: str = Form(""), next: str = Form("/")) -> Response:
    app, ip = desk_of(request), client_address(request)
    name = name.strip()[:200]
    wait = app.limiter.attempt(name, ip)  # charged before hashing: a burst is throttled like a series
    if wait:
        resp = render(request, "login.html", status_code=429, next=safe_next(next), name=name,
                      error=f"Too many failed attempts. Try again in {max(1, (wait + 59) // 60)} minute(s).")
        resp.headers["Retry-After"] = str(wait)
        return resp
    try:
        async with app.hash_gate.slot():  # a few argon2 hashes at a time bound the desk's memory
            account = await run_in_threadpool(verify, app.db, name, password)
    except Busy:
        resp = render(request, "login.html", status_code=503, next=safe_next(next), name=name,
                      error="The desk is busy checking other sign-ins. Try again in a few seconds.")
        resp.headers["Retry-After"] = "5"
        return resp
    if account is None:
        await run_in_threadpool(_audit, request, name or "?", "user.login_failed")
        return render(request, "login.html", status_code=401, next=safe_next(next), name=name,
                      error="Wrong name or password.")
    app.limiter.succeeded(name, ip)
    token = await run_in_threadpool(start_session, app.db, account, app.settings.session_max_age_seconds)
    await run_in_threadpool(_audit, request, account.name, "user.login")
    request.state.session = new_session(account.name, sid=token)
    request.state.session_dirty = True
    return RedirectResponse(safe_next(next), status_code=303)


@router.get("/logout")
def logout_page(request: Request, user: Account = Depends(require_user)) -> Response:
    return render(request, "logout.html")


@router.post("/logout")
def logout(request: Request, user: Account = Depends(require_user)) -> Response:
    end_session(desk_of(request).db, session_of(request).sid)  # a kept copy of the cookie is dead too
    _audit(request, user.name, "user.logout")
    request.state.session_clear = True
    return RedirectResponse("/login", status_code=303)
