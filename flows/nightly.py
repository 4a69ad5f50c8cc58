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

from flows import night, pipeline
from flows.night import Stages, public
from flows.pipeline import Context
from flows.retrying import retry_helps
from newsdesk.config import Settings, load_settings


def _fingerprint_key(context, parameters: dict[str, Any]) -> str | None:
    return f"{context.task.name}-{parameters['day']}-{parameters['fingerprint']}"


@task(name="collect", retries=1, retry_delay_seconds=10, retry_condition_fn=retry_helps, cache_policy=NO_CACHE)
def collect_task(ctx: Context, day: str, sources: list[str] | None, force: bool) -> dict[str, Any]:
    return pipeline.collect_stage(ctx, day, sources, force=force)


@task(name="extract", retries=2, retry_delay_seconds=10, retry_condition_fn=retry_helps, cache_policy=NO_CACHE)
def extract_task(ctx: Context, day: str, force: bool) -> dict[str, Any]:
    return pipeline.extract_stage(ctx, day, force=force)


@task(name="cluster", cache_key_fn=_fingerprint_key, cache_expiration=timedelta(days=2), persist_result=True)
def cluster_task(ctx: Context, day: str, fingerprint: str) -> dict[str, Any]:
    return pipeline.cluster_stage(ctx, day)


LLM_CONCURRENCY_TAG = "newsdesk-llm"


@task(name="draft", retries=1, retry_delay_seconds=30, retry_condition_fn=retry_helps, cache_policy=NO_CACHE,
      tags=[LLM_CONCURRENCY_TAG])
def draft_task(ctx: Context, day: str, style: str, max_stories: int, force: bool,
               story_ids: list[int] | None = None) -> dict[str, Any]:
    """Tagged `newsdesk-llm`: a tag concurrency limit (`prefect concurrency-limit create newsdesk-llm 1`)
    keeps a manual rerun and the nightly run from drafting against the LLM endpoint at once."""
    return pipeline.draft_stage(ctx, day, style, max_stories, force=force, story_ids=story_ids)


@task(name="queue", cache_policy=NO_CACHE)
def queue_task(ctx: Context, day: str, style: str) -> dict[str, Any]:
    return pipeline.queue_stage(ctx, day, style)


PREFECT_STAGES = Stages(collect=collect_task, extract=extract_task, cluster=cluster_task, draft=draft_task, queue=queue_task)


def run_night(settings: Settings, **kwargs: Any) -> dict[str, Any]:
    """`flows.night.run_night` with each stage a Prefect task; returns the run's statistics."""
    return night.run_night(settings, stages=PREFECT_STAGES, **kwargs)


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
    return public(stats)


@flow(name="rerun", log_prints=True)
def rerun(day: str, from_stage: str = "extract", force: bool = False, style: str | None = None,
          story: int | None = None) -> dict[str, Any]:
    """Repair one day from one stage on (e.g. after fixing a source or the LLM), or redraft one story."""
    settings = load_settings()
    stats = run_night(settings, day=day, style=style, from_stage=from_stage, force=force, trigger="rerun",
                      story_ids=[story] if story is not None else None)
    return _report(stats)
