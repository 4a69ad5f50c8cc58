"""Add a link by hand: the editor pastes a URL; the desk's hook fetches it and places it into a story of the day."""
from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import RedirectResponse, Response

from review.users import Account
from review.web import DAY_RE, desk_of, render, require_user
from storage.limits import LIMITS

router = APIRouter()


def _form(request: Request, status_code: int = 200, **values) -> Response:
    form = {"url": "", "day": date.today().isoformat(), "note": "", "draft": False, **values.pop("form", {})}
    return render(request, "add_link.html", status_code=status_code, form=form,
                  enabled=desk_of(request).settings.add_link is not None, title="Add a link", **values)


@router.get("/add")
def add_page(request: Request, day: str = "", user: Account = Depends(require_user)) -> Response:
    return _form(request, form={"day": day} if DAY_RE.match(day) else {})


@router.post("/add")
async def add_post(request: Request, url: str = Form(""), day: str = Form(""), note: str = Form(""),
                   draft: str = Form(""), user: Account = Depends(require_user)) -> Response:
    from starlette.concurrency import run_in_threadpool

    typed = {"url": url.strip(), "day": day.strip(), "note": note.strip(), "draft": bool(draft)}
    hook = desk_of(request).settings.add_link

    async def refuse(status: int, message: str) -> Response:  # everything the editor typed stays in the form
        return await run_in_threadpool(_form, request, status, form=typed, error=message)

    if hook is None:
        return await refuse(400, "Adding links is not set up on this desk.")
    if not typed["url"]:
        return await refuse(400, "Paste the address of the page to add.")
    if len(typed["url"]) > 2000:
        return await refuse(400, "That address is longer than 2,000 characters.")
    if typed["day"] and not DAY_RE.match(typed["day"]):
        return await refuse(400, f"The day must look like 2026-11-18, not {typed['day']!r}.")
    if len(typed["note"]) > LIMITS["note"]:
        return await refuse(400, f"The note is {len(typed['note']):,} characters long; the limit is {LIMITS['note']:,}.")
    try:
        story_id, _ = await hook(typed["url"], typed["day"] or None, typed["note"] or None, typed["draft"], user.name)
    except Exception as exc:  # the fetch's failure is the editor's information, not a crash
        return await refuse(502 if "could not add" in str(exc) else 400, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    return RedirectResponse(f"/story/{story_id}?ok=added", status_code=303)
