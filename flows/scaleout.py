"""Collect and extract as batches of tasks on a Dask cluster, through prefect-dask.

Chosen by configuration (`NEWSDESK_DASK_ADDRESS` for a running scheduler, `NEWSDESK_DASK_WORKERS`
for a local cluster of worker processes); without either the night runs in-process as before.
A task gets a batch of names or ids (`NEWSDESK_TASK_BATCH`), never the items themselves: it opens
its own database connection, writes its results there and returns only counts, so memory stays
bounded by the batch and the Prefect server sees hundreds of task runs, not millions.
Cluster and draft stay single tasks that read and write only through the database.
"""
from __future__ import annotations

import time
from typing import Any, Sequence

from prefect import flow, task, unmapped
from prefect.cache_policies import NO_CACHE

from flows import pipeline
from flows.pipeline import Context
from newsdesk.config import Settings
from storage.db import Database
from storage.runlock import holder_id


def prefect_api_url() -> str:
    """The Prefect API this process reports to, starting the temporary server if it runs on one.

    A local cluster's worker processes must report to the same API: without PREFECT_API_URL each
    worker would start a temporary server of its own (tens of seconds apiece, and its task runs
    recorded where nobody looks).
    """
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    if url:
        return url
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()  # the one get_client() starts: a no-op inside a running flow
    server.start()
    return server.api_url


def task_runner(settings: Settings):
    """The Dask task runner this configuration asks for.

    Workers of a running cluster (NEWSDESK_DASK_ADDRESS) need PREFECT_API_URL set where they run.
    """
    from prefect_dask import DaskTaskRunner

    if settings.dask_address:
        return DaskTaskRunner(address=settings.dask_address)
    return DaskTaskRunner(cluster_class="distributed.LocalCluster", cluster_kwargs={
        "n_workers": settings.dask_workers, "threads_per_worker": 1, "processes": True, "dashboard_address": None,
        "env": {"PREFECT_API_URL": prefect_api_url()}})


def _peak_mb() -> float:
    """This worker process's peak resident memory so far, in MB.

    Read from VmHWM: `ru_maxrss` of a process started by fork and exec keeps the high-water mark of
    the process it was forked from, so every local-cluster worker reported its parent's size.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    import resource  # not Linux: the best figure there is

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def batched(values: Sequence[Any], size: int) -> list[list[Any]]:
    return [list(values[i:i + size]) for i in range(0, len(values), size)]


@task(name="collect-batch", retries=1, retry_delay_seconds=10, cache_policy=NO_CACHE)
def collect_batch_task(settings: Settings, day: str, names: list[str], force: bool) -> dict[str, Any]:
    """A batch reports where it ran, its worker's peak memory and its CPU seconds (summed over the
    batches): a worker's cost per item then shows apart from how many idle cores the machine had."""
    cpu = time.process_time()
    db = Database(settings.database_url)
    try:
        ctx = Context(settings=settings, db=db, parse_workers=1)
        stats = pipeline.collect_stage(ctx, day, names, force=force)
        return stats | {"notes": list(ctx.notes), "workers": [holder_id()], "peak_rss_mb": [[holder_id(), _peak_mb()]],
                        "worker_cpu_s": time.process_time() - cpu}
    finally:
        db.dispose()


@task(name="extract-batch", retries=2, retry_delay_seconds=10, cache_policy=NO_CACHE)
def extract_batch_task(settings: Settings, ids: list[int], force: bool) -> dict[str, Any]:
    """A retried batch (a worker died mid-batch) skips what its first try already saved."""
    cpu = time.process_time()
    db = Database(settings.database_url)
    try:
        with db.session() as s:
            todo = [t for t in pipeline.pages_by_id(s, ids)]
            if not force:
                done = pipeline.saved_article_ids(s, ids)
                todo = [t for t in todo if t.id not in done]
        return pipeline.extract_pages(Context(settings=settings, db=db, parse_workers=1), todo) | {
            "workers": [holder_id()], "peak_rss_mb": [[holder_id(), _peak_mb()]], "worker_cpu_s": time.process_time() - cpu}
    finally:
        db.dispose()


def _merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for part in parts:
        for key, value in part.items():
            if isinstance(value, bool) or not isinstance(value, (int, float, list)):
                out.setdefault(key, value)
            elif isinstance(value, list):
                out[key] = out.get(key, []) + value
            else:
                out[key] = out.get(key, 0) + value
    return out


@flow(name="collect-batches")
def collect_batches(settings: Settings, day: str, names: list[str], force: bool) -> dict[str, Any]:
    futures = collect_batch_task.map(unmapped(settings), unmapped(day), batched(names, settings.task_batch), unmapped(force))
    return _merge([f.result() for f in futures])


@flow(name="extract-batches")
def extract_batches(settings: Settings, ids: list[int], force: bool) -> dict[str, Any]:
    futures = extract_batch_task.map(unmapped(settings), batched(ids, settings.task_batch), unmapped(force))
    return _merge([f.result() for f in futures]) or {"articles": 0, "ok": 0, "fallback": 0, "failed": 0, "merged": 0}


def collect(ctx: Context, day: str, sources: Sequence[str] | None, force: bool) -> dict[str, Any]:
    """The collect stage as batches on the configured Dask cluster."""
    specs = pipeline.selected_specs(ctx.settings, sources)
    names = [spec.name for spec in specs]
    with ctx.db.session() as s:  # once, before the batches: they then only update
        from newsdesk.sources import spec_to_dict
        from storage.writes import upsert_sources

        upsert_sources(s, [spec_to_dict(spec) for spec in specs])
    stats = collect_batches.with_options(task_runner=task_runner(ctx.settings))(ctx.settings, day, names, force)
    for note in stats.pop("notes", []):
        ctx.note(note)
    stats["workers"] = sorted(set(stats.get("workers", [])))  # where the batches ran (host:pid)
    stats.setdefault("sources", [])
    for key in ("fetched", "new", "failed"):
        stats.setdefault(key, 0)
    return stats


def extract(ctx: Context, day: str, force: bool) -> dict[str, Any]:
    """The extract stage as batches of article ids on the configured Dask cluster."""
    with ctx.db.session() as s:
        ids = [t.id for t in pipeline.pages_to_fetch(s, ctx.settings, day, force)]
    if not ids:
        return {"articles": 0, "ok": 0, "fallback": 0, "failed": 0, "merged": 0}
    stats = extract_batches.with_options(task_runner=task_runner(ctx.settings))(ctx.settings, ids, force)
    stats["workers"] = sorted(set(stats.get("workers", [])))
    return stats
