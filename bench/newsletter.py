"""Newsletter sending speed, against baselines run in the same process.

Measures, for N readers (default 300):
- building messages: the edition (page taken apart, CSS inlined) built once per
  revision and only the reader's link filled in per message, versus building
  the edition for every message (the naive baseline);
- sending over SMTP to a real server on loopback (aiosmtpd in its own process,
  discarding mail): one connection reused for the whole run, versus a new
  connection per message, both with no rate cap, each as a whole
  `send_revision` run with its database rows.
Prints wall and CPU (process) time and the ratios. Run: python -m bench.newsletter [--readers N]
"""
from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from typing import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the SMTP server and the seeded day live with the tests

from review.delivery import smtp as smtp_module  # noqa: E402
from review.delivery.newsletter import Recipient, build_edition  # noqa: E402
from review.delivery.send import send_revision  # noqa: E402
from review.publishing import publish_day  # noqa: E402
from review.delivery.settings import DeliverySettings, EmailSettings, parse_smtp_url  # noqa: E402
from smtp_server import free_port  # noqa: E402
from storage import deliveries, desk, subscribers  # noqa: E402
from storage.db import Database  # noqa: E402
from test_delivery_email import DAY, DESK, FROM, SITE  # noqa: E402
from test_review_http import seed  # noqa: E402


def timed(fn) -> tuple[float, float, object]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, out


def fresh_day(tmp: Path, readers: int, name: str) -> Database:
    db = Database(f"sqlite:///{tmp / f'{name}.db'}")
    db.migrate()
    ids = seed(db)
    with db.session() as s:
        for key in ("falcon", "chips", "robots"):
            desk.approve(s, ids[key], "bench")
    publish_day(db, DAY, "bench", tmp / f"site-{name}", style="ai-news-digest", site_url=SITE)
    with db.session() as s:
        for i in range(readers):
            subscribers.add(s, f"reader{i}@example.com", "bench")
    return db


@contextmanager
def sink_server() -> Iterator[int]:
    """aiosmtpd in another process (its CPU is not ours), accepting and discarding every message."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}", "-c", "aiosmtpd.handlers.Sink"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


class NewConnectionEachTime(smtp_module.SmtpMailer):
    """Baseline: connect, send, quit for every message."""

    async def send(self, msg):  # type: ignore[override]
        try:
            return await super().send(msg)
        finally:
            await self.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs of each sending variant; the best counts")
    args = parser.parse_args()
    n = args.readers
    tmp = Path(tempfile.mkdtemp(prefix="newsdesk-bench-newsletter-"))

    with sink_server() as port:
        settings = DeliverySettings(email=EmailSettings(smtp=parse_smtp_url(f"smtp+plain://127.0.0.1:{port}"), from_addr=FROM,
                                                        desk_url=DESK, rate_per_second=1e9), site_url=SITE)
        db = fresh_day(tmp, 0, "build")
        with db.session() as s:
            pub = deliveries.publication(s, DAY)
        readers = [Recipient(f"reader{i}@example.com", f"token{i}", i) for i in range(n)]

        def naive() -> int:
            return sum(len(bytes(build_edition(pub, settings).message(r))) for r in readers)

        def once() -> int:
            edition = build_edition(pub, settings)
            return sum(len(bytes(edition.message(r))) for r in readers)

        b_wall, b_cpu, _ = timed(naive)
        o_wall, o_cpu, size = timed(once)
        print(f"build {n} messages ({size // n} bytes each)")
        print(f"  baseline, edition per message: {b_wall:.2f}s wall, {b_cpu:.2f}s CPU ({b_wall / n * 1000:.1f} ms/message)")
        print(f"  edition once per revision:     {o_wall:.2f}s wall, {o_cpu:.2f}s CPU ({o_wall / n * 1000:.2f} ms/message)")
        print(f"  ratio: {b_wall / o_wall:.1f}x faster (CPU {b_cpu / max(o_cpu, 1e-9):.1f}x)")

        original = smtp_module.SmtpMailer
        import review.delivery.send as send_module

        def run_once(name: str, mailer: type) -> tuple[float, float]:
            day_db = fresh_day(tmp, n, name)
            send_module.SmtpMailer = mailer
            try:
                wall, cpu, report = timed(lambda: asyncio.run(send_revision(day_db, settings, DAY, email=True)))
            finally:
                send_module.SmtpMailer = original
                day_db.dispose()
            assert report.email == {"sent": n}, report.email
            return wall, cpu

        # alternate the two and keep each one's best run: the machine may be busy
        runs: dict[str, list[tuple[float, float]]] = {"baseline": [], "reuse": []}
        for i in range(args.rounds):
            runs["baseline"].append(run_once(f"baseline{i}", NewConnectionEachTime))
            runs["reuse"].append(run_once(f"reuse{i}", original))
        (c_wall, c_cpu), (r_wall, r_cpu) = min(runs["baseline"]), min(runs["reuse"])
        print(f"send {n} messages to aiosmtpd on loopback, no rate cap, with the delivery rows")
        print(f"  baseline, connection per message: {c_wall:.2f}s wall, {c_cpu:.2f}s CPU ({n / c_wall:.0f} messages/s)")
        print(f"  one connection reused:            {r_wall:.2f}s wall, {r_cpu:.2f}s CPU ({n / r_wall:.0f} messages/s)")
        print(f"  ratio: {c_wall / r_wall:.2f}x faster, CPU {c_cpu / max(r_cpu, 1e-9):.2f}x (CPU: this process only)")


if __name__ == "__main__":
    main()
