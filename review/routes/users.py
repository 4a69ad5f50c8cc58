"""Admin: the desk's accounts (list, add). Everything here is admin-only and audited."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from review.users import ROLES, Account, UserError, add_user, list_users
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
