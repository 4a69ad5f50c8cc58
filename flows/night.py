"""One night's run, stage by stage, without Prefect: the run row, the day's lock and each stage's time.

`flows.nightly` runs the same sequence with each stage as a Prefect task; passing plain functions
(`DIRECT`) runs the night in-process, which is what a benchmark compares the flow against.
Each stage's wall time goes into the run's statistics (`seconds`), so a slow night says where.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from sqlalchemy import select

from flows import pipeline
from flows.params import validate_params
from flows.pipeline import Context
from flows.progress import current
from newsdesk.config import STAGES, Settings
from storage.db import Database
from storage.models import Run, utcnow
from storage.runlock import DayRunLock, mark_stale_runs


@dataclass(frozen=True)
class Stages:
    """How each stage is run: Prefect tasks in the flow, plain calls in-process."""

    collect: Callable[..., dict[str, Any]]
    extract: Callable[..., dict[str, Any]]
    cluster: Callable[..., dict[str, Any]]  # (ctx, day, fingerprint)
    draft: Callable[..., dict[str, Any]]
    queue: Callable[..., dict[str, Any]]


def _cluster_direct(ctx: Context, day: str, fingerprint: str) -> dict[str, Any]:
    return pipeline.cluster_stage(ctx, day)


DIRECT = Stages(
    collect=lambda ctx, day, sources, force: pipeline.collect_stage(ctx, day, sources, force=force),
    extract=lambda ctx, day, force: pipeline.extract_stage(ctx, day, force=force),
    cluster=_cluster_direct,
    draft=lambda ctx, day, style, max_stories, force, story_ids=None: pipeline.draft_stage(
        ctx, day, style, max_stories, force=force, story_ids=story_ids),
    queue=pipeline.queue_stage,
)


def run_night(
    settings: Settings,
    *,
    stages: Stages = DIRECT,
    day: str | None = None,
    sources: list[str] | None = None,
    max_stories: int | None = None,
    style: str | None = None,
    from_stage: str = "collect",
    force: bool = False,
    trigger: str = "manual",
    story_ids: list[int] | None = None,
) -> dict[str, Any]:
    """Run the stages from `from_stage` on; returns the run's statistics (with `seconds` per stage).

    With `story_ids`, only those stories are redrafted (from the draft stage), whatever their cache.
    """
    day, style, max_stories = validate_params(settings, day, from_stage, style, max_stories)
    if sources:
        pipeline.selected_specs(settings, sources)  # unknown names fail here, once, not in a retried task
    if story_ids:
        from_stage = "draft"
    db = Database(settings.database_url)
    db.check_ready()
    ctx = Context(settings=settings, db=db, reporter=current())
    lock = DayRunLock(db, day, wait=settings.lock_wait)
    try:
        lock.acquire()  # DayBusy: another live run has this day; nothing was started or paid for
    except BaseException:
        db.dispose()
        raise
    try:
        mark_stale_runs(db, day=day)  # we hold the day: any other "running" run of it is dead
        with db.session() as s:
            run = Run(day=day, trigger=trigger, from_stage=from_stage, status="running")
            s.add(run)
            s.flush()
            run_id = run.id
        lock.attach(run_id)
    except BaseException:
        lock.release()
        db.dispose()
        raise
    seconds: dict[str, float] = {}
    stats: dict[str, Any] = {"day": day, "style": style, "from_stage": from_stage, "seconds": seconds}

    def timed(name: str, fn: Callable[..., dict[str, Any]], *args: Any) -> None:
        started = time.perf_counter()
        try:
            stats[name] = fn(*args)
        finally:
            seconds[name] = round(time.perf_counter() - started, 3)

    status = "failed"
    start = STAGES.index(from_stage)
    prober: threading.Thread | None = None
    collect, extract = stages.collect, stages.extract
    if settings.scale_out:  # batches on a Dask cluster, whichever way the other stages run
        from flows import scaleout  # Prefect and Dask: only when asked for

        collect, extract = scaleout.collect, scaleout.extract
    try:
        if start <= STAGES.index("draft"):
            prober = _probe_ahead(ctx, day)
        if start <= 0:
            timed("collect", collect, ctx, day, sources, force)
        if start <= 1:
            timed("extract", extract, ctx, day, force)
        if start <= 2:
            fingerprint = cluster_fingerprint(ctx, day) if not force else f"force-{utcnow().isoformat()}"
            timed("cluster", stages.cluster, ctx, day, fingerprint)
        if start <= 3:
            def draft(*args: Any) -> dict[str, Any]:
                if prober is not None:
                    prober.join()  # the draft stage reads what the probe stored
                return stages.draft(*args)
            timed("draft", draft, ctx, day, style, max_stories, force or bool(story_ids), story_ids)
        timed("queue", stages.queue, ctx, day, style)
        status = "ok"
    finally:
        if prober is not None:
            prober.join()  # it writes to the database this run is about to close
        stats["notes"] = list(ctx.notes)
        try:
            with db.session() as s:
                run = s.get(Run, run_id)
                run.status, run.finished_at = status, utcnow()
                run.stats = public(stats)
                run.notes = list(ctx.notes)
        finally:
            lock.release()
            db.dispose()
    return stats


def _probe_ahead(ctx: Context, day: str) -> threading.Thread | None:
    """Probe an endpoint not probed before while collect, extract and cluster run (or join the probe
    `newsdesk run` started while Prefect's server came up): see `flows.probe_ahead`."""
    from flows import probe_ahead

    return probe_ahead.start(ctx.settings, day)


def cluster_fingerprint(ctx: Context, day: str) -> str:
    """What clustering reads: the window's items, their articles' text, earlier stories, and editors' splits and merges."""
    from storage.models import Article, Item, ItemLink, Story
    from storage.units import joined_items, separated_items

    settings = ctx.settings
    start, end = settings.window(day)
    with ctx.db.session() as s:
        items = s.execute(
            select(Item.id, Item.content_hash, Item.article_id, Item.engagement).where(Item.window_at >= start, Item.window_at < end).order_by(Item.id)
        ).all()
        ids = [i[0] for i in items]
        links = s.execute(select(ItemLink.item_id, ItemLink.article_id).where(ItemLink.item_id.in_(ids)).order_by(ItemLink.id)).all() if ids else []
        arts = s.execute(select(Article.id, Article.status, Article.content_hash).order_by(Article.id)).all()
        earlier = s.execute(select(Story.id, Story.day, Story.key, Story.active).where(Story.day < day).order_by(Story.id)).all()
        has_day = s.scalar(select(Story.id).where(Story.day == day).limit(1)) is not None
        separated = sorted(separated_items(s, day))  # an editor's split changes the grouping
        joined = sorted(joined_items(s, day).items())  # and so does a merge
        instance = _database_instance(s)
    # The database is part of the key: the demo, tests and real data share one Prefect cache. Its URL is
    # not enough: a database deleted and created again at the same path (a fresh demo) is another one.
    return pipeline.stage_fingerprint(items, links, arts, earlier, separated, joined,
                                      [ctx.db.url, instance, has_day, settings.timezone, settings.day_cutoff])


def _database_instance(session) -> str:
    """A random id kept in the database itself, made on first use."""
    import uuid

    from storage.writes import get_setting, put_setting

    found = get_setting(session, "database_instance")
    if found and found.get("id"):
        return str(found["id"])
    new = uuid.uuid4().hex
    put_setting(session, "database_instance", {"id": new})
    return new


def public(stats: dict[str, Any]) -> dict[str, Any]:
    """Statistics without the (large) digest preview: the flow's result and the run row's record."""
    return {k: v for k, v in stats.items() if k != "queue"} | {"queue": {k: v for k, v in stats.get("queue", {}).items() if k != "preview"}}
