"""One story: the draft beside its sources, in-place editing, decisions and history."""
from __future__ import annotations

from typing import Any, Callable

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import RedirectResponse, Response

from review.diffs import history_view
from review.editing import form_changes, save_edit, summary_to_text
from review.highlight import highlight
from review.routes.queue import STATUS_LABELS
from review.users import Account
from summarizer.lint import style_rules
from summarizer.render import view_body
from review.web import desk_of, render, require_user
from storage import desk
from storage.limits import LIMITS
from storage.threads import story_thread

router = APIRouter()


def _form_values(detail: desk.StoryDetail) -> dict[str, str]:
    return {
        "headline": detail.row.headline,
        "summary": summary_to_text(detail.summary, detail.sources),
        "view": view_body(detail.view),  # the label is the renderer's; editors write only the view
        "tags": ", ".join(detail.tags),
        "section": detail.section or "",
    }


def _neighbours(session, detail: desk.StoryDetail) -> tuple[int | None, int | None]:
    data = desk.digest_data(session, detail.row.day, approved_only=False)
    ids = [e.story_id for e in data.entries]
    if detail.row.id not in ids:
        return None, None
    i = ids.index(detail.row.id)
    return (ids[i - 1] if i > 0 else None), (ids[i + 1] if i + 1 < len(ids) else None)


def _page(request: Request, story_id: int, status_code: int = 200, **extra: Any) -> Response:
    app = desk_of(request)
    with app.db.session() as s:
        detail = desk.get_story(s, story_id)
        prev_id, next_id = _neighbours(s, detail)
        thread = story_thread(s, story_id)
        merge_targets = desk.merge_targets(s, story_id)
    number = {src.id: i for i, src in enumerate(detail.sources, start=1)}
    flagged: dict[int, list[dict]] = {}
    for claim in detail.unsupported:
        flagged.setdefault(int(claim.get("sentence", -1)), []).append(claim)
    sentences = [
        {"n": i, "text": sent.get("text", ""), "cites": [number[x] for x in sent.get("source_ids", []) if x in number],
         "unsupported": flagged.get(i - 1, [])}
        for i, sent in enumerate(detail.summary, start=1)
    ]
    sources = []
    for n, src in enumerate(detail.sources, start=1):
        claims = [(s["n"], s["text"]) for s in sentences if n in s["cites"]]
        sources.append({"n": n, "ref": src, "segments": highlight(src.text, claims), "cited_by": [c for c, _ in claims]})
    field_flags = {name: flagged.get(index, []) for name, index in (("view", -1), ("headline", -2), ("tags", -3))}
    return render(
        request, "story.html", status_code=status_code,
        d=detail, sentences=sentences, view_flags=field_flags["view"], field_flags=field_flags, sources=sources,
        view_label=style_rules(detail.style).view_opener, view_text=view_body(detail.view),
        form=extra.pop("form", None) or _form_values(detail), form_version=extra.pop("form_version", detail.row.version),
        history=history_view(detail.history), statuses=STATUS_LABELS, prev_id=prev_id, next_id=next_id,
        can_regenerate=app.settings.regenerate is not None, title=detail.row.headline or f"Story {story_id}",
        thread=thread, merge_targets=merge_targets, off_desk=desk.OFF_DESK, **extra,
    )


@router.get("/story/{story_id}")
def story(story_id: int, request: Request, user: Account = Depends(require_user)) -> Response:
    return _page(request, story_id)


def _conflict(request: Request, story_id: int, exc: desk.Conflict, yours: dict[str, str] | None) -> Response:
    """409: show the other version next to what this editor tried to save; nothing is overwritten."""
    theirs = exc.current
    with desk_of(request).db.session() as s:
        detail = desk.get_story(s, story_id)
    theirs_view = {
        "headline": theirs.get("headline", ""),
        "summary": summary_to_text(theirs.get("summary") or [], detail.sources),
        "view": theirs.get("view", ""),
        "tags": ", ".join(theirs.get("tags") or []),
        "status": theirs.get("status"),
        "editor": theirs.get("editor") or "newsdesk",
        "version": theirs.get("version"),
    }
    return _page(request, story_id, status_code=409, conflict={"message": str(exc), "theirs": theirs_view},
                 form=yours, form_version=detail.row.version)


@router.post("/story/{story_id}/edit")
def edit(
    story_id: int, request: Request, version: int = Form(...), headline: str = Form(""), summary: str = Form(""),
    view: str = Form(""), tags: str = Form(""), section: str = Form(""), user: Account = Depends(require_user),
) -> Response:
    app = desk_of(request)
    yours = {"headline": headline, "summary": summary, "view": view, "tags": tags, "section": section}
    try:
        with app.db.session() as s:
            _, changes = save_edit(s, story_id, user.name, expected_version=version, **yours)
    except desk.Conflict as exc:
        return _conflict(request, story_id, exc, yours)
    except desk.InvalidAction as exc:  # no headline, a field over its size limit: say so and keep the text
        return _page(request, story_id, status_code=400, error=str(exc), form=yours, form_version=version)
    return RedirectResponse(f"/story/{story_id}?ok={'saved' if changes else 'nochange'}", status_code=303)


