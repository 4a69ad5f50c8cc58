"""Per-host limits shared through the database hold across processes: two fetcher processes hitting
one loopback host never have more than the limit in flight there, counted by the server itself."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from storage.db import Database
from storage.hostlimits import DatabaseHostLimit
from tests.httpserver import Recorded, Route, TestServer

REPO = Path(__file__).resolve().parents[1]

FETCH = (
    "import asyncio, sys\n"
    "from extractors.http import Fetcher, HttpSettings\n"
    "from storage.db import Database\n"
    "from storage.hostlimits import DatabaseHostLimit\n"
    "url, n, limit, interval, shared = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5] == '1'\n"
    "db = Database(sys.argv[6])\n"
    "async def main():\n"
    "    host_limit = DatabaseHostLimit(db.engine, limit, interval) if shared else None\n"
    "    settings = HttpSettings(allow_private_hosts='loopback', per_host_concurrency=4, retries=0)\n"
    "    async with Fetcher(settings, host_limit=host_limit) as f:\n"
    "        await f.get(url + '?warm')\n"  # the slots and pace rows exist, the imports are done
    "        print('ready', flush=True)\n"
    "        sys.stdin.readline()\n"
    "        await asyncio.gather(*(f.get(f'{url}?{k}') for k in range(n)))\n"
    "asyncio.run(main())\n"
)


class Counting:
    """A route that counts the requests it is answering at once (the server's own view)."""

    def __init__(self, delay: float):
        self.delay = delay
        self.lock = threading.Lock()
        self.now = 0
        self.peak = 0
        self.arrivals: list[float] = []

    def __call__(self, rec: Recorded) -> Route:
        if rec.path.endswith("?warm"):
            return Route(body=b"ok")
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
            self.arrivals.append(time.monotonic())
        time.sleep(self.delay)
        with self.lock:
            self.now -= 1
        return Route(body=b"ok")


def _two_processes(db_url: str, route: Counting, n: int, limit: int, interval: float, shared: bool) -> None:
    with TestServer() as server:
        server.routes["/page"] = route
        procs = [subprocess.Popen([sys.executable, "-c", FETCH, server.url("/page"), str(n), str(limit), str(interval),
                                   "1" if shared else "0", db_url], cwd=REPO, env=dict(os.environ),
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
        try:
            for p in procs:
                line = p.stdout.readline()
                assert line.strip() == "ready", p.stderr.read()[-2000:]
            for p in procs:  # both start their requests together
                p.stdin.write("go\n")
                p.stdin.flush()
            for p in procs:
                assert p.wait(timeout=120) == 0, p.stderr.read()[-2000:]
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
    assert len(route.arrivals) == 2 * n


def test_two_processes_share_a_hosts_concurrency_limit(db: Database) -> None:
    shared = Counting(delay=0.15)
    _two_processes(db.url, shared, n=12, limit=2, interval=0.0, shared=True)
    assert shared.peak <= 2, f"the server saw {shared.peak} requests at once with a shared limit of 2"
    alone = Counting(delay=0.15)  # the same two processes with per-process limits only: the test can fail
    _two_processes(db.url, alone, n=12, limit=2, interval=0.0, shared=False)
    assert alone.peak > 4, f"per-process limits of 4 each let only {alone.peak} requests in at once"


def test_two_processes_keep_one_interval_between_starts(db: Database) -> None:
    route = Counting(delay=0.0)
    _two_processes(db.url, route, n=5, limit=4, interval=0.2, shared=True)
    starts = sorted(route.arrivals)
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    # Starts are spaced 0.2 s apart by the database; arrival at the server adds scheduling jitter,
    # so the check is half the interval (two independent pacers would often land together).
    assert min(gaps) >= 0.1, f"two requests reached the host {min(gaps):.3f}s apart (interval 0.2 s)"


def test_a_killed_holder_frees_its_slots_when_the_lease_ends(db: Database) -> None:
    seconds = 0.3

    async def run() -> float:
        dead = DatabaseHostLimit(db.engine, 1, lease=seconds)
        gone = dead.slot("h:1")
        await gone.__aenter__()  # taken and never given back, as by a killed worker
        dead.close()
        alive = DatabaseHostLimit(db.engine, 1)
        began = time.monotonic()
        async with alive.slot("h:1"):
            waited = time.monotonic() - began
        alive.close()
        return waited

    assert asyncio.run(run()) >= seconds * 0.5  # it had to wait for the lease, and then it got the slot


def test_a_live_holder_keeps_its_slot_past_the_lease(db: Database) -> None:
    async def run() -> list[str]:
        order: list[str] = []
        first, second = DatabaseHostLimit(db.engine, 1, lease=0.3), DatabaseHostLimit(db.engine, 1, lease=0.3)

        async def long_download() -> None:
            async with first.slot("h:1"):
                order.append("first took")
                await asyncio.sleep(1.2)  # four leases: only the renewals keep the slot
                order.append("first gave back")

        async def waiting() -> None:
            while not order:
                await asyncio.sleep(0.01)
            async with second.slot("h:1"):
                order.append("second took")

        await asyncio.gather(long_download(), waiting())
        first.close()
        second.close()
        return order

    assert asyncio.run(run()) == ["first took", "first gave back", "second took"]
