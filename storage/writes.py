"""Idempotent writes for the pipeline stages.

Each function looks rows up by their natural key and updates them in place,
so running a stage twice over the same input changes nothing and adds no row.
They take plain values (not the collectors' or drafters' classes) so this
layer depends on nothing else of ours.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Mapping, Sequence

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from storage.models import (
    Article,
    Draft,
    DraftRevision,
    Item,
    ItemLink,
    LLMCall,
    Setting,
    Source,
    Story,
    StoryItem,
    utcnow,
)

SOURCE_FIELDS = ("type", "url", "handle", "base_url", "tags", "weight")
MAX_SOURCE_WARNINGS = 20  # a feed with 5,000 broken entries keeps the first few, not a megabyte of text


def upsert_sources(session: Session, specs: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Create or update sources by name; returns name -> id."""
    specs = list(specs)
    existing = {s.name: s for s in session.scalars(select(Source).where(Source.name.in_([sp["name"] for sp in specs])))}
    for spec in specs:
        row = existing.get(spec["name"])
        if row is None:
            row = Source(name=spec["name"], consecutive_failures=0)
            session.add(row)
            existing[spec["name"]] = row
        for f in SOURCE_FIELDS:
            value = spec.get(f)
            if f == "tags":
                value = list(value or [])
            if f == "weight":
                value = float(value if value is not None else 1.0)
            if getattr(row, f) != value:
                setattr(row, f, value)
    session.flush()
    return {name: row.id for name, row in existing.items()}


def record_source_health(
    session: Session,
    source_id: int,
    *,
    ok: bool,
    error: str | None = None,
    etag: str | None = None,
    last_modified: str | None = None,
    now: datetime | None = None,
    warnings: Sequence[str] | None = None,
) -> None:
    """Update a source's health after one collection attempt.

    `warnings` (what a successful fetch found wrong) replace the stored ones;
    None keeps them (a 304 means the feed, and what is wrong with it, is unchanged).
    """
    now = now or utcnow()
    src = session.get(Source, source_id)
    if src is None:
        return
    if ok:
        src.last_success_at = now
        src.consecutive_failures = 0
        if etag is not None:
            src.etag = etag
        if last_modified is not None:
            src.last_modified = last_modified
        if warnings is not None:
            kept = list(warnings)
            if len(kept) > MAX_SOURCE_WARNINGS:
                kept = kept[: MAX_SOURCE_WARNINGS - 1] + [f"... and {len(kept) - MAX_SOURCE_WARNINGS + 1} more warnings"]
            src.warnings = kept or None
    else:
        src.last_error = error
        src.last_error_at = now
        src.consecutive_failures = (src.consecutive_failures or 0) + 1


@dataclass
class ItemWrite:
    """One collected item, as storage needs it."""

    kind: str
    guid: str
    url: str | None
    title: str
    text: str
    content_hash: str
    author: str | None = None
    published_at: datetime | None = None
    engagement: dict = field(default_factory=dict)
    links: list[str] = field(default_factory=list)


@dataclass
class ItemCounts:
    new: int = 0
    updated: int = 0
    unchanged: int = 0


def upsert_items(session: Session, source_id: int, items: Sequence[ItemWrite], now: datetime | None = None) -> ItemCounts:
    """Insert new sightings and refresh changed ones; the same guid twice is one row."""
    now = now or utcnow()
    counts = ItemCounts()
    by_guid: dict[str, ItemWrite] = {}
    for it in items:  # a feed that repeats a guid: the last one wins, as readers do
        by_guid[it.guid] = it
    if not by_guid:
        return counts
    existing: dict[str, Item] = {}
    guids = list(by_guid)
    for chunk_start in range(0, len(guids), 500):
        chunk = guids[chunk_start:chunk_start + 500]
        for row in session.scalars(select(Item).where(Item.source_id == source_id, Item.guid.in_(chunk))):
            existing[row.guid] = row
    for guid, it in by_guid.items():
        row = existing.get(guid)
        if row is None:
            session.add(
                Item(
                    source_id=source_id,
                    kind=it.kind,
                    guid=guid,
                    url=it.url,
                    title=it.title or "",
                    author=it.author,
                    text=it.text or "",
                    published_at=it.published_at,
                    window_at=it.published_at or now,
                    engagement=dict(it.engagement),
                    links=list(it.links),
                    content_hash=it.content_hash,
                    first_seen_at=now,
                    updated_at=now,
                )
            )
            counts.new += 1
            continue
        changed = (
            row.content_hash != it.content_hash
            or row.url != it.url
            or (row.engagement or {}) != dict(it.engagement)
            or list(row.links or []) != list(it.links)
        )
        if changed:
            row.title, row.text, row.url, row.author = it.title or "", it.text or "", it.url, it.author
            row.content_hash = it.content_hash
            row.engagement, row.links = dict(it.engagement), list(it.links)
            if it.published_at is not None:
                row.published_at = it.published_at
                row.window_at = it.published_at
            row.updated_at = now
            counts.updated += 1
        else:
            counts.unchanged += 1
    session.flush()
    return counts


