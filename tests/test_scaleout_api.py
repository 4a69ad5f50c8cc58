"""A local Dask cluster's workers report to the Prefect API of the flow that started them.

Without it each worker process started a temporary Prefect server of its own: tens of seconds per
worker, and the batches' task runs were recorded on a server nobody looks at.
"""
from __future__ import annotations

import os

import pytest
from prefect import flow, task
from prefect.settings import PREFECT_API_URL

from flows.scaleout import task_runner
from newsdesk.config import load_settings

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]


@task
def _worker_view() -> tuple[int, str | None]:
    return os.getpid(), os.environ.get("PREFECT_API_URL")


def test_local_cluster_workers_get_the_flows_prefect_api(tmp_path) -> None:
    @flow
    def probe() -> tuple[int, str | None]:
        return _worker_view.submit().result()

    settings = load_settings({"NEWSDESK_DATA_DIR": str(tmp_path), "NEWSDESK_DASK_WORKERS": "1"})
    pid, url = probe.with_options(task_runner=task_runner(settings))()
    assert pid != os.getpid(), "the task ran in this process, not on the cluster's worker"
    assert url and url == PREFECT_API_URL.value()
