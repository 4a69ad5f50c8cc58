"""The night's stages as plain functions: collect, extract, cluster, draft, queue.

Each stage reads what it needs from the database, does its work through
`extractors/` or `summarizer/`, and writes back idempotently, so any stage can
be rerun on its own (a manual rerun of one day, one stage or one story).
The Prefect flow in `flows.nightly` wraps them as tasks; tests call them
directly.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, AsyncIterator, Iterable, Mapping, Sequence

from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from extractors.http import Fetcher, FetchError
from extractors.models import SourceResult, SourceSpec
from flows.progress import Reporter, quiet
from newsdesk.config import Settings, parse_day
from newsdesk.sources import load_sources, spec_to_dict
from storage.db import Database
from storage.threads import assign_threads
from storage.models import Article, Item, ItemLink, Source, Story, StoryItem, utcnow
from storage.outlets import outlet_name
from storage.desk import weak_match_reason
from storage.units import article_units, item_links, joined_items, separated_items
from summarizer.unionfind import UnionFind
from storage.writes import (
    ItemWrite,
    StoryWrite,
    record_source_health,
    replace_day_stories,
    save_extractions,
    upsert_items_many,
    upsert_sources,
)

log = logging.getLogger("newsdesk")

MAX_ARTICLE_ATTEMPTS = 3
HISTORY_DAYS = 3
# Beyond HISTORY_DAYS (up to the thread window), continuity looks at each day's best-ranked
# stories only: a bound on the work of a busy night, far above the dozen stories drafted a day.
OLDER_STORIES_PER_DAY = 200
# Worker processes for CPU-bound feed parsing and page extraction (see bench/collect.py).
PARSE_WORKERS = 2
# Sources whose items are written in one transaction at most (a group is what finished while the last one was written).
WRITE_BATCH_SOURCES = 200


@dataclass
class Context:
    """What every stage needs: settings read once at the top, the database, a progress reporter."""

    settings: Settings
    db: Database
    reporter: Reporter = field(default_factory=quiet)
    notes: list[str] = field(default_factory=list)
    # Processes for parsing and extraction; 1 inside a Dask worker (a daemon process: no children,
    # and the cluster's workers are the parallelism there).
    parse_workers: int = PARSE_WORKERS

    def note(self, message: str) -> None:
        """Say something once per run, where the editor will see it (run notes) and in the log."""
        if message not in self.notes:
            self.notes.append(message)
            log.info(message)


@asynccontextmanager
async def stage_fetcher(settings: Settings, db: Database) -> AsyncIterator[Fetcher]:
    """A stage's fetcher; with `host_limits = "database"` its per-host limits hold over every worker."""
    limit = None
    if settings.host_limits == "database":
        from storage.hostlimits import DatabaseHostLimit

        limit = DatabaseHostLimit(db.engine, settings.http.per_host_concurrency, settings.http.per_host_delay)
    try:
        async with Fetcher(settings.http, host_limit=limit) as fetcher:
            yield fetcher
    finally:
        if limit is not None:
            limit.close()


# ---------------------------------------------------------------- collect


def selected_specs(settings: Settings, names: Sequence[str] | None) -> list[SourceSpec]:
    specs = load_sources(settings.sources_file)
    if names:
        known = {s.name for s in specs}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ValueError(f"unknown source(s): {', '.join(unknown)}")
        specs = [s for s in specs if s.name in set(names)]
    if settings.x_bearer_token:
        specs = [
            SourceSpec(**{**spec_to_dict(s), "tags": s.tags, "options": {**s.options, "bearer_token": settings.x_bearer_token}})
            if s.type == "x" else s
            for s in specs
        ]
    return specs


def _item_write(it) -> ItemWrite:
    return ItemWrite(
        kind=it.kind,
        guid=it.guid,
        url=it.url,
        title=it.title,
        text=it.text,
        content_hash=it.content_hash,
        author=it.author,
        published_at=it.published_at,
        engagement=dict(it.engagement),
        links=list(it.links),
    )


