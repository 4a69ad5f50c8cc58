"""The nightly Prefect flow: collect -> extract -> cluster -> draft -> queue.

One task per stage (each batches its items: a task per item costs real
overhead). Stages are idempotent, so a rerun `from_stage` any point repairs
a night without duplicates. Task caches are keyed on the content a stage
reads (a fingerprint of the database rows), never on the run id.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from sqlalchemy import select

from flows import pipeline, scaleout
from flows.pipeline import Context
from flows.progress import current
from flows.params import validate_params
from newsdesk.config import STAGES, Settings, load_settings
from storage.db import Database
from storage.models import Run, utcnow
from storage.runlock import DayRunLock, mark_stale_runs


def _fingerprint_key(context, parameters: dict[str, Any]) -> str | None:
    return f"{context.task.name}-{parameters['day']}-{parameters['fingerprint']}"


@task(name="collect", retries=1, retry_delay_seconds=10, cache_policy=NO_CACHE)
def collect_task(ctx: Context, day: str, sources: list[str] | None, force: bool) -> dict[str, Any]:
    return pipeline.collect_stage(ctx, day, sources, force=force)


@task(name="extract", retries=2, retry_delay_seconds=10, cache_policy=NO_CACHE)
def extract_task(ctx: Context, day: str, force: bool) -> dict[str, Any]:
    return pipeline.extract_stage(ctx, day, force=force)


@task(name="cluster", cache_key_fn=_fingerprint_key, cache_expiration=timedelta(days=2), persist_result=True)
def cluster_task(ctx: Context, day: str, fingerprint: str) -> dict[str, Any]:
    return pipeline.cluster_stage(ctx, day)


LLM_CONCURRENCY_TAG = "newsdesk-llm"


@task(name="draft", retries=1, retry_delay_seconds=30, cache_policy=NO_CACHE, tags=[LLM_CONCURRENCY_TAG])
def draft_task(ctx: Context, day: str, style: str, max_stories: int, force: bool,
               story_ids: list[int] | None = None) -> dict[str, Any]:
    """Tagged `newsdesk-llm`: a tag concurrency limit (`prefect concurrency-limit create newsdesk-llm 1`)
    keeps a manual rerun and the nightly run from drafting against the LLM endpoint at once."""
    return pipeline.draft_stage(ctx, day, style, max_stories, force=force, story_ids=story_ids)


@task(name="queue", cache_policy=NO_CACHE)
def queue_task(ctx: Context, day: str, style: str) -> dict[str, Any]:
    return pipeline.queue_stage(ctx, day, style)


def run_night(
    settings: Settings,
    *,
    day: str | None = None,
    sources: list[str] | None = None,
    max_stories: int | None = None,
    style: str | None = None,
    from_stage: str = "collect",
    force: bool = False,
    trigger: str = "manual",
    story_ids: list[int] | None = None,
) -> dict[str, Any]:
    """Run the stages from `from_stage` on; returns the run's statistics.

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
    stats: dict[str, Any] = {"day": day, "style": style, "from_stage": from_stage}
    status = "failed"
    try:
        start = STAGES.index(from_stage)
        if start <= 0:
            stats["collect"] = scaleout.collect(ctx, day, sources, force) if settings.scale_out else collect_task(ctx, day, sources, force)
        if start <= 1:
            stats["extract"] = scaleout.extract(ctx, day, force) if settings.scale_out else extract_task(ctx, day, force)
        if start <= 2:
            stats["cluster"] = cluster_task(ctx, day, _cluster_fingerprint(ctx, day) if not force else f"force-{utcnow().isoformat()}")
        if start <= 3:
            stats["draft"] = draft_task(ctx, day, style, max_stories, force or bool(story_ids), story_ids)
        stats["queue"] = queue_task(ctx, day, style)
        status = "ok"
    finally:
        stats["notes"] = list(ctx.notes)
        try:
            with db.session() as s:
                run = s.get(Run, run_id)
                run.status, run.finished_at = status, utcnow()
                run.stats = _public(stats)
                run.notes = list(ctx.notes)
        finally:
            lock.release()
            db.dispose()
    return stats


def _cluster_fingerprint(ctx: Context, day: str) -> str:
    """What clustering reads: the window's items, their articles' text, and earlier stories."""
    from storage.models import Article, Item, ItemLink, Story

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
        instance = _database_instance(s)
    # The database is part of the key: the demo, tests and real data share one Prefect cache. Its URL is
    # not enough: a database deleted and created again at the same path (a fresh demo) is another one.
    return pipeline.stage_fingerprint(items, links, arts, earlier,
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


def _artifacts(stats: dict[str, Any]) -> None:
    day = stats["day"]
    preview = stats.get("queue", {}).get("preview")
    if preview:
        notes = stats.get("notes") or []
        if notes:
            preview = "\n".join(["> **Run notes**", *(f"> - {n}" for n in notes), "", preview])
        create_markdown_artifact(key=f"draft-digest-{day}", markdown=preview, description=f"Draft digest for {day} (pending review)")
    rows = [
        {"source": r["source"], "status": r["status"], "fetched": r["fetched"], "new": r["new"],
         "failed": 1 if r["status"] == "error" else 0, "error": r.get("error") or "", "flagged": r.get("flagged", False)}
        for r in stats.get("collect", {}).get("sources", [])
    ]
    draft = stats.get("draft", {})
    cluster = stats.get("cluster", {})
    rows.append({"source": "TOTAL", "status": f"{cluster.get('stories', '-')} stories",
                 "fetched": stats.get("collect", {}).get("fetched", 0), "new": stats.get("collect", {}).get("new", 0),
                 "failed": stats.get("collect", {}).get("failed", 0),
                 "error": f"tokens {draft.get('tokens', 0)}, cost ${draft.get('cost_usd', 0.0):.4f}", "flagged": False})
    create_table_artifact(key=f"run-stats-{day}", table=rows, description=f"Run statistics for {day}: items per source, stories, tokens, cost")


@flow(name="nightly", log_prints=True)
def nightly(
    day: str | None = None,
    sources: list[str] | None = None,
    max_stories: int | None = None,
    style: str | None = None,
    from_stage: str = "collect",
    force: bool = False,
) -> dict[str, Any]:
    """Collect, extract, cluster, draft and queue one day's digest for review."""
    settings = load_settings()
    stats = run_night(settings, day=day, sources=sources, max_stories=max_stories, style=style,
                      from_stage=from_stage, force=force, trigger="flow")
    return _report(stats)


def _report(stats: dict[str, Any]) -> dict[str, Any]:
    """Artifacts and notes for the Prefect UI (the CLI prints notes itself, once); the flow's result."""
    _artifacts(stats)
    logger = get_run_logger()
    for note in stats.get("notes", []):
        logger.info(note)
    return _public(stats)


def _public(stats: dict[str, Any]) -> dict[str, Any]:
    """Statistics without the (large) digest preview: the flow's result and the run row's record."""
    return {k: v for k, v in stats.items() if k != "queue"} | {"queue": {k: v for k, v in stats.get("queue", {}).items() if k != "preview"}}


@flow(name="rerun", log_prints=True)
def rerun(day: str, from_stage: str = "extract", force: bool = False, style: str | None = None,
          story: int | None = None) -> dict[str, Any]:
    """Repair one day from one stage on (e.g. after fixing a source or the LLM), or redraft one story."""
    settings = load_settings()
    stats = run_night(settings, day=day, style=style, from_stage=from_stage, force=force, trigger="rerun",
                      story_ids=[story] if story is not None else None)
    return _report(stats)
