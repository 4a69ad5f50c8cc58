"""Newsletter subscribers: add, remove, import, confirm, unsubscribe.

An unsubscribe is kept: the row stays, marked `unsubscribed`, so an import
or a re-run of a script never mails that person again. Only the person can
come back, through the double opt-in form (or an admin with `--force`).
"""
from __future__ import annotations

import csv
import io
import re
import secrets
from dataclasses import dataclass, field
from typing import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.desk import DeskError, NotFound, audit
from storage.models import Subscriber, utcnow

STATUSES = ("pending", "active", "unsubscribed", "bounced")
# Deliberately plain: one @, a dot in the domain, no spaces or angle brackets. SMTP decides the rest.
EMAIL_RE = re.compile(r"^[^@\s<>,;\"]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")


class SubscriberError(DeskError):
    """A subscriber request refused, with a message fit for the person asking."""


def normalize_email(raw: str) -> str:
    """Lower-cased and trimmed; raises SubscriberError for anything that is not one plain address."""
    address = (raw or "").strip().lower()
    if not EMAIL_RE.match(address) or len(address) > 254:
        raise SubscriberError(f"not an email address: {raw!r}")
    return address


def new_token() -> str:
    return secrets.token_urlsafe(24)


def find(session: Session, email: str) -> Subscriber | None:
    return session.scalars(select(Subscriber).where(Subscriber.email == normalize_email(email))).one_or_none()


def by_token(session: Session, token: str) -> Subscriber | None:
    if not token or len(token) > 64:
        return None
    return session.scalars(select(Subscriber).where(Subscriber.token == token)).one_or_none()


def add(session: Session, email: str, actor: str, *, name: str | None = None, source: str = "cli",
        force: bool = False, status: str = "active") -> tuple[Subscriber, bool]:
    """Add (or re-activate) a subscriber; returns (row, changed).

    Someone who unsubscribed (or whose address bounced) stays out unless
    `force` says an admin has their renewed consent.
    """
    address = normalize_email(email)
    row = session.scalars(select(Subscriber).where(Subscriber.email == address)).one_or_none()
    now = utcnow()
    if row is None:
        row = Subscriber(email=address, name=(name or "").strip() or None, status=status, token=new_token(), source=source,
                         created_at=now, updated_at=now, confirmed_at=now if status == "active" else None)
        session.add(row)
        session.flush()
        audit(session, actor, "subscriber.added", "subscriber", row.id, None, {"status": status, "source": source})
        return row, True
    if row.status == status or (row.status == "active" and status == "pending"):
        return row, False
    if row.status in ("unsubscribed", "bounced") and not force:
        raise SubscriberError(f"{address} is {row.status}: they are kept out (use --force only with their renewed consent)")
    before = {"status": row.status}
    row.status, row.updated_at = status, now
    if status == "active":
        row.confirmed_at, row.unsubscribed_at, row.last_error = now, None, None
    if name:
        row.name = name.strip()
    audit(session, actor, "subscriber.reactivated", "subscriber", row.id, before, {"status": status})
    return row, True


def activate(session: Session, email: str, actor: str) -> Subscriber:
    """The person confirmed by the signed link: active from now on, whatever they were before."""
    address = normalize_email(email)
    row = session.scalars(select(Subscriber).where(Subscriber.email == address)).one_or_none()
    if row is None:
        row, _ = add(session, address, actor, source="form", status="active")
        return row
    if row.status != "active":
        before = {"status": row.status}
        row.status, row.updated_at, row.confirmed_at = "active", utcnow(), utcnow()
        row.unsubscribed_at, row.last_error = None, None
        audit(session, actor, "subscriber.confirmed", "subscriber", row.id, before, {"status": "active"})
    return row


def unsubscribe(session: Session, row: Subscriber, actor: str, how: str) -> bool:
    """Mark unsubscribed at once; True when this changed anything."""
    if row.status == "unsubscribed":
        return False
    before = {"status": row.status}
    row.status, row.unsubscribed_at, row.updated_at = "unsubscribed", utcnow(), utcnow()
    audit(session, actor, "subscriber.unsubscribed", "subscriber", row.id, before, {"status": "unsubscribed", "how": how})
    return True


