"""Read-only views the desk service does not offer: days, source health, a digest's extras."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Digest, Draft, Source, Story


def story_days(session: Session, limit: int = 60) -> list[str]:
    """Days that have drafted stories, newest first."""
    q = (
        select(Story.day).join(Draft, Draft.story_id == Story.id).where(Story.active.is_(True))
        .distinct().order_by(Story.day.desc()).limit(limit)
    )
    return list(session.scalars(q))


@dataclass
class SourceHealth:
    name: str
    type: str
    url: str | None
    enabled: bool
    last_success_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    failures: int
    flagged: bool
    warnings: tuple[str, ...] = ()


def source_health(session: Session, flag_after: int) -> list[SourceHealth]:
    """Every source, the flagged (failing `flag_after` nights running) first."""
    rows = []
    for s in session.scalars(select(Source).order_by(Source.name)):
        failures = s.consecutive_failures or 0
        rows.append(
            SourceHealth(
                name=s.name, type=s.type, url=s.url or s.handle, enabled=s.enabled,
                last_success_at=s.last_success_at, last_error=s.last_error, last_error_at=s.last_error_at,
                failures=failures, flagged=s.enabled and failures >= flag_after, warnings=tuple(s.warnings or ()),
            )
        )
    rows.sort(key=lambda r: (not r.flagged, r.failures == 0, not r.warnings, not r.enabled, r.name.lower()))
    return rows


def digest_extras(session: Session, day: str) -> dict[str, Any]:
    """The dropped stories (to restore) and the publication history of a day's digest."""
    dg = session.scalars(select(Digest).where(Digest.day == day)).one_or_none()
    dropped = []
    if dg is not None and dg.dropped:
        for story in session.scalars(select(Story).where(Story.id.in_(list(dg.dropped))).order_by(Story.rank)):
            d = story.draft
            dropped.append({"id": story.id, "headline": (d.headline if d and d.headline else story.title) or f"Story {story.id}",
                            "status": d.status if d else "undrafted"})
    pubs = [
        {"revision": p.revision, "at": p.published_at, "by": p.published_by, "note": p.note, "style": p.style}
        for p in (dg.publications if dg is not None else [])
    ]
    return {"dropped": dropped, "publications": pubs, "dropped_ids": list(dg.dropped or []) if dg else [],
            "order": list(dg.story_order or []) if dg else []}