async def _collect_and_store(ctx: Context, specs: list[SourceSpec], ids: dict[str, int], validators: dict,
                             since: datetime) -> list[dict[str, Any]]:
    """Fetch and parse every source, writing finished sources while later ones are still in flight.

    Why: stored after the last fetch, a night of 500 feeds spent its database time (40-70% of the
    stage) with the network idle. Here a finished source is queued for a group commit
    (storage.groupcommit): the first one is written alone, those that finish meanwhile go
    together in the next transaction, so groups grow with the load and a source's rows are
    committed as soon as it is done. Rows come back in the order of `specs`.
    """
    from extractors.collect import collect_sources
    from storage.groupcommit import GroupCommitter

    wanted = {spec.name: spec for spec in specs}
    queued: set[str] = set()
    quiet: list[SourceResult] = []  # nothing to store but health (a 304, an error): written together at the end
    rows: dict[str, dict[str, Any]] = {}

    def commit(results: list[SourceResult]) -> list[dict[str, Any]]:
        return _store_collected(ctx, [wanted[r.source] for r in results], ids, {r.source: r for r in results})

    def committed(results: list[SourceResult], stored: object) -> None:
        rows.update((row["source"], row) for row in stored)  # type: ignore[attr-defined]
        ctx.reporter.advance("collect", len(results))

    writer: GroupCommitter[SourceResult] = GroupCommitter(commit, committed, WRITE_BATCH_SOURCES)

    async def store(result: SourceResult) -> None:
        if result.source in wanted and result.source not in queued:  # an OPML's feeds are not stage sources
            queued.add(result.source)
            if result.items:
                await writer.save(result)
            else:  # one at a time, an all-304 night made ~100 commits of a row or two
                quiet.append(result)

    try:
        async with stage_fetcher(ctx.settings, ctx.db) as fetcher:
            await collect_sources(specs, fetcher, validators, since=since, parse_workers=ctx.parse_workers, on_result=store)
        for spec in specs:
            await store(SourceResult(source=spec.name, status="error", error="collector returned nothing"))
        await asyncio.gather(*(writer.save(r) for r in quiet))
    finally:
        writer.close()
    return [rows[spec.name] for spec in specs]


def collect_stage(ctx: Context, day: str, source_names: Sequence[str] | None = None, force: bool = False) -> dict[str, Any]:
    """Fetch every source once (conditional GET), store items, record each source's health."""
    settings, db = ctx.settings, ctx.db
    specs = selected_specs(settings, source_names)
    with db.session() as s:
        ids = upsert_sources(s, [spec_to_dict(sp) for sp in specs])
        validators = {} if force else {
            name: (etag, last_modified) for name, etag, last_modified in s.execute(
                select(Source.name, Source.etag, Source.last_modified).where(Source.name.in_(list(ids))))
        }
    start, _ = settings.window(day)
    ctx.reporter.start("collect", len(specs))
    per_source = asyncio.run(_collect_and_store(ctx, specs, ids, validators, since=start - timedelta(days=1)))
    ctx.reporter.done("collect")
    return {
        "sources": per_source,
        "fetched": sum(r["fetched"] for r in per_source),
        "new": sum(r["new"] for r in per_source),
        "failed": sum(1 for r in per_source if r["status"] == "error"),
    }


def _store_collected(ctx: Context, group: list[SourceSpec], ids: dict[str, int],
                     by_name: dict[str, SourceResult]) -> list[dict[str, Any]]:
    """Write one group of sources' items and health in one transaction (set-based, see storage.writes)."""
    settings = ctx.settings
    results = {spec.name: by_name[spec.name] for spec in group}
    rows: list[dict[str, Any]] = []
    with ctx.db.session() as s:
        sources = {src.id: src for src in s.scalars(select(Source).where(Source.id.in_([ids[g.name] for g in group])))}
        stored = [(ids[name], r) for name, r in results.items() if r.status in ("ok", "not_modified")]
        counts = upsert_items_many(s, [(sid, [_item_write(i) for i in r.items]) for sid, r in stored if r.items], link=True)
        for spec in group:
            r, sid = results[spec.name], ids[spec.name]
            row: dict[str, Any] = {"source": spec.name, "status": r.status, "fetched": len(r.items), "new": 0, "updated": 0,
                                   "error": r.error, "warnings": list(r.warnings)}
            if r.status in ("ok", "not_modified"):
                c = counts.get(sid)
                record_source_health(s, sid, ok=True, etag=r.etag, last_modified=r.last_modified,
                                     warnings=r.warnings if r.status == "ok" else None)
                row["new"], row["updated"] = (c.new, c.updated) if c else (0, 0)
            elif r.status == "skipped":
                ctx.note(f"{spec.name}: {r.error}")
            else:
                record_source_health(s, sid, ok=False, error=r.error or "unknown error")
            src = sources.get(sid)
            row["failing_streak"] = src.consecutive_failures if src else 0
            row["flagged"] = row["failing_streak"] >= settings.flag_after
            rows.append(row)
    for row in rows:
        if row["flagged"]:
            ctx.note(f"{row['source']} has failed {row['failing_streak']} runs in a row: {row['error']}")
    return rows


