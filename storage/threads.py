"""Threads: a running story (a trial, an outage, a product saga) as one thread across days.

Continuity (`summarizer.continuity`) links tonight's story to the earlier story it continues;
`assign_threads` turns those links into a persisted thread id: a story joins its predecessor's
thread when the predecessor is at most ``window_days`` older, otherwise it starts a thread of
its own. Reruns keep ids: a story that starts a thread keeps the one it had, and when a rerun
moves a story to another thread, the later days that continue it move with it.

`timeline` reads a thread back as one entry per day: the headline and what changed (the new
sources that day and the draft's opening sentence, which for an update is the new development).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import delete, exists, func, select
from sqlalchemy.orm import Session, selectinload

from storage.models import Item, Publication, Story, StoryItem, Thread

DEFAULT_WINDOW_DAYS = 14


def _days_between(earlier: str, later: str) -> int:
    return (date.fromisoformat(later) - date.fromisoformat(earlier)).days


def _new_thread(session: Session) -> int:
    thread = Thread()
    session.add(thread)
    session.flush()
    return thread.id


def _starts_thread(session: Session, story: Story) -> bool:
    """True when no story of an earlier day is in this story's thread (it is the thread's first day)."""
    if story.thread_id is None:
        return False
    return not session.scalar(select(exists().where(
        Story.thread_id == story.thread_id, Story.day < story.day, Story.active.is_(True))))


def _move_with_followers(session: Session, story: Story, thread_id: int) -> None:
    """Put a story in a thread, and every later story that continues it (directly or not) with it."""
    story.thread_id = thread_id
    frontier = [story.id]
    seen = set(frontier)
    while frontier:
        followers = list(session.scalars(select(Story).where(
            Story.previous_story_id.in_(frontier), Story.day > story.day, Story.active.is_(True))))
        frontier = []
        for f in followers:
            if f.id not in seen:
                seen.add(f.id)
                f.thread_id = thread_id
                frontier.append(f.id)


def assign_threads(session: Session, day: str, window_days: int = DEFAULT_WINDOW_DAYS) -> dict[int, int]:
    """Give every active story of `day` its thread (see module docstring); returns story id -> thread id."""
    stories = list(session.scalars(select(Story).where(Story.day == day).order_by(Story.rank, Story.id)))
    # Followers live on later days: with none (the usual nightly run), none are looked up per story.
    later = session.scalar(select(exists().where(Story.day > day, Story.active.is_(True))))
    out: dict[int, int] = {}
    touched: set[int] = set()
    for story in stories:
        if not story.active:
            if story.thread_id is not None:
                touched.add(story.thread_id)
                story.thread_id = None
            continue
        pred = session.get(Story, story.previous_story_id) if story.previous_story_id else None
        target: int | None = None
        if pred is not None and pred.active and 0 < _days_between(pred.day, day) <= window_days:
            if pred.thread_id is None:  # a story from before threads existed starts one now
                pred.thread_id = _new_thread(session)
            target = pred.thread_id
        elif _starts_thread(session, story):
            target = story.thread_id
        if target is None:
            target = _new_thread(session)
        if story.thread_id != target:
            if story.thread_id is not None:
                touched.add(story.thread_id)
            if later:
                _move_with_followers(session, story, target)
            else:
                story.thread_id = target
        out[story.id] = target
    session.flush()
    _drop_empty(session, touched)
    return out


def _drop_empty(session: Session, thread_ids: set[int]) -> None:
    if not thread_ids:
        return
    used = set(session.scalars(select(Story.thread_id).where(Story.thread_id.in_(thread_ids))))
    empty = thread_ids - used
    if empty:
        session.execute(delete(Thread).where(Thread.id.in_(empty)))
        session.flush()


# ---------------------------------------------------------------- reading


@dataclass
class TimelineEntry:
    story_id: int
    day: str
    headline: str
    changed: str  # the draft's opening sentence (an update's new development), or the story's title
    new_sources: int  # items not in any earlier day of the thread
    new_outlets: list[str] = field(default_factory=list)
    status: str | None = None  # the draft's status on the desk
    published: bool = False


@dataclass
class ThreadView:
    thread_id: int
    entries: list[TimelineEntry]

    @property
    def title(self) -> str:
        """The latest headline names the thread: it says where the story stands now."""
        return self.entries[-1].headline if self.entries else f"Thread {self.thread_id}"

    @property
    def first_day(self) -> str:
        return self.entries[0].day if self.entries else ""

    @property
    def last_day(self) -> str:
        return self.entries[-1].day if self.entries else ""


def published_story_ids(session: Session) -> set[int]:
    ids: set[int] = set()
    for story_ids in session.scalars(select(Publication.story_ids)):
        ids.update(int(x) for x in story_ids or [])
    return ids


def _first_sentence(summary: list | None) -> str:
    for sent in summary or []:
        text = (sent.get("text") or "").strip() if isinstance(sent, dict) else ""
        if text:
            return text
    return ""


def timeline(session: Session, thread_id: int, *, published_only: bool = False,
             published: set[int] | None = None) -> ThreadView:
    """The thread's active stories, one entry each, oldest first (only published ones if asked)."""
    stories = list(session.scalars(
        select(Story).where(Story.thread_id == thread_id, Story.active.is_(True))
        .options(selectinload(Story.items).selectinload(StoryItem.item).selectinload(Item.source),
                 selectinload(Story.draft))
        .order_by(Story.day, Story.rank, Story.id)))
    published = published_story_ids(session) if published is None else published
    seen: set[str] = set()
    entries = []
    for st in stories:
        items = [si.item for si in st.items]
        fresh = [it for it in items if it.content_hash not in seen]
        seen.update(it.content_hash for it in items)
        d = st.draft
        is_published = st.id in published
        if published_only and not is_published:
            continue
        entries.append(TimelineEntry(
            story_id=st.id, day=st.day, headline=(d.headline if d is not None and d.headline else st.title),
            changed=_first_sentence(d.summary if d is not None else None) or st.title,
            new_sources=len(fresh),
            new_outlets=sorted({it.source.name for it in fresh if it.source is not None}),
            status=d.status if d is not None else None, published=is_published,
        ))
    return ThreadView(thread_id=thread_id, entries=entries)


def story_thread(session: Session, story_id: int) -> ThreadView | None:
    """The thread of a story when it spans more than this one day; None for a one-day story."""
    story = session.get(Story, story_id)
    if story is None or story.thread_id is None:
        return None
    view = timeline(session, story.thread_id)
    return view if len({e.day for e in view.entries}) > 1 else None


def running_threads(session: Session, *, published_only: bool = True, min_days: int = 2) -> list[ThreadView]:
    """Threads with stories on at least `min_days` days, the latest first (the archive's thread pages)."""
    ids = list(session.scalars(
        select(Story.thread_id).where(Story.thread_id.is_not(None), Story.active.is_(True))
        .group_by(Story.thread_id).having(func.count(func.distinct(Story.day)) >= min_days)))
    published = published_story_ids(session)
    views = [timeline(session, t, published_only=published_only, published=published) for t in ids]
    views = [v for v in views if len({e.day for e in v.entries}) >= min_days]
    return sorted(views, key=lambda v: (v.last_day, v.thread_id), reverse=True)
