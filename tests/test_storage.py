"""Storage: migrations, idempotent writes and the desk's rules, on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from storage import desk
from storage.db import Database, DatabaseNotReady, table_names
from storage.models import Article, AuditLog, Draft, DraftRevision, Item, ItemLink, Source, Story
from storage.writes import (
    ItemWrite,
    StoryWrite,
    link_items_to_articles,
    record_source_health,
    replace_day_stories,
    save_machine_draft,
    upsert_items,
    upsert_sources,
)

T0 = datetime(2026, 11, 18, 9, 0, tzinfo=timezone.utc)


def _items() -> list[ItemWrite]:
    return [
        ItemWrite(kind="article", guid="a1", url="https://x.test/a1", title="A1", text="alpha", content_hash="h1", published_at=T0),
        ItemWrite(kind="post", guid="p1", url="https://social.test/p1", title="P1", text="see", content_hash="h2",
                  links=["https://x.test/a1", "https://y.test/b"], engagement={"likes": 3}),
        ItemWrite(kind="article", guid="a1", url="https://x.test/a1", title="A1", text="alpha", content_hash="h1", published_at=T0),
    ]


def count(db: Database, model) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_migrate_is_idempotent_and_creates_every_table(db: Database) -> None:
    db.migrate()
    db.check_ready()
    assert {"sources", "items", "articles", "stories", "drafts", "draft_revisions", "digests", "llm_calls", "users", "audit_log"} <= set(table_names(db.engine))


def test_missing_sqlite_file_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(DatabaseNotReady, match="newsdesk init"):
        Database(f"sqlite:///{tmp_path / 'absent.db'}").check_ready()


def test_collect_writes_are_idempotent(db: Database) -> None:
    for _ in range(2):
        with db.session() as s:
            ids = upsert_sources(s, [{"name": "Wire", "type": "feed", "url": "https://x.test/feed", "tags": ["press"]}])
            counts = upsert_items(s, ids["Wire"], _items(), now=T0)
            link_items_to_articles(s, ids["Wire"])
    assert count(db, Source) == 1
    assert count(db, Item) == 2  # duplicate guid within the feed collapses
    assert count(db, Article) == 2  # a1 (entry + link) and b
    assert count(db, ItemLink) == 2  # the post links to both articles
    assert counts.new == 0 and counts.unchanged == 2
    with db.session() as s:
        ids = upsert_sources(s, [{"name": "Wire", "type": "feed", "url": "https://x.test/feed"}])
        changed = [ItemWrite(kind="article", guid="a1", url="https://x.test/a1", title="A1", text="alpha, corrected", content_hash="h1b", published_at=T0)]
        counts = upsert_items(s, ids["Wire"], changed, now=T0)
    assert counts.updated == 1 and count(db, Item) == 2


def test_source_health_counts_consecutive_failures(db: Database) -> None:
    with db.session() as s:
        sid = upsert_sources(s, [{"name": "Flaky", "type": "feed", "url": "https://x.test/f"}])["Flaky"]
        record_source_health(s, sid, ok=False, error="HTTP 500")
        record_source_health(s, sid, ok=False, error="HTTP 502")
    with db.session() as s:
        src = s.get(Source, sid)
        assert src.consecutive_failures == 2 and src.last_error == "HTTP 502"
        record_source_health(s, sid, ok=True, etag='"v1"')
    with db.session() as s:
        src = s.get(Source, sid)
        assert src.consecutive_failures == 0 and src.etag == '"v1"' and src.last_success_at is not None


def _story_with_draft(db: Database) -> int:
    with db.session() as s:
        sid = upsert_sources(s, [{"name": "Wire", "type": "feed", "url": "https://x.test/feed"}])["Wire"]
        upsert_items(s, sid, _items(), now=T0)
        item_ids = list(s.scalars(select(Item.id).order_by(Item.id)))
        keys = replace_day_stories(s, "2026-11-18", [StoryWrite(key="k1", title="Story", item_ids=item_ids, rank=1, score=2.0, reasons=["2 outlets"])])
        save_machine_draft(
            s, keys["k1"], style="awesome-ai-daily", status="pending",
            fields={"headline": "Headline", "summary": [{"text": "Alpha happened.", "source_ids": [str(item_ids[0])]}], "view": "Awesome AI View: x", "tags": ["Research"]},
            model="m", prompt_version="v1", input_hash="ih",
        )
        return keys["k1"]


def test_stories_and_drafts_are_stable_across_reruns(db: Database) -> None:
    story_id = _story_with_draft(db)
    assert _story_with_draft(db) == story_id
    assert count(db, Story) == 1 and count(db, Draft) == 1


def test_desk_approve_reject_edit_and_conflict(db: Database) -> None:
    story_id = _story_with_draft(db)
    with db.session() as s:
        rows = desk.list_stories(s, day="2026-11-18", status="pending")
        assert [r.id for r in rows] == [story_id]
        version = rows[0].version
        desk.edit(s, story_id, "ana", expected_version=version, changes={"view": "Awesome AI View: sharper"})
    with db.session() as s, pytest.raises(desk.Conflict) as exc:
        desk.edit(s, story_id, "ben", expected_version=version, changes={"view": "Awesome AI View: mine"})
    assert "changed since you opened it" in str(exc.value)
    assert exc.value.current["view"] == "Awesome AI View: sharper"
    with db.session() as s:
        with pytest.raises(desk.InvalidAction):
            desk.reject(s, story_id, "ana", reason=" ")
        desk.approve(s, story_id, "ana")
    # a machine rerun never overwrites an approved draft
    _story_with_draft(db)
    with db.session() as s:
        detail = desk.get_story(s, story_id)
        assert detail.row.status == "approved" and detail.view == "Awesome AI View: sharper"
        assert [h["action"] for h in detail.history] == ["drafted", "edited", "approved"]
    assert count(db, AuditLog) == 2 and count(db, DraftRevision) == 3


def test_publish_requires_approved_stories_and_versions_corrections(db: Database) -> None:
    story_id = _story_with_draft(db)
    with db.session() as s, pytest.raises(desk.InvalidAction, match="no approved stories"):
        desk.publish(s, "2026-11-18", "ana", render=lambda d: "x")
    with db.session() as s:
        desk.approve(s, story_id, "ana")
        pub = desk.publish(s, "2026-11-18", "ana", render=lambda d: f"{len(d.entries)} stories")
        assert pub.revision == 1 and pub.markdown == "1 stories"
    with db.session() as s:
        pub = desk.publish(s, "2026-11-18", "ana", render=lambda d: "fixed", note="typo in story 1")
        assert pub.revision == 2 and pub.note == "typo in story 1"
        assert [d.day for d in desk.published_days(s)] == ["2026-11-18"]
