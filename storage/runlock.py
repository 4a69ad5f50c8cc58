"""One run per day at once, and no run left "running" after its process died.

Two runs of one day would pay every LLM call twice, so a run takes the day first:
on PostgreSQL a session advisory lock (released by the server when the
connection dies, so a killed run never leaves it held), on SQLite a row in
`day_locks` that a live run keeps fresh with heartbeats (a row whose heartbeat
stopped, or whose process on this host is gone, may be taken over). The row
also says who holds the day, on both backends, so a second run can say so.

Runs beat too: `mark_stale_runs` turns a "running" run whose heartbeat stopped
(or whose process on this host is gone) into "interrupted" on the next start.
"""
from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, text, update
from sqlalchemy.engine import Connection

from storage.db import Database
from storage.models import DayLock, Run, utcnow

log = logging.getLogger("newsdesk")

HEARTBEAT_SECONDS = 10.0
STALE_AFTER = timedelta(minutes=2)  # a dozen missed heartbeats: that process is gone


class DayBusy(RuntimeError):
    """Another live run holds the day."""


def holder_id() -> str:
    """Who we are, as another run will read it: host:pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _process_gone(holder: str | None) -> bool:
    """True when `holder` is a process on this host that no longer exists."""
    host, _, pid = (holder or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _is_stale(holder: str | None, heartbeat: datetime | None, now: datetime, stale_after: timedelta) -> bool:
    return heartbeat is None or heartbeat < now - stale_after or _process_gone(holder)


def mark_stale_runs(db: Database, *, day: str | None = None, stale_after: timedelta = STALE_AFTER,
                    now: datetime | None = None) -> list[int]:
    """Mark dead "running" runs interrupted; returns their ids.

    With `day` (whose lock the caller holds), every other running run of that day is dead by
    definition; other runs need a stopped heartbeat or a vanished process.
    """
    now = now or utcnow()
    marked = []
    with db.session() as s:
        for run in s.scalars(select(Run).where(Run.status == "running")):
            beat = run.heartbeat_at or run.started_at
            if (day is not None and run.day == day) or _is_stale(run.holder, beat, now, stale_after):
                run.status, run.finished_at = "interrupted", now
                run.notes = list(run.notes or []) + [
                    f"interrupted: its process ({run.holder or 'unknown'}) stopped; last alive {beat:%Y-%m-%d %H:%M:%S} UTC"]
                marked.append(run.id)
    for rid in marked:
        log.info("run #%s was left running by a dead process: marked interrupted", rid)
    return marked


def _advisory_key(conn: Connection, day: str) -> int:
    """A 64-bit key per (schema, day): schemas sharing one database do not block each other."""
    schema = conn.execute(text("select current_schema()")).scalar() or ""
    digest = hashlib.sha256(f"newsdesk-day:{schema}:{day}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class DayRunLock:
    """Hold one day for one run: `acquire()` or DayBusy, heartbeats while held, `release()`."""

    def __init__(self, db: Database, day: str, *, wait: float = 0.0, stale_after: timedelta = STALE_AFTER,
                 heartbeat: float = HEARTBEAT_SECONDS):
        self.db, self.day, self.wait, self.stale_after, self.heartbeat = db, day, wait, stale_after, heartbeat
        self.token = uuid.uuid4().hex
        self.holder = holder_id()
        self.run_id: int | None = None
        self._conn: Connection | None = None  # PostgreSQL: the session holding the advisory lock
        self._key: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def _postgres(self) -> bool:
        return self.db.engine.dialect.name == "postgresql"

    # -- acquiring

    def acquire(self) -> "DayRunLock":
        deadline = time.monotonic() + max(0.0, self.wait)
        while True:
            if self._try():
                return self
            if time.monotonic() >= deadline:
                raise DayBusy(self._busy_message())
            time.sleep(min(1.0, max(0.05, deadline - time.monotonic())))

    def _try(self) -> bool:
        if self._postgres:
            return self._try_postgres()
        return self._try_row()

    def _try_postgres(self) -> bool:
        conn = self.db.engine.connect()
        try:
            key = _advisory_key(conn, self.day)
            got = bool(conn.execute(text("select pg_try_advisory_lock(:k)"), {"k": key}).scalar())
            conn.commit()
        except BaseException:
            conn.close()
            raise
        if not got:
            conn.close()
            return False
        self._conn, self._key = conn, key
        now = utcnow()
        with self.db.session() as s:  # who holds it, for the next run's message
            s.execute(delete(DayLock).where(DayLock.day == self.day))
            s.add(DayLock(day=self.day, token=self.token, holder=self.holder, acquired_at=now, heartbeat_at=now))
        return True

    def _try_row(self) -> bool:
        now = utcnow()
        with self.db.session() as s:
            row = s.get(DayLock, self.day)
            if row is None:
                s.add(DayLock(day=self.day, token=self.token, holder=self.holder, acquired_at=now, heartbeat_at=now))
                try:
                    s.flush()
                except Exception:  # another run inserted it first
                    s.rollback()
                    return False
                return True
            if not _is_stale(row.holder, row.heartbeat_at, now, self.stale_after):
                return False
            taken = s.execute(
                update(DayLock).where(DayLock.day == self.day, DayLock.token == row.token)
                .values(token=self.token, holder=self.holder, run_id=None, acquired_at=now, heartbeat_at=now)
            ).rowcount
            log.info("took over %s from a dead run (%s)", self.day, row.holder)
            return taken == 1

    def _busy_message(self) -> str:
        with self.db.session() as s:
            row = s.get(DayLock, self.day)
            info: dict[str, Any] = {}
            if row is not None:
                info = {"holder": row.holder, "run": row.run_id, "since": row.acquired_at}
        if not info:
            return f"{self.day} is being run by another process; try again when it ends"
        run = f"run #{info['run']}" if info["run"] else "another run"
        return (f"{self.day} is being run by {run} ({info['holder']}, since {info['since']:%Y-%m-%d %H:%M:%S} UTC); "
                "try again when it ends, or set NEWSDESK_LOCK_WAIT to wait for it")

    # -- while held

    def attach(self, run_id: int) -> None:
        """Name the run that holds the day, and start beating for both."""
        self.run_id = run_id
        with self.db.session() as s:
            s.execute(update(DayLock).where(DayLock.day == self.day, DayLock.token == self.token).values(run_id=run_id))
            s.execute(update(Run).where(Run.id == run_id).values(holder=self.holder, heartbeat_at=utcnow()))
        self._thread = threading.Thread(target=self._beat, name=f"newsdesk-heartbeat-{self.day}", daemon=True)
        self._thread.start()

    def beat(self) -> None:
        now = utcnow()
        with self.db.session() as s:
            s.execute(update(DayLock).where(DayLock.day == self.day, DayLock.token == self.token).values(heartbeat_at=now))
            if self.run_id is not None:
                s.execute(update(Run).where(Run.id == self.run_id).values(heartbeat_at=now))

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat):
            try:
                self.beat()
            except Exception as exc:  # a busy database now and then must not end the run
                log.warning("heartbeat for %s failed: %s", self.day, exc)

    # -- releasing

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        try:
            with self.db.session() as s:
                s.execute(delete(DayLock).where(DayLock.day == self.day, DayLock.token == self.token))
        finally:
            if self._conn is not None:
                try:
                    self._conn.execute(text("select pg_advisory_unlock(:k)"), {"k": self._key})
                    self._conn.commit()
                finally:
                    self._conn.close()
                    self._conn = None

    def __enter__(self) -> "DayRunLock":
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
