"""Which task failures a Prefect retry can mend.

A timeout or a dropped connection may pass; a broken sources file, a bad setting or a database
that was never created will not. Retrying those only delays the one line that says what to
fix (by `retry_delay_seconds` per retry) and repeats the traceback in the logs.
"""
from __future__ import annotations

from typing import Any

from newsdesk.config import ConfigError
from newsdesk.sources import SourcesError
from storage.db import DatabaseNotReady

NOT_RETRIED: tuple[type[BaseException], ...] = (ConfigError, SourcesError, DatabaseNotReady)


def retry_helps(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect's `retry_condition_fn`: retry unless the task failed on an error of `NOT_RETRIED`."""
    return not isinstance(getattr(state, "data", None), NOT_RETRIED)
