"""Send a published revision: to every active subscriber by email, and to the chosen chat/social channels.

Used by `newsdesk publish --email`, `newsdesk send`, the Prefect `send` flow
and the desk. Each send claims its (revision, target) row first (see
storage.deliveries), so running this again - after a crash, a 4xx, or a
second click - sends only what was not sent, to whom it was not sent.

A correction (revision 2+) goes only to readers and channels that have not
had the day yet, unless `notify` asks to tell everyone.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Iterable

import httpx2

from review.delivery.channels import POSTERS, idempotency_key
from review.delivery.newsletter import Edition, Recipient, build_edition
from review.delivery.posts import post_for
from review.delivery.settings import DeliverySettings, SmtpSettings
from review.delivery.smtp import Pacer, SmtpMailer, SmtpUnavailable
from storage import deliveries, subscribers
from storage.db import Database
from storage.deliveries import CHANNELS, EMAIL, PublicationRef
from storage.desk import NotFound, audit
from storage.models import Subscriber

log = logging.getLogger(__name__)
MAX_LISTED_ERRORS = 20
MAX_REFUSED_IN_A_ROW = 5  # 5xx to the message itself (spam filter, size): a content problem, not the readers'


@dataclass
class SendReport:
    day: str
    revision: int
    email: dict[str, int] = field(default_factory=dict)  # sent, deferred, failed, already, skipped
    channels: dict[str, str] = field(default_factory=dict)  # channel -> sent | already | deferred: ... | failed: ...
    errors: list[str] = field(default_factory=list)  # "reader@example.org: 550 ..." (first few)
    notes: list[str] = field(default_factory=list)
    stopped: str | None = None  # the SMTP server could not be used: the rest waits for a rerun

    def count(self, key: str, n: int = 1) -> None:
        self.email[key] = self.email.get(key, 0) + n

    def lines(self) -> list[str]:
        out = [f"{self.day} revision {self.revision}"]
        if self.email:
            e = self.email
            out.append(f"  email: {e.get('sent', 0)} sent, {e.get('already', 0)} already had it, {e.get('deferred', 0)} deferred, "
                       f"{e.get('failed', 0)} failed for good, {e.get('skipped', 0)} skipped"
                       + (f", {e['not_retried']} failed before (not retried)" if e.get("not_retried") else ""))
        for ch, status in self.channels.items():
            out.append(f"  {ch}: {status}")
        out += [f"  ! {e}" for e in self.errors]
        if self.stopped:
            out.append(f"  stopped: {self.stopped} (run again to send the rest)")
        out += [f"  note: {n}" for n in self.notes]
        return out


def load_publication(db: Database, day: str, revision: int | None = None) -> PublicationRef:
    with db.session() as s:
        pub = deliveries.publication(s, day, revision)
    if pub is None:
        raise NotFound(f"{day} is not published" + (f" at revision {revision}" if revision else "") + ": publish it first")
    return pub


def check_channels(settings: DeliverySettings, channels: Iterable[str]) -> list[str]:
    """Resolve 'all' and refuse unknown or unconfigured channels with one clear line."""
    wanted: list[str] = []
    for ch in channels:
        names = settings.channels.configured() if ch == "all" else [ch]
        if ch == "all" and not names:
            raise ValueError("no chat/social channel is configured (see NEWSDESK_DISCORD_WEBHOOK_URL and friends)")
        for name in names:
            if name not in CHANNELS:
                raise ValueError(f"unknown channel {name!r}: use {', '.join(CHANNELS)} or all")
            if name not in settings.channels.configured():
                raise ValueError(f"{name} is not configured (see the README's table of variables)")
            if name not in wanted:
                wanted.append(name)
    if wanted and not settings.site_url:
        raise ValueError("posting the digest link needs NEWSDESK_SITE_URL")
    return wanted


def check_email(settings: DeliverySettings) -> None:
    missing = settings.email.missing()
    if missing:
        raise ValueError(f"emailing needs {', '.join(missing)}")


async def _send_email(db: Database, settings: DeliverySettings, pub: PublicationRef, edition: Edition, report: SendReport,
                      *, notify: bool, actor: str, smtp: SmtpSettings, sleep: Callable[[float], Awaitable[None]]) -> None:
    email = settings.email
    with db.session() as s:
        done = deliveries.sent_targets(s, [pub.id], EMAIL)
        refused = deliveries.targets_with_status(s, pub.id, EMAIL, "failed")
        had_day = deliveries.sent_targets(s, deliveries.earlier_revisions(s, pub), EMAIL) if pub.revision > 1 else set()
        readers = subscribers.active_ids(s)
    if had_day and not notify:
        report.notes.append(f"a correction: {len(had_day)} readers who had the day are not mailed again (ask with --notify)")
    pacer = Pacer(email.rate_per_second, sleep=sleep)
    refused_in_a_row = 0
    async with SmtpMailer(smtp, max_retries=email.max_retries, backoff_seconds=email.backoff_seconds, sleep=sleep) as mailer:
        for sid in readers:
            target = str(sid)
            if target in done:
                report.count("already")
                continue
            if target in refused:  # a permanent failure is never retried
                report.count("not_retried")
                continue
            if target in had_day and not notify:
                report.count("skipped")
                continue
            await pacer.wait()
            with db.session() as s:
                row = s.get(Subscriber, sid)
                reader = Recipient(row.email, row.token, row.id) if row is not None and row.status == "active" else None
            if reader is None:  # unsubscribed since the run began: at once means at once
                report.count("skipped")
                continue
            delivery_id = deliveries.claim(db, pub.id, EMAIL, target, subscriber_id=sid, actor=actor,
                                           lease_seconds=email.lease_seconds)
            if delivery_id is None:
                report.count("already")
                continue
            # Killed *during* this send, the claim stays `sending`: whether the server took the
            # message is unknown. A rerun takes it over only after the lease, and the copy carries
            # the same Message-ID. Killed *between* sends, nothing is left claimed.
            try:
                outcome = await mailer.send(edition.message(reader))
            except SmtpUnavailable as exc:
                deliveries.finish(db, delivery_id, "deferred", attempts=1, error=str(exc))
                report.count("deferred")
                report.stopped = str(exc)
                return
            deliveries.finish(db, delivery_id, outcome.status, attempts=outcome.attempts, error=outcome.error,
                              remote_id=edition.message_id(reader) if outcome.status == "sent" else None)
            report.count(outcome.status)
            if outcome.bounce:
                with db.session() as s:
                    subscribers.mark_bounced(s, sid, outcome.error or "permanent failure")
            refused_in_a_row = refused_in_a_row + 1 if outcome.status == "failed" and not outcome.bounce else 0
            if outcome.status != "sent" and len(report.errors) < MAX_LISTED_ERRORS:
                report.errors.append(f"{reader.email}: {outcome.status}: {outcome.error}")
            if refused_in_a_row >= MAX_REFUSED_IN_A_ROW:  # the message, not the readers: stop before it hits everyone
                report.stopped = f"the server refused the message {refused_in_a_row} times in a row ({outcome.error})"
                return


async def _post_channels(db: Database, settings: DeliverySettings, pub: PublicationRef, names: list[str], report: SendReport,
                         *, notify: bool, actor: str, client: httpx2.AsyncClient | None,
                         sleep: Callable[[float], Awaitable[None]]) -> None:
    url = f"{settings.site_url.rstrip('/')}/{pub.day}.html" if settings.site_url else None
    own = client is None
    client = client or httpx2.AsyncClient(follow_redirects=False)
    try:
        for name in names:
            with db.session() as s:
                earlier = deliveries.earlier_revisions(s, pub) if pub.revision > 1 else []
                had_day = bool(deliveries.sent_targets(s, earlier, name))
            if had_day and not notify:
                report.channels[name] = "not posted: a correction (ask with --notify)"
                continue
            delivery_id = deliveries.claim(db, pub.id, name, name, actor=actor, lease_seconds=settings.email.lease_seconds,
                                           retry_failed=True)
            if delivery_id is None:
                report.channels[name] = "already posted"
                continue
            post = post_for(name, pub, url, settings.channels.mastodon_max_chars)
            poster = POSTERS[name](settings.channels, client, sleep=sleep)
            outcome = await poster.post(post, idempotency_key(pub.day, pub.revision, name))
            deliveries.finish(db, delivery_id, outcome.status, attempts=outcome.attempts, error=outcome.error,
                              remote_id=outcome.remote_id)
            report.channels[name] = "sent" + (f" ({outcome.remote_id})" if outcome.remote_id else "") if outcome.status == "sent" \
                else f"{outcome.status}: {outcome.error}"
    finally:
        if own:
            await client.aclose()


async def send_revision(db: Database, settings: DeliverySettings, day: str, *, revision: int | None = None,
                        email: bool = False, channels: Iterable[str] = (), notify: bool = False, actor: str = "newsdesk",
                        http_client: httpx2.AsyncClient | None = None,
                        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> SendReport:
    """Email and/or post one published revision (the latest by default); safe to run again at any time."""
    names = check_channels(settings, channels)
    if email:
        check_email(settings)
    pub = load_publication(db, day, revision)
    report = SendReport(day=pub.day, revision=pub.revision)
    if email:
        edition = build_edition(pub, settings)
        assert settings.email.smtp is not None
        await _send_email(db, settings, pub, edition, report, notify=notify, actor=actor, smtp=settings.email.smtp, sleep=sleep)
    if names:
        await _post_channels(db, settings, pub, names, report, notify=notify, actor=actor, client=http_client, sleep=sleep)
    with db.session() as s:
        audit(s, actor, "digest.sent", "digest", day, None,
              {"revision": pub.revision, "email": report.email, "channels": report.channels, "stopped": report.stopped})
    return report


def send_revision_sync(*args: Any, **kw: Any) -> SendReport:
    """For callers without an event loop (CLI, Prefect task, the desk's worker thread)."""
    return asyncio.run(send_revision(*args, **kw))


async def send_test(settings: DeliverySettings, pub: PublicationRef, to_addr: str) -> str:
    """One copy to the asking editor, marked [Test], recorded nowhere but the audit log; returns the outcome."""
    check_email(settings)
    address = subscribers.normalize_email(to_addr)
    edition = build_edition(pub, settings)
    assert settings.email.smtp is not None
    async with SmtpMailer(settings.email.smtp, max_retries=1, backoff_seconds=settings.email.backoff_seconds) as mailer:
        outcome = await mailer.send(edition.message(Recipient(address, "test-no-op"), test=True))
    if outcome.status != "sent":
        raise ValueError(f"test send to {address} {outcome.status}: {outcome.error}")
    return address