def ensure_articles(session: Session, urls: Iterable[str]) -> dict[str, int]:
    """Make sure each canonical URL has an article row (pending until fetched)."""
    urls = sorted({u for u in urls if u})
    found: dict[str, int] = {}
    for start in range(0, len(urls), 500):
        chunk = urls[start:start + 500]
        for aid, url in session.execute(select(Article.id, Article.canonical_url).where(Article.canonical_url.in_(chunk))):
            found[url] = aid
    for url in urls:
        if url not in found:
            art = Article(canonical_url=url, status="pending")
            session.add(art)
            session.flush()
            found[url] = art.id
    return found


def link_items_to_articles(session: Session, source_id: int) -> int:
    """Attach a source's items to the article rows of their URL and their outbound links."""
    rows = session.scalars(select(Item).where(Item.source_id == source_id)).all()
    urls = {r.url for r in rows if r.url and r.kind == "article"}
    for r in rows:
        urls.update(r.links or [])
    ids = ensure_articles(session, urls)
    linked = 0
    existing_links = {
        (i, a) for i, a in session.execute(
            select(ItemLink.item_id, ItemLink.article_id).join(Item, Item.id == ItemLink.item_id).where(Item.source_id == source_id)
        )
    }
    for r in rows:
        if r.kind == "article" and r.url and r.article_id != ids.get(r.url):
            r.article_id = ids[r.url]
            linked += 1
        for url in r.links or []:
            pair = (r.id, ids[url])
            if pair not in existing_links and ids[url] != r.article_id:
                session.add(ItemLink(item_id=r.id, article_id=ids[url]))
                existing_links.add(pair)
                linked += 1
    session.flush()
    return linked


def save_extraction(
    session: Session,
    article_id: int,
    *,
    status: str,
    final_url: str | None = None,
    fields: Mapping[str, Any] | None = None,
    error: str | None = None,
    now: datetime | None = None,
) -> None:
    """Store what extraction found for one article (or why it found nothing)."""
    art = session.get(Article, article_id)
    if art is None:
        return
    art.status = status
    art.final_url = final_url or art.final_url
    art.error = error
    art.attempts = (art.attempts or 0) + 1
    art.fetched_at = now or utcnow()
    for key, value in (fields or {}).items():
        setattr(art, key, value)


def save_extractions(session: Session, rows: Sequence[Mapping[str, Any]]) -> int:
    """Store a batch of extraction results: one UPDATE per shape of row, by primary key.

    Each row holds the article `id` and the columns to set (status, attempts, fetched_at, ...).
    """
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(row)), []).append(dict(row))
    for group in groups.values():
        session.execute(update(Article), group)
    return len(rows)


@dataclass
class StoryWrite:
    key: str
    title: str
    item_ids: list[int]
    rank: int
    score: float
    reasons: list[str]
    previous_story_id: int | None = None
    is_repeat: bool = False


