"""The day's digest: order, drop, title and intro, preview in either house style, publish."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, BackgroundTasks, Depends, Form, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from review.publishing import publish_day
from review.routes.delivery import delivery_options, start_send
from review.queries import digest_extras
from review.rendering import STYLES, render_html, render_markdown, renderer_available
from review.users import Account
from review.web import Forbidden, check_day, desk_of, render, require_user
from storage import desk

router = APIRouter()

PREVIEW_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; sandbox"


def _page(request: Request, day: str, status_code: int = 200, **extra: Any) -> Response:
    with desk_of(request).db.session() as s:
        data = desk.digest_data(s, day)
        extras = digest_extras(s, day)
        rows = desk.list_stories(s, day=day)
    waiting = [r for r in rows if r.status in ("pending", "needs_human")]
    style = request.query_params.get("style") or data.style
    return render(
        request, "digest.html", status_code=status_code,
        day=day, nav_day=day, data=data, extras=extras, waiting=waiting, styles=STYLES,
        style=style if style in STYLES else data.style, real_renderer=renderer_available(),
        title=f"Digest · {day}", sending=delivery_options(request), **extra,
    )


@router.get("/digest/")
def digest_latest(request: Request, user: Account = Depends(require_user)) -> Response:
    from review.queries import story_days

    with desk_of(request).db.session() as s:
        days = story_days(s, limit=1)
    if not days:
        return render(request, "error.html", heading="No digest yet", message="No drafted stories yet: nothing to arrange.")
    return RedirectResponse(f"/digest/{days[0]}", status_code=303)


@router.get("/digest/{day}")
def digest_page(day: str, request: Request, user: Account = Depends(require_user)) -> Response:
    return _page(request, check_day(day))


@router.get("/digest/{day}/preview")
def preview(day: str, request: Request, style: str | None = None, format: str = "html",
            user: Account = Depends(require_user)) -> Response:
    """The digest exactly as it would be published now (sandboxed, so rendered text cannot run)."""
    check_day(day)
    with desk_of(request).db.session() as s:
        data = desk.digest_data(s, day, style=style if style in STYLES else None)
    if format == "md":
        return PlainTextResponse(render_markdown(data, data.style), headers={"Content-Security-Policy": PREVIEW_CSP})
    if not data.entries:
        page = "<!doctype html><p style='font-family:system-ui;color:#555;padding:1rem'>No approved stories yet.</p>"
    else:
        page = render_html(data, data.style)
    return HTMLResponse(page, headers={"Content-Security-Policy": PREVIEW_CSP})


def _update(request: Request, day: str, version: int, **changes: Any) -> Response:
    try:
        with desk_of(request).db.session() as s:
            # version 0: the page saw no digest row yet; the desk creates it at version 1
            desk.update_digest(s, day, request.state.user.name, expected_version=max(version, 1), **changes)
    except desk.Conflict as exc:
        return _page(request, day, status_code=409, error=f"{exc}. Nothing was changed: look at the current order and try again.")
    except desk.InvalidAction as exc:  # e.g. an intro over its size limit
        return _page(request, day, status_code=400, error=f"{exc} Nothing was changed.")
    return RedirectResponse(f"/digest/{day}?ok=digest", status_code=303)


def _current(request: Request, day: str) -> tuple[list[int], list[int]]:
    with desk_of(request).db.session() as s:
        data = desk.digest_data(s, day)
        extras = digest_extras(s, day)
    return [e.story_id for e in data.entries], extras["dropped_ids"]


@router.post("/digest/{day}/meta")
def meta(day: str, request: Request, version: int = Form(...), title: str = Form(""), intro: str = Form(""),
         style: str = Form(""), user: Account = Depends(require_user)) -> Response:
    check_day(day)
    return _update(request, day, version, title=title.strip(), intro=intro.strip(),
                   style=style if style in STYLES else None)


@router.post("/digest/{day}/move")
def move(day: str, request: Request, version: int = Form(...), story_id: int = Form(...), direction: str = Form("up"),
         position: int | None = Form(None), user: Account = Depends(require_user)) -> Response:
    check_day(day)
    order, _ = _current(request, day)
    if story_id not in order:
        raise desk.InvalidAction(f"story {story_id} is not in the {day} digest")
    idx = order.index(story_id)
    order.pop(idx)
    if position is not None:
        target = position - 1
    else:
        target = idx + {"up": -1, "down": 1, "top": -len(order) - 1, "bottom": len(order) + 1}.get(direction, 0)
    order.insert(min(max(target, 0), len(order)), story_id)
    return _update(request, day, version, order=order)


@router.post("/digest/{day}/drop")
def drop(day: str, request: Request, version: int = Form(...), story_id: int = Form(...),
         user: Account = Depends(require_user)) -> Response:
    check_day(day)
    _, dropped = _current(request, day)
    return _update(request, day, version, dropped=sorted(set(dropped) | {story_id}))


@router.post("/digest/{day}/restore")
def restore(day: str, request: Request, version: int = Form(...), story_id: int = Form(...),
            user: Account = Depends(require_user)) -> Response:
    check_day(day)
    _, dropped = _current(request, day)
    return _update(request, day, version, dropped=[x for x in dropped if x != story_id])


@router.get("/digest/{day}/publish")
def confirm_publish(day: str, request: Request, note: str = "", send_email: str = "", notify: str = "",
                    user: Account = Depends(require_user)) -> Response:
    """Before anything goes out: what will be published, in which style, to which files and feeds, and who is told."""
    check_day(day)
    app = desk_of(request)
    with app.db.session() as s:
        data = desk.digest_data(s, day)
        extras = digest_extras(s, day)
    correction = data.status == "published"
    if correction and not user.is_admin:
        raise Forbidden("This digest is already published. Only an admin can publish a correction.")
    settings = app.settings
    out = settings.publish_dir
    site = (settings.site_url or "").rstrip("/")
    files = [(out / name, f"{site}/{name}" if site else None) for name in (f"{day}.md", f"{day}.html", "index.html", "feed.xml", "feed.json")]
    options = delivery_options(request)
    channels = [c for c in request.query_params.getlist("send_channel") if c in options["channels"]]
    sends = {"email": bool(send_email) and options["email"] and user.is_admin, "channels": channels if user.is_admin else [],
             "notify": bool(notify) and correction}
    return render(
        request, "publish_confirm.html", day=day, nav_day=day, data=data, styles=STYLES, files=files, correction=correction,
        revision=len(extras["publications"]) + 1, note=note.strip(), webhook=bool(settings.webhook_url), sends=sends,
        title=f"Publish {day}?",
    )


@router.post("/digest/{day}/publish")
async def publish(day: str, request: Request, background: BackgroundTasks, version: int = Form(...), note: str = Form(""),
                  style: str = Form(""), send_email: str = Form(""), notify: str = Form(""),
                  user: Account = Depends(require_user)) -> Response:
    """Editors publish; correcting an already published digest is for admins."""
    check_day(day)
    app = desk_of(request)

    def state() -> tuple[str, int]:
        with app.db.session() as s:
            data = desk.digest_data(s, day)
            return data.status, data.version

    status, current = await run_in_threadpool(state)
    if status == "published" and not user.is_admin:
        raise Forbidden("This digest is already published. Only an admin can publish a correction.")
    if status == "published" and not note.strip():
        return await run_in_threadpool(_page, request, day, 400, error="A correction needs a note saying what changed.")
    if current != version:
        return await run_in_threadpool(
            _page, request, day, 409,
            error="The digest changed since you opened it (someone reordered, dropped or retitled). Check the preview and publish again.",
        )
    s = app.settings
    try:
        result = await run_in_threadpool(
            publish_day, app.db, day, user.name, s.publish_dir, style=style if style in STYLES else None,
            note=note.strip() or None, site_url=s.site_url, webhook_url=s.webhook_url,
        )
    except desk.InvalidAction as exc:
        return await run_in_threadpool(_page, request, day, 400, error=str(exc))
    channels = [str(c) for c in (await request.form()).getlist("send_channel")]
    if (send_email or channels) and user.is_admin:  # sending is for admins; the send page shows progress
        problem = start_send(request, background, day, user.name, email=bool(send_email), channels=channels, notify=bool(notify))
        if problem:
            return await run_in_threadpool(_page, request, day, 200, error=f"Published revision {result.revision}, but nothing was sent: {problem}")
        return RedirectResponse(f"/digest/{day}/email?ok=sending", status_code=303)
    if result.webhook_error:
        return await run_in_threadpool(
            _page, request, day, 200,
            error=f"Published revision {result.revision}, but the chat notification failed: {result.webhook_error}",
        )
    return RedirectResponse(f"/digest/{day}?ok=published", status_code=303)