# ---------------------------------------------------------------- extract


def _window_items(session, settings: Settings, day: str):
    start, end = settings.window(day)
    return select(Item).where(Item.window_at >= start, Item.window_at < end)


def _articles_to_fetch_query(settings: Settings, day: str, force: bool):
    window_ids = select(Item.id).where(*_window_clause(settings, day)).scalar_subquery()
    direct = select(Item.article_id).where(Item.id.in_(window_ids), Item.article_id.is_not(None))
    linked = select(ItemLink.article_id).where(ItemLink.item_id.in_(window_ids))
    q = select(Article).where(or_(Article.id.in_(direct), Article.id.in_(linked)))
    if not force:
        q = q.where(or_(Article.status == "pending", (Article.status == "failed") & (Article.attempts < MAX_ARTICLE_ATTEMPTS)))
    return q.order_by(Article.id)


def _window_clause(settings: Settings, day: str):
    start, end = settings.window(day)
    return Item.window_at >= start, Item.window_at < end


def articles_to_fetch(session, settings: Settings, day: str, force: bool) -> list[Article]:
    return list(session.scalars(_articles_to_fetch_query(settings, day, force)))


@dataclass(frozen=True)
class PageTodo:
    """One page to fetch: just what extraction needs (not the article's stored text)."""

    id: int
    url: str
    attempts: int
    final_url: str | None


def pages_to_fetch(session, settings: Settings, day: str, force: bool) -> list[PageTodo]:
    q = _articles_to_fetch_query(settings, day, force).with_only_columns(
        Article.id, Article.canonical_url, Article.attempts, Article.final_url)
    return [PageTodo(i, u, a or 0, f) for i, u, a, f in session.execute(q)]


Fetched = tuple[str, bytes | None, str | None]  # final url, body (None when the fetch failed), error


def extract_stage(ctx: Context, day: str, force: bool = False) -> dict[str, Any]:
    """Fetch the day's article pages (robots.txt honoured) and extract their main text.

    Each page goes fetch -> extract -> commit on its own, at most `extract_batch` pages in flight
    at once, and a page leaves the window only once its row is committed (a group commit, see
    storage.groupcommit): memory holds the window, not the night, and a kill loses at most the
    pages in flight (a rerun fetches only what was not saved).
    """
    with ctx.db.session() as s:
        todo = pages_to_fetch(s, ctx.settings, day, force)
    return extract_pages(ctx, todo)


def pages_by_id(session, ids: Sequence[int]) -> list[PageTodo]:
    """The pages of these article ids (a scale-out task gets ids, not pages)."""
    q = select(Article.id, Article.canonical_url, Article.attempts, Article.final_url).where(Article.id.in_(list(ids)))
    return [PageTodo(i, u, a or 0, f) for i, u, a, f in session.execute(q.order_by(Article.id))]


def saved_article_ids(session, ids: Sequence[int]) -> set[int]:
    """Which of these articles extraction already finished (anything but pending or retryable failure)."""
    q = select(Article.id).where(Article.id.in_(list(ids)), Article.status != "pending",
                                 or_(Article.status != "failed", Article.attempts >= MAX_ARTICLE_ATTEMPTS))
    return set(session.scalars(q))


