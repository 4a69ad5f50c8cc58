"""The editors' desk: the one set of rules for reviewing, ordering and publishing.

The CLI and the web app both call these functions, so both enforce the same
rules: edits are optimistic-locked, every change lands in the audit log and
the draft's history, and only approved drafts reach a published digest.
Public ids are story ids (a story has at most one draft).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Callable, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from storage.models import (
    AuditLog,
    Digest,
    Draft,
    DraftRevision,
    Item,
    ItemJoin,
    ItemSeparation,
    LLMCall,
    Publication,
    Run,
    Source,
    Story,
    StoryItem,
    utcnow,
)
from storage.limits import TooLong, check_draft_changes, check_text
from storage.outlets import distinct_outlets
from storage.units import units_of
from storage.writes import draft_snapshot

STATUSES = ("pending", "approved", "rejected", "needs_human")


class DeskError(Exception):
    """A request the desk refuses, with a message fit for an editor."""


class NotFound(DeskError):
    pass


class InvalidAction(DeskError):
    pass


class GateRefused(InvalidAction):
    """Approval refused while the draft has open flags. `overridable`: an editor may approve anyway
    with a reason (unsupported claims); otherwise only an edit resolves it (a placeholder view)."""

    def __init__(self, message: str, *, flags: list[str], overridable: bool):
        super().__init__(message)
        self.flags, self.overridable = flags, overridable


class Conflict(DeskError):
    """The draft changed since the editor opened it; `current` is the other version."""

    def __init__(self, message: str, current: dict[str, Any]):
        super().__init__(message)
        self.current = current


@dataclass
class SourceRef:
    id: str
    title: str
    outlet: str
    url: str | None
    kind: str
    author: str | None = None
    text: str = ""
    published_at: datetime | None = None
    added_by: str | None = None  # an editor pasted this link
    added_note: str | None = None
    network: str | None = None  # the source's type: feed, bluesky, mastodon, reddit, hackernews...
    weak: bool = False  # joined the story only on a weak match: the editor checks it belongs


@dataclass
class StoryRow:
    """One line of the review queue."""

    id: int
    day: str
    rank: int
    status: str
    headline: str
    outlets: int
    items: int
    violations: int
    unsupported: int
    error: str | None
    score: float
    reasons: list[str]
    version: int
    update_of: str | None = None
    outlet_names: list[str] = field(default_factory=list)  # distinct outlets (a feed and its social account are one)
    source_types: list[str] = field(default_factory=list)  # feed, bluesky, hackernews...
    single_source: bool = False  # one outlet only: worth a second look before it runs
    active: bool = True  # False: merged into another story or regrouped by a rerun (kept for its history)


@dataclass
class StoryDetail:
    row: StoryRow
    summary: list[dict[str, Any]]
    view: str
    tags: list[str]
    section: str | None
    style: str
    model: str | None
    prompt_version: str
    violations: list[dict[str, Any]]
    unsupported: list[dict[str, Any]]
    reject_reason: str | None
    editor: str | None
    sources: list[SourceRef]
    history: list[dict[str, Any]] = field(default_factory=list)
    omitted_sources: list[dict[str, Any]] = field(default_factory=list)  # sources the model did not read, and why
    llm_mode: str | None = None
    failure_kind: str | None = None  # transient | permanent | budget: why the LLM draft failed
    override: dict[str, Any] | None = None  # approved over open flags: by, reason, at, flags


def _outlet(item: Item) -> str:
    """The outlet readers see: a link added by hand is named by its site, not by the desk's source for it."""
    if item.added_by and item.article is not None and item.article.site_name:
        return item.article.site_name
    if item.added_by and item.url:
        from urllib.parse import urlsplit

        return urlsplit(item.url).hostname or "unknown"
    return item.source.name if item.source is not None else "unknown"


def source_refs(story: Story) -> list[SourceRef]:
    """The story's items as the drafter and renderer see them (article text when extracted)."""
    refs = []
    for si in story.items:
        it = si.item
        art = it.article
        text = art.text if art is not None and art.status == "ok" and art.text else it.text
        title = (art.title if art is not None and art.status == "ok" and art.title else None) or it.title
        refs.append(
            SourceRef(
                id=str(it.id),
                title=title or "",
                outlet=_outlet(it),
                url=it.url,
                kind=it.kind,
                author=it.author,
                text=text or "",
                published_at=it.published_at,
                added_by=it.added_by,
                added_note=it.added_note,
                network=it.source.type if it.source is not None else None,
                weak=bool(si.weak),
            )
        )
    return refs


def _story_query():
    return select(Story).options(
        selectinload(Story.items).selectinload(StoryItem.item).selectinload(Item.source),
        selectinload(Story.items).selectinload(StoryItem.item).selectinload(Item.article),
        selectinload(Story.draft),
    )


