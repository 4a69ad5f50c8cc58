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

from sqlalchemy import bindparam, case, func, select, update
from sqlalchemy.orm import Session, selectinload

from storage.bulk import chunks, in_values, insert_rows
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
    """Create or update sources by name; returns name -> id.

    One INSERT ... ON CONFLICT (name) for new and changed sources, so parallel collects on a fresh
    database do not race on the unique name (the one that loses the race updates instead).
    """
    wanted: dict[str, dict[str, Any]] = {}
    for spec in specs:
        row = {"name": spec["name"]}
        for f in SOURCE_FIELDS:
            value = spec.get(f)
            if f == "tags":
                value = list(value or [])
            if f == "weight":
                value = float(value if value is not None else 1.0)
            row[f] = value
        wanted[spec["name"]] = row
    if not wanted:
        return {}
    names = list(wanted)
    cols = [Source.id, Source.name] + [getattr(Source, f) for f in SOURCE_FIELDS]
    existing = {}
    for chunk in chunks(names, 1):
        for r in session.execute(select(*cols).where(in_values(session, Source.name, chunk))):
            existing[r.name] = r
    ids = {name: r.id for name, r in existing.items()}
    now = utcnow()
    todo = [row | {"consecutive_failures": 0, "enabled": True, "created_at": now}
            for name, row in wanted.items()
            if name not in existing or any(getattr(existing[name], f) != row[f] for f in SOURCE_FIELDS)]
    if todo:
        t = Source.__table__
        ids.update((name, sid) for sid, name in insert_rows(
            session, Source, todo, returning=(t.c.id, t.c.name),
            on_conflict=lambda stmt: stmt.on_conflict_do_update(index_elements=["name"],
                                                                set_={f: stmt.excluded[f] for f in SOURCE_FIELDS})))
    return ids


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
    written: list[int] = field(default_factory=list)  # ids of new and changed items: what needs linking


def upsert_items(session: Session, source_id: int, items: Sequence[ItemWrite], now: datetime | None = None) -> ItemCounts:
    """Insert new sightings and refresh changed ones; the same guid twice is one row."""
    return upsert_items_many(session, [(source_id, items)], now=now)[source_id]


def upsert_items_many(session: Session, batches: Sequence[tuple[int, Sequence[ItemWrite]]],
                      now: datetime | None = None, *, link: bool = False) -> dict[int, ItemCounts]:
    """`upsert_items` for many sources at once: one read and one write for the lot.

    A column-only read of the known (source, guid)s, then one multi-row
    `INSERT ... ON CONFLICT (source_id, guid) DO UPDATE` (see storage.bulk.insert_rows) for new
    and changed items only: an unchanged feed writes nothing. Article entries get their article
    row first, so each item is written once, already attached. With `link`, the written items'
    outbound links become item_links rows too (what `link_items_to_articles` would add, without
    reading the items back).
    """
    now = now or utcnow()
    counts: dict[int, ItemCounts] = {sid: ItemCounts() for sid, _ in batches}
    wanted: dict[tuple[int, str], ItemWrite] = {}
    for sid, items in batches:
        for it in items:  # a feed that repeats a guid: the last one wins, as readers do
            wanted[(sid, it.guid)] = it
    if not wanted:
        return counts
    source_ids = sorted(counts)
    guids = sorted({g for _, g in wanted})
    existing: dict[tuple[int, str], Any] = {}
    for chunk in chunks(guids, 1):
        q = select(Item.source_id, Item.guid, Item.content_hash, Item.url, Item.engagement, Item.links).where(
            in_values(session, Item.source_id, source_ids) if len(source_ids) > 1 else Item.source_id == source_ids[0],
            in_values(session, Item.guid, chunk))
        for r in session.execute(q):
            existing[(r.source_id, r.guid)] = r
    rows = []
    for (sid, guid), it in wanted.items():
        old = existing.get((sid, guid))
        if old is not None:
            changed = (old.content_hash != it.content_hash or old.url != it.url
                       or (old.engagement or {}) != dict(it.engagement) or list(old.links or []) != list(it.links))
            if not changed:
                counts[sid].unchanged += 1
                continue
            counts[sid].updated += 1
        else:
            counts[sid].new += 1
        rows.append({
            "source_id": sid, "kind": it.kind, "guid": guid, "url": it.url, "title": it.title or "",
            "author": it.author, "text": it.text or "", "published_at": it.published_at,
            "window_at": it.published_at or now, "engagement": dict(it.engagement), "links": list(it.links),
            "content_hash": it.content_hash, "first_seen_at": now, "updated_at": now,
        })
    if not rows:
        return counts
    urls = [r["url"] for r in rows if r["kind"] == "article" and r["url"]]
    article_ids = ensure_articles(session, urls + [u for r in rows for u in r["links"]] if link else urls)
    for r in rows:
        r["article_id"] = article_ids.get(r["url"]) if r["kind"] == "article" and r["url"] else None
    t = Item.__table__

    def on_conflict(stmt):
        ex = stmt.excluded
        return stmt.on_conflict_do_update(index_elements=["source_id", "guid"], set_={
            "title": ex.title, "text": ex.text, "url": ex.url, "author": ex.author, "content_hash": ex.content_hash,
            "article_id": func.coalesce(ex.article_id, t.c.article_id),
            "engagement": ex.engagement, "links": ex.links,
            "published_at": func.coalesce(ex.published_at, t.c.published_at),
            "window_at": case((ex.published_at.is_(None), t.c.window_at), else_=ex.published_at),
            "updated_at": ex.updated_at,
        })

    by_key = {(r["source_id"], r["guid"]): r for r in rows}
    links = []
    for item_id, sid, guid, attached in insert_rows(session, Item, rows, on_conflict=on_conflict,
                                                    returning=(t.c.id, t.c.source_id, t.c.guid, t.c.article_id)):
        counts[sid].written.append(item_id)
        if link:  # a link to the item's own article is not a link
            targets = dict.fromkeys(article_ids.get(u) for u in by_key[(sid, guid)]["links"])
            links += [{"item_id": item_id, "article_id": a} for a in targets if a is not None and a != attached]
    if links:
        insert_rows(session, ItemLink, links,
                    on_conflict=lambda stmt: stmt.on_conflict_do_nothing(index_elements=["item_id", "article_id"]))
    return counts


