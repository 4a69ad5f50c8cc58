"""A night on Dask whose worker dies (or freezes) and is not brought back ends with an error that says
why and what to check, instead of waiting for ever; a rerun on a live worker then repairs the day
without duplicates."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import select

from flows.scaleout import BatchesStalled, BatchWatch
from newsdesk.config import ConfigError, load_settings
from newsdesk.demo import SAMPLE_DAY, serve_sample_day
from storage.db import Database
from storage.models import Run
from tests.conftest import POSTGRES_URL
from tests.test_night_e2e import _env, cli, counts
from tests.test_scaleout import _items, _kill_a_worker_mid, _SlowRequests, _statuses, _stories, two_databases  # noqa: F401

REPO = Path(__file__).resolve().parents[1]
NIGHT_BOUND = 300  # seconds; not a speed claim: it turns the old endless wait into a failure


# ---------------------------------------------------------------- the deadlines


def _watch(**kw) -> BatchWatch:
    return BatchWatch(**{"stage": "extract", "batches": 5, "batch_timeout": 100.0, "no_worker_timeout": 10.0,
                         "started": 0.0, **kw})


def test_no_live_worker_for_the_timeout_stops_the_stage_and_says_what_to_check() -> None:
    watch = _watch()
    watch.check(1.0, finished=2, workers=1)
    watch.check(2.0, finished=0, workers=0)  # the clock starts at the first check without workers
    watch.check(11.9, finished=0, workers=0)
    with pytest.raises(BatchesStalled) as raised:
        watch.check(12.0, finished=0, workers=0)
    message = str(raised.value)
    assert message.startswith("extract stage stopped: no Dask worker alive for 10 s")
    assert "2 of 5 batches finished" in message and "NEWSDESK_DASK_ADDRESS" in message and "logs" in message


def test_a_worker_coming_back_restarts_the_no_worker_clock() -> None:
    watch = _watch()
    watch.check(1.0, finished=0, workers=0)
    watch.check(9.0, finished=0, workers=1)  # a nanny restarted it
    watch.check(10.0, finished=0, workers=0)
    watch.check(19.0, finished=0, workers=0)
    with pytest.raises(BatchesStalled, match="no Dask worker alive"):
        watch.check(20.0, finished=0, workers=0)


def test_no_batch_finished_for_the_batch_timeout_stops_the_stage_and_each_batch_restarts_it() -> None:
    watch = _watch()
    watch.check(90.0, finished=1, workers=2)
    watch.check(189.0, finished=0, workers=2)  # a long night goes on as long as batches keep finishing
    with pytest.raises(BatchesStalled) as raised:
        watch.check(190.0, finished=0, workers=2)
    message = str(raised.value)
    assert message.startswith("extract stage stopped: no batch finished for 100 s (NEWSDESK_DASK_BATCH_TIMEOUT)")
    assert "with 2 Dask workers alive" in message and "1 of 5 batches finished" in message


def test_the_deadlines_are_settings_with_finite_defaults() -> None:
    defaults = load_settings({})
    assert 0 < defaults.dask_no_worker_timeout < defaults.dask_batch_timeout < float("inf")
    settings = load_settings({"NEWSDESK_DASK_BATCH_TIMEOUT": "900", "NEWSDESK_DASK_NO_WORKER_TIMEOUT": "30.5"})
    assert (settings.dask_batch_timeout, settings.dask_no_worker_timeout) == (900.0, 30.5)
    for name in ("NEWSDESK_DASK_BATCH_TIMEOUT", "NEWSDESK_DASK_NO_WORKER_TIMEOUT"):
        for bad in ("0", "-5", "soon"):
            with pytest.raises(ConfigError, match=name):
                load_settings({name: bad})


# ---------------------------------------------------------------- a real cluster that loses its worker


@pytest.fixture
def scheduler() -> Iterator[str]:
    """A Dask scheduler with no workers of its own (the test starts them), as `dask scheduler` runs."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=0, processes=True, dashboard_address=None) as cluster:
        yield cluster.scheduler_address


def _prefect_env() -> dict[str, str]:
    """This session's environment with its Prefect API, for processes that report to it."""
    from prefect.settings import PREFECT_API_URL

    return {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()}


def _start_worker(address: str, log: Path) -> subprocess.Popen:
    """One worker process without a nanny (`dask worker ADDRESS --no-nanny`): once it is killed or
    stopped nothing restarts it, as when its machine is gone or its supervisor gave up."""
    from distributed import Client

    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--no-nanny",
                                 "--nthreads", "1", "--no-dashboard"], cwd=REPO, env=_prefect_env(),
                                stdout=out, stderr=subprocess.STDOUT)
    with Client(address, timeout=60) as client:  # this one, not a lost worker the scheduler still lists
        deadline = time.monotonic() + 120
        while proc.pid not in client.run(os.getpid, on_error="ignore").values():
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"the Dask worker did not start: see {log}")
            time.sleep(0.5)
    return proc


