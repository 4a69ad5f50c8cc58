"""Publication dates a source cannot have meant: anything later than now (plus a small clock skew).

A feed's invalid or mistyped date ("2027-01-01", a local time labelled UTC a
day ahead) would otherwise put an item into a future night's window and keep
it at the top of "newest" for months. Such a date is treated as unknown (the
item falls back to when it was first seen) and the source gets a warning.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Iterable

from extractors.models import CollectedItem

__all__ = ["FUTURE_SKEW", "drop_future_dates"]

# Server clocks and time-zone slips of a feed are minutes to a couple of hours off, not more.
FUTURE_SKEW = timedelta(hours=2)


def drop_future_dates(items: Iterable[CollectedItem], now: datetime | None = None,
                      skew: timedelta = FUTURE_SKEW) -> list[str]:
    """Clear `published_at` where it lies beyond now + skew; one warning per cleared item."""
    limit = (now or datetime.now(timezone.utc)) + skew
    warnings: list[str] = []
    for item in items:
        when = item.published_at
        if when is not None and when > limit:
            label = " ".join((item.title or item.guid).split())[:60]
            warnings.append(f"{label!r}: date {when.isoformat()} is in the future; treated as unknown")
            item.published_at = None
    return warnings
