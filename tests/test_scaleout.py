"""A night on a local Dask cluster of two worker processes, against PostgreSQL, writes the same
stories and rows as the in-process night (collect and extract as batches of tasks), also when one worker
is killed mid-batch."""
from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest
from sqlalchemy import func, select

from newsdesk.demo import SAMPLE_DAY, serve_sample_day
from storage.db import Database
from storage.models import Article, Item, Run, Source, Story, StoryItem
from storage.runlock import holder_id
from tests.conftest import POSTGRES_URL, _postgres_database
from tests.test_night_e2e import _env, cli, counts

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness"),
              pytest.mark.skipif(not POSTGRES_URL, reason="the Dask night is tested on PostgreSQL (NEWSDESK_TEST_POSTGRES_URL)")]


@pytest.fixture
def two_databases() -> Iterator[tuple[str, str]]:
    gens = [_postgres_database(), _postgres_database()]
    dbs = [next(g) for g in gens]
    for db in dbs:
        db.migrate()
    try:
        yield dbs[0].url, dbs[1].url
    finally:
        for g in gens:
            try:
                next(g)
            except StopIteration:
                pass


def _stories(db_url: str) -> set[tuple[str, frozenset[str]]]:
    """Each active story as (title, the guids of its items): independent of row ids."""
    db = Database(db_url)
    with db.session() as s:
        rows = s.execute(select(Story.title, Item.guid).join(StoryItem, StoryItem.story_id == Story.id)
                         .join(Item, Item.id == StoryItem.item_id).where(Story.day == SAMPLE_DAY, Story.active.is_(True))).all()
    db.dispose()
    out: dict[str, set[str]] = {}
    for title, guid in rows:
        out.setdefault(title, set()).add(guid)
    return {(t, frozenset(g)) for t, g in out.items()}


def test_a_night_on_two_dask_workers_matches_the_in_process_night(tmp_path: Path, two_databases: tuple[str, str]) -> None:
    local_url, dask_url = two_databases
    with serve_sample_day() as base_url:
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        cli(_env(tmp_path / "a", local_url, base_url), "run", "--day", SAMPLE_DAY)
        dask_env = {**_env(tmp_path / "b", dask_url, base_url), "NEWSDESK_DASK_WORKERS": "2", "NEWSDESK_TASK_BATCH": "3"}
        cli(dask_env, "run", "--day", SAMPLE_DAY)
    assert counts(dask_url) == counts(local_url)
    db = Database(dask_url)
    with db.session() as s:
        run = s.scalars(select(Run).where(Run.status == "ok")).one()
    db.dispose()
    workers = set(run.stats["collect"]["workers"]) | set(run.stats["extract"]["workers"])
    assert workers and holder_id() not in workers, f"the batches ran in this process, not on Dask workers: {workers}"
    stories = _stories(local_url)
    assert stories and _stories(dask_url) == stories


def _statuses(db_url: str) -> dict[str, int]:
    """How many articles ended in each extraction status."""
    db = Database(db_url)
    with db.session() as s:
        rows = dict(s.execute(select(Article.status, func.count()).group_by(Article.status)).all())
    db.dispose()
    return rows


class _SlowRequests(list):
    """The demo server's request log; once armed, a request whose path `slow` picks answers only after
    `delay` seconds, so a batch is in flight long enough to kill the worker running it."""

    def __init__(self, delay: float, slow: Callable[[str], bool]):
        super().__init__()
        self.delay = delay
        self.slow = slow
        self.armed = threading.Event()
        self.asked = threading.Event()

    def append(self, entry: tuple) -> None:
        super().append(entry)
        if self.armed.is_set() and self.slow(entry[1]):
            self.asked.set()
            time.sleep(self.delay)


def _kill_a_worker_mid(task_name: str, address: str, log: _SlowRequests, killed: list[tuple[str, list[str]]],
                       sig: int = signal.SIGKILL) -> None:
    """SIGKILL (or send `sig` to) the worker process that is running a `task_name` batch while its requests
    are in flight; then the server answers at full speed again (the slowness is only there to catch a
    batch running). prefect-dask names a task's Dask key after the task's function (`collect_batch_task-<token>`)."""
    from distributed import Client

    with Client(address, timeout=60) as client:
        pids = client.run(os.getpid)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if log.asked.wait(0.2):
                busy = {w: [str(k) for k in keys] for w, keys in client.processing().items()}
                for worker, keys in busy.items():
                    if any(task_name in k for k in keys):
                        os.kill(pids[worker], sig)
                        killed.append((worker, keys))
                        log.armed.clear()
                        return


