"""Per-host politeness held in the database, so it holds across processes and Dask workers.

Why: each fetcher keeps its own per-host limit (extractors.http), so two workers could each open
`per_host_concurrency` requests to one host. Here a host has `concurrency` slot rows; a request
takes a free slot with one atomic UPDATE ... RETURNING (PostgreSQL skips rows another worker is
taking with SKIP LOCKED; SQLite's write lock serialises the statement, and it is one machine
anyway) and gives it back afterwards. A slot also carries a short lease (`expires_at`), renewed
while its holder lives, so the slots of a worker killed mid-request come free by themselves within
one lease. Starts at least `interval` apart are kept by
one `host_pace` row per host, advanced by one conditional UPDATE; a Retry-After from one worker's
request pushes it for all of them.

Times are epoch seconds from each process's clock: workers on several machines need clocks in
step (NTP) to within the interval they keep.
"""
from __future__ import annotations

import asyncio
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import AsyncIterator

from sqlalchemy import Engine, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from storage.models import HostPace, HostSlot

__all__ = ["DatabaseHostLimit"]

POLL_FIRST = 0.005  # seconds between tries while a host is busy, doubling up to POLL_MAX
POLL_MAX = 0.1


class DatabaseHostLimit:
    """At most `concurrency` requests at once to one host, started `interval` apart, over all workers.

    Passed to `extractors.http.Fetcher(host_limit=...)`; its blocking statements run on a few
    threads of its own so the fetcher's event loop never waits on the database.
    """

    def __init__(self, engine: Engine, concurrency: int, interval: float = 0.0, lease: float = 15.0, threads: int = 4):
        self.engine = engine
        self.concurrency = max(1, concurrency)
        self.interval = max(0.0, interval)
        self.lease = lease
        self.token = uuid.uuid4().hex  # this process's name on the slots it holds
        self._known: set[str] = set()
        self._renewer: asyncio.Task | None = None
        self._threads = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="hostlimit")
        pg = engine.dialect.name == "postgresql"
        self._insert = pg_insert if pg else sqlite_insert
        skip = " FOR UPDATE SKIP LOCKED" if pg else ""
        self._take = text(
            "UPDATE host_slots SET holder = :token, expires_at = :until "
            "WHERE host = :host AND slot = (SELECT slot FROM host_slots WHERE host = :host AND slot < :n "
            f"AND (holder IS NULL OR expires_at < :now) ORDER BY slot LIMIT 1{skip}) "
            "AND (holder IS NULL OR expires_at < :now) RETURNING slot")
        self._pace = text("UPDATE host_pace SET next_at = :next WHERE host = :host AND next_at <= :now RETURNING next_at")

    # -- the fetcher's interface ---------------------------------------------

    @asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[None]:
        """Hold one of `host`'s slots (waiting for one, then for its pace) while the block runs."""
        if self._renewer is None:
            self._renewer = asyncio.get_running_loop().create_task(self._renew_forever())
        await self._run(self._ensure, host)
        slot = await self._wait(self._try_take, host)
        try:
            if self.interval > 0:
                await self._wait(self._try_pace, host)
            yield
        finally:
            await self._run(self._give_back, host, slot)

    async def hold_off(self, host: str, seconds: float) -> None:
        """No worker starts a request to `host` for `seconds` (a Retry-After applies to the host)."""
        await self._run(self._ensure, host)
        await self._run(self._push, host, time.time() + seconds)

    def close(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
        self._threads.shutdown(wait=False)

    # -- statements -----------------------------------------------------------

    async def _run(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._threads, fn, *args)

    async def _wait(self, attempt, host: str):
        """Retry `attempt` until it answers, sleeping as it suggests (or polling, doubling)."""
        poll = POLL_FIRST
        while True:
            got, wait = await self._run(attempt, host)
            if got is not None:
                return got
            await asyncio.sleep(wait if wait is not None else poll)
            poll = min(POLL_MAX, poll * 2)

    async def _renew_forever(self) -> None:
        """Extend the leases of the slots we hold, three times per lease (a long download keeps its slot)."""
        while True:
            await asyncio.sleep(self.lease / 3)
            try:
                await self._run(self._renew)
            except Exception:  # a missed renewal costs nothing until the lease runs out; the next one may work
                continue

    def _renew(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(text("UPDATE host_slots SET expires_at = :until WHERE holder = :token"),
                         {"until": time.time() + self.lease, "token": self.token})

    def _ensure(self, host: str) -> None:
        if host in self._known:
            return
        with self.engine.begin() as conn:
            conn.execute(self._insert(HostSlot).values(
                [{"host": host, "slot": k, "holder": None, "expires_at": 0.0} for k in range(self.concurrency)]
            ).on_conflict_do_nothing())
            conn.execute(self._insert(HostPace).values(host=host, next_at=0.0).on_conflict_do_nothing())
        self._known.add(host)

    def _try_take(self, host: str) -> tuple[int | None, None]:
        now = time.time()
        with self.engine.begin() as conn:
            got = conn.execute(self._take, {"token": self.token, "until": now + self.lease, "host": host,
                                            "n": self.concurrency, "now": now}).scalar()
        return got, None

    def _try_pace(self, host: str) -> tuple[bool | None, float | None]:
        now = time.time()
        with self.engine.begin() as conn:
            if conn.execute(self._pace, {"next": now + self.interval, "host": host, "now": now}).first() is not None:
                return True, None
            next_at = conn.execute(text("SELECT next_at FROM host_pace WHERE host = :host"), {"host": host}).scalar()
        return None, max(0.001, (next_at or now) - now)

    def _give_back(self, host: str, slot: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(text("UPDATE host_slots SET holder = NULL, expires_at = 0 "
                              "WHERE host = :host AND slot = :slot AND holder = :token"),
                         {"host": host, "slot": slot, "token": self.token})

    def _push(self, host: str, until: float) -> None:
        with self.engine.begin() as conn:
            conn.execute(text("UPDATE host_pace SET next_at = :until WHERE host = :host AND next_at < :until"),
                         {"host": host, "until": until})