def ensure_articles(session: Session, urls: Iterable[str]) -> dict[str, int]:
    """Make sure each canonical URL has an article row (pending until fetched); returns url -> id."""
    urls = sorted({u for u in urls if u})
    found: dict[str, int] = {}
    for chunk in chunks(urls, 1):
        found.update(session.execute(select(Article.canonical_url, Article.id).where(
            in_values(session, Article.canonical_url, chunk))).tuples().all())
    now = utcnow()
    missing = [{"canonical_url": u, "status": "pending", "attempts": 0, "created_at": now} for u in urls if u not in found]
    if missing:
        t = Article.__table__
        found.update(insert_rows(session, Article, missing, returning=(t.c.canonical_url, t.c.id),
                                 on_conflict=lambda stmt: stmt.on_conflict_do_nothing(index_elements=["canonical_url"])))
    late = [r["canonical_url"] for r in missing if r["canonical_url"] not in found]  # inserted meanwhile by another writer
    for chunk in chunks(late, 1):
        found.update(session.execute(select(Article.canonical_url, Article.id).where(
            in_values(session, Article.canonical_url, chunk))).tuples().all())
    return found


def link_items_to_articles(session: Session, source_id: int | None, item_ids: Sequence[int] | None = None) -> int:
    """Attach a source's items (all, or just `item_ids`) to the article rows of their URL and outbound links.

    Column reads, one bulk UPDATE by primary key for changed `article_id`s and one multi-row
    `INSERT ... ON CONFLICT DO NOTHING` for links; returns how many links or attachments were added.
    """
    q = select(Item.id, Item.kind, Item.url, Item.links, Item.article_id)
    if source_id is not None:
        q = q.where(Item.source_id == source_id)
    if item_ids is None:
        rows = list(session.execute(q))
    else:
        rows = []
        for chunk in chunks(list(item_ids), 1):
            rows.extend(session.execute(q.where(in_values(session, Item.id, chunk))))
    if not rows:
        return 0
    urls = {r.url for r in rows if r.url and r.kind == "article"}
    for r in rows:
        urls.update(r.links or [])
    ids = ensure_articles(session, urls)
    attach, links = [], []
    for r in rows:
        article_id = r.article_id
        if r.kind == "article" and r.url and r.article_id != ids.get(r.url):
            article_id = ids[r.url]
            attach.append({"id": r.id, "article_id": article_id})
        for url in dict.fromkeys(r.links or []):
            if ids[url] != article_id:
                links.append({"item_id": r.id, "article_id": ids[url]})
    if attach:
        t = Item.__table__
        session.connection().execute(update(t).where(t.c.id == bindparam("b_id")).values(article_id=bindparam("b_article")),
                                     [{"b_id": a["id"], "b_article": a["article_id"]} for a in attach])
    added = 0
    if links:
        added = len(insert_rows(session, ItemLink, links, returning=(ItemLink.__table__.c.id,),
                                on_conflict=lambda stmt: stmt.on_conflict_do_nothing(index_elements=["item_id", "article_id"])))
    return len(attach) + added


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
    weak_item_ids: frozenset[int] = frozenset()  # joined on a weak match: the editor checks them


def replace_day_stories(session: Session, day: str, stories: Sequence[StoryWrite]) -> dict[str, int]:
    """Write a day's stories by key: same key -> same row, regrouped-away stories go inactive.

    Drafts hang off story rows, so keeping keys stable keeps editors' work.
    """
    now = utcnow()
    # Items loaded with the stories, new stories flushed together: a night of thousands of
    # stories is a few statements, not a flush and an items query per story.
    existing = {s.key: s for s in session.scalars(
        select(Story).where(Story.day == day).options(selectinload(Story.items)))}
    rows: dict[str, Story] = {}
    for sw in stories:
        row = existing.get(sw.key)
        if row is None:
            row = Story(day=day, key=sw.key, created_at=now, items=[])
            session.add(row)
        row.title, row.rank, row.score, row.reasons = sw.title, sw.rank, sw.score, list(sw.reasons)
        row.previous_story_id, row.is_repeat, row.active = sw.previous_story_id, sw.is_repeat, True
        row.updated_at = now
        current = {si.item_id: si for si in row.items}
        wanted = set(sw.item_ids)
        for item_id in wanted - set(current):
            row.items.append(StoryItem(item_id=item_id, weak=item_id in sw.weak_item_ids))
        for item_id in set(current) - wanted:
            row.items.remove(current[item_id])
        for item_id in wanted & set(current):
            current[item_id].weak = item_id in sw.weak_item_ids
        rows[sw.key] = row
    session.flush()
    ids = {key: row.id for key, row in rows.items()}
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