def _decide(request: Request, story_id: int, action, ok: str, yours: dict[str, str] | None = None,
            goto: Callable[[Any], int] | None = None, **kwargs: Any) -> Response:
    """Run a desk action and go back to the story (or to `goto(result)`), or show why it was refused."""
    try:
        with desk_of(request).db.session() as s:
            result = action(s, story_id, request.state.user.name, **kwargs)
        if goto is not None:
            story_id = goto(result)
    except desk.Conflict as exc:
        return _conflict(request, story_id, exc, yours)
    except desk.GateRefused as exc:  # the truth gate: say what is open, offer an audited override where allowed
        return _page(request, story_id, status_code=400,
                     gate={"flags": exc.flags, "overridable": exc.overridable, "message": str(exc)})
    except desk.InvalidAction as exc:
        return _page(request, story_id, status_code=400, error=str(exc))
    return RedirectResponse(f"/story/{story_id}?ok={ok}", status_code=303)


@router.post("/story/{story_id}/approve")
def approve(story_id: int, request: Request, version: int = Form(...), override: str = Form(""),
            headline: str | None = Form(None), summary: str | None = Form(None), view: str | None = Form(None),
            tags: str | None = Form(None), section: str | None = Form(None),
            user: Account = Depends(require_user)) -> Response:
    """The Approve button sends the edit form's text too: on a conflict the editor sees their own text,
    and unsaved changes are never approved unseen."""
    yours = None
    if headline is not None:
        yours = {"headline": headline, "summary": summary or "", "view": view or "", "tags": tags or "", "section": section or ""}
        with desk_of(request).db.session() as s:
            detail = desk.get_story(s, story_id)
        if detail.row.version == version and form_changes(detail, **yours):
            return _page(request, story_id, status_code=400, form=yours, form_version=version,
                         error="You have unsaved changes: save them first, then approve the saved text.")
    return _decide(request, story_id, desk.approve, "approved", yours, expected_version=version, override=override or None)


@router.post("/story/{story_id}/reject")
def reject(story_id: int, request: Request, version: int = Form(...), reason: str = Form(""),
           user: Account = Depends(require_user)) -> Response:
    return _decide(request, story_id, desk.reject, "rejected", reason=reason, expected_version=version)


@router.post("/story/{story_id}/reopen")
def reopen(story_id: int, request: Request, version: int = Form(...), user: Account = Depends(require_user)) -> Response:
    return _decide(request, story_id, desk.reopen, "reopened", expected_version=version)


@router.post("/story/{story_id}/split")
def split(story_id: int, request: Request, version: int = Form(...), item: int = Form(...),
          user: Account = Depends(require_user)) -> Response:
    """Split one source off into a story of its own, then show that story (it needs its own draft)."""
    return _decide(request, story_id, desk.split_off, "split", goto=lambda result: result.new.id,
                   item_id=item, expected_version=version)


@router.post("/story/{story_id}/merge")
def merge(story_id: int, request: Request, version: int = Form(...), into: int = Form(...),
          user: Account = Depends(require_user)) -> Response:
    """Merge this story into another of its day, then show that story (its draft is marked for a look)."""
    def merge_into(session, sid: int, actor: str, **kwargs: Any) -> desk.MergeResult:
        return desk.merge_into(session, sid, into, actor, **kwargs)

    return _decide(request, story_id, merge_into, "merged", goto=lambda result: result.into.id, expected_version=version)


@router.post("/story/{story_id}/regenerate")
async def regenerate(story_id: int, request: Request, instruction: str = Form(""),
                     user: Account = Depends(require_user)) -> Response:
    from starlette.concurrency import run_in_threadpool

    hook = desk_of(request).settings.regenerate
    if hook is None:
        return await run_in_threadpool(
            _page, request, story_id, 400,
            error="No language model is configured for this desk, so stories cannot be redrafted here. Edit the text by hand.",
        )
    note = instruction.strip() or None
    if note is not None and len(note) > LIMITS["note"]:
        return await run_in_threadpool(
            _page, request, story_id, 400,
            error=f"The note to the model is {len(note):,} characters long; the limit is {LIMITS['note']:,}.",
        )
    await run_in_threadpool(_exists, request, story_id)
    try:
        await hook(story_id, note, user.name)
    except Exception as exc:  # the drafter's failure is the editor's information, not a crash
        return await run_in_threadpool(_page, request, story_id, 502, error=f"Redrafting failed: {exc}")
    # The drafter records the new version and audits who asked, with before/after.
    return RedirectResponse(f"/story/{story_id}?ok=regenerated", status_code=303)


def _exists(request: Request, story_id: int) -> None:
    """404 before any drafting when there is no such story."""
    with desk_of(request).db.session() as s:
        desk.get_story(s, story_id)
