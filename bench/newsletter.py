"""Newsletter sending speed, against baselines run in the same process.

Measures, for N readers (default 300):
- building messages: the edition (page taken apart, CSS inlined) built once per
  revision and only the reader's link filled in per message, versus building
  the edition for every message (the naive baseline);
- sending over SMTP to a real server on loopback (aiosmtpd): one connection
  reused for the whole run, versus a new connection per message, both with no
  rate cap, each as a whole `send_revision` run with its database rows.
Prints wall and CPU (process) time and the ratios. Run: python -m bench.newsletter [--readers N]
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the SMTP server and the seeded day live with the tests

from review.delivery import smtp as smtp_module  # noqa: E402
from review.delivery.newsletter import Recipient, build_edition  # noqa: E402
from review.delivery.send import send_revision  # noqa: E402
from review.publishing import publish_day  # noqa: E402
from smtp_server import SmtpServer  # noqa: E402
from storage import deliveries, desk, subscribers  # noqa: E402
from storage.db import Database  # noqa: E402
from test_delivery_email import DAY, SITE, delivery_settings  # noqa: E402
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
    args = parser.parse_args()
    n = args.readers
    tmp = Path(tempfile.mkdtemp(prefix="newsdesk-bench-newsletter-"))

    with SmtpServer() as server:
        settings = delivery_settings(server, rate_per_second=1e9)
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

        base_db, reuse_db = fresh_day(tmp, n, "baseline"), fresh_day(tmp, n, "reuse")
        original = smtp_module.SmtpMailer
        import review.delivery.send as send_module

        send_module.SmtpMailer = NewConnectionEachTime
        try:
            c_wall, c_cpu, c_report = timed(lambda: asyncio.run(send_revision(base_db, settings, DAY, email=True)))
        finally:
            send_module.SmtpMailer = original
        r_wall, r_cpu, r_report = timed(lambda: asyncio.run(send_revision(reuse_db, settings, DAY, email=True)))
        assert c_report.email == {"sent": n} and r_report.email == {"sent": n}, (c_report.email, r_report.email)
        assert len(server.received) == 2 * n
        print(f"send {n} messages to aiosmtpd on loopback, no rate cap, with the delivery rows")
        print(f"  baseline, connection per message: {c_wall:.2f}s wall, {c_cpu:.2f}s CPU ({n / c_wall:.0f} messages/s)")
        print(f"  one connection reused:            {r_wall:.2f}s wall, {r_cpu:.2f}s CPU ({n / r_wall:.0f} messages/s)")
        print(f"  ratio: {c_wall / r_wall:.2f}x faster (the SMTP server runs in this process too: its CPU is in both)")


if __name__ == "__main__":
    main()
