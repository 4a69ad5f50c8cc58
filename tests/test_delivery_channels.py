"""Discord, Telegram, Mastodon and Bluesky posts against loopback look-alikes of their APIs."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select

from fakes.social_apis import (BSKY_HANDLE, BSKY_PASSWORD, MASTODON_TOKEN, TG_CHAT, TG_TOKEN, WEBHOOK, SocialApis,
                               rate_limited)
from review.delivery import posts
from review.delivery.send import send_revision_sync
from review.delivery.settings import ChannelSettings, DeliverySettings
from review.publishing import publish_day
from storage.db import Database
from storage.deliveries import PublicationRef
from storage.models import Delivery, Digest, Publication
from test_delivery_email import DAY, SITE, published

ALL = ["discord", "telegram", "mastodon", "bluesky"]


def channel_settings(api: SocialApis, **changes) -> DeliverySettings:
    ch = ChannelSettings(discord_webhook_url=api.base + WEBHOOK, telegram_bot_token=TG_TOKEN, telegram_chat_id=TG_CHAT,
                         telegram_base_url=api.base, mastodon_base_url=api.base, mastodon_token=MASTODON_TOKEN,
                         bluesky_handle=BSKY_HANDLE, bluesky_app_password=BSKY_PASSWORD, bluesky_base_url=api.base,
                         backoff_seconds=0.01, max_wait_seconds=5)
    return DeliverySettings(channels=replace(ch, **changes), site_url=SITE)


@pytest.fixture
def day(db: Database, tmp_path: Path) -> Database:
    published(db, tmp_path)
    return db


def statuses(db: Database) -> dict[str, str]:
    with db.session() as s:
        return {d.channel: d.status for d in s.scalars(select(Delivery))}


def test_each_channel_gets_the_link_and_headlines_once(day: Database) -> None:
    with SocialApis() as api:
        report = send_revision_sync(day, channel_settings(api), DAY, channels=["all"])
        again = send_revision_sync(day, channel_settings(api), DAY, channels=["all"])
        assert {ch: len(v) for ch, v in api.posts.items()} == {ch: 1 for ch in ALL}
        link = f"{SITE}/{DAY}.html"
        for ch, key in (("discord", "content"), ("telegram", "text"), ("mastodon", "status"), ("bluesky", "text")):
            text = api.posts[ch][0][key]
            assert text.startswith(f"Awesome AI Daily | {DAY}") and text.endswith(link), (ch, text)
            assert "• Acme Lab releases Falcon-9B" in text and "• Robotics startup raises a round" in text
        assert api.posts["discord"][0]["allowed_mentions"] == {"parse": []}  # a headline can never ping @everyone
        facet = api.posts["bluesky"][0]["facets"][0]
        assert facet["features"][0] == {"$type": "app.bsky.richtext.facet#link", "uri": link}
        assert api.posts["mastodon"][0]["key"].startswith("newsdesk-")
    assert all(v.startswith("sent") for v in report.channels.values()) and set(report.channels) == set(ALL)
    assert set(again.channels.values()) == {"already posted"}
    assert statuses(day) == {ch: "sent" for ch in ALL}
    with day.session() as s:
        remote = {d.channel: d.remote_id for d in s.scalars(select(Delivery))}
    assert remote["mastodon"].startswith("https://social.test/@newsdesk/") and remote["bluesky"].startswith("at://did:plc:")


@pytest.mark.parametrize("channel", ALL)
def test_a_429_is_waited_out_and_posted_once(day: Database, channel: str) -> None:
    with SocialApis() as api:
        api.fail[channel] = [rate_limited(channel, 0.2)]
        report = send_revision_sync(day, channel_settings(api), DAY, channels=[channel])
        assert len(api.posts[channel]) == 1
    assert report.channels[channel].startswith("sent")


def test_a_429_asking_too_long_a_wait_is_left_for_the_next_run(day: Database) -> None:
    with SocialApis() as api:
        api.fail["discord"] = [rate_limited("discord", 3600)]
        first = send_revision_sync(day, channel_settings(api), DAY, channels=["discord"])
        assert first.channels["discord"].startswith("deferred") and "3600" in first.channels["discord"]
        second = send_revision_sync(day, channel_settings(api), DAY, channels=["discord"])
        assert second.channels["discord"].startswith("sent") and len(api.posts["discord"]) == 1


def test_server_errors_are_retried_and_client_errors_reported(day: Database) -> None:
    with SocialApis() as api:
        api.fail["telegram"] = [(502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}, {})] * 2
        wrong = channel_settings(api, telegram_chat_id="@nowhere", discord_webhook_url=api.base + "/api/webhooks/1/gone",
                                 mastodon_token="revoked", bluesky_app_password="wrong")
        report = send_revision_sync(day, wrong, DAY, channels=["all"])
        assert report.channels["telegram"] == "failed: HTTP 400: Bad Request: chat not found"
        assert report.channels["discord"] == "failed: HTTP 404: Unknown Webhook"
        assert report.channels["mastodon"] == "failed: HTTP 401: The access token is invalid"
        assert report.channels["bluesky"] == "failed: HTTP 401: AuthenticationRequired: Invalid identifier or password"
        assert statuses(day) == {ch: "failed" for ch in ALL}
        # configuration fixed: the next run posts, once each
        fixed = send_revision_sync(day, channel_settings(api), DAY, channels=["all"])
        assert all(v.startswith("sent") for v in fixed.channels.values())
        assert {ch: len(v) for ch, v in api.posts.items()} == {ch: 1 for ch in ALL}


def test_mastodon_idempotency_key_keeps_a_lost_answer_from_posting_twice(day: Database) -> None:
    with SocialApis() as api:
        api.drop["mastodon"] = 1  # the status is created, then the connection dies before the answer
        report = send_revision_sync(day, channel_settings(api), DAY, channels=["mastodon"])
        assert report.channels["mastodon"].startswith("sent")
        assert len(api.posts["mastodon"]) == 1
        assert len([r for r in api.requests if r[1] == "/api/v1/statuses"]) == 2  # the retry carried the same key


def test_bluesky_logs_in_again_when_the_token_expired(day: Database) -> None:
    with SocialApis() as api:
        api.expired_tokens.add("access-1")
        report = send_revision_sync(day, channel_settings(api), DAY, channels=["bluesky"])
        assert report.channels["bluesky"].startswith("sent") and api.sessions == 2 and len(api.posts["bluesky"]) == 1


def test_a_correction_is_posted_only_with_notify(day: Database, tmp_path: Path) -> None:
    with SocialApis() as api:
        send_revision_sync(day, channel_settings(api), DAY, channels=["discord"])
        publish_day(day, DAY, "root", tmp_path / "site", note="fixed a figure", site_url=SITE)
        quiet = send_revision_sync(day, channel_settings(api), DAY, channels=["discord"])
        assert quiet.channels["discord"].startswith("not posted") and len(api.posts["discord"]) == 1
        loud = send_revision_sync(day, channel_settings(api), DAY, channels=["discord"], notify=True)
        assert loud.channels["discord"].startswith("sent") and len(api.posts["discord"]) == 2
        assert api.posts["discord"][1]["content"].startswith(f"Corrected (fixed a figure): Awesome AI Daily | {DAY}")


def _long_day(db: Database, n: int) -> None:
    """A published revision with many long, non-ASCII headlines (emoji, accents, a flag)."""
    heads = [f"{i}. Ünïcode héadline number {i} about a model launch 🚀 and 🇫🇷 policy, with detail after detail" for i in range(1, n + 1)]
    html = "<html><body><main>" + "".join(f'<article class="story"><h2>{h}</h2><p>Body.</p></article>' for h in heads) + "</main></body></html>"
    md = f"Awesome AI Daily | {DAY}\n\n" + "\n\n".join(heads) + "\n"
    with db.session() as s:
        dg = Digest(day=DAY, status="published")
        s.add(dg)
        s.flush()
        s.add(Publication(digest_id=dg.id, revision=1, style="awesome-ai-daily", markdown=md, html=html, published_by="t"))


def test_long_digests_fit_each_networks_limit(db: Database) -> None:
    _long_day(db, 40)
    with SocialApis() as api:
        report = send_revision_sync(db, channel_settings(api), DAY, channels=["all"])
        assert all(v.startswith("sent") for v in report.channels.values()), report.channels
        bsky = api.posts["bluesky"][0]["text"]
        masto = api.posts["mastodon"][0]["status"]
        discord = api.posts["discord"][0]["content"]
        telegram = api.posts["telegram"][0]["text"]
    assert posts.graphemes(bsky) <= 300 and "more" in bsky and bsky.endswith(f"{SITE}/{DAY}.html")
    assert posts.mastodon_length(masto) <= 500 and "more" in masto
    assert len(discord) <= 2000 and "more" in discord
    assert posts.utf16_units(telegram) <= 4096 and "more" not in telegram  # 40 headlines fit Telegram's 4096
    # the facet's byte range covers the link even after multi-byte characters (the look-alike checks it too)
    assert posts.link_facets(bsky, f"{SITE}/{DAY}.html")[0]["index"]["byteEnd"] == len(bsky.encode())


def test_compose_counts_as_each_network_counts() -> None:
    flag = "🇫🇷"
    assert posts.graphemes(flag * 10) == 10 and len(flag * 10) == 20
    assert posts.mastodon_length("see https://example.org/" + "x" * 200) == len("see ") + 23
    pub = PublicationRef(id=1, day=DAY, revision=1, style="awesome-ai-daily", markdown=f"Awesome AI Daily | {DAY}\n",
                         html="<article class='story'><h2>1. " + flag * 150 + "</h2></article>", note=None,
                         published_at=None, title=None)  # type: ignore[arg-type]
    text = posts.post_for("bluesky", pub, f"{SITE}/{DAY}.html").text
    # 150 flags are 300 code points but 150 graphemes: the headline fits, as Bluesky counts
    assert len(text) > 300 and posts.graphemes(text) <= 300 and "• " + flag * 150 in text
    longer = replace(pub, html="<article class='story'><h2>" + flag * 290 + "</h2></article>")
    text = posts.post_for("bluesky", longer, f"{SITE}/{DAY}.html").text
    assert posts.bluesky_fits(text) and "1 story" in text and flag not in text and text.endswith(f"{SITE}/{DAY}.html")


def test_unconfigured_or_unknown_channels_are_one_clear_line(day: Database) -> None:
    with pytest.raises(ValueError, match="telegram is not configured"):
        send_revision_sync(day, DeliverySettings(site_url=SITE), DAY, channels=["telegram"])
    with pytest.raises(ValueError, match="unknown channel 'myspace'"):
        send_revision_sync(day, DeliverySettings(site_url=SITE), DAY, channels=["myspace"])
    with SocialApis() as api:
        with pytest.raises(ValueError, match="NEWSDESK_SITE_URL"):
            send_revision_sync(day, replace(channel_settings(api), site_url=None), DAY, channels=["discord"])