def remove(session: Session, email: str, actor: str, *, forget: bool = False) -> Subscriber | None:
    """Unsubscribe an address (kept, so no import re-adds it), or with `forget` delete every trace of it."""
    row = find(session, email)
    if row is None:
        raise NotFound(f"no subscriber {normalize_email(email)}")
    if forget:
        audit(session, actor, "subscriber.forgotten", "subscriber", row.id, {"status": row.status}, None)
        session.delete(row)
        session.flush()
        return None
    unsubscribe(session, row, actor, "admin")
    return row


def mark_bounced(session: Session, subscriber_id: int, error: str) -> None:
    """A permanent failure (5xx): never mailed again unless re-added with --force."""
    row = session.get(Subscriber, subscriber_id)
    if row is not None and row.status == "active":
        row.status, row.last_error, row.updated_at = "bounced", error[:1000], utcnow()
        audit(session, "newsdesk", "subscriber.bounced", "subscriber", row.id, {"status": "active"}, {"status": "bounced", "error": error[:300]})


def list_subscribers(session: Session, status: str | None = None) -> list[Subscriber]:
    q = select(Subscriber).order_by(Subscriber.email)
    if status:
        if status not in STATUSES:
            raise SubscriberError(f"unknown status {status!r}: use one of {', '.join(STATUSES)}")
        q = q.where(Subscriber.status == status)
    return list(session.scalars(q))


def counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(Subscriber.status, func.count()).group_by(Subscriber.status)).all()
    return {status: n for status, n in rows}


def active_ids(session: Session) -> list[int]:
    return list(session.scalars(select(Subscriber.id).where(Subscriber.status == "active").order_by(Subscriber.id)))


@dataclass
class ImportReport:
    added: int = 0
    reactivated: int = 0
    unchanged: int = 0
    kept_out: list[str] = field(default_factory=list)  # unsubscribed or bounced: not re-added
    invalid: list[str] = field(default_factory=list)  # "line N: reason"


def _rows(text: str) -> Iterable[tuple[int, str, str | None]]:
    """(line number, email, name) from a CSV with an `email` column, or one address per line."""
    sample = text.lstrip("\ufeff")
    reader = csv.reader(io.StringIO(sample))
    rows = list(reader)
    if not rows:
        return []
    header = [h.strip().lower() for h in rows[0]]
    if "email" in header:
        ei = header.index("email")
        ni = header.index("name") if "name" in header else None
        out = []
        for n, r in enumerate(rows[1:], start=2):
            if not any(c.strip() for c in r):
                continue
            email = r[ei] if ei < len(r) else ""
            name = r[ni] if ni is not None and ni < len(r) else None
            out.append((n, email, name))
        return out
    return [(n, r[0], r[1] if len(r) > 1 else None) for n, r in enumerate(rows, start=1) if r and r[0].strip()]


def import_csv(session: Session, text: str, actor: str) -> ImportReport:
    """Add every address of a CSV as active (the importer vouches for consent); bad lines are reported, not fatal."""
    report = ImportReport()
    seen: set[str] = set()
    for line, email, name in _rows(text):
        try:
            address = normalize_email(email)
        except SubscriberError as exc:
            report.invalid.append(f"line {line}: {exc}")
            continue
        if address in seen:
            report.unchanged += 1
            continue
        seen.add(address)
        existing = session.scalars(select(Subscriber).where(Subscriber.email == address)).one_or_none()
        if existing is not None and existing.status in ("unsubscribed", "bounced"):
            report.kept_out.append(address)
            continue
        _, changed = add(session, address, actor, name=name, source="import")
        if not changed:
            report.unchanged += 1
        elif existing is None:
            report.added += 1
        else:
            report.reactivated += 1
    return report
