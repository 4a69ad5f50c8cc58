"""Published days for archive, feed and search tests: real rows written through the storage layer."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from review.publishing import PublishResult, publish_day
from storage import desk
from storage.db import Database
from storage.writes import ItemWrite, StoryWrite, replace_day_stories, save_machine_draft, upsert_items, upsert_sources


def add_day(db: Database, day: str, stories: list[tuple[str, str, list[str]]], *, source: str = "Wire",
            style: str = "awesome-ai-daily") -> dict[str, int]:
    """One drafted, approved story per (key, headline, tags), each told by one article of `source`."""
    when = datetime.fromisoformat(day).replace(hour=9, tzinfo=timezone.utc)
    with db.session() as s:
        src = upsert_sources(s, [{"name": source, "type": "feed", "url": f"https://{source.lower().replace(' ', '-')}.test/feed"}])[source]
        items = {}
        for key, headline, _ in stories:
            upsert_items(s, src, [ItemWrite(kind="article", guid=f"{day}-{key}", url=f"https://{source.lower().replace(' ', '-')}.test/{day}/{key}",
                                            title=f"{headline} (wire)", text=f"{headline}. Reported on {day} with details.",
                                            content_hash=f"{day}-{key}", published_at=when)], now=when)
        from sqlalchemy import select
        from storage.models import Item
        for it in s.scalars(select(Item).where(Item.guid.like(f"{day}-%"))):
            items[it.guid.removeprefix(f"{day}-")] = it.id
        keys = replace_day_stories(s, day, [StoryWrite(key=key, title=headline, item_ids=[items[key]], rank=n, score=1.0, reasons=[])
                                            for n, (key, headline, _) in enumerate(stories, 1)])
        for key, headline, tags in stories:
            save_machine_draft(s, keys[key], style=style, status="pending", model="m", prompt_version="v1", input_hash=key,
                               fields={"headline": headline,
                                       "summary": [{"text": f"{headline}, the wire reported.", "source_ids": [str(items[key])]}],
                                       "view": "Awesome AI View: worth watching.", "tags": tags})
        return keys


def approve_and_publish(db: Database, day: str, out: Path, *, site_url: str | None = None, note: str | None = None,
                        actor: str = "ana", style: str | None = None) -> PublishResult:
    with db.session() as s:
        for row in desk.list_stories(s, day):
            if row.status == "pending":
                desk.approve(s, row.id, actor, override="checked")
    return publish_day(db, day, actor, out, site_url=site_url, note=note, style=style)