def extract_pages(ctx: Context, todo: list[PageTodo]) -> dict[str, Any]:
    """Fetch, extract and save these pages, each committed as soon as it is extracted (see `extract_stage`)."""
    from extractors.article_batch import extraction_pool

    stats = {"articles": len(todo), "ok": 0, "fallback": 0, "failed": 0, "merged": 0}
    ctx.reporter.start("extract", len(todo))
    if todo:
        with extraction_pool(ctx.parse_workers) as pool:
            asyncio.run(_extract_stream(ctx, todo, stats, pool))
    ctx.reporter.done("extract")
    return stats


# Rows committed together at most (a group is what queued while the previous commit ran).
COMMIT_GROUP_MAX = 500

PageRow = tuple[dict[str, Any], "tuple[int, str] | None"]  # the article's columns; (id, canonical URL) to merge


async def _extract_stream(ctx: Context, todo: list[PageTodo], stats: dict[str, int], pool) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from storage.groupcommit import GroupCommitter

    def committed(rows: list[PageRow], merged: object) -> None:
        stats["merged"] += int(merged)  # type: ignore[call-overload]
        ctx.reporter.advance("extract", len(rows))

    writer: GroupCommitter[PageRow] = GroupCommitter(lambda rows: _commit_pages(ctx, rows), committed, COMMIT_GROUP_MAX)
    inline = ThreadPoolExecutor(max_workers=1, thread_name_prefix="extract")  # no pool (one worker, Dask)
    pages = iter(todo)
    try:
        async with stage_fetcher(ctx.settings, ctx.db) as fetcher:
            async def worker() -> None:
                for page in pages:  # shared by the workers: each takes the next page
                    fetched = await _fetch_one(fetcher, page.url)
                    art = await _extract_one(pool, inline, fetched) if fetched[1] is not None else None
                    await writer.save(_page_row(page, fetched, art, stats))

            await asyncio.gather(*(worker() for _ in range(min(ctx.settings.extract_batch, len(todo)))))
    finally:
        writer.close()
        inline.shutdown(wait=False)


async def _fetch_one(fetcher: Fetcher, url: str) -> Fetched:
    try:
        resp = await fetcher.get(url, respect_robots=True)
        return resp.url, resp.content, None
    except FetchError as exc:
        return url, None, exc.reason
    except Exception as exc:  # never let one page stop the night
        return url, None, f"{type(exc).__name__}: {exc}"


async def _extract_one(pool, inline, fetched: Fetched):
    """Extract one fetched page in the process pool (or on the inline thread when there is none)."""
    from extractors.article_batch import extract_page

    final, content, _err = fetched
    loop = asyncio.get_running_loop()
    if pool is not None:
        try:
            return await asyncio.wrap_future(pool.submit(extract_page, (content, final)))
        except (OSError, RuntimeError) as exc:  # a broken pool (a worker killed): finish in-process
            log.warning("extraction pool failed (%s); extracting in-process", exc)
    return await loop.run_in_executor(inline, extract_page, (content, final))


def _page_row(todo: PageTodo, fetched: Fetched, art, stats: dict[str, int]) -> PageRow:
    """The article's new columns from its fetch and extraction, counted in `stats`."""
    from extractors.models import content_hash
    from extractors.urls import canonicalize

    final, content, err = fetched
    row: dict[str, Any] = {"id": todo.id, "attempts": todo.attempts + 1, "fetched_at": utcnow()}
    if content is None:
        stats["failed"] += 1
        return row | {"status": "failed", "final_url": todo.final_url, "error": err}, None
    if art is None or not art.text:
        stats["fallback"] += 1
        return row | {"status": "empty", "final_url": final or todo.final_url,
                      "error": "no article text found; using the feed's summary"}, None
    status = art.page_kind if art.page_kind != "article" else "ok"
    row |= {
        "status": status, "final_url": final or todo.final_url,
        "error": None if status == "ok" else f"page is {status.replace('_', ' ')}: using the feed's summary",
        "title": art.title, "text": art.text, "author": art.author, "site_name": art.site_name,
        "language": art.language, "image": art.image, "published_at": art.published_at,
        "content_hash": content_hash(art.title, art.text),
    }
    stats["ok" if status == "ok" else "fallback"] += 1
    return row, ((todo.id, canonicalize(art.canonical_url)) if art.canonical_url else None)


