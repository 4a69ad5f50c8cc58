"""The queue: one day's stories in the order readers will see them, with their flags."""
from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Request
from starlette.responses import RedirectResponse, Response

from review.queries import source_health, story_days
from review.users import Account
from review.web import check_day, desk_of, render, require_user
from storage import desk

router = APIRouter()

STATUS_LABELS = {
    "pending": "Pending",
    "approved": "Approved",
    "rejected": "Rejected",
    "needs_human": "Needs a human draft",
}


@router.get("/")
def home(request: Request, status: str | None = None, user: Account = Depends(require_user)) -> Response:
    with desk_of(request).db.session() as s:
        days = story_days(s, limit=1)
    return _queue(request, days[0] if days else date.today().isoformat(), status)


@router.get("/day/{day}")
def day_queue(day: str, request: Request, status: str | None = None, user: Account = Depends(require_user)) -> Response:
    return _queue(request, check_day(day), status)


def _queue(request: Request, day: str, status: str | None) -> Response:
    app = desk_of(request)
    status = status or None
    if status is not None and status not in STATUS_LABELS:
        raise desk.DeskError(f"unknown status {status!r}")
    with app.db.session() as s:
        days = story_days(s)
        rows = desk.list_stories(s, day=day)
        undrafted = desk.undrafted_stories(s, day)
        data = desk.digest_data(s, day, approved_only=False)
        night = desk.night_summary(s, day, flag_after=app.settings.flag_failing_after)
    position = {e.story_id: e.number for e in data.entries}
    first_sentence = {e.story_id: (e.summary[0].get("text", "") if e.summary else "") for e in data.entries}
    counts = {k: 0 for k in STATUS_LABELS}
    for r in rows:
        counts[r.status] = counts.get(r.status, 0) + 1
    rows.sort(key=lambda r: (r.id not in position, position.get(r.id, 0), r.rank, r.id))
    shown = [r for r in rows if status is None or r.status == status]
    if day not in days:
        days = sorted(set(days) | {day}, reverse=True)
    return render(
        request, "queue.html",
        day=day, days=days, status=status, statuses=STATUS_LABELS, counts=counts, total=len(rows),
        rows=shown, position=position, first_sentence=first_sentence, night=night,
        digest=data, undrafted=undrafted, can_draft=app.settings.draft is not None, title=f"Queue · {day}",
    )


@router.post("/story/{story_id}/draft")
async def draft_story(story_id: int, request: Request, user: Account = Depends(require_user)) -> Response:
    """"Draft this": a story past the night's cap gets its draft now (the model's, or extractive)."""
    from starlette.concurrency import run_in_threadpool

    hook = desk_of(request).settings.draft
    if hook is None:
        raise desk.InvalidAction("this desk cannot draft stories (no drafter is wired to it)")
    await run_in_threadpool(_undrafted, request, story_id)
    await hook(story_id, None, user.name)
    return RedirectResponse(f"/story/{story_id}?ok=drafted", status_code=303)


def _undrafted(request: Request, story_id: int) -> None:
    """404 for an unknown story; refused when it already has a draft (Regenerate redrafts)."""
    from storage.models import Story

    with desk_of(request).db.session() as s:
        story = s.get(Story, story_id)
        if story is None or not story.active:
            raise desk.NotFound(f"no story with id {story_id}")
        if story.draft is not None:
            raise desk.InvalidAction(f"story #{story_id} is already drafted (Regenerate redrafts it)")


@router.get("/sources")
def sources(request: Request, user: Account = Depends(require_user)) -> Response:
    app = desk_of(request)
    with app.db.session() as s:
        rows = source_health(s, app.settings.flag_failing_after)
    return render(request, "sources.html", rows=rows, flag_after=app.settings.flag_failing_after,
                  flagged=sum(r.flagged for r in rows), failing=sum(r.failures > 0 for r in rows), title="Sources")
