"""The newsletter on the desk: double opt-in, one-click unsubscribe (RFC 8058) end to end, and admin sending."""
from __future__ import annotations

import re
import time
import types
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import select

from review.delivery import optin
from review.delivery.send import send_revision_sync
from review.settings import ReviewSettings
from review.users import add_user
from smtp_server import SmtpServer
from storage import subscribers
from storage.db import Database
from storage.models import AuditLog, Delivery, Subscriber
from test_delivery_email import DAY, DESK, READERS, SITE, add_readers, delivery_settings, published
from test_review_http import PASSWORD, csrf_of, login, make_client

SECRET = "desk-test-secret-0123456789"


@pytest.fixture
def smtp():
    with SmtpServer() as server:
        yield server


@pytest.fixture
def env(db: Database, tmp_path: Path, smtp: SmtpServer):
    published(db, tmp_path)
    add_readers(db)
    add_user(db, "ana", "editor", PASSWORD)
    add_user(db, "root", "admin", PASSWORD)
    delivery = delivery_settings(smtp)
    settings = ReviewSettings(database_url=db.url, secret_key=SECRET, publish_dir=tmp_path / "site", site_url=SITE,
                              delivery=delivery)
    return types.SimpleNamespace(db=db, smtp=smtp, delivery=delivery, settings=settings, tmp=tmp_path)


def status_of(db: Database, address: str) -> str | None:
    with db.session() as s:
        return s.scalars(select(Subscriber.status).where(Subscriber.email == address)).one_or_none()


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


# ------------------------------------------------------------------ unsubscribe


def test_one_click_unsubscribe_from_the_mail_header_end_to_end(env) -> None:
    send_revision_sync(env.db, env.delivery, DAY, email=True)
    msg = env.smtp.handler.to("reader2@example.com")[0].message
    https_link = re.search(r"<(https://[^>]+)>", msg["List-Unsubscribe"]).group(1)
    assert https_link.startswith(f"{DESK}/unsubscribe/")
    client = make_client(env.settings)  # a mail client: no cookie, no form token, just the RFC 8058 POST
    resp = client.post(path_of(https_link), content=b"List-Unsubscribe=One-Click",
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status_code == 200 and "Unsubscribed" in resp.text
    assert status_of(env.db, "reader2@example.com") == "unsubscribed"
    with env.db.session() as s:
        assert s.scalars(select(AuditLog.action).where(AuditLog.action == "subscriber.unsubscribed")).all()
    # kept: an import does not bring them back, and a correction with --notify skips them
    with env.db.session() as s:
        report = subscribers.import_csv(s, "email\nreader2@example.com\nnew@example.com\n", "test")
    assert report.kept_out == ["reader2@example.com"] and report.added == 1
    from review.publishing import publish_day

    publish_day(env.db, DAY, "root", env.tmp / "site", note="typo", site_url=SITE)
    send_revision_sync(env.db, env.delivery, DAY, email=True, notify=True)
    assert len(env.smtp.handler.to("reader2@example.com")) == 1
    assert len(env.smtp.handler.to("reader1@example.com")) == 2


def test_the_visible_link_shows_a_button_and_only_the_button_unsubscribes(env) -> None:
    send_revision_sync(env.db, env.delivery, DAY, email=True)
    html = env.smtp.handler.to("reader1@example.com")[0].message.get_body(("html",)).get_content()
    link = re.search(r'<a class="unsubscribe" href="([^"]+)"', html).group(1)
    client = make_client(env.settings)
    page = client.get(path_of(link))  # what a link scanner does
    assert page.status_code == 200 and "Stop sending" in page.text
    assert status_of(env.db, "reader1@example.com") == "active"
    form = re.search(r'<form method="post" action="([^"]+)"', page.text).group(1)
    done = client.post(form, files={"List-Unsubscribe": (None, "One-Click")})  # multipart works too
    assert done.status_code == 200 and status_of(env.db, "reader1@example.com") == "unsubscribed"
    assert "Unsubscribed" in client.get(path_of(link)).text
    assert client.post("/unsubscribe/not-a-token", data={"List-Unsubscribe": "One-Click"}).status_code == 404


def test_an_unsubscribe_during_a_send_takes_effect_at_once(env) -> None:
    client = make_client(env.settings)
    with env.db.session() as s:
        token = s.scalars(select(Subscriber.token).where(Subscriber.email == "reader4@example.com")).one()

    def on_message(received) -> None:
        if received.recipients == ["reader1@example.com"]:
            client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})

    env.smtp.handler.on_message = on_message
    report = send_revision_sync(env.db, env.delivery, DAY, email=True)
    assert env.smtp.handler.to("reader4@example.com") == []
    assert report.email == {"sent": 4, "skipped": 1}


# ------------------------------------------------------------------ double opt-in


def confirmation_link(smtp: SmtpServer, address: str) -> str:
    msgs = smtp.handler.to(address)
    assert len(msgs) == 1, [m.recipients for m in smtp.received]
    text = msgs[0].message.get_body(("plain",)).get_content()
    return re.search(r"(https://\S+/subscribe/confirm\?token=\S+)", text).group(1)


def test_double_opt_in_by_a_signed_link(env) -> None:
    client = make_client(env.settings)
    assert client.get("/subscribe").status_code == 200
    resp = client.post("/subscribe", data={"email": " New.Reader@Example.com "})
    assert resp.status_code == 200 and "Check your inbox" in resp.text
    assert status_of(env.db, "new.reader@example.com") is None  # nothing kept before the person confirms
    link = confirmation_link(env.smtp, "new.reader@example.com")
    page = client.get(path_of(link))
    assert page.status_code == 200 and "Yes, subscribe me" in page.text
    assert status_of(env.db, "new.reader@example.com") is None  # a GET (a scanner) confirms nothing
    token = re.search(r'name="token" value="([^"]+)"', page.text).group(1)
    done = client.post("/subscribe/confirm", data={"token": token})
    assert done.status_code == 200 and "Subscribed" in done.text
    assert status_of(env.db, "new.reader@example.com") == "active"
    send_revision_sync(env.db, env.delivery, DAY, email=True)
    assert len(env.smtp.handler.to("new.reader@example.com")) == 2  # the confirmation, then the digest