def _row(story: Story) -> StoryRow:
    d = story.draft
    outlets = distinct_outlets([_outlet(si.item) for si in story.items])
    types = sorted({si.item.source.type for si in story.items if si.item.source is not None})
    prev = None
    if story.previous_story_id is not None:
        prev = f"story {story.previous_story_id}"
    return StoryRow(
        id=story.id,
        day=story.day,
        rank=story.rank,
        status=d.status if d else "undrafted",
        headline=(d.headline if d and d.headline else story.title) or "",
        outlets=len(outlets),
        items=len(story.items),
        violations=len(d.violations or []) if d else 0,
        unsupported=len(d.unsupported or []) if d else 0,
        error=d.error if d else None,
        score=story.score,
        reasons=list(story.reasons or []),
        version=d.version if d else 0,
        update_of=prev,
        outlet_names=outlets,
        source_types=types,
        single_source=len(outlets) == 1,
        active=story.active,
    )


def list_stories(session: Session, day: str | None = None, status: str | None = None) -> list[StoryRow]:
    """The review queue: drafted stories in rank order, optionally one day and one status."""
    if status is not None and status not in STATUSES:
        raise DeskError(f"unknown status {status!r}: use one of {', '.join(STATUSES)}")
    q = _story_query().join(Draft, Draft.story_id == Story.id).where(Story.active.is_(True))
    if day:
        q = q.where(Story.day == day)
    if status:
        q = q.where(Draft.status == status)
    q = q.order_by(Story.day.desc(), Story.rank, Story.id)
    return [_row(s) for s in session.scalars(q)]


def undrafted_stories(session: Session, day: str) -> list[StoryRow]:
    """The night's stories with no draft (past the drafting cap, or repeats), in rank order.

    Every story of the night is on the desk: these are listed below the drafts,
    with their rank reasons, for an editor to draft one by hand.
    """
    q = (_story_query().outerjoin(Draft, Draft.story_id == Story.id)
         .where(Story.active.is_(True), Story.day == day, Draft.id.is_(None)).order_by(Story.rank, Story.id))
    rows = []
    for story in session.scalars(q):
        row = _row(story)
        if story.is_repeat:
            row.reasons = [*row.reasons, "repeats an earlier story"]
        rows.append(row)
    return rows


OFF_DESK = "no longer on the desk: it was merged into another story, or a rerun regrouped its sources"


def _load(session: Session, story_id: int) -> Story:
    story = session.scalars(_story_query().where(Story.id == story_id)).one_or_none()
    if story is None or story.draft is None:
        raise NotFound(f"no drafted story with id {story_id}")
    return story


def get_story(session: Session, story_id: int) -> StoryDetail:
    story = _load(session, story_id)
    d = story.draft
    assert d is not None
    history = [
        {"version": r.version, "author": r.author, "action": r.action, "note": r.note, "at": r.created_at.isoformat(), "snapshot": r.snapshot}
        for r in d.revisions
    ]
    return StoryDetail(
        row=_row(story),
        summary=list(d.summary or []),
        view=d.view or "",
        tags=list(d.tags or []),
        section=d.section,
        style=d.style,
        model=d.model,
        prompt_version=d.prompt_version,
        violations=list(d.violations or []),
        unsupported=list(d.unsupported or []),
        reject_reason=d.reject_reason,
        editor=d.editor,
        sources=source_refs(story),
        history=history,
        omitted_sources=list(d.omitted_sources or []),
        llm_mode=d.llm_mode,
        failure_kind=d.failure_kind,
        override=d.override,
    )


def audit(session: Session, actor: str, action: str, entity: str, entity_id: Any, before: dict | None, after: dict | None) -> None:
    session.add(AuditLog(actor=actor, action=action, entity=entity, entity_id=str(entity_id), before=before, after=after))


def _within_limits(check: Callable[..., None], *args: Any) -> None:
    """Field-size limits (storage.limits) as the desk's own refusal."""
    try:
        check(*args)
    except TooLong as exc:
        raise InvalidAction(str(exc)) from None


