"""Collect and extract as batches of tasks on a Dask cluster, through prefect-dask.

Chosen by configuration (`NEWSDESK_DASK_ADDRESS` for a running scheduler, `NEWSDESK_DASK_WORKERS`
for a local cluster of worker processes); without either the night runs in-process as before.
A task gets a batch of names or ids (`NEWSDESK_TASK_BATCH`), never the items themselves: it opens
its own database connection, writes its results there and returns only counts, so memory stays
bounded by the batch and the Prefect server sees hundreds of task runs, not millions.
Cluster and draft stay single tasks that read and write only through the database.
A stage waits for its batches only as long as its deadlines allow (`BatchWatch`): a cluster whose
workers died and do not come back fails the night with a message instead of hanging it.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

from prefect import flow, task, unmapped
from prefect.cache_policies import NO_CACHE

from flows import pipeline
from flows.pipeline import Context
from flows.retrying import retry_helps
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


@task(name="collect-batch", retries=1, retry_delay_seconds=10, retry_condition_fn=retry_helps, cache_policy=NO_CACHE)
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


@task(name="extract-batch", retries=2, retry_delay_seconds=10, retry_condition_fn=retry_helps, cache_policy=NO_CACHE)
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


class BatchesStalled(RuntimeError):
    """A stage stopped waiting for its batches on Dask; the message says why and what to check."""


POLL_SECONDS = 1.0  # how often a stage looks at its batches and at the cluster's workers


@dataclass
class BatchWatch:
    """When a stage stops waiting for its batches, from two deadlines in the settings.

    - No batch finished for `batch_timeout` seconds (NEWSDESK_DASK_BATCH_TIMEOUT, default an hour).
      The clock restarts at every finished batch, so this bounds one batch's time, not the stage's:
      a night of 1,400 extract batches is not cut short and needs no estimate of its size. An hour
      is generous for a batch of 500 sources or pages (~20 s of CPU; most hosts answer in seconds
      and a request gives up after 60 s): only a batch of hundreds of pages on one host that never
      answers could need more (4 requests at a time, 60 s each: 240 pages an hour). Past it
      something is stuck: a frozen or swapping worker, a lost task.
    - The scheduler had no live worker for `no_worker_timeout` seconds (NEWSDESK_DASK_NO_WORKER_TIMEOUT,
      default 120 s). Dask keeps a task that has no worker waiting for ever, so workers that died
      and were not restarted (their nanny killed too, a machine gone, workers that never connected)
      would otherwise cost the whole batch timeout. A nanny restarts a killed worker within
      seconds; 120 s leaves room for a busy machine or a worker being restarted by its supervisor.
    """

    stage: str
    batches: int
    batch_timeout: float
    no_worker_timeout: float
    started: float  # time.monotonic() when the batches were submitted
    done: int = 0
    last_done_at: float = field(init=False)
    workerless_since: float | None = None

    def __post_init__(self) -> None:
        self.last_done_at = self.started

    def check(self, now: float, finished: int, workers: int) -> None:
        """Count `finished` more batches and the `workers` alive at `now`; raise BatchesStalled past a deadline."""
        if finished:
            self.done += finished
            self.last_done_at = now
        if workers:
            self.workerless_since = None
        elif self.workerless_since is None:
            self.workerless_since = now
        if self.workerless_since is not None and now - self.workerless_since >= self.no_worker_timeout:
            raise BatchesStalled(self._message(
                f"no Dask worker alive for {self.no_worker_timeout:g} s (NEWSDESK_DASK_NO_WORKER_TIMEOUT)",
                "check the Dask workers' logs and that they are running and reach the scheduler "
                "(NEWSDESK_DASK_ADDRESS; with NEWSDESK_DASK_WORKERS, that the workers can start and import newsdesk)"))
        if now - self.last_done_at >= self.batch_timeout:
            raise BatchesStalled(self._message(
                f"no batch finished for {self.batch_timeout:g} s (NEWSDESK_DASK_BATCH_TIMEOUT) "
                f"with {workers} Dask worker{'' if workers == 1 else 's'} alive",
                "check the Dask workers' logs and dashboard for a stuck batch (a stopped or swapping worker, "
                "a host that never answers)"))

    def _message(self, why: str, what_to_check: str) -> str:
        return (f"{self.stage} stage stopped: {why}; {self.done} of {self.batches} batches finished "
                f"(what the batches wrote is saved: a rerun of the day does the rest); {what_to_check}")


def live_workers(client: Any) -> int:
    """How many workers the Dask scheduler has now; 0 when the scheduler cannot be reached."""
    try:
        return len(client.nthreads())
    except (OSError, TimeoutError):
        return 0


FETCH_SECONDS = 10.0  # to bring a finished batch's counts from its worker: milliseconds when the worker is alive


def fetch(future: Any) -> tuple[bool, Any]:
    """(True, result) of a finished batch, or (False, None) when the worker holding its result does
    not answer within FETCH_SECONDS: a frozen worker's result would otherwise be waited for for ever.
    A failed batch raises its own error, as `future.result()` did."""
    from prefect.states import State

    try:
        state = future.wrapped_future.result(timeout=FETCH_SECONDS)  # Dask's own errors (KilledWorker) raise
    except TimeoutError:
        return False, None
    return True, state.result() if isinstance(state, State) else state


def gather(stage: str, settings: Settings, futures: Sequence[Any]) -> list[dict[str, Any]]:
    """The batches' results in submission order, waiting no longer than `BatchWatch` allows.

    `future.result()` alone waits for ever when the cluster has lost its workers.
    """
    watch = BatchWatch(stage, len(futures), settings.dask_batch_timeout, settings.dask_no_worker_timeout, time.monotonic())
    news = threading.Event()  # a batch finished since the last look: look again now, not at the next poll
    for f in futures:
        f.wrapped_future.add_done_callback(lambda _: news.set())
    results: dict[int, dict[str, Any]] = {}
    while len(results) < len(futures):
        news.clear()
        finished = 0
        for i in [i for i, f in enumerate(futures) if i not in results and f.wrapped_future.done()]:
            fetched, result = fetch(futures[i])
            if fetched:
                results[i], finished = result, finished + 1
        if len(results) < len(futures):
            watch.check(time.monotonic(), finished, live_workers(futures[0].wrapped_future.client))
            news.wait(POLL_SECONDS)
    return [results[i] for i in range(len(futures))]


@flow(name="collect-batches")
def collect_batches(settings: Settings, day: str, names: list[str], force: bool) -> dict[str, Any]:
    futures = collect_batch_task.map(unmapped(settings), unmapped(day), batched(names, settings.task_batch), unmapped(force))
    return _merge(gather("collect", settings, futures))


@flow(name="extract-batches")
def extract_batches(settings: Settings, ids: list[int], force: bool) -> dict[str, Any]:
    futures = extract_batch_task.map(unmapped(settings), batched(ids, settings.task_batch), unmapped(force))
    return _merge(gather("extract", settings, futures)) or {"articles": 0, "ok": 0, "fallback": 0, "failed": 0, "merged": 0}


def check_scheduler(stage: str, settings: Settings) -> None:
    """BatchesStalled, saying so, when NEWSDESK_DASK_ADDRESS does not answer.

    Otherwise the task runner's own connect fails half a minute later deep inside the flow, as an
    OSError that names neither the stage nor the setting. Waits at most the no-worker deadline
    (and Dask's 30 s connect timeout): an unreachable scheduler has no live worker either."""
    if not settings.dask_address:
        return
    from distributed import Client

    wait = min(30.0, settings.dask_no_worker_timeout)
    try:
        Client(settings.dask_address, timeout=wait, set_as_default=False).close()
    except (OSError, TimeoutError) as exc:
        raise BatchesStalled(
            f"{stage} stage stopped: the Dask scheduler at {settings.dask_address} did not answer within {wait:g} s "
            f"({exc.__class__.__name__}); nothing was sent to it: check NEWSDESK_DASK_ADDRESS and that the "
            f"scheduler is running, then rerun the day") from exc


def run_batches(ctx: Context, batches_flow: Any, *args: Any) -> dict[str, Any]:
    """Run a batches flow on the configured cluster; a stalled stage leaves its reason in the run's notes."""
    try:
        check_scheduler(batches_flow.name.removesuffix("-batches"), ctx.settings)
        return batches_flow.with_options(task_runner=task_runner(ctx.settings))(ctx.settings, *args)
    except BatchesStalled as exc:
        ctx.note(str(exc))
        raise


def collect(ctx: Context, day: str, sources: Sequence[str] | None, force: bool) -> dict[str, Any]:
    """The collect stage as batches on the configured Dask cluster."""
    specs = pipeline.selected_specs(ctx.settings, sources)
    names = [spec.name for spec in specs]
    with ctx.db.session() as s:  # once, before the batches: they then only update
        from newsdesk.sources import spec_to_dict
        from storage.writes import upsert_sources

        upsert_sources(s, [spec_to_dict(spec) for spec in specs])
    stats = run_batches(ctx, collect_batches, day, names, force)
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
    stats = run_batches(ctx, extract_batches, ids, force)
    stats["workers"] = sorted(set(stats.get("workers", [])))
    return stats
