"""`newsdesk subscribers ...`, `newsdesk publish --email --post`, `newsdesk send`, and the Prefect `send` flow."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from fakes.social_apis import MASTODON_TOKEN, TG_CHAT, TG_TOKEN, WEBHOOK, SocialApis
from newsdesk.cli import app
from newsdesk.config import ConfigError, load_settings
from review.users import add_user
from smtp_server import SmtpServer
from storage import desk
from storage.db import Database
from storage.models import Subscriber
from test_delivery_email import DAY, DESK, FROM, SITE
from test_review_http import seed


def run(env: dict[str, str], *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == code, f"newsdesk {' '.join(args)} exited {result.exit_code}:\n{result.output}"
    return result.output


@pytest.fixture
def env(db: Database, tmp_path: Path) -> dict[str, str]:
    return {"NEWSDESK_DATA_DIR": str(tmp_path / "data"), "NEWSDESK_DATABASE_URL": db.url, "NEWSDESK_SITE_URL": SITE,
            "NEWSDESK_EMAIL_FROM": FROM, "NEWSDESK_PUBLIC_URL": DESK, "NEWSDESK_EMAIL_RATE": "100",
            "NEWSDESK_PUBLISH_DIR": str(tmp_path / "site"), "NEWSDESK_EDITOR": "ana"}


def test_subscribers_add_remove_list_and_import(env: dict[str, str], db: Database, tmp_path: Path) -> None:
    assert "added active: ana@example.org" in run(env, "subscribers", "add", "Ana@Example.org", "--name", "Ana")
    assert "already active" in run(env, "subscribers", "add", "ana@example.org")
    run(env, "subscribers", "add", "bo@example.org")
    assert "unsubscribed bo@example.org" in run(env, "subscribers", "remove", "bo@example.org")
    assert "kept out" in run(env, "subscribers", "add", "bo@example.org", code=1)
    csv_file = tmp_path / "list.csv"
    csv_file.write_text("name,email\nCy,cy@example.org\nBo,bo@example.org\nBad,not-an-address\n,ana@example.org\n", encoding="utf-8")
    out = run(env, "subscribers", "import", str(csv_file))
    assert "1 added, 0 re-activated, 1 unchanged, 1 kept out (unsubscribed or bounced), 1 invalid" in out
    assert "line 4: not an email address: 'not-an-address'" in out
    listed = json.loads(run(env, "subscribers", "list", "--json"))
    assert {r["email"]: r["status"] for r in listed["subscribers"]} == {
        "ana@example.org": "active", "bo@example.org": "unsubscribed", "cy@example.org": "active"}
    assert listed["counts"] == {"active": 2, "unsubscribed": 1}
    assert "cy@example.org\tactive\timport" in run(env, "subscribers", "list", "--status", "active")
    run(env, "subscribers", "add", "bo@example.org", "--force")
    run(env, "subscribers", "remove", "cy@example.org", "--forget")
    with db.session() as s:
        assert sorted(s.scalars(select(Subscriber.email))) == ["ana@example.org", "bo@example.org"]
    assert "error: no subscriber nobody@example.org" in run(env, "subscribers", "remove", "nobody@example.org", code=1)


def test_publish_email_and_post_then_send_again(env: dict[str, str], db: Database) -> None:
    ids = seed(db)
    with db.session() as s:
        for key in ("falcon", "chips"):
            desk.approve(s, ids[key], "ana", override="price checked" if key == "falcon" else None)
    run(env, "subscribers", "add", "r1@example.org")
    run(env, "subscribers", "add", "r2@example.org")
    with SmtpServer() as smtp, SocialApis() as api:
        env = {**env, "NEWSDESK_SMTP_URL": smtp.url(), "NEWSDESK_DISCORD_WEBHOOK_URL": api.base + WEBHOOK,
               "NEWSDESK_TELEGRAM_BOT_TOKEN": TG_TOKEN, "NEWSDESK_TELEGRAM_CHAT_ID": TG_CHAT, "NEWSDESK_TELEGRAM_BASE_URL": api.base,
               "NEWSDESK_MASTODON_BASE_URL": api.base, "NEWSDESK_MASTODON_TOKEN": MASTODON_TOKEN}
        out = run(env, "publish", "--day", DAY, "--email", "--post", "discord", "--post", "telegram")
        assert "published 2026-11-18 (revision 1)" in out and "email: 2 sent" in out
        assert "discord: sent" in out and "telegram: sent" in out
        out = run(env, "send", "--day", DAY, "--email", "--post", "all")
        assert "email: 0 sent, 2 already had it" in out and "discord: already posted" in out and "mastodon: sent" in out
        assert len(smtp.received) == 2 and len(api.posts["discord"]) == 1 and len(api.posts["mastodon"]) == 1
        # a correction tells nobody unless asked (and only an admin publishes one)
        add_user(db, "root", "admin", "correct horse battery")
        out = run(env, "publish", "--day", DAY, "--note", "fixed a typo", "--email", "--post", "discord", "--as", "root")
        assert "revision 2" in out and "2 skipped" in out and "discord: not posted" in out
        assert len(smtp.received) == 2
        run(env, "send", "--day", DAY, "--email", "--notify")
        assert len(smtp.received) == 4 and smtp.received[-1].message["Subject"].startswith("Correction:")


def test_misconfiguration_fails_before_publishing(env: dict[str, str], db: Database) -> None:
    ids = seed(db)
    with db.session() as s:
        desk.approve(s, ids["falcon"], "ana", override="price checked")
    no_smtp = {k: v for k, v in env.items()}
    out = run(no_smtp, "publish", "--day", DAY, "--email", code=1)
    assert "error: emailing needs NEWSDESK_SMTP_URL" in out
    assert "error: bluesky is not configured" in run(env, "send", "--day", DAY, "--post", "bluesky", code=1)
    assert "error: nothing to send" in run(env, "send", "--day", DAY, code=1)
    with db.session() as s:
        assert desk.digest_data(s, DAY).status == "draft"  # nothing was published by the failed command
    assert "not published" in run({**env, "NEWSDESK_SMTP_URL": "smtp://127.0.0.1:1"}, "send", "--day", DAY, "--email", code=1)


def test_delivery_settings_from_the_environment() -> None:
    s = load_settings({"NEWSDESK_SMTP_URL": "smtps://news%40example.org:p%40ss@mail.example.org?timeout=5",
                       "NEWSDESK_PUBLIC_URL": "https://desk.example.org/", "NEWSDESK_EMAIL_RATE": "2.5",
                       "NEWSDESK_SUBSCRIBE_FORM": "off", "NEWSDESK_CONFIRM_HOURS": "24",
                       "NEWSDESK_MASTODON_BASE_URL": "https://social.example/", "NEWSDESK_MASTODON_TOKEN": "t"}).delivery
    smtp = s.email.smtp
    assert (smtp.host, smtp.port, smtp.security, smtp.username, smtp.password, smtp.timeout) == (
        "mail.example.org", 465, "tls", "news@example.org", "p@ss", 5.0)
    assert s.email.desk_url == "https://desk.example.org" and s.email.rate_per_second == 2.5
    assert s.email.subscribe_form is False and s.email.confirm_max_age == 24 * 3600
    assert s.channels.configured() == ["mastodon"] and s.channels.mastodon_base_url == "https://social.example"
    assert load_settings({"NEWSDESK_SMTP_URL": "smtp+starttls://m.example.org"}).delivery.email.smtp.port == 587
    for bad, message in (({"NEWSDESK_SMTP_URL": "http://mail.example.org"}, "must start with"),
                         ({"NEWSDESK_PUBLIC_URL": "http://desk.example.org"}, "must use https"),
                         ({"NEWSDESK_EMAIL_RATE": "0"}, "positive")):
        with pytest.raises(ConfigError, match=message):
            load_settings(bad)
    assert load_settings({"NEWSDESK_PUBLIC_URL": "http://127.0.0.1:8000"}).delivery.email.desk_url == "http://127.0.0.1:8000"


@pytest.mark.usefixtures("prefect_harness")
def test_the_send_flow_sends_once(env: dict[str, str], db: Database, tmp_path: Path, monkeypatch) -> None:
    from flows.send import send
    from review.publishing import publish_day

    ids = seed(db)
    with db.session() as s:
        desk.approve(s, ids["falcon"], "ana", override="price checked")
    publish_day(db, DAY, "ana", tmp_path / "site", site_url=SITE)
    run(env, "subscribers", "add", "r1@example.org")
    with SmtpServer() as smtp:
        for k, v in {**env, "NEWSDESK_SMTP_URL": smtp.url()}.items():
            monkeypatch.setenv(k, v)
        first = send(day=DAY)
        second = send(day=DAY)
        assert len(smtp.received) == 1
    assert first["email"] == {"sent": 1} and second["email"] == {"already": 1}
