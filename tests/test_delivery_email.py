"""The newsletter against a real SMTP server on loopback (aiosmtpd): headers, both parts, pacing, retries, reruns."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select

from review.delivery.send import send_revision_sync
from review.delivery.settings import DeliverySettings, EmailSettings, parse_smtp_url
from review.publishing import publish_day
from smtp_server import SmtpServer
from storage import desk, subscribers
from storage.db import Database
from storage.models import Delivery, Subscriber
from test_review_http import DAY, SITE, seed

DESK = "https://desk.news.example.org"
FROM = "AI News Digest <digest@news.example.org>"
READERS = [f"reader{i}@example.com" for i in range(1, 6)]
REPO = Path(__file__).resolve().parents[1]


def published(db: Database, tmp_path: Path, style: str = "awesome-ai-daily") -> None:
    ids = seed(db)
    with db.session() as s:
        for key in ("falcon", "chips", "robots"):
            desk.approve(s, ids[key], "ana", override="price checked" if key == "falcon" else None)
    publish_day(db, DAY, "ana", tmp_path / "site", style=style, site_url=SITE)


def add_readers(db: Database, addresses: list[str] = READERS) -> None:
    with db.session() as s:
        for a in addresses:
            subscribers.add(s, a, "test")


def delivery_settings(smtp: SmtpServer, **email_changes) -> DeliverySettings:
    email = EmailSettings(smtp=parse_smtp_url(smtp.url()), from_addr=FROM, desk_url=DESK, rate_per_second=200,
                          backoff_seconds=0.01, max_retries=2)
    return DeliverySettings(email=replace(email, **email_changes), site_url=SITE)


def rows(db: Database) -> list[Delivery]:
    with db.session() as s:
        return list(s.scalars(select(Delivery).order_by(Delivery.id)))


@pytest.fixture
def day(db: Database, tmp_path: Path) -> Database:
    published(db, tmp_path)
    add_readers(db)
    return db


def test_each_reader_gets_one_message_with_unsubscribe_headers_and_both_parts(day: Database) -> None:
    with SmtpServer() as smtp:
        report = send_revision_sync(day, delivery_settings(smtp), DAY, email=True)
        assert report.email == {"sent": 5}
        assert sorted(r.recipients[0] for r in smtp.received) == sorted(READERS)
        msg = smtp.handler.to("reader1@example.com")[0].message

    with day.session() as s:
        token = s.scalars(select(Subscriber.token).where(Subscriber.email == "reader1@example.com")).one()
    assert msg["From"] == FROM and msg["To"] == "reader1@example.com"
    assert msg["Subject"] == f"Awesome AI Daily | {DAY}"
    # RFC 8058: an HTTPS one-click link plus a mailto, and the POST marker
    assert msg["List-Unsubscribe"].strip() == (f"<{DESK}/unsubscribe/{token}>, "
                                       f"<mailto:digest@news.example.org?subject=unsubscribe%20{token}>")
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert re.fullmatch(r"<newsdesk\.2026-11-18\.r1\.[0-9a-f]{16}@news\.example\.org>", msg["Message-ID"])
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    # plain text: the published Markdown, the web link and the unsubscribe link
    assert "1. Acme Lab releases Falcon-9B" in text and f"{SITE}/{DAY}.html" in text
    assert f"{DESK}/unsubscribe/{token}" in text
    # HTML: the house-style page, CSS inlined, dark mode kept as a media query, nothing active
    assert "Acme Lab releases Falcon-9B" in html and "Awesome AI View:" in html
    assert re.search(r'<h2[^>]*style="[^"]*font-size: 21px', html)
    assert "@media (prefers-color-scheme: dark)" in html and 'name="color-scheme" content="light dark"' in html
    assert "<script" not in html.lower() and "&lt;script&gt;" in html
    assert "Back to list" not in html and 'href="index.html"' not in html
    assert f'href="{DESK}/unsubscribe/{token}"' in html and f'href="{SITE}/{DAY}.html"' in html
    # the idempotency rows: one per reader, sent, with the Message-ID kept
    assert [r.status for r in rows(day)] == ["sent"] * 5 and all(r.remote_id for r in rows(day))


def test_a_rerun_or_second_click_mails_nobody_twice(day: Database) -> None:
    with SmtpServer() as smtp:
        first = send_revision_sync(day, delivery_settings(smtp), DAY, email=True)
        second = send_revision_sync(day, delivery_settings(smtp), DAY, email=True)
        assert len(smtp.received) == 5
    assert first.email == {"sent": 5} and second.email == {"already": 5}
    assert len(rows(day)) == 5


def test_the_rate_cap_spaces_messages(day: Database) -> None:
    rate = 10.0
    with SmtpServer() as smtp:
        started = time.monotonic()
        send_revision_sync(day, delivery_settings(smtp, rate_per_second=rate), DAY, email=True)
        elapsed = time.monotonic() - started
        arrivals = sorted(r.at for r in smtp.received)
    assert len(arrivals) == 5
    # five starts at most 10 a second: at least four intervals of 0.1 s between first and last start;
    # arrivals after the first (which also waited for the connection) keep most of their spacing
    assert elapsed >= 4 / rate
    assert arrivals[-1] - arrivals[1] >= 3 / rate * 0.5


def test_a_451_then_250_is_retried_and_sent_once(day: Database) -> None:
    with SmtpServer() as smtp:
        smtp.handler.script["reader2@example.com"] = ["451 4.7.1 Greylisted, try again later", "250 OK"]
        report = send_revision_sync(day, delivery_settings(smtp), DAY, email=True)
        assert smtp.handler.rcpt_attempts["reader2@example.com"] == 2
        assert len(smtp.handler.to("reader2@example.com")) == 1
    assert report.email == {"sent": 5}
    row = next(r for r in rows(day) if r.target == str(_id(day, "reader2@example.com")))
    assert row.status == "sent" and row.attempts == 2


def _id(db: Database, address: str) -> int:
    with db.session() as s:
        return s.scalars(select(Subscriber.id).where(Subscriber.email == address)).one()


def test_a_permanent_failure_is_recorded_for_that_reader_and_never_retried(day: Database) -> None:
    with SmtpServer() as smtp:
        smtp.handler.script["reader3@example.com"] = ["550 5.1.1 No such user here"]
        report = send_revision_sync(day, delivery_settings(smtp), DAY, email=True)
        again = send_revision_sync(day, delivery_settings(smtp), DAY, email=True)
        assert smtp.handler.rcpt_attempts["reader3@example.com"] == 1  # not retried, not now, not on the rerun
        assert len(smtp.received) == 4
    assert report.email == {"sent": 4, "failed": 1}
    assert any("reader3@example.com: failed" in e and "550" in e for e in report.errors)
    assert again.email == {"already": 4}  # the bounced reader is no longer active
    with day.session() as s:
        reader = s.scalars(select(Subscriber).where(Subscriber.email == "reader3@example.com")).one()
    assert reader.status == "bounced" and "550" in (reader.last_error or "")


def test_a_refused_message_fails_that_send_only_and_a_refused_sender_stops_the_run(day: Database) -> None:
    with SmtpServer() as smtp:
        smtp.handler.data_script["reader1@example.com"] = "554 5.7.1 Message rejected as spam"
        report = send_revision_sync(day, delivery_settings(smtp), DAY, email=True)
        assert report.email == {"failed": 1, "sent": 4}
        assert status_of(day, "reader1@example.com") == "active"  # the address is fine: not bounced
        add_readers(day, ["late@example.com"])
        smtp.handler.mail_answer = "553 5.7.1 Sender address rejected: not owned by user"
        stopped = send_revision_sync(day, delivery_settings(smtp), DAY, email=True)
    assert stopped.stopped and "refuses our sender" in stopped.stopped and stopped.email == {"already": 4, "not_retried": 1, "deferred": 1}
    assert status_of(day, "late@example.com") == "active"


def test_the_run_stops_when_the_server_refuses_the_message_again_and_again(day: Database) -> None:
    add_readers(day, [f"more{i}@example.com" for i in range(5)])
    with SmtpServer() as smtp:
        for a in READERS:
            smtp.handler.data_script[a] = "552 5.3.4 Message size exceeds fixed limit"
        report = send_revision_sync(day, delivery_settings(smtp), DAY, email=True)
        assert len(smtp.received) == 0
    assert report.email == {"failed": 5} and "5 times in a row" in report.stopped
    with day.session() as s:
        assert subscribers.counts(s) == {"active": 10}


def status_of(db: Database, address: str) -> str:
    with db.session() as s:
        return s.scalars(select(Subscriber.status).where(Subscriber.email == address)).one()


def test_4xx_past_the_retries_is_deferred_and_the_next_run_sends_it(day: Database) -> None:
    with SmtpServer() as smtp:
        smtp.handler.script["reader4@example.com"] = ["452 4.2.2 Mailbox full"]
        report = send_revision_sync(day, delivery_settings(smtp, max_retries=1), DAY, email=True)
        assert report.email == {"sent": 4, "deferred": 1}
        assert smtp.handler.rcpt_attempts["reader4@example.com"] == 2
        smtp.handler.script.clear()
        rerun = send_revision_sync(day, delivery_settings(smtp), DAY, email=True)
        assert rerun.email == {"already": 4, "sent": 1}
        assert len(smtp.handler.to("reader4@example.com")) == 1 and len(smtp.received) == 5


def test_an_unreachable_server_stops_the_run_and_marks_no_reader_failed(day: Database) -> None:
    with SmtpServer() as smtp:
        settings = delivery_settings(smtp, max_retries=1)
    # the server is gone now: the same port refuses connections
    report = send_revision_sync(day, settings, DAY, email=True)
    assert report.stopped and "cannot connect" in report.stopped
    assert [r.status for r in rows(day)] == ["deferred"]
    with day.session() as s:
        assert subscribers.counts(s) == {"active": 5}
    with SmtpServer() as smtp2:
        settings = replace(settings, email=replace(settings.email, smtp=parse_smtp_url(smtp2.url())))
        rerun = send_revision_sync(day, settings, DAY, email=True)
        assert rerun.email == {"sent": 5} and len(smtp2.received) == 5


def test_a_crash_between_sends_then_a_rerun_mails_nobody_twice_and_skips_nobody(day: Database, tmp_path: Path) -> None:
    """`newsdesk send` is killed (SIGKILL) after two messages; a rerun sends exactly the other three."""
    with SmtpServer() as smtp:
        env = {**os.environ, "NEWSDESK_DATABASE_URL": day.url, "NEWSDESK_DATA_DIR": str(tmp_path / "data"),
               "NEWSDESK_SMTP_URL": smtp.url(), "NEWSDESK_EMAIL_FROM": FROM, "NEWSDESK_PUBLIC_URL": DESK,
               "NEWSDESK_SITE_URL": SITE, "NEWSDESK_EMAIL_RATE": "1"}
        proc = subprocess.Popen([sys.executable, "-m", "newsdesk.cli", "send", "--day", DAY, "--email"], cwd=REPO, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:  # wait until the second send is recorded, then kill during the pause
                if sum(r.status == "sent" for r in rows(day)) >= 2 or proc.poll() is not None:
                    break
                time.sleep(0.02)
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.wait(10)
        assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
        before = [(r.target, r.status) for r in rows(day)]
        assert [s for _, s in before] == ["sent", "sent"], before  # nothing left half-claimed
        assert len(smtp.received) == 2

        rerun = send_revision_sync(day, delivery_settings(smtp), DAY, email=True)
        got = sorted(r.recipients[0] for r in smtp.received)
    assert rerun.email == {"already": 2, "sent": 3}
    assert got == sorted(READERS)  # each reader exactly once
    assert sorted(r.status for r in rows(day)) == ["sent"] * 5


def test_a_claim_left_by_a_sender_that_died_mid_send_waits_for_its_lease(day: Database) -> None:
    """Mid-send, whether the server took the message is unknown: a live sender's claim is never doubled."""
    from storage import deliveries

    with day.session() as s:
        pub = deliveries.publication(s, DAY)
    sid = _id(day, "reader1@example.com")
    assert deliveries.claim(day, pub.id, "email", str(sid), subscriber_id=sid) is not None
    with SmtpServer() as smtp:
        report = send_revision_sync(day, delivery_settings(smtp), DAY, email=True)
        assert "reader1@example.com" not in [r.recipients[0] for r in smtp.received]
        assert report.email == {"sent": 4, "already": 1}
        later = send_revision_sync(day, delivery_settings(smtp, lease_seconds=0), DAY, email=True)
        assert later.email == {"already": 4, "sent": 1}
        assert len(smtp.handler.to("reader1@example.com")) == 1


