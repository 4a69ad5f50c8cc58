"""Group commit: each caller's row is durable when `save` returns, at nearly the cost of batching.

Why: committing a batch of pages at once lost the whole batch to a kill; committing each page in
its own transaction pays one round trip and one fsync per page. Here a caller waits only for the
commit that holds its row: the first caller commits what is queued, and rows that arrive while
that commit runs go together in the next one. On a quiet stage that is a commit per page; under
load the groups grow by themselves, with no timer to tune.
"""
from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Generic, TypeVar

__all__ = ["GroupCommitter"]

T = TypeVar("T")


class GroupCommitter(Generic[T]):
    """Runs `commit(rows)` on a thread of its own, for whatever rows are queued, one group at a time.

    `commit` is a blocking function that writes and commits its rows in one transaction and returns
    anything (passed to `on_commit` with the group, in the event loop). `max_group` caps a group.
    """

    def __init__(self, commit: Callable[[list[T]], object], on_commit: Callable[[list[T], object], None] | None = None,
                 max_group: int = 500):
        self._commit = commit
        self._on_commit = on_commit
        self._max_group = max(1, max_group)
        self._queue: list[tuple[T, asyncio.Future[None]]] = []
        self._lock = asyncio.Lock()
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="groupcommit")

    async def save(self, row: T) -> None:
        """Return once `row` is committed (raise what its group's commit raised)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((row, done))
        async with self._lock:
            while not done.done():
                group, self._queue = self._queue[:self._max_group], self._queue[self._max_group:]
                rows = [r for r, _ in group]
                try:
                    result = await asyncio.get_running_loop().run_in_executor(self._thread, self._commit, rows)
                except Exception as exc:
                    for _, fut in group:
                        fut.set_exception(exc)
                    continue
                if self._on_commit is not None:
                    self._on_commit(rows, result)
                for _, fut in group:
                    fut.set_result(None)
        await done

    def close(self) -> None:
        self._thread.shutdown(wait=True)
