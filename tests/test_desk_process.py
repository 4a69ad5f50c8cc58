"""`newsdesk serve` as a real process on loopback: a login flood, a spoofed X-Forwarded-For, SIGTERM while busy.

These run the desk the way an operator does (uvicorn, its defaults, signals)
because the faults were there, not in the app: uvicorn believed
X-Forwarded-For from loopback, ran forty argon2 hashes at once, and waited
without limit for a request in flight on SIGTERM. Memory is read from
/proc (peak RSS of the server process); nothing here asserts a duration.
"""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

import httpx2
import pytest

from fakes import FakeOpenAI, Reply
from review.users import add_user
from storage.db import Database
from test_review_http import PASSWORD, seed

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

NEWSDESK = str(Path(sys.executable).with_name("newsdesk"))
MiB = 1024 * 1024


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of a process, in bytes."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) * 1024
    return out


def _reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # Linux: VmHWM := VmRSS


class Desk:
    def __init__(self, proc: subprocess.Popen, base: str):
        self.proc, self.base = proc, base

    def client(self) -> httpx2.Client:
        return httpx2.Client(base_url=self.base, follow_redirects=False, timeout=120)


def _csrf(client: httpx2.Client) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert m
    return m.group(1)


def _login(client: httpx2.Client, token: str, name: str, password: str, headers: dict | None = None) -> int:
    resp = client.post("/login", data={"name": name, "password": password, "csrf_token": token, "next": "/"},
                       headers=headers or {})
    return resp.status_code


@pytest.fixture
def desk_process(tmp_path: Path) -> Iterator[tuple[Desk, Database, FakeOpenAI]]:
    db = Database(f"sqlite:///{tmp_path / 'desk.db'}")
    db.migrate()
    ids = seed(db)
    add_user(db, "ana", "editor", PASSWORD)
    with FakeOpenAI() as fake:
        port = _free_port()
        env = os.environ | {
            "NEWSDESK_DATA_DIR": str(tmp_path / "data"),
            "NEWSDESK_DATABASE_URL": db.url,
            "NEWSDESK_SECRET_KEY": "desk-process-test-secret-0123456789",
            "NEWSDESK_ALLOW_PRIVATE_HOSTS": "loopback",
            "OPENAI_API_KEY": "test-key",
            "OPENAI_BASE_URL": fake.base_url,
            "NEWSDESK_MODEL": fake.model,
            "NEWSDESK_LLM_TIMEOUT": "600",
        }
        env.pop("NEWSDESK_TRUSTED_PROXIES", None)
        env.pop("FORWARDED_ALLOW_IPS", None)
        proc = subprocess.Popen([NEWSDESK, "serve", "--port", str(port)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 120
            while True:
                assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    assert time.monotonic() < deadline, "newsdesk serve did not start"
                    time.sleep(0.2)
            desk = Desk(proc, f"http://127.0.0.1:{port}")
            desk.ids = ids  # type: ignore[attr-defined]
            yield desk, db, fake
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            db.dispose()


def test_login_flood_is_throttled_with_bounded_memory_and_the_desk_keeps_answering(desk_process) -> None:
    desk, _, _ = desk_process
    pid = desk.proc.pid
    with desk.client() as warm:
        assert _login(warm, _csrf(warm), "nobody", "warm-up-password") == 401  # loads argon2 once
        # One name, a new X-Forwarded-For each time, from loopback: the throttle must not be fooled.
        token = _csrf(warm)
        codes = [_login(warm, token, "ana", "wrong-password", {"X-Forwarded-For": f"10.77.0.{i}"}) for i in range(6)]
    assert codes == [401] * 5 + [429], codes
    time.sleep(0.5)
    _reset_peak(pid)
    before = _status(pid)["VmRSS"]

    clients = [desk.client() for _ in range(40)]
    tokens = [_csrf(c) for c in clients]
    barrier = threading.Barrier(len(clients))
    codes: list[int] = [0] * len(clients)

    def attempt(i: int) -> None:
        barrier.wait()
        codes[i] = _login(clients[i], tokens[i], f"sprayed-{i}", "wrong-password", {"X-Forwarded-For": f"10.88.{i}.1"})

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(len(clients))]
    for t in threads:
        t.start()
    with desk.client() as editor:  # while the flood runs, the desk still answers
        assert editor.get("/login").status_code == 200
    for t in threads:
        t.join(timeout=300)
    for c in clients:
        c.close()
    peak = _status(pid)["VmHWM"]
    growth = peak - before
    print(f"\nlogin flood: RSS before {before / MiB:.0f} MiB, peak {peak / MiB:.0f} MiB, growth {growth / MiB:.0f} MiB; "
          f"codes {sorted(set(codes))}: {codes.count(401)}x401 {codes.count(429)}x429 {codes.count(503)}x503")
    assert set(codes) <= {401, 429, 503} and codes.count(429) >= 20  # 20 attempts per address, 5 already spent
    assert growth < 400 * MiB, f"peak grew by {growth / MiB:.0f} MiB (argon2id takes 64 MiB per hash)"


def test_sigterm_while_a_request_is_in_flight_stops_the_desk(desk_process) -> None:
    desk, _, fake = desk_process
    fake.script([Reply(latency=600)] * 4)  # the model hangs: the redraft will not finish by itself
    client = desk.client()
    assert _login(client, _csrf(client), "ana", PASSWORD) == 303
    page = client.get(f"/story/{desk.ids['chips']}").text  # type: ignore[attr-defined]
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)

    def regenerate() -> None:
        try:
            client.post(f"/story/{desk.ids['chips']}/regenerate", data={"csrf_token": token})  # type: ignore[attr-defined]
        except httpx2.HTTPError:
            pass  # the server went away: expected

    busy = threading.Thread(target=regenerate, daemon=True)
    busy.start()
    deadline = time.monotonic() + 120
    while fake.in_flight < 1:
        assert time.monotonic() < deadline and desk.proc.poll() is None, "the redraft never reached the model"
        time.sleep(0.1)
    desk.proc.send_signal(signal.SIGTERM)
    try:
        code = desk.proc.wait(timeout=90)  # a liveness bound, far above the 10 s grace: not a speed target
    except subprocess.TimeoutExpired:
        pytest.fail("newsdesk serve ignored SIGTERM while a request was in flight")
    assert code in (0, -signal.SIGTERM), code
    client.close()