def _commit_pages(ctx: Context, rows: list[PageRow]) -> int:
    """Save a group of pages' rows and their canonical merges in one transaction; how many merged."""
    merged = 0
    with ctx.db.session() as s:
        save_extractions(s, [row for row, _ in rows])
        for aid, canonical in sorted(c for _, c in rows if c is not None):
            merged += _merge_canonical(s, aid, canonical)
    return merged


def _merge_canonical(session, article_id: int, canonical: str) -> int:
    """Honour <link rel=canonical>: two URLs of one page become one article."""
    art = session.get(Article, article_id)
    if art is None or not canonical or canonical == art.canonical_url:
        return 0
    other = session.scalars(select(Article).where(Article.canonical_url == canonical)).one_or_none()
    if other is None:
        art.canonical_url = canonical
        return 0
    for item in session.scalars(select(Item).where(Item.article_id == article_id)):
        item.article_id = other.id
    existing = {(i, a) for i, a in session.execute(select(ItemLink.item_id, ItemLink.article_id).where(ItemLink.article_id == other.id))}
    for link in session.scalars(select(ItemLink).where(ItemLink.article_id == article_id)):
        if (link.item_id, other.id) in existing:
            session.delete(link)
        else:
            link.article_id = other.id
    if other.status != "ok" and art.status == "ok":
        for key in ("status", "title", "text", "author", "site_name", "language", "image", "published_at", "content_hash", "final_url"):
            setattr(other, key, getattr(art, key))
    session.flush()
    session.delete(art)
    return 1


# ---------------------------------------------------------------- cluster


def _outlet(item: Item) -> str:
    """The item's source name (ranking counts the outlet behind it: `storage.outlets`)."""
    return item.source.name if item.source else "unknown"


def _item_doc_text(item: Item, articles: dict[int, Article], links: dict[int, list[int]]) -> tuple[str, str]:
    """Title and text of an item, enriched with the article it is or points to."""
    title, parts = item.title or "", [item.text or ""]
    for aid in ([item.article_id] if item.article_id else []) + links.get(item.id, []):
        art = articles.get(aid)
        if art is not None and art.status == "ok" and art.text:
            if item.kind == "article" and art.title:
                title = art.title
            parts.append(((art.title or "") + "\n" + art.text) if item.kind == "post" else art.text)
    return title, "\n".join(p for p in parts if p)


def keep_apart(groups: list[list[str]], apart: set[str], blocks: Mapping[str, int] | None = None) -> list[list[str]]:
    """Move the `apart` docs out of their groups, each into a group of its own, right after it.

    The rest of each group stays as clustered, so the story a unit was split from keeps its other
    items and with them its key (and draft). A doc in a `blocks` group (an editor's merge: doc ->
    group) takes its group's docs along, wherever clustering put them: what was merged into a
    split-off story stays with it."""
    blocks = blocks or {}
    out_blocks = {blocks[d] for d in apart if d in blocks}
    members: dict[int, list[str]] = {}
    for g in groups:
        for d in g:
            if blocks.get(d) in out_blocks:
                members.setdefault(blocks[d], []).append(d)
    leaving = apart | {d for b in out_blocks for d in members[b]}
    out: list[list[str]] = []
    placed: set[int] = set()
    for g in groups:
        rest = [d for d in g if d not in leaving]
        if rest:
            out.append(rest)
        for d in g:
            if d not in leaving:
                continue
            b = blocks.get(d)
            if b is None:
                out.append([d])
            elif b not in placed:
                placed.add(b)
                out.append(members[b])
    return out


def join_groups(groups: list[list[str]], blocks: Mapping[str, int]) -> list[list[str]]:
    """Union the groups holding docs of one block (doc -> group of an editor's merge), so a merge
    holds over a rerun; the union sits where its first group was, the other groups stay as they are."""
    uf: UnionFind[int] = UnionFind()  # over group positions; a set's root is its first group
    first: dict[int, int] = {}
    for i, g in enumerate(groups):
        for d in g:
            if d in blocks:
                uf.union(i, first.setdefault(blocks[d], i))
    out: dict[int, list[str]] = {}
    for i, g in enumerate(groups):
        out.setdefault(uf.find(i), []).extend(g)
    return list(out.values())


