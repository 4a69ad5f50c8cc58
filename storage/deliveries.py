"""Sends of published revisions, keyed (publication, channel, target) so nobody gets one twice.

A sender claims a row (status `sending`) in its own transaction *before* it
talks to the server, and records the outcome right after. So:

- a rerun, a retry or a second click skips every `sent` row;
- a crash between two sends leaves no claim behind, so a rerun sends exactly
  the ones not yet sent;
- two senders running at once cannot both claim one row (the unique key);
- a claim left `sending` by a process that died mid-send is taken over only
  after `lease_seconds`, so a live sender is never doubled.

`deferred` (a temporary failure: 4xx, timeouts) is retried by the next run;
`failed` is final for email (the address bounced for good); a channel's
`failed` row is retried by the next run, since it means configuration, not a
reader.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.db import Database
from storage.models import Delivery, Digest, Publication, utcnow

EMAIL = "email"
CHANNELS = ("discord", "telegram", "mastodon", "bluesky")


@dataclass(frozen=True)
class PublicationRef:
    id: int
    day: str
    revision: int
    style: str
    markdown: str
    html: str | None
    note: str | None
    published_at: datetime
    title: str | None


def publication(session: Session, day: str, revision: int | None = None) -> PublicationRef | None:
    """The latest (or the given) published revision of a day."""
    q = select(Publication, Digest).join(Digest, Digest.id == Publication.digest_id).where(Digest.day == day)
    q = q.where(Publication.revision == revision) if revision else q.order_by(Publication.revision.desc())
    row = session.execute(q.limit(1)).first()
    if row is None:
        return None
    pub, dg = row
    return PublicationRef(id=pub.id, day=dg.day, revision=pub.revision, style=pub.style, markdown=pub.markdown,
                          html=pub.html, note=pub.note, published_at=pub.published_at, title=dg.title)


def earlier_revisions(session: Session, pub: PublicationRef) -> list[int]:
    """Publication ids of the same day's earlier revisions (their readers already have the day)."""
    digest_id = select(Publication.digest_id).where(Publication.id == pub.id).scalar_subquery()
    return list(session.scalars(select(Publication.id).where(Publication.digest_id == digest_id, Publication.revision < pub.revision)))


def sent_targets(session: Session, publication_ids: list[int], channel: str) -> set[str]:
    if not publication_ids:
        return set()
    return set(session.scalars(select(Delivery.target).where(
        Delivery.publication_id.in_(publication_ids), Delivery.channel == channel, Delivery.status == "sent")))


def targets_with_status(session: Session, publication_id: int, channel: str, status: str) -> set[str]:
    return set(session.scalars(select(Delivery.target).where(
        Delivery.publication_id == publication_id, Delivery.channel == channel, Delivery.status == status)))


def claim(db: Database, publication_id: int, channel: str, target: str, *, subscriber_id: int | None = None,
          actor: str = "newsdesk", lease_seconds: float = 600, retry_failed: bool = False) -> int | None:
    """Take the right to send; returns the delivery id, or None when it is sent, final, or someone else's."""
    now = utcnow()
    try:
        with db.session() as s:
            row = Delivery(publication_id=publication_id, channel=channel, target=target, subscriber_id=subscriber_id,
                           status="sending", attempts=0, actor=actor, claimed_at=now, created_at=now)
            s.add(row)
            s.flush()
            return row.id
    except IntegrityError:
        pass  # a row exists: take it over only if it is retryable
    retryable = [Delivery.status == "deferred",
                 and_(Delivery.status == "sending", Delivery.claimed_at < now - timedelta(seconds=lease_seconds))]
    if retry_failed:
        retryable.append(Delivery.status == "failed")
    with db.session() as s:
        key = and_(Delivery.publication_id == publication_id, Delivery.channel == channel, Delivery.target == target)
        done = s.execute(update(Delivery).where(key, or_(*retryable))
                         .values(status="sending", claimed_at=now, actor=actor, finished_at=None)
                         .execution_options(synchronize_session=False))
        if done.rowcount != 1:
            return None
        return s.scalar(select(Delivery.id).where(key))


def finish(db: Database, delivery_id: int, status: str, *, attempts: int, error: str | None = None,
           remote_id: str | None = None) -> None:
    assert status in ("sent", "deferred", "failed")
    with db.session() as s:
        row = s.get(Delivery, delivery_id)
        if row is None:
            return
        row.status, row.attempts, row.finished_at = status, (row.attempts or 0) + attempts, utcnow()
        row.error = (error or None) and error[:2000]
        if remote_id:
            row.remote_id = remote_id


def summary(session: Session, publication_id: int) -> dict[str, dict[str, int]]:
    """{channel: {status: count}} for one revision."""
    out: dict[str, dict[str, int]] = {}
    rows = session.execute(select(Delivery.channel, Delivery.status, func.count()).where(Delivery.publication_id == publication_id)
                           .group_by(Delivery.channel, Delivery.status)).all()
    for channel, status, n in rows:
        out.setdefault(channel, {})[status] = n
    return out


def failures(session: Session, publication_id: int, limit: int = 50) -> list[Delivery]:
    return list(session.scalars(select(Delivery).where(Delivery.publication_id == publication_id,
                                                       Delivery.status.in_(("failed", "deferred")))
                                .order_by(Delivery.id).limit(limit)))
