"""Login and logout: rate-limited, audited, and a fresh session (and CSRF token) on success."""
from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

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
    name = name.strip()
    if app.limiter.blocked(name, ip):
        wait = app.limiter.retry_after(name, ip)
        resp = render(request, "login.html", status_code=429, next=safe_next(next), name=name,
                      error=f"Too many failed attempts. Try again in {max(1, wait // 60)} minute(s).")
        resp.headers["Retry-After"] = str(wait)
        return resp
    account = await run_in_threadpool(verify, app.db, name, password)
    if account is None:
        app.limiter.failed(name, ip)
        await run_in_threadpool(_audit, request, name[:200] or "?", "user.login_failed")
        return render(request, "login.html", status_code=401, next=safe_next(next), name=name,
                      error="Wrong name or password.")
    app.limiter.succeeded(name, ip)
    await run_in_threadpool(_audit, request, account.name, "user.login")
    request.state.session = new_session(account.name)
    request.state.session_dirty = True
    return RedirectResponse(safe_next(next), status_code=303)


@router.get("/logout")
def logout_page(request: Request, user: Account = Depends(require_user)) -> Response:
    return render(request, "logout.html")


@router.post("/logout")
def logout(request: Request, user: Account = Depends(require_user)) -> Response:
    _audit(request, user.name, "user.logout")
    request.state.session_clear = True
    return RedirectResponse("/login", status_code=303)