def _check_version(d: Draft, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != d.version:
        raise Conflict(
            f"story {d.story_id} changed since you opened it (you had version {expected_version}, "
            f"it is now version {d.version} by {d.editor or 'newsdesk'}); your change was not saved",
            current=draft_snapshot(d) | {"version": d.version, "editor": d.editor},
        )


def _revise(session: Session, d: Draft, actor: str, action: str, before: dict, note: str | None = None) -> None:
    d.version += 1
    d.updated_at = utcnow()
    d.revisions.append(DraftRevision(version=d.version, author=actor, action=action, snapshot=draft_snapshot(d), note=note))
    audit(session, actor, action, "draft", d.story_id, before, draft_snapshot(d))
    session.flush()


# Lint rules that leave a story without a view: no reason can override them, only writing the view.
VIEW_BLOCKERS = ("view.placeholder", "view.missing")
_WHERE = {-1: "view", -2: "headline", -3: "tags"}


def _where(claim: dict[str, Any]) -> str:
    index = int(claim.get("sentence", -1))
    return _WHERE.get(index, f"sentence {index + 1}")


def open_flags(d: Draft) -> tuple[list[str], list[str]]:
    """(unsupported claims an editor may override with a reason, view problems only an edit resolves)."""
    claims = [f"{_where(u)}: \u201c{u.get('claim', '')}\u201d ({u.get('reason', '')})" for u in d.unsupported or []]
    view = [v.get("message", v.get("rule", "")) for v in d.violations or [] if v.get("rule") in VIEW_BLOCKERS]
    if not view and not (d.view or "").strip():
        view = ["the story has no view"]
    return claims, view


def approve(session: Session, story_id: int, actor: str, expected_version: int | None = None, *,
            override: str | None = None) -> StoryRow:
    """Approve for the digest. Refused (GateRefused) while the view is missing or still the placeholder,
    and while claims are unsupported unless `override` gives the editor's reason (audited, kept in history)."""
    story = _load(session, story_id)
    d = story.draft
    assert d is not None
    _check_version(d, expected_version)
    if not story.active:  # its sources are in another story now: an approval here would publish nothing
        raise InvalidAction(f"story {story_id} is {OFF_DESK}: approve the story that holds its sources")
    if not d.headline.strip() or not d.summary:
        raise InvalidAction(f"story {story_id} has no draft to approve yet: write or regenerate it first")
    if d.status == "approved":
        return _row(story)
    claims, view = open_flags(d)
    if view:
        raise GateRefused(f"story {story_id} cannot be approved until its view is written: {view[0]}",
                          flags=view, overridable=False)
    reason = (override or "").strip()
    if claims and not reason:
        raise GateRefused(
            f"story {story_id} has {len(claims)} unsupported claim(s): {'; '.join(claims[:3])}"
            f"{' …' if len(claims) > 3 else ''}. Edit the draft to resolve them, or approve with an override "
            "and a reason.", flags=claims, overridable=True)
    before = draft_snapshot(d)
    d.status, d.editor, d.decided_at, d.reject_reason = "approved", actor, utcnow(), None
    note = None
    if claims:
        d.override = {"by": actor, "reason": reason, "at": utcnow().isoformat(timespec="seconds"), "flags": claims}
        note = f"approved over {len(claims)} unsupported claim(s): {reason}"
        audit(session, actor, "approval.override", "draft", d.story_id, None, {"reason": reason, "flags": claims})
    _revise(session, d, actor, "approved", before, note=note)
    return _row(story)


def reject(session: Session, story_id: int, actor: str, reason: str, expected_version: int | None = None) -> StoryRow:
    if not reason or not reason.strip():
        raise InvalidAction("a rejection needs a reason")
    _within_limits(check_text, "reason", reason.strip())
    story = _load(session, story_id)
    d = story.draft
    assert d is not None
    _check_version(d, expected_version)
    before = draft_snapshot(d)
    d.status, d.editor, d.decided_at, d.reject_reason = "rejected", actor, utcnow(), reason.strip()
    _revise(session, d, actor, "rejected", before, note=reason.strip())
    return _row(story)


def reopen(session: Session, story_id: int, actor: str, expected_version: int | None = None) -> StoryRow:
    """Put an approved or rejected story back in the queue."""
    story = _load(session, story_id)
    d = story.draft
    assert d is not None
    _check_version(d, expected_version)
    before = draft_snapshot(d)
    d.status = "pending" if d.summary else "needs_human"
    d.decided_at, d.reject_reason = None, None
    _revise(session, d, actor, "reopened", before)
    return _row(story)


# ---------------------------------------------------------------- split off

SPLIT_NOTICE = "a source was split off: regenerate or edit"


@dataclass
class SplitResult:
    kept: StoryRow  # the story the source left: same row, same draft (marked stale)
    new: StoryRow  # the source's story of its own
    item_ids: list[int]  # what moved: the item and the items that are the same article


def split_off(session: Session, story_id: int, actor: str, item_id: int,
              expected_version: int | None = None) -> SplitResult:
    """Make one source of a story (with the items that are the same article) a story of its own.

    Clustering sometimes folds another event into a big story; this is the editor's fix, and it
    holds: the separation is recorded for the cluster stage, and both rows get the keys the cluster
    stage computes (`i` + their lowest item id), so a rerun finds the same rows and their drafts.
    """
    story = _load(session, story_id)
    d = story.draft
    assert d is not None
    _check_version(d, expected_version)
    unit, rest = _split_unit(session, story, item_id)
    before = {"key": story.key, "items": [si.item_id for si in story.items]}
    moved = [si.item for si in story.items if si.item_id in unit]
    earlier = _take_key(session, story, f"i{rest[0]}", f"i{unit[0]}")
    for si in [si for si in story.items if si.item_id in unit]:
        story.items.remove(si)
    _restate_weak(story)
    session.flush()  # the old key is free before the new story takes it
    new = _own_story(session, earlier, story, f"i{unit[0]}", unit, moved, actor)
    _separate(session, item_id, story.day, actor)
    _unjoin(session, unit)  # the latest ruling wins: a merge that joined these items no longer holds
    session.flush()
    _mark_sources_moved(session, d, actor, SPLIT_NOTICE)
    _own_draft(session, new, d.style, f"split off story {story.id}: regenerate or write it", actor)
    audit(session, actor, "story.split", "story", story.id, before,
          {"key": story.key, "items": rest, "new_story": new.id, "new_key": new.key, "split_items": unit})
    session.expire(new, ["items", "draft"])
    return SplitResult(kept=_row(story), new=_row(new), item_ids=unit)


def _take_key(session: Session, story: Story, kept_key: str, new_key: str) -> Story | None:
    """Re-key the story to its remaining lowest item; returns an earlier row holding `new_key`, if any.

    Rows a rerun regrouped away (inactive) may hold either key: the one holding `kept_key` gives it
    up (renamed, its history kept), the one holding `new_key` comes back as the new story, as a
    rerun would bring it back."""
    others = {st.key: st for st in session.scalars(select(Story).options(selectinload(Story.draft)).where(
        Story.day == story.day, Story.id != story.id, Story.key.in_([kept_key, new_key])))}
    if any(st.active for st in others.values()):  # its lowest item would be in this story too
        raise InvalidAction(f"story {story.id} overlaps another story of {story.day}: rerun the cluster stage first")
    if kept_key in others:
        retired = others.pop(kept_key)
        retired.key = f"x{retired.id}"
        session.flush()
    story.key = kept_key
    return others.get(new_key)


def _own_story(session: Session, row: Story | None, story: Story, key: str, unit: list[int],
               moved: Sequence[Item], actor: str) -> Story:
    """The split-off items' story: ranked beside the one they left until the next cluster run ranks it."""
    if row is None:
        row = Story(day=story.day, key=key, created_at=utcnow(), items=[])
        session.add(row)
    row.title = _unit_title(moved)
    row.rank, row.score, row.reasons = story.rank, 0.0, [f"split off story {story.id} by {actor}"]
    row.previous_story_id, row.is_repeat, row.active, row.thread_id = None, False, True, None
    row.updated_at = story.updated_at = utcnow()
    held = {si.item_id for si in row.items}
    row.items.extend(StoryItem(item_id=i) for i in unit if i not in held)
    return row


def _own_draft(session: Session, story: Story, style: str, note: str, actor: str, action: str = "split") -> None:
    """A draft to land on: empty and `needs_human` (no input hash, so the next draft run drafts it),
    or a returning row's old draft, marked like the story the items left."""
    if story.draft is not None:
        _mark_sources_moved(session, story.draft, actor, note, action)
        return
    fresh = Draft(story_id=story.id, style=style, status="needs_human", headline=story.title, version=0,
                  input_hash="", error=note)
    session.add(fresh)
    session.flush()
    _revise(session, fresh, actor, action, {}, note=note)


def _split_unit(session: Session, story: Story, item_id: int) -> tuple[list[int], list[int]]:
    """(the item with its same-article items, the story's other items), or the desk's refusal."""
    _check_open(session, story, "splitting a source off")
    items = [si.item for si in story.items]
    if item_id not in {it.id for it in items}:
        raise InvalidAction(f"item {item_id} is not a source of story {story.id}")
    units = units_of(session, items)
    if len(units) == 1:
        one = "only one source" if len(items) == 1 else "only one article (all its sources are that page)"
        raise InvalidAction(f"story {story.id} has {one}: there is nothing to split it from")
    unit = next(u for u in units if item_id in u)
    return unit, sorted(it.id for it in items if it.id not in unit)


def _check_open(session: Session, story: Story, doing: str) -> None:
    """Split and merge move sources only between stories on the desk that are not approved or published."""
    if not story.active:
        raise InvalidAction(f"story {story.id} is {OFF_DESK}")
    if story.draft is not None and story.draft.status == "approved":
        state = "published" if story.id in _published_ids(session, story.day) else "approved"
        raise InvalidAction(f"story {story.id} is {state}: reopen it before {doing}")


def _published_ids(session: Session, day: str) -> set[int]:
    ids: set[int] = set()
    for story_ids in session.scalars(select(Publication.story_ids).join(Digest, Digest.id == Publication.digest_id)
                                     .where(Digest.day == day)):
        ids.update(int(x) for x in story_ids or [])
    return ids


def _unit_title(items: Sequence[Item]) -> str:
    """The title the cluster stage would give a story of these items: an article's own title first."""
    refs = [(it, (it.article.title if it.article is not None and it.article.status == "ok" and it.article.title else None)
             or it.title or "") for it in items]
    return next((t for it, t in refs if it.kind == "article" and t), refs[0][1] if refs else "")


def _separate(session: Session, item_id: int, day: str, actor: str) -> None:
    """Record that the item is a story of its own for its day (one row per item)."""
    sep = session.scalars(select(ItemSeparation).where(ItemSeparation.item_id == item_id)).one_or_none()
    if sep is None:
        session.add(ItemSeparation(item_id=item_id, day=day, actor=actor))
    else:
        sep.day, sep.actor, sep.created_at = day, actor, utcnow()


def _mark_sources_moved(session: Session, d: Draft, actor: str, notice: str, action: str = "split") -> None:
    """Its sources changed under the draft: the editor's text stays, with the notice (a rejection stays one).

    A machine draft is redrafted by the next draft run anyway (its inputs changed)."""
    before = draft_snapshot(d)
    if d.status != "rejected":
        d.status, d.error, d.decided_at, d.override = "needs_human", notice, None, None
    d.failure_kind, d.attempts = None, 0  # a failure on the old sources says nothing about the new ones
    _revise(session, d, actor, action, before, note=notice)


WEAK_MARK = "joined on a weak match"


def weak_match_reason(n: int) -> str:
    """The desk's note on a story that took sources in on a weak match: a different story about
    the same company, with a single item, can be folded in that way (docs/clustering-eval.md)."""
    return f"{n} source{'s' if n > 1 else ''} {WEAK_MARK}: check {'they belong' if n > 1 else 'it belongs'}"


def _restate_weak(story: Story) -> None:
    """The weak-match reason after the editor moved sources: it counts the weak sources still in
    the story (none left: no reason), at once, not only after the next cluster run."""
    rest = [r for r in (story.reasons or []) if WEAK_MARK not in r]
    n = sum(1 for si in story.items if si.weak)
    story.reasons = [weak_match_reason(n), *rest] if n else rest


# ---------------------------------------------------------------- merge

MERGE_NOTICE = "a story was merged in: regenerate or edit"


@dataclass
class MergeResult:
    into: StoryRow  # the story that took the items in: same row, same draft (marked for a look)
    merged_id: int  # the story merged away: off the desk now, its draft and history kept
    item_ids: list[int]  # what moved
    unsplit: list[int] = field(default_factory=list)  # items whose "Split off" this merge undid


def merge_into(session: Session, story_id: int, target_id: int, actor: str,
               expected_version: int | None = None) -> MergeResult:
    """Move all sources of a story into another story of its day; also the undo of "Split off".

    Clustering sometimes tells one event as two stories; this is the editor's fix, and it holds like a
    split does: the items are recorded as joined for the cluster stage, the story that takes them in
    gets the key the cluster stage computes (`i` + its lowest item id), and the story merged away goes
    inactive like a row a rerun regrouped away (draft and history kept), so a rerun finds the same
    rows. The merged items' separations go: the latest ruling wins. `expected_version` is the merged
    story's draft version (the page the editor acted on)."""
    story = _load(session, story_id)
    d = story.draft
    assert d is not None
    _check_version(d, expected_version)
    target = _merge_target(session, story, target_id)
    moved = sorted(si.item_id for si in story.items)
    held = sorted(si.item_id for si in target.items)
    union = sorted(moved + held)
    before = {"key": target.key, "items": held, "merged_story": story.id, "merged_key": story.key, "merged_items": moved}
    _free_key(session, target, story, f"i{union[0]}")
    story.items.clear()
    story.active = False
    session.flush()  # the items leave before the target takes them, the key is free before it is taken
    target.key = f"i{union[0]}"
    for si in target.items:  # the editor's ruling on all its sources: none is a weak match now (nor on a rerun)
        si.weak = False
    target.items.extend(StoryItem(item_id=i) for i in moved)
    _restate_weak(target)
    target.updated_at = story.updated_at = utcnow()
    unsplit = _unseparate(session, moved)
    _join(session, union, story.day, actor)
    session.flush()
    _own_draft(session, target, d.style, MERGE_NOTICE, actor, action="merge")  # an undrafted target gets one to land on
    audit(session, actor, "story.merge", "story", target.id, before,
          {"key": target.key, "items": union, "merged_story": story.id, "merged_active": False, "unsplit": unsplit})
    session.expire(target, ["items", "draft"])
    return MergeResult(into=_row(target), merged_id=story.id, item_ids=moved, unsplit=unsplit)


@dataclass
class MergeTarget:
    id: int
    headline: str
    status: str  # the draft's, or "undrafted"


def merge_targets(session: Session, story_id: int) -> list[MergeTarget]:
    """The stories a story can be merged into: its day's other active stories, not approved or published.

    One light query (ids and headlines, no sources): the story page lists them on every view."""
    story = session.get(Story, story_id)
    if story is None or not story.active:
        return []
    q = (select(Story.id, Story.title, Draft.headline, Draft.status).outerjoin(Draft, Draft.story_id == Story.id)
         .where(Story.day == story.day, Story.active.is_(True), Story.id != story_id)
         .order_by(Story.rank, Story.id))
    return [MergeTarget(id=sid, headline=(headline or title or ""), status=status or "undrafted")
            for sid, title, headline, status in session.execute(q) if status != "approved"]


def _merge_target(session: Session, story: Story, target_id: int) -> Story:
    """The story to merge into, or the desk's refusal (the rules split uses, for both stories)."""
    if target_id == story.id:
        raise InvalidAction(f"story {story.id} cannot be merged into itself: pick another story of {story.day}")
    target = session.scalars(_story_query().where(Story.id == target_id)).one_or_none()
    if target is None:
        raise NotFound(f"no story with id {target_id}")
    if target.day != story.day:
        raise InvalidAction(f"story {target.id} is a story of {target.day}, story {story.id} of {story.day}: "
                            "only stories of the same day merge")
    _check_open(session, story, "merging it")
    _check_open(session, target, "merging into it")
    return target


def _free_key(session: Session, target: Story, story: Story, key: str) -> None:
    """Make `key` free for the target: the merged-away story or a row a rerun regrouped away gives it
    up (renamed, its history kept); an active third story holding it is an overlap to rerun first."""
    if target.key == key:
        return
    holder = session.scalars(select(Story).where(Story.day == target.day, Story.id != target.id,
                                                 Story.key == key)).one_or_none()
    if holder is None:
        return
    if holder.active and holder.id != story.id:
        raise InvalidAction(f"story {target.id} overlaps another story of {target.day}: rerun the cluster stage first")
    holder.key = f"x{holder.id}"
    session.flush()


def _unseparate(session: Session, item_ids: Sequence[int]) -> list[int]:
    """Drop the items' separations (a merge undoes a split); returns the items that had one."""
    seps = list(session.scalars(select(ItemSeparation).where(ItemSeparation.item_id.in_(list(item_ids)))))
    for sep in seps:
        session.delete(sep)
    return sorted(sep.item_id for sep in seps)


def _join(session: Session, item_ids: Sequence[int], day: str, actor: str) -> None:
    """Record the items as one group for their day; groups they were in already become part of it."""
    rows = {j.item_id: j for j in session.scalars(select(ItemJoin).where(ItemJoin.item_id.in_(list(item_ids))))}
    labels = {j.group_id for j in rows.values()}
    if labels:  # earlier merges' items that are elsewhere now stay joined to theirs (normally none)
        rows |= {j.item_id: j for j in session.scalars(select(ItemJoin).where(ItemJoin.group_id.in_(labels)))}
    group, now = min([*item_ids, *rows]), utcnow()
    for j in rows.values():
        j.group_id, j.day, j.actor, j.created_at = group, day, actor, now
    session.add_all(ItemJoin(item_id=i, group_id=group, day=day, actor=actor, created_at=now)
                    for i in item_ids if i not in rows)


def _unjoin(session: Session, item_ids: Sequence[int]) -> None:
    """A split is the latest ruling on its items: they leave their groups, the rest of each stays joined
    (relabelled by its lowest item, so two groups never share a label; a group of one is gone)."""
    gone = list(session.scalars(select(ItemJoin).where(ItemJoin.item_id.in_(list(item_ids)))))
    for j in gone:
        session.delete(j)
    session.flush()
    for label in {j.group_id for j in gone}:
        rest = list(session.scalars(select(ItemJoin).where(ItemJoin.group_id == label)))
        for j in rest:
            if len(rest) < 2:
                session.delete(j)
            else:
                j.group_id = min(r.item_id for r in rest)


EDITABLE = ("headline", "summary", "view", "tags", "section")


def edit(
    session: Session,
    story_id: int,
    actor: str,
    *,
    expected_version: int,
    changes: dict[str, Any],
    violations: list[dict] | None = None,
    unsupported: list[dict] | None = None,
) -> StoryRow:
    """Save an editor's changes; refused with Conflict if someone saved in between.

    The caller re-runs the linter and grounding checker and passes their
    findings, so the queue shows the edited text's own flags.
    """
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise InvalidAction(f"cannot edit {', '.join(sorted(unknown))}")
    _within_limits(check_draft_changes, changes)
    story = _load(session, story_id)
    d = story.draft
    assert d is not None
    _check_version(d, expected_version)
    before = draft_snapshot(d)
    for key, value in changes.items():
        setattr(d, key, value)
    if violations is not None:
        d.violations = violations
    if unsupported is not None:
        d.unsupported = unsupported
    d.edited, d.editor, d.override = True, actor, None
    if d.status == "needs_human" and d.headline.strip() and d.summary:
        d.status, d.error = "pending", None
    if d.status == "approved":
        d.status = "pending"  # an edit after approval needs a fresh look
    _revise(session, d, actor, "edited", before)
    return _row(story)


# ---------------------------------------------------------------- digests


@dataclass
class DigestEntry:
    story_id: int
    number: int
    headline: str
    summary: list[dict[str, Any]]
    view: str
    tags: list[str]
    section: str | None
    sources: list[SourceRef]
    update_of: str | None = None


@dataclass
class DigestData:
    day: str
    style: str
    title: str | None
    intro: str | None
    version: int
    status: str
    entries: list[DigestEntry]
    published_at: datetime | None = None


def _digest_row(session: Session, day: str, create: bool = True) -> Digest | None:
    dg = session.scalars(select(Digest).where(Digest.day == day)).one_or_none()
    if dg is None and create:
        dg = Digest(day=day)
        session.add(dg)
        session.flush()
    return dg


def ensure_digest(session: Session, day: str, style: str) -> Digest:
    dg = _digest_row(session, day)
    assert dg is not None
    if dg.status != "published" and not dg.story_order:
        dg.style = style
    return dg


def digest_data(session: Session, day: str, *, approved_only: bool = True, style: str | None = None) -> DigestData:
    """The day's digest as readers will see it: editor order first, then rank."""
    dg = _digest_row(session, day, create=False)
    q = _story_query().join(Draft, Draft.story_id == Story.id).where(Story.day == day, Story.active.is_(True))
    if approved_only:
        q = q.where(Draft.status == "approved")
    stories = list(session.scalars(q.order_by(Story.rank, Story.id)))
    order = list(dg.story_order or []) if dg else []
    dropped = set(dg.dropped or []) if dg else set()
    pos = {sid: i for i, sid in enumerate(order)}
    stories = [s for s in stories if s.id not in dropped]
    stories.sort(key=lambda s: (pos.get(s.id, len(pos) + s.rank), s.rank, s.id))
    prev_days = _previous_days(session, stories)
    entries = []
    for n, s in enumerate(stories, start=1):
        d = s.draft
        assert d is not None
        entries.append(
            DigestEntry(
                story_id=s.id,
                number=n,
                headline=d.headline or s.title,
                summary=list(d.summary or []),
                view=d.view or "",
                tags=list(d.tags or []),
                section=d.section,
                sources=source_refs(s),
                update_of=prev_days.get(s.id),
            )
        )
    return DigestData(
        day=day,
        style=style or (dg.style if dg else "awesome-ai-daily"),
        title=dg.title if dg else None,
        intro=dg.intro if dg else None,
        version=dg.version if dg else 0,
        status=dg.status if dg else "draft",
        entries=entries,
        published_at=dg.published_at if dg else None,
    )


def _previous_days(session: Session, stories: Sequence[Story]) -> dict[int, str]:
    prev_ids = {s.previous_story_id for s in stories if s.previous_story_id}
    if not prev_ids:
        return {}
    days = dict(session.execute(select(Story.id, Story.day).where(Story.id.in_(prev_ids))).all())
    return {s.id: days[s.previous_story_id] for s in stories if s.previous_story_id in days}


def update_digest(
    session: Session,
    day: str,
    actor: str,
    *,
    expected_version: int | None = None,
    order: list[int] | None = None,
    dropped: list[int] | None = None,
    intro: str | None = None,
    title: str | None = None,
    style: str | None = None,
) -> Digest:
    _within_limits(check_text, "digest_title", title)
    _within_limits(check_text, "digest_intro", intro)
    dg = _digest_row(session, day)
    assert dg is not None
    if expected_version is not None and expected_version != dg.version:
        raise Conflict(
            f"the {day} digest changed since you opened it (version {dg.version} now)",
            current={"order": dg.story_order, "dropped": dg.dropped, "intro": dg.intro, "title": dg.title, "version": dg.version},
        )
    before = {"order": dg.story_order, "dropped": dg.dropped, "intro": dg.intro, "title": dg.title, "style": dg.style}
    if order is not None:
        dg.story_order = [int(x) for x in order]
    if dropped is not None:
        dg.dropped = [int(x) for x in dropped]
    if intro is not None:
        dg.intro = intro
    if title is not None:
        dg.title = title
    if style is not None:
        dg.style = style
    dg.version += 1
    dg.updated_at = utcnow()
    after = {"order": dg.story_order, "dropped": dg.dropped, "intro": dg.intro, "title": dg.title, "style": dg.style}
    audit(session, actor, "digest.updated", "digest", day, before, after)
    session.flush()
    return dg


def apply_day_plan(session: Session, day: str, *, title: str, intro: str, headings: dict[int, str]) -> dict[str, int]:
    """Store a machine-made day plan without touching editors' work: the title and intro only when the
    digest has neither, a section heading only on drafts no editor has changed. Returns what changed."""
    dg = _digest_row(session, day)
    assert dg is not None
    changed = {"framing": 0, "sections": 0}
    if not (dg.title or "").strip() and not (dg.intro or "").strip() and dg.status != "published" and (title or intro):
        dg.title, dg.intro = title or None, intro or None
        changed["framing"] = 1
    if headings:
        for d in session.scalars(select(Draft).where(Draft.story_id.in_(list(headings)))):
            if not d.edited and d.status in ("pending", "needs_human") and d.section != headings[d.story_id]:
                d.section = headings[d.story_id]
                changed["sections"] += 1
    session.flush()
    return changed


def publish(
    session: Session,
    day: str,
    actor: str,
    render: Callable[[DigestData], str],
    *,
    style: str | None = None,
    note: str | None = None,
) -> Publication:
    """Record a publication of the day's approved stories; a second call is a correction.

    `render` turns the digest into Markdown (and may write files); it is
    passed in so this layer stays free of rendering code.
    """
    _within_limits(check_text, "note", note)
    data = digest_data(session, day, style=style)
    if not data.entries:
        raise InvalidAction(f"nothing to publish for {day}: no approved stories")
    dg = _digest_row(session, day)
    assert dg is not None
    markdown = render(data)
    revision = len(dg.publications) + 1
    if revision > 1 and not note:
        note = "corrected"
    pub = Publication(
        revision=revision,
        style=data.style,
        markdown=markdown,
        story_ids=[e.story_id for e in data.entries],
        note=note,
        published_by=actor,
    )
    dg.publications.append(pub)
    dg.status, dg.published_at, dg.published_by = "published", utcnow(), actor
    # dg.style is left alone: a one-off style (publish --style) is the publication's, not the day's
    audit(session, actor, "digest.published" if revision == 1 else "digest.corrected", "digest", day, None, {"revision": revision, "stories": pub.story_ids})
    session.flush()
    return pub


def published_days(session: Session) -> list[Digest]:
    return list(session.scalars(select(Digest).where(Digest.status == "published").order_by(Digest.day.desc())))


# ---------------------------------------------------------------- night summary


@dataclass
class NightSummary:
    day: str
    tokens: int
    cost_usd: float
    calls: int
    failed_sources: list[dict[str, Any]]
    notes: list[str]
    stats: dict[str, Any]
    llm_modes: dict[str, int] = field(default_factory=dict)  # structured-output mode -> drafting calls


def night_summary(session: Session, day: str, flag_after: int = 3) -> NightSummary:
    """Tokens, cost and source failures for a day, for the queue's header."""
    tokens, cost, calls = session.execute(
        select(
            func.coalesce(func.sum(LLMCall.input_tokens + LLMCall.output_tokens), 0),
            func.coalesce(func.sum(LLMCall.cost_usd), 0.0),
            func.count(LLMCall.id),
        ).where(LLMCall.day == day)
    ).one()
    run = session.scalars(select(Run).where(Run.day == day).order_by(Run.id.desc()).limit(1)).one_or_none()
    failed = [
        {"name": s.name, "error": s.last_error, "failures": s.consecutive_failures, "flagged": s.consecutive_failures >= flag_after}
        for s in session.scalars(select(Source).where(Source.consecutive_failures > 0, Source.enabled.is_(True)).order_by(Source.name))
    ]
    modes = dict(session.execute(
        select(LLMCall.mode, func.count(LLMCall.id))
        .where(LLMCall.day == day, LLMCall.purpose != "probe", LLMCall.mode.is_not(None))
        .group_by(LLMCall.mode)
    ).all())
    return NightSummary(
        llm_modes={str(k): int(v) for k, v in modes.items()},
        day=day,
        tokens=int(tokens),
        cost_usd=float(cost),
        calls=int(calls),
        failed_sources=failed,
        notes=list(run.notes or []) if run else [],
        stats=dict(run.stats or {}) if run else {},
    )


def as_dict(obj: Any) -> Any:
    """Dataclasses to JSON-ready dicts (datetimes as ISO strings)."""
    def conv(v: Any) -> Any:
        if isinstance(v, datetime):
            return v.isoformat()
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        if isinstance(v, list):
            return [conv(x) for x in v]
        return v
    return conv(asdict(obj))
