"""Admin: the desk's accounts (list, add, disable or enable, reset a password). Everything here is admin-only and audited."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from review.users import ROLES, Account, UserError, add_user, list_users, reset_password, set_active
from review.web import desk_of, render, require_admin, require_user

router = APIRouter()


@router.get("/users")
def users_page(request: Request, user: Account = Depends(require_user)) -> Response:
    require_admin(user)
    return render(request, "users.html", users=list_users(desk_of(request).db), roles=ROLES, title="Users")


@router.post("/users")
async def create_user(request: Request, name: str = Form(""), role: str = Form("editor"), password: str = Form(""),
                      user: Account = Depends(require_user)) -> Response:
    require_admin(user)
    db = desk_of(request).db
    try:
        await run_in_threadpool(lambda: add_user(db, name, role, password, actor=user.name))
    except UserError as exc:
        users = await run_in_threadpool(list_users, db)
        return render(request, "users.html", status_code=400, users=users, roles=ROLES, error=str(exc), title="Users", new_name=name)
    return RedirectResponse("/users?ok=user", status_code=303)


async def _refused(request: Request, db, message: str) -> Response:
    users = await run_in_threadpool(list_users, db)
    return render(request, "users.html", status_code=400, users=users, roles=ROLES, error=message, title="Users")


@router.post("/users/active")
async def change_active(request: Request, name: str = Form(""), active: str = Form(""),
                        user: Account = Depends(require_user)) -> Response:
    """Disable (ending the user's sessions at once) or enable an account; nobody disables themselves."""
    require_admin(user)
    db = desk_of(request).db
    enable = active == "1"
    if not enable and name.strip().lower() == user.name.lower():
        return await _refused(request, db, "You cannot disable your own account (ask another admin).")
    try:
        await run_in_threadpool(lambda: set_active(db, name, enable, actor=user.name))
    except UserError as exc:
        return await _refused(request, db, str(exc))
    return RedirectResponse(f"/users?ok={'enabled' if enable else 'disabled'}", status_code=303)


@router.post("/users/password")
async def change_password(request: Request, name: str = Form(""), password: str = Form(""),
                          user: Account = Depends(require_user)) -> Response:
    """Set a new password for an account; every session it had ends."""
    require_admin(user)
    db = desk_of(request).db
    try:
        await run_in_threadpool(lambda: reset_password(db, name, password, actor=user.name))
    except UserError as exc:
        return await _refused(request, db, str(exc))
    return RedirectResponse("/users?ok=password", status_code=303)