def _source_health(db_url: str) -> dict[str, tuple]:
    """Each source's health as editors see it (times left out: they differ between nights)."""
    db = Database(db_url)
    with db.session() as s:
        rows = s.execute(select(Source.name, Source.etag, Source.last_modified, Source.last_success_at.is_not(None),
                                Source.last_error, Source.consecutive_failures, Source.warnings)).all()
    db.dispose()
    return {r[0]: tuple(r[1:]) for r in rows}


def _items(db_url: str) -> list[tuple[str, str, str | None]]:
    """Every item as (source, guid, content hash), sorted: a duplicate or a lost item changes the list."""
    db = Database(db_url)
    with db.session() as s:
        rows = s.execute(select(Source.name, Item.guid, Item.content_hash).join(Source, Source.id == Item.source_id)).all()
    db.dispose()
    return sorted(tuple(r) for r in rows)


def _collect_failed(db_url: str) -> int:
    db = Database(db_url)
    with db.session() as s:
        run = s.scalars(select(Run).where(Run.status == "ok")).one()
    db.dispose()
    return run.stats["collect"]["failed"]


def _night_with_a_worker_killed(tmp_path: Path, local_url: str, dask_url: str, task_name: str,
                                log: _SlowRequests) -> list[tuple[str, list[str]]]:
    """The in-process night into `local_url`, then the same night on a local Dask cluster of two
    worker processes into `dask_url`, killing the worker that runs a `task_name` batch."""
    from distributed import LocalCluster

    with serve_sample_day(request_log=log) as base_url:
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        cli(_env(tmp_path / "a", local_url, base_url), "run", "--day", SAMPLE_DAY)
        log.armed.set()
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
            killed: list[tuple[str, list[str]]] = []
            killer = threading.Thread(target=_kill_a_worker_mid, args=(task_name, cluster.scheduler_address, log, killed))
            killer.start()
            dask_env = {**_env(tmp_path / "b", dask_url, base_url), "NEWSDESK_DASK_ADDRESS": cluster.scheduler_address,
                        "NEWSDESK_TASK_BATCH": "3"}
            cli(dask_env, "run", "--day", SAMPLE_DAY)
            killer.join(timeout=60)
    return killed


def test_a_worker_killed_mid_batch_is_retried_without_duplicates(tmp_path: Path, two_databases: tuple[str, str]) -> None:
    """Dask reschedules the killed worker's tasks on the other worker (distributed's allowed-failures,
    3 by default); the batch skips what it already saved and the writes are upserts, so no row doubles."""
    local_url, dask_url = two_databases
    log = _SlowRequests(delay=1.0, slow=lambda path: "/articles/" in path)
    killed = _night_with_a_worker_killed(tmp_path, local_url, dask_url, "extract_batch_task", log)
    assert killed, "no worker was killed while it ran an extract batch"
    assert counts(dask_url) == counts(local_url)
    assert _statuses(dask_url) == _statuses(local_url), "the killed worker's batch was not extracted again"
    stories = _stories(local_url)
    assert stories and _stories(dask_url) == stories


def test_a_worker_killed_mid_collect_batch_is_retried_without_duplicates(tmp_path: Path,
                                                                          two_databases: tuple[str, str]) -> None:
    """The server holds every feed and API answer for 1 s while armed (collect fetches nothing else),
    and the worker running a collect batch dies while its sources are being fetched: the rerun on
    the other worker fetches them again (nothing of the lost try was committed, so no 304 hides
    items) and no source counts the kill as a failure."""
    local_url, dask_url = two_databases
    log = _SlowRequests(delay=1.0, slow=lambda path: True)
    killed = _night_with_a_worker_killed(tmp_path, local_url, dask_url, "collect_batch_task", log)
    assert killed, "no worker was killed while it ran a collect batch"
    assert counts(dask_url) == counts(local_url)
    items = _items(local_url)
    assert items and _items(dask_url) == items, "an item was lost or doubled"
    assert _source_health(dask_url) == _source_health(local_url)
    assert _collect_failed(dask_url) == _collect_failed(local_url) == 0
    assert _statuses(dask_url) == _statuses(local_url)
    stories = _stories(local_url)
    assert stories and _stories(dask_url) == stories