def cluster_stage(ctx: Context, day: str) -> dict[str, Any]:
    """Group the day's items into stories, rank them, and link them to earlier days' stories."""
    from summarizer.clustering import cluster_stories
    from summarizer.continuity import link_stories
    from summarizer.ranking import RankItem, StoryCandidate, rank

    settings, db = ctx.settings, ctx.db
    ctx.reporter.start("cluster", 1)
    with db.session() as s:
        items = list(s.scalars(_window_items(s, settings, day).options(selectinload(Item.source))))
        links = item_links(s, [i.id for i in items])
        art_ids = {i.article_id for i in items if i.article_id} | {a for arts in links.values() for a in arts}
        articles = {a.id: a for a in s.scalars(select(Article).where(Article.id.in_(art_ids)))} if art_ids else {}

        # Items that are, or point to, the same article are one story before any clustering.
        by_id = {it.id: it for it in items}
        pre = [[by_id[i] for i in unit] for unit in article_units([(it.id, it.article_id) for it in items], links)]

        docs, members = [], {}
        for group in pre:
            doc_id = f"g{group[0].id}"
            members[doc_id] = group
            texts, titles = [], []
            for it in group:
                t, x = _item_doc_text(it, articles, links)
                titles.append(t)
                texts.append(x)
            best_title = next((t for t, it in zip(titles, group) if it.kind == "article" and t), titles[0])
            dates = [i.published_at for i in group if i.published_at]
            docs.append({
                "id": doc_id, "title": best_title, "text": "\n".join(dict.fromkeys(texts)),
                "url": next((i.url for i in group if i.url), None),
                "published_at": min(dates) if dates else None, "source": _outlet(group[0]),
            })
        found = cluster_stories(docs)
        # An editor's "Split off" and "Merge" outrank the clustering: a split-off unit is a story of
        # its own (with what was merged into it), then units merged into one story are joined. Apart
        # first, so a split-off unit's merge pulls no unrelated group along with it.
        separated, joined = separated_items(s, day), joined_items(s, day)
        apart = {d for d, group in members.items() if any(it.id in separated for it in group)}
        blocks = {d: joined[it.id] for d, group in members.items() for it in group if it.id in joined}
        groups = join_groups(keep_apart(found.groups, apart, blocks), blocks)
        weak_docs = found.weak - apart - set(blocks)  # a unit on its own joined nothing; a merged one, by the editor's word
        doc_by_id = {d["id"]: d for d in docs}
        weights = {src.name: src.weight for src in s.scalars(select(Source))}

        candidates = []
        for g in groups:
            group_items = sorted((it for did in g for it in members[did]), key=lambda i: i.id)
            key = f"i{group_items[0].id}"
            title_doc = max((doc_by_id[d] for d in g), key=lambda d: (len(members[d["id"]]), -int(d["id"][1:])))
            candidates.append(StoryCandidate(
                key=key,
                title=title_doc["title"],
                text="\n".join(doc_by_id[d]["text"] for d in g)[:20000],
                items=[RankItem(source=_outlet(i), outlet=outlet_name(_outlet(i)), kind=i.kind, published_at=i.published_at,
                                engagement=dict(i.engagement or {}), weight=weights.get(_outlet(i), 1.0)) for i in group_items],
            ))
            candidates[-1]._item_ids = [i.id for i in group_items]  # type: ignore[attr-defined]
            candidates[-1]._hashes = frozenset(i.content_hash for i in group_items)  # type: ignore[attr-defined]
            candidates[-1]._weak = frozenset(i.id for d in g if d in weak_docs for i in members[d])  # type: ignore[attr-defined]

        previous = _previous_stories(s, day, max(HISTORY_DAYS, settings.thread_days))
        novelty_from = (parse_day(day) - timedelta(days=HISTORY_DAYS)).isoformat()
        _, end = settings.window(day)
        ranked = rank(candidates, now=end,
                      recent_texts=[p.title + "\n" + p.text for p in previous if p.day >= novelty_from])
        links_prev = link_stories(
            [(c.key, c.title, c.text, c._hashes) for c in candidates],  # type: ignore[attr-defined]
            previous,
        )
        writes = []
        for n, r in enumerate(ranked, start=1):
            c = r.candidate
            cont = links_prev.get(c.key)
            reasons = list(r.reasons)
            if c._weak:  # type: ignore[attr-defined]
                reasons.insert(0, weak_match_reason(len(c._weak)))  # type: ignore[attr-defined]
            if cont is not None:
                reasons.append("already published, nothing new" if cont.is_repeat else "continues an earlier story")
            writes.append(StoryWrite(
                key=c.key, title=c.title, item_ids=c._item_ids, rank=n, score=float(r.score), reasons=reasons,  # type: ignore[attr-defined]
                previous_story_id=cont.previous_id if cont else None, is_repeat=bool(cont and cont.is_repeat),
                weak_item_ids=c._weak,  # type: ignore[attr-defined]
            ))
        replace_day_stories(s, day, writes)
        assign_threads(s, day, settings.thread_days)
    ctx.reporter.done("cluster")
    return {
        "items": len(items),
        "stories": len(writes),
        "multi_source": sum(1 for w in writes if len(w.item_ids) > 1),
        "continuing": sum(1 for w in writes if w.previous_story_id),
    }