def test_expired_forged_and_repeated_requests(env) -> None:
    client = make_client(env.settings)

    class ThreeDaysAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 3 * 24 * 3600

    old = URLSafeTimedSerializer(SECRET, salt=optin.SALT, signer=ThreeDaysAgo).dumps({"e": "late@example.com"})
    expired = client.post("/subscribe/confirm", data={"token": old})
    assert expired.status_code == 400 and "expired" in expired.text
    forged = URLSafeTimedSerializer("another-secret-0123456789", salt=optin.SALT).dumps({"e": "evil@example.com"})
    assert client.post("/subscribe/confirm", data={"token": forged}).status_code == 400
    assert status_of(env.db, "late@example.com") is None and status_of(env.db, "evil@example.com") is None
    assert client.post("/subscribe", data={"email": "not an address"}).status_code == 400
    # the same answer for an address already on the list, and one mail per address per ten minutes
    for _ in range(2):
        assert "Check your inbox" in client.post("/subscribe", data={"email": "reader1@example.com"}).text
    assert len(env.smtp.handler.to("reader1@example.com")) == 1
    # a bot filling the hidden field gets the same page and no mail
    client.post("/subscribe", data={"email": "bot@example.com", "website": "http://spam.example"})
    assert env.smtp.handler.to("bot@example.com") == []


def test_someone_who_unsubscribed_can_come_back_only_by_confirming(env) -> None:
    with env.db.session() as s:
        subscribers.remove(s, "reader5@example.com", "test")
        with pytest.raises(subscribers.SubscriberError, match="kept out"):
            subscribers.add(s, "reader5@example.com", "test")
    client = make_client(env.settings)
    client.post("/subscribe", data={"email": "reader5@example.com"})
    link = confirmation_link(env.smtp, "reader5@example.com")
    client.post("/subscribe/confirm", data={"token": link.split("token=")[1]})
    assert status_of(env.db, "reader5@example.com") == "active"


def test_the_form_can_be_turned_off(env) -> None:
    off = replace(env.settings, delivery=replace(env.delivery, email=replace(env.delivery.email, subscribe_form=False)))
    client = make_client(off)
    assert client.get("/subscribe").status_code == 404
    assert client.post("/subscribe", data={"email": "x@example.com"}).status_code == 404
    assert env.smtp.received == []


# ------------------------------------------------------------------ admins


def test_only_admins_send_and_the_page_previews_the_email(env) -> None:
    editor = make_client(env.settings)
    login(editor, "ana")
    assert editor.get(f"/digest/{DAY}/email").status_code == 403
    admin = make_client(env.settings)
    login(admin, "root")
    page = admin.get(f"/digest/{DAY}/email")
    assert page.status_code == 200 and "5 active" in page.text and "Send revision 1" in page.text
    preview = admin.get(f"/digest/{DAY}/email/preview")
    assert preview.status_code == 200 and "sandbox" in preview.headers["content-security-policy"]
    assert "Acme Lab releases Falcon-9B" in preview.text and "style=" in preview.text
    token = csrf_of(page.text)
    resp = admin.post(f"/digest/{DAY}/email/test", data={"to": "root@example.org", "csrf_token": token})
    assert resp.status_code == 303
    test_mail = env.smtp.handler.to("root@example.org")
    assert len(test_mail) == 1 and test_mail[0].message["Subject"].startswith("[Test] ")
    with env.db.session() as s:
        assert s.scalars(select(Delivery)).all() == []  # a test is not a send
    for _ in range(2):  # a double click
        resp = admin.post(f"/digest/{DAY}/send", data={"email": "1", "csrf_token": token})
        assert resp.status_code == 303 and resp.headers["location"] == f"/digest/{DAY}/email?ok=sending"
    assert sorted(r.recipients[0] for r in env.smtp.received if r.recipients[0] in READERS) == sorted(READERS)
    assert "email</strong>: 5 sent" in admin.get(f"/digest/{DAY}/email").text


def test_publish_from_the_desk_can_email_the_readers(db: Database, tmp_path: Path, smtp: SmtpServer) -> None:
    from storage import desk
    from test_review_http import seed

    ids = seed(db)
    with db.session() as s:
        desk.approve(s, ids["falcon"], "ana", override="price checked")
    add_readers(db)
    add_user(db, "root", "admin", PASSWORD)
    settings = ReviewSettings(database_url=db.url, secret_key=SECRET, publish_dir=tmp_path / "site", site_url=SITE,
                              delivery=delivery_settings(smtp))
    admin = make_client(settings)
    login(admin, "root")
    page = admin.get(f"/digest/{DAY}")
    assert 'name="send_email"' in page.text
    version = re.search(r'name="version" value="(\d+)"', page.text).group(1)
    resp = admin.post(f"/digest/{DAY}/publish", data={"version": version, "send_email": "1", "csrf_token": csrf_of(page.text)})
    assert resp.status_code == 303 and resp.headers["location"] == f"/digest/{DAY}/email?ok=sending"
    assert sorted(r.recipients[0] for r in smtp.received) == sorted(READERS)
    assert (tmp_path / "site" / f"{DAY}.html").exists()