def test_a_correction_is_mailed_only_with_notify_but_new_readers_get_the_day(day: Database, tmp_path: Path) -> None:
    with SmtpServer() as smtp:
        send_revision_sync(day, delivery_settings(smtp), DAY, email=True)
        publish_day(day, DAY, "root", tmp_path / "site", note="fixed the price", site_url=SITE)
        add_readers(day, ["late@example.com"])
        quiet = send_revision_sync(day, delivery_settings(smtp), DAY, email=True)
        assert quiet.revision == 2 and quiet.email == {"skipped": 5, "sent": 1}
        assert [r.recipients[0] for r in smtp.received[5:]] == ["late@example.com"]
        loud = send_revision_sync(day, delivery_settings(smtp), DAY, email=True, notify=True)
        assert loud.email == {"already": 1, "sent": 5}
        corrections = smtp.received[6:]
    assert len(corrections) == 5 and all(r.message["Subject"] == f"Correction: Awesome AI Daily | {DAY}" for r in corrections)
    body = corrections[0].message.get_body(("html",)).get_content()
    assert "fixed the price" in body


def test_starttls_and_login(day: Database, tmp_path: Path) -> None:
    import ssl

    from test_review_tls import _self_signed

    cert, key = _self_signed(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(cafile=str(cert))
    with SmtpServer(tls_context=server_ctx, users={"desk": "s3cret pass"}) as smtp:
        good = parse_smtp_url(smtp.url("smtp+starttls", "desk", "s3cret%20pass"))
        settings = delivery_settings(smtp)
        settings = replace(settings, email=replace(settings.email, smtp=replace(good, tls_context=client_ctx)))
        assert send_revision_sync(day, settings, DAY, email=True).email == {"sent": 5}
        assert len(smtp.received) == 5
        bad = replace(settings, email=replace(settings.email, smtp=replace(good, password="wrong", tls_context=client_ctx)))
        add_readers(day, ["late@example.com"])
        report = send_revision_sync(day, bad, DAY, email=True)
    assert report.stopped and "login refused" in report.stopped
    with day.session() as s:
        assert s.scalars(select(Subscriber.status).where(Subscriber.email == "late@example.com")).one() == "active"


def test_plain_text_of_the_digest_style_spells_out_footnotes(db: Database, tmp_path: Path) -> None:
    published(db, tmp_path, style="ai-news-digest")
    add_readers(db, ["reader1@example.com"])
    with SmtpServer() as smtp:
        send_revision_sync(db, delivery_settings(smtp), DAY, email=True)
        msg = smtp.received[0].message
    text = msg.get_body(("plain",)).get_content()
    assert "[1] " in text and "<https://wire.test/a>" in text and "[^" not in text and "](" not in text
    assert msg["Subject"] == "AI News Digest · November 18, 2026"