def replace_day_stories(session: Session, day: str, stories: Sequence[StoryWrite]) -> dict[str, int]:
    """Write a day's stories by key: same key -> same row, regrouped-away stories go inactive.

    Drafts hang off story rows, so keeping keys stable keeps editors' work.
    """
    now = utcnow()
    existing = {s.key: s for s in session.scalars(select(Story).where(Story.day == day))}
    ids: dict[str, int] = {}
    for sw in stories:
        row = existing.get(sw.key)
        if row is None:
            row = Story(day=day, key=sw.key, created_at=now)
            session.add(row)
            session.flush()
        row.title, row.rank, row.score, row.reasons = sw.title, sw.rank, sw.score, list(sw.reasons)
        row.previous_story_id, row.is_repeat, row.active = sw.previous_story_id, sw.is_repeat, True
        row.updated_at = now
        current = {si.item_id: si for si in row.items}
        wanted = set(sw.item_ids)
        for item_id in wanted - set(current):
            row.items.append(StoryItem(item_id=item_id))
        for item_id in set(current) - wanted:
            row.items.remove(current[item_id])
        ids[sw.key] = row.id
    keep = {sw.key for sw in stories}
    for key, row in existing.items():
        if key not in keep:
            row.active = False
            row.items.clear()
    session.flush()
    return ids


MACHINE = "newsdesk"


def draft_snapshot(d: Draft) -> dict[str, Any]:
    return {
        "status": d.status,
        "headline": d.headline,
        "summary": d.summary,
        "view": d.view,
        "tags": d.tags,
        "section": d.section,
        "violations": d.violations,
        "unsupported": d.unsupported,
        "error": d.error,
    }


def save_machine_draft(
    session: Session,
    story_id: int,
    *,
    style: str,
    status: str,
    fields: Mapping[str, Any],
    model: str | None,
    prompt_version: str,
    input_hash: str,
    action: str = "drafted",
    force: bool = False,
    author: str | None = None,
    machine: Mapping[str, Any] | None = None,
) -> Draft:
    """Store a machine draft unless an editor already owns the story.

    An edited, approved or rejected draft is never overwritten by a rerun
    (only by `force`, which still keeps every earlier version in history).
    `machine` carries the drafting bookkeeping (failure_kind, attempts, llm_mode,
    omitted_sources); absent keys are reset.
    """
    now = utcnow()
    d = session.scalars(select(Draft).where(Draft.story_id == story_id)).one_or_none()
    if d is None:
        d = Draft(story_id=story_id, style=style, version=0, created_at=now)
        session.add(d)
    elif not force and (d.edited or d.status in ("approved", "rejected")):
        return d
    d.style, d.status, d.model, d.prompt_version, d.input_hash = style, status, model, prompt_version, input_hash
    for key in ("headline", "summary", "view", "tags", "section", "violations", "unsupported", "error"):
        setattr(d, key, fields.get(key, [] if key in ("summary", "tags", "violations", "unsupported") else None if key in ("section", "error") else ""))
    machine = machine or {}
    d.failure_kind, d.attempts = machine.get("failure_kind"), int(machine.get("attempts") or 0)
    d.llm_mode, d.omitted_sources = machine.get("llm_mode"), list(machine.get("omitted_sources") or [])
    d.edited, d.editor, d.reject_reason, d.decided_at, d.override = False, None, None, None, None
    d.version = (d.version or 0) + 1
    d.updated_at = now
    session.flush()
    d.revisions.append(DraftRevision(version=d.version, author=author or MACHINE, action=action, snapshot=draft_snapshot(d), created_at=now))
    session.flush()
    return d


def record_llm_calls(session: Session, day: str | None, story_id: int | None, calls: Iterable[Mapping[str, Any]]) -> int:
    n = 0
    for c in calls:
        session.add(LLMCall(day=day, story_id=story_id, **{k: v for k, v in c.items() if hasattr(LLMCall, k)}))
        n += 1
    session.flush()
    return n


def get_setting(session: Session, key: str) -> dict | None:
    row = session.get(Setting, key)
    return dict(row.value) if row else None


def put_setting(session: Session, key: str, value: dict) -> None:
    row = session.get(Setting, key)
    if row is None:
        session.add(Setting(key=key, value=value))
    else:
        row.value = value


def mark_sources_absent(session: Session, present: Iterable[str]) -> None:
    """Sources no longer in sources.yaml stay (their items are history) but are disabled."""
    present = list(present)
    session.execute(update(Source).where(Source.name.not_in(present)).values(enabled=False))
    session.execute(update(Source).where(Source.name.in_(present)).values(enabled=True))