def _previous_stories(session, day: str, days: int = HISTORY_DAYS):
    from storage.desk import source_refs
    from summarizer.continuity import PreviousStory

    from newsdesk.config import parse_day

    first = (parse_day(day) - timedelta(days=days)).isoformat()
    recent = (parse_day(day) - timedelta(days=HISTORY_DAYS)).isoformat()
    q = (
        select(Story)
        .where(Story.day >= first, Story.day < day, Story.active.is_(True),
               or_(Story.day >= recent, Story.rank <= OLDER_STORIES_PER_DAY))
        .options(selectinload(Story.items).selectinload(StoryItem.item).selectinload(Item.source),
                 selectinload(Story.items).selectinload(StoryItem.item).selectinload(Item.article),
                 selectinload(Story.draft))
    )
    published_ids = _published_story_ids(session)
    out = []
    for st in session.scalars(q):
        text = "\n".join(r.text for r in source_refs(st))[:20000]
        out.append(PreviousStory(
            id=st.id, day=st.day, title=(st.draft.headline if st.draft and st.draft.headline else st.title), text=text,
            published=st.id in published_ids, content_hashes=frozenset(si.item.content_hash for si in st.items),
            thread_id=st.thread_id,
        ))
    return out


def _published_story_ids(session) -> set[int]:
    from storage.models import Publication

    ids: set[int] = set()
    for story_ids in session.scalars(select(Publication.story_ids)):
        ids.update(int(x) for x in story_ids or [])
    return ids


# ---------------------------------------------------------------- draft


from flows.draft_stage import NO_LLM_NOTE, draft_stage, story_input as _story_input  # noqa: E402,F401


def regenerate_story(ctx: Context, story_id: int, *, instruction: str | None = None, actor: str | None = None,
                     style: str | None = None) -> dict[str, Any]:
    """Redraft one story now, in its draft's style, as an editor asked; the earlier version stays in history.

    Raises `storage.desk.NotFound` for an unknown story and `InvalidAction` when the redraft failed
    (the existing text is then unchanged).
    """
    from storage.desk import InvalidAction, NotFound

    with ctx.db.session() as s:
        story = s.get(Story, story_id)
        if story is None:
            raise NotFound(f"no story with id {story_id}")
        day = story.day
        style = style or (story.draft.style if story.draft is not None else None) or ctx.settings.style
    stats = draft_stage(ctx, day, style, 1, story_ids=[story_id], instruction=instruction, actor=actor)
    if stats["failed_redrafts"]:
        raise InvalidAction(f"redrafting story #{story_id} failed: {stats['failed_redrafts'][0]['error']}; "
                            "the draft is unchanged")
    return stats


# ---------------------------------------------------------------- queue