def _night(env: dict[str, str]) -> subprocess.CompletedProcess:
    """`newsdesk run` in a process of its own, so that a night that never ends fails this test instead
    of hanging it; the failure then shows where the night was waiting (faulthandler's dump on SIGABRT)."""
    args = [sys.executable, "-X", "faulthandler", "-m", "newsdesk.cli", "run", "--day", SAMPLE_DAY]
    proc = subprocess.Popen(args, cwd=REPO, env={**_prefect_env(), **env}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=NIGHT_BOUND)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)
        err = proc.communicate(timeout=60)[1]
        pytest.fail(f"the night had not ended {NIGHT_BOUND} s after it started: it waits for a worker that never "
                    f"comes. Where it waited:\n{err[-6000:]}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


def _runs(db_url: str) -> list[Run]:
    db = Database(db_url)
    with db.session() as s:
        runs = list(s.scalars(select(Run).order_by(Run.id)))
    db.dispose()
    return runs


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
@pytest.mark.skipif(not POSTGRES_URL, reason="the Dask night is tested on PostgreSQL (NEWSDESK_TEST_POSTGRES_URL)")
@pytest.mark.parametrize("sig, why", [
    (signal.SIGKILL, "no Dask worker alive for 10 s"),  # the worker is gone: the scheduler drops it at once
    (signal.SIGSTOP, "no batch finished for 60 s"),  # frozen: the scheduler still counts it (for minutes)
], ids=["killed", "frozen"])
def test_a_night_whose_only_worker_is_lost_mid_extract_fails_clearly_and_a_rerun_repairs_it(
        tmp_path: Path, two_databases: tuple[str, str], scheduler: str, sig: int, why: str) -> None:
    local_url, dask_url = two_databases
    log = _SlowRequests(delay=1.0, slow=lambda path: "/articles/" in path)
    with serve_sample_day(request_log=log) as base_url:
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        cli(_env(tmp_path / "a", local_url, base_url), "run", "--day", SAMPLE_DAY)
        dask_env = {**_env(tmp_path / "b", dask_url, base_url), "NEWSDESK_DASK_ADDRESS": scheduler, "NEWSDESK_TASK_BATCH": "3",
                    "NEWSDESK_DASK_NO_WORKER_TIMEOUT": "10", "NEWSDESK_DASK_BATCH_TIMEOUT": "60"}
        worker = _start_worker(scheduler, tmp_path / "worker.log")
        try:
            log.armed.set()
            killed: list[tuple[str, list[str]]] = []
            killer = threading.Thread(target=_kill_a_worker_mid, args=("extract_batch_task", scheduler, log, killed, sig))
            killer.start()
            failed = _night(dask_env)
            killer.join(timeout=60)
        finally:
            worker.kill()  # a stopped process dies of SIGKILL too
            worker.wait(timeout=30)
        assert killed, "the worker was not caught running an extract batch"
        assert failed.returncode != 0, failed.stdout[-3000:]
        assert any(line.startswith(f"error: extract stage stopped: {why}") for line in failed.stderr.splitlines()), \
            (failed.stdout + failed.stderr)[-3000:]
        assert "Traceback" not in failed.stderr, failed.stderr[-3000:]  # one line for the editor, no Prefect dump
        [run] = _runs(dask_url)
        assert run.status == "failed"
        assert any(note.startswith(f"extract stage stopped: {why}") and " batches finished" in note for note in run.notes), run.notes
        assert run.stats["collect"]["new"] > 0, "collect should have finished before the worker was lost"

        worker = _start_worker(scheduler, tmp_path / "worker.log")  # the editor brings a worker back and reruns
        try:
            rerun = _night(dask_env)
        finally:
            worker.kill()
            worker.wait(timeout=30)
    assert rerun.returncode == 0, (rerun.stdout + rerun.stderr)[-3000:]
    assert [r.status for r in _runs(dask_url)] == ["failed", "ok"]
    assert counts(dask_url) == counts(local_url)
    assert _items(dask_url) == _items(local_url), "an item was lost or doubled"
    assert _statuses(dask_url) == _statuses(local_url), "the lost batch's pages were not extracted by the rerun"
    stories = _stories(local_url)
    assert stories and _stories(dask_url) == stories


def _stopped_night(tmp_path: Path, address: str) -> tuple[str, list[str]]:
    """`newsdesk run` on a SQLite day with NEWSDESK_DASK_ADDRESS and a 2 s no-worker deadline, which
    must fail: (its one error line, with no traceback on the console; the failed run's notes)."""
    url = f"sqlite:///{tmp_path / 'night.db'}"
    with serve_sample_day() as base_url:
        env = {**_env(tmp_path, url, base_url), "NEWSDESK_DASK_ADDRESS": address, "NEWSDESK_DASK_NO_WORKER_TIMEOUT": "2"}
        cli(env, "init")
        night = _night(env)
    assert night.returncode == 1, night.stdout[-3000:]
    assert "Traceback" not in night.stderr, night.stderr[-3000:]
    [line] = [x for x in night.stderr.splitlines() if x.startswith("error:")]
    [run] = _runs(url)
    assert run.status == "failed"
    return line, run.notes


@pytest.mark.usefixtures("prefect_harness")
def test_a_night_with_no_worker_ends_in_one_line_that_says_why(tmp_path: Path, scheduler: str) -> None:
    """The editor at the terminal reads why the night stopped, not a Prefect traceback."""
    line, notes = _stopped_night(tmp_path, scheduler)
    assert line.startswith("error: collect stage stopped: no Dask worker alive for 2 s"), line
    assert "a rerun of the day does the rest" in line
    assert any(n.startswith("collect stage stopped") for n in notes), notes


@pytest.mark.usefixtures("prefect_harness")
def test_a_scheduler_that_does_not_answer_is_named_in_one_line(tmp_path: Path) -> None:
    """A wrong NEWSDESK_DASK_ADDRESS is not reported as lost workers, nor as a bare OSError traceback."""
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{probe.getsockname()[1]}"
    line, notes = _stopped_night(tmp_path, address)
    assert line.startswith(f"error: collect stage stopped: the Dask scheduler at {address} did not answer within 2 s"), line
    assert "NEWSDESK_DASK_ADDRESS" in line
    assert any("did not answer" in n for n in notes), notes
