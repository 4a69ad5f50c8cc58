"""A link an editor adds by hand: fetched like any article, placed into the day's matching story or a new one.

The fetch goes through the collectors' own `Fetcher` (same politeness, robots.txt,
size and redirect limits, same SSRF guard from NEWSDESK_ALLOW_PRIVATE_HOSTS),
and the page through the same extractor. The link becomes an item of a
"manual" source, dated into the day's window, so a later rerun of the night
clusters it like anything collected. Adding the same URL again repairs or
updates that item and never makes a second one.

A failure (unsafe address, HTTP error, no article text) is one line for the
editor and is kept on the article row and in the audit log; nothing else changes.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from extractors.http import Fetcher, FetchError
from extractors.models import content_hash
from extractors.urls import canonicalize, web_url
from flows.pipeline import Context, regenerate_story
from newsdesk.config import parse_day
from storage import desk
from storage.limits import LIMITS
from storage.models import Article, Item, Source, Story, StoryItem, utcnow
from storage.writes import ensure_articles, save_extraction, upsert_sources

MANUAL_SOURCE = "Added by hand"
ITEM_TEXT_CHARS = 4000  # the item keeps the opening; the whole text stays on the article


class AddLinkError(desk.DeskError):
    """The link could not be added: one line for the editor; what was learnt is kept on the article."""


@dataclass
class AddedLink:
    url: str
    day: str
    story_id: int
    item_id: int
    title: str
    joined: bool  # into an existing story of the day (False: a new story)
    already: bool  # the link was already part of that story
    added_by: str
    drafted: bool = False
    notes: list[str] = field(default_factory=list)


def _check(url: str, day: str | None, note: str | None, ctx: Context) -> tuple[str, str, str | None]:
    checked = web_url((url or "").strip())
    if checked is None:
        raise AddLinkError(f"not a web address: {url!r} (use an http:// or https:// URL)")
    day = day or ctx.settings.today()
    parse_day(day)  # ConfigError, one line, for a bad day
    note = " ".join((note or "").split()) or None
    if note and len(note) > LIMITS["note"]:
        raise AddLinkError(f"the note is longer than {LIMITS['note']} characters")
    return checked, day, note


async def _fetch(url: str, ctx: Context) -> tuple[str, bytes]:
    async with Fetcher(ctx.settings.http) as fetcher:
        resp = await fetcher.get(url, respect_robots=True)
        return resp.url, resp.content


def _window_time(ctx: Context, day: str, published: datetime | None) -> datetime:
    """A time inside the day's window, so the night's stages count the link in this day."""
    start, end = ctx.settings.window(day)
    if published is not None and start <= published < end:
        return published
    return end - timedelta(seconds=1)


def _manual_source(s: Session) -> int:
    existing = s.scalars(select(Source).where(Source.name == MANUAL_SOURCE)).one_or_none()
    if existing is not None:
        return existing.id
    return upsert_sources(s, [{"name": MANUAL_SOURCE, "type": "manual", "url": None}])[MANUAL_SOURCE]


def _placement(s: Session, day: str, title: str, text: str, item_id: int, article_id: int) -> tuple[Story | None, bool]:
    """The day's active story the link belongs to (None: a new one), and whether that story already has the page.

    A story that holds this item, or another item of the same page (the night collected it too), is the
    place; otherwise the night's own clustering decides against each story's text.
    """
    from summarizer.clustering import cluster

    stories = list(s.scalars(select(Story).where(Story.day == day, Story.active.is_(True))
                             .options(selectinload(Story.items).selectinload(StoryItem.item).selectinload(Item.article),
                                      selectinload(Story.draft))))
    for story in stories:
        if any(si.item_id == item_id or si.item.article_id == article_id for si in story.items):
            return story, True
    if not stories:
        return None, False
    docs = [{"id": "new", "title": title, "text": text}]
    for story in stories:
        parts = [story.draft.headline if story.draft and story.draft.headline else story.title]
        for si in story.items:
            parts.append(si.item.title or "")
            art = si.item.article
            parts.append(art.text if art is not None and art.status == "ok" and art.text else si.item.text or "")
        docs.append({"id": f"s{story.id}", "title": parts[0], "text": "\n".join(p for p in parts[1:] if p)[:20000]})
    by_id = {f"s{st.id}": st for st in stories}
    for group in cluster(docs):
        if "new" in group:
            joined = [by_id[g] for g in group if g != "new"]
            return (max(joined, key=lambda st: (len(st.items), -st.rank)) if joined else None), False
    return None, False


def add_link(ctx: Context, url: str, *, actor: str, day: str | None = None, note: str | None = None,
             draft: bool = False) -> AddedLink:
    """Fetch, extract and place one link; optionally draft its story now. Raises AddLinkError, one line."""
    from extractors import extract_article

    url, day, note = _check(url, day, note, ctx)
    canonical = canonicalize(url)
    with ctx.db.session() as s:
        article_id = ensure_articles(s, [canonical])[canonical]

    def failed(reason: str) -> AddLinkError:
        with ctx.db.session() as s:
            if s.get(Article, article_id).status != "ok":  # a page the night already extracted keeps its text
                save_extraction(s, article_id, status="failed", error=reason)
            desk.audit(s, actor, "link.add_failed", "article", article_id, None, {"url": url, "day": day, "error": reason})
        return AddLinkError(f"could not add {url}: {reason}")

    try:
        final, content = asyncio.run(_fetch(url, ctx))
    except FetchError as exc:
        raise failed(exc.reason) from None
    art = extract_article(content, final)
    if art is None or not art.text or art.page_kind != "article":
        kind = art.page_kind.replace("_", " ") if art is not None and art.page_kind != "article" else "a page without article text"
        raise failed(f"no article text found (the page is {kind})")

    title = " ".join((art.title or "").split()) or canonical
    with ctx.db.session() as s:
        save_extraction(s, article_id, status="ok", final_url=final, fields={
            "title": title, "text": art.text, "author": art.author, "site_name": art.site_name,
            "language": art.language, "image": art.image, "published_at": art.published_at,
            "content_hash": content_hash(title, art.text),
        })
        source_id = _manual_source(s)
        item = s.scalars(select(Item).where(Item.source_id == source_id, Item.guid == canonical)).one_or_none()
        now = utcnow()
        if item is None:
            item = Item(source_id=source_id, kind="article", guid=canonical, first_seen_at=now)
            s.add(item)
        item.url, item.article_id, item.title = canonical, article_id, title
        item.text, item.author, item.published_at = art.text[:ITEM_TEXT_CHARS], art.author, art.published_at
        item.window_at = _window_time(ctx, day, art.published_at)
        item.content_hash, item.updated_at = content_hash(title, art.text), now
        item.added_by, item.added_note = actor, note
        s.flush()
        story, already = _placement(s, day, title, art.text, item.id, article_id)
        joined = story is not None
        if story is None:
            rank = (s.scalar(select(func.max(Story.rank)).where(Story.day == day, Story.active.is_(True))) or 0) + 1
            story = s.scalars(select(Story).where(Story.day == day, Story.key == f"i{item.id}")).one_or_none()
            if story is None:
                story = Story(day=day, key=f"i{item.id}", created_at=now)  # the key the night's clustering would give it
                s.add(story)
            story.title, story.rank, story.score, story.active = title, rank, 0.0, True
            story.reasons = [f"added by hand by {actor}"]
        if not already:
            story.items.append(StoryItem(item_id=item.id))
        story.updated_at = now
        s.flush()
        result = AddedLink(url=canonical, day=day, story_id=story.id, item_id=item.id, title=title,
                           joined=joined, already=already, added_by=actor)
        desk.audit(s, actor, "link.added", "story", story.id, None,
                   {"url": canonical, "day": day, "note": note, "joined": joined, "item_id": item.id})
    if draft:
        try:
            regenerate_story(ctx, result.story_id, actor=actor, instruction=note)
            result.drafted = True
        except desk.DeskError as exc:  # the link is in; the draft can be asked for again
            result.notes.append(str(exc).splitlines()[0])
    return result


def describe(result: AddedLink) -> str:
    """One line for the CLI and the desk's notice."""
    where = (f"story #{result.story_id} already has this page" if result.already
             else f"joined story #{result.story_id}" if result.joined else f"new story #{result.story_id}")
    return f"added {result.url} to {result.day}: {where} ({result.title})" + (", drafted" if result.drafted else "")


def as_dict(result: AddedLink) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(result)