def queue_stage(ctx: Context, day: str, style: str) -> dict[str, Any]:
    """Put the night's drafts in front of editors: the digest row and a preview of it."""
    from storage import desk
    from summarizer.render import render_markdown

    with ctx.db.session() as s:
        desk.ensure_digest(s, day, style)
        frame_day(s, day, framing=desk.digest_data(s, day, approved_only=False).style == "ai-news-digest",
                  settings=ctx.settings, note=ctx.note)
        data = desk.digest_data(s, day, approved_only=False, style=style)
        counts: dict[str, int] = {}
        for row in desk.list_stories(s, day=day):
            counts[row.status] = counts.get(row.status, 0) + 1
    preview = render_markdown(digest_from_data(data), style) if data.entries else f"No drafted stories for {day}."
    return {"queued": sum(counts.values()), "by_status": counts, "preview": preview}


def frame_day(session, day: str, *, framing: bool = True, replace: bool = False, settings=None,
              note=None) -> dict[str, int]:
    """The day's section headings and (with `framing`) its title and intro, from summarizer.dayplan:
    the LLM's when one is configured (its calls recorded with the day's), else the extractive default;
    kept off editors' work; `replace` overwrites a title and intro already set."""
    from sqlalchemy import select

    from storage import desk
    from storage.models import Draft, Story
    from summarizer.dayplan import PlanStory, extractive_plan

    rows = session.execute(
        select(Story.id, Story.rank, Draft.headline, Draft.tags, Draft.section, Draft.edited, Draft.status)
        .join(Draft, Draft.story_id == Story.id)
        .where(Story.day == day, Story.active.is_(True), Draft.status != "rejected")
    ).all()
    stories = [PlanStory(story_id=r.id, rank=r.rank, headline=r.headline or "", tags=list(r.tags or []),
                         section=r.section if r.edited else None) for r in rows if (r.headline or "").strip()]
    plan = extractive_plan(stories)
    if framing and stories and settings is not None and settings.llm.configured:
        plan = _llm_plan(session, settings, stories, day, note) or plan
    if replace and framing:
        desk.update_digest(session, day, "newsdesk", title="", intro="")
    return desk.apply_day_plan(session, day, title=plan.title if framing else "", intro=plan.intro if framing else "",
                               headings=plan.headings)


def _llm_plan(session, settings, stories, day: str, note):
    """The model's day plan, or None (with a note) when it fails: the extractive plan stands in."""
    import asyncio

    from flows.draft_stage import open_llm
    from storage.writes import record_llm_calls
    from summarizer.dayplan import llm_plan
    from summarizer.llm import DraftingError

    records: list = []

    async def ask():
        llm = open_llm(settings)
        try:
            return await llm_plan(llm, stories, day, records)
        finally:
            await llm.aclose()

    try:
        return asyncio.run(ask())
    except DraftingError as exc:
        if note is not None:
            note(f"The day's title, intro and headings are the extractive default: the model's plan failed ({exc}).")
        return None
    finally:
        record_llm_calls(session, day, None, [r.model_dump() for r in records])


def digest_from_data(data):
    """storage.desk.DigestData -> summarizer.render.Digest (the renderer's own types)."""
    from summarizer.models import SourceDoc
    from summarizer.render import Digest, DigestStory

    stories = []
    for e in data.entries:
        sources = [SourceDoc(id=r.id, title=r.title, outlet=r.outlet, url=r.url, text="", published_at=r.published_at, kind=r.kind,
                             author=r.author, network=r.network)
                   for r in e.sources]
        stories.append(DigestStory(
            number=e.number,
            headline=e.headline,
            summary_paragraphs=_paragraphs(e.summary),
            view=e.view,
            tags=e.tags,
            sources=sources,
            citations=[list(s.get("source_ids") or []) for s in e.summary],
            sentences=[s.get("text", "") for s in e.summary],
            section=e.section,
            update_of=f"Update on {e.update_of}" if e.update_of else None,
        ))
    return Digest(day=data.day, title=data.title, intro=data.intro, stories=stories)


def _paragraphs(summary: list[dict[str, Any]]) -> list[str]:
    paras: list[list[str]] = [[]]
    for s in summary:
        paras[-1].append(s.get("text", "").strip())
        if s.get("paragraph_break"):
            paras.append([])
    return [" ".join(p) for p in paras if p]


def stage_fingerprint(*parts: Iterable[Any]) -> str:
    h = hashlib.sha256()
    for part in parts:
        for x in part:
            h.update(repr(x).encode())
        h.update(b"|")
    return h.hexdigest()
