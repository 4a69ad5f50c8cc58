"""Shared fixtures: databases (SQLite always, PostgreSQL when configured) and Prefect.

Set NEWSDESK_TEST_POSTGRES_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)
to run every `db` test on PostgreSQL too; each test gets a fresh schema.
"""
from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path
from typing import Iterator

import pytest

# Prefect must be configured before it is imported anywhere.
_PREFECT_HOME = tempfile.mkdtemp(prefix="newsdesk-prefect-")
os.environ.setdefault("PREFECT_HOME", _PREFECT_HOME)
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("TIKTOKEN_CACHE_DIR", tempfile.mkdtemp(prefix="newsdesk-tiktoken-"))

from storage.db import Database  # noqa: E402


def _loopback_only() -> None:
    """No test ever connects outside loopback (127.0.0.0/8, ::1), whatever code path opens the socket.

    The fetcher already runs with NEWSDESK_ALLOW_PRIVATE_HOSTS=loopback in tests; this also covers the
    LLM client, Prefect and anything else, so a test that forgets its fake fails instead of going out.
    """
    import ipaddress
    import socket

    def allowed(address) -> bool:
        host = address[0] if isinstance(address, tuple) else None
        if host is None:
            return True  # Unix sockets
        try:
            ips = [ipaddress.ip_address(str(host).split("%")[0])]
        except ValueError:
            ips = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in socket.getaddrinfo(host, None)]
        return all(ip.is_loopback or (getattr(ip, "ipv4_mapped", None) or ip).is_loopback for ip in ips)

    original_connect, original_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not allowed(address):
            raise ConnectionRefusedError(f"tests may only connect to loopback, not {address!r}")
        return original_connect(self, address)

    def connect_ex(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not allowed(address):
            raise ConnectionRefusedError(f"tests may only connect to loopback, not {address!r}")
        return original_connect_ex(self, address)

    socket.socket.connect, socket.socket.connect_ex = connect, connect_ex


_loopback_only()

POSTGRES_URL = os.environ.get("NEWSDESK_TEST_POSTGRES_URL")
DB_BACKENDS = ["sqlite"] + (["postgres"] if POSTGRES_URL else [])


def _postgres_database() -> Iterator[Database]:
    from sqlalchemy import create_engine, text

    schema = f"nd_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in POSTGRES_URL else "?"
    db = Database(f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}")
    try:
        yield db
    finally:
        db.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=DB_BACKENDS)
def db_url(request, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database URL on each configured backend."""
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'newsdesk.db'}")
        db.migrate()
        db.dispose()
        yield db.url
    else:
        gen = _postgres_database()
        db = next(gen)
        db.migrate()
        yield db.url
        try:
            next(gen)
        except StopIteration:
            pass


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def prefect_harness():
    """One Prefect test server for the whole session (it takes seconds to start)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield
