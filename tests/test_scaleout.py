"""A night on a local Dask cluster of two worker processes, against PostgreSQL, writes the same
stories and rows as the in-process night (collect and extract as batches of tasks)."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import select

from newsdesk.demo import SAMPLE_DAY, serve_sample_day
from storage.db import Database
from storage.models import Item, Run, Story, StoryItem
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
