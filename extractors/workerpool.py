"""Process pools whose workers end with the process that started them.

A `ProcessPoolExecutor` worker waits on its task queue for ever: when the night that started it is
killed (SIGKILL, the OOM killer, a lost container), nothing tells the worker, and every killed night
left its parse or extraction workers behind, asleep, holding their memory. Each worker here watches
its parent and exits once it is gone (it was re-parented), within `PARENT_CHECK_SECONDS`.
"""
from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor

PARENT_CHECK_SECONDS = 1.0


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of `workers` processes that do not outlive this one."""
    return ProcessPoolExecutor(max_workers=workers, initializer=_exit_with_parent, initargs=(os.getpid(),))


def _exit_with_parent(parent: int) -> None:
    """Pool initializer: a daemon thread that ends this worker when `parent` is no longer its parent."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(1)  # the parent is gone: nobody will collect what this worker would compute

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
