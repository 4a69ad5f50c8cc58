"""Sources that joined a story only as stragglers are reported, and the desk's queue says so.

A one-item story about the same company as a big story (here: a hire at Quillon on the day
of Quillon's layoffs) reaches the big story's mean similarity floor for stragglers, not the
full threshold, and is folded in; the editor must be told where to look.
"""
from __future__ import annotations

import hashlib
import re
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import select
from starlette.testclient import TestClient

from typer.testing import CliRunner

from flows.pipeline import Context, cluster_stage, weak_match_reason
from newsdesk.cli import app
from newsdesk.config import load_settings
from review.app import create_app
from review.settings import ReviewSettings
from review.users import add_user
from storage import desk
from storage.db import Database
from storage.models import Item, Story, StoryItem
from storage.writes import (ItemWrite, StoryWrite, replace_day_stories, save_machine_draft, upsert_items,
                            upsert_sources)
from summarizer.clustering import cluster, cluster_stories

DAY = "2026-11-20"
T0 = datetime(2026, 11, 19, 12, 0, tzinfo=timezone.utc)
LAYOFFS = [
    ("Quillon cuts 1,200 jobs in Dublin", "Quillon will cut 1,200 jobs at its Dublin campus, chief executive Mara "
     "Ellis told staff on Tuesday, as the chip designer shifts work to Austin."),
    ("Quillon to shed 1,200 Dublin jobs", "The chip designer Quillon is shedding 1,200 jobs in Dublin. Mara Ellis "
     "said the Austin site would take over the work."),
    ("Quillon layoffs hit Dublin campus", "Staff at Quillon's Dublin campus learned on Tuesday that 1,200 jobs will "
     "go, Mara Ellis said in a memo."),
    ("Quillon confirms 1,200 job cuts", "Quillon confirmed 1,200 job cuts in Dublin on Tuesday; chief executive "
     "Mara Ellis blamed slowing chip demand."),
    ("Dublin loses 1,200 Quillon jobs", "Ireland's government said it would help the 1,200 Quillon workers in "
     "Dublin after Mara Ellis announced the cuts."),
    ("Quillon's Dublin cuts: what we know", "Quillon is cutting 1,200 jobs in Dublin and moving chip design work to "
     "Austin, Mara Ellis told staff."),
    ("Unions respond to Quillon Dublin cuts", "Unions called the 1,200 Quillon job cuts in Dublin a betrayal and "
     "asked Mara Ellis to meet them."),
]
HIRE = ("Quillon names new design chief", "Quillon named Priya Nand head of chip design on Tuesday.")
SAME_EVENT = ("Quillon shares fall", "Quillon shares fell on Tuesday after the Dublin news.")


def _docs(lone: tuple[str, str]) -> list[dict]:
    return [{"id": f"cut-{k}", "title": t, "text": x} for k, (t, x) in enumerate(LAYOFFS)] + [
        {"id": "lone", "title": lone[0], "text": lone[1]}]


def test_a_lone_item_folded_in_below_the_threshold_is_reported_weak() -> None:
    found = cluster_stories(_docs(HIRE))
    # Folded today (a known limit of stragglers, docs/clustering-eval.md): the hire is a story of its own,
    # yet it shares the company and "chip design" with the layoffs. If clustering learns to keep it apart,
    # this premise changes and the test must be rewritten, not loosened.
    assert found.groups == [[d["id"] for d in _docs(HIRE)]]
    assert found.weak == {"lone"}
    assert cluster(_docs(HIRE)) == found.groups


def test_an_item_that_reaches_the_full_threshold_is_not_weak() -> None:
    found = cluster_stories(_docs(SAME_EVENT))
    assert found.groups == [[d["id"] for d in _docs(SAME_EVENT)]] and found.weak == frozenset()


def test_apart_stories_report_nothing() -> None:
    docs = _docs(HIRE)[:3] + [{"id": "other", "title": "Lumen Labs ships Orca 3", "text": "Lumen Labs released "
                                                                                         "its Orca 3 model."}]
    found = cluster_stories(docs)
    assert sorted(map(len, found.groups)) == [1, 3] and found.weak == frozenset()


def _store(db: Database, docs: list[dict]) -> None:
    with db.session() as s:
        sid = upsert_sources(s, [{"name": "Wire", "type": "feed", "url": "https://wire.test/feed"}])["Wire"]
        upsert_items(s, sid, [ItemWrite(kind="article", guid=d["id"], url=f"https://wire.test/{d['id']}",
                                        title=d["title"], text=d["text"],
                                        content_hash=hashlib.sha256(d["id"].encode()).hexdigest(), published_at=T0)
                              for d in docs], now=T0)


def _reasons_by_guid(db: Database) -> dict[str, list[str]]:
    with db.session() as s:
        rows = s.execute(select(Item.guid, Story.reasons).join(StoryItem, StoryItem.item_id == Item.id)
                         .join(Story, Story.id == StoryItem.story_id).where(Story.active.is_(True))).all()
    return {guid: list(reasons) for guid, reasons in rows}


def test_the_cluster_stage_puts_the_weak_match_first_among_the_story_reasons(db: Database, tmp_path: Path) -> None:
    _store(db, _docs(HIRE))
    ctx = Context(settings=load_settings({"NEWSDESK_DATA_DIR": str(tmp_path)}).with_overrides(database_url=db.url), db=db)
    cluster_stage(ctx, DAY)
    reasons = _reasons_by_guid(db)
    assert set(reasons) == {d["id"] for d in _docs(HIRE)}
    assert reasons["lone"][0] == weak_match_reason(1) == "1 source joined on a weak match: check it belongs"
    cluster_stage(ctx, DAY)  # a rerun says it once
    assert _reasons_by_guid(db)["lone"].count(weak_match_reason(1)) == 1


def _weak_flags(db: Database) -> dict[str, bool]:
    with db.session() as s:
        rows = s.execute(select(Item.guid, StoryItem.weak).join(StoryItem, StoryItem.item_id == Item.id)).all()
    return dict(rows)


def test_the_weak_source_is_marked_on_the_story_page(db: Database, tmp_path: Path) -> None:
    _store(db, _docs(HIRE))
    ctx = Context(settings=load_settings({"NEWSDESK_DATA_DIR": str(tmp_path)}).with_overrides(database_url=db.url), db=db)
    cluster_stage(ctx, DAY)
    assert {guid for guid, weak in _weak_flags(db).items() if weak} == {"lone"}
    with db.session() as s:
        (story_id,) = s.scalars(select(Story.id).where(Story.day == DAY, Story.active.is_(True))).all()
        save_machine_draft(s, story_id, style="awesome-ai-daily", status="pending", model="m", prompt_version="v1",
                           input_hash="h", fields={"headline": "Quillon cuts 1,200 jobs in Dublin", "summary": []})
        refs = desk.get_story(s, story_id).sources
        assert [r.title for r in refs if r.weak] == [HIRE[0]]
    add_user(db, "ana", "editor", "correct horse battery")
    client = TestClient(create_app(ReviewSettings(database_url=db.url, secret_key="test-secret-key-0123456789",
                                                  publish_dir=tmp_path / "site", site_url="https://news.example.org")),
                        follow_redirects=False)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    assert client.post("/login", data={"name": "ana", "password": "correct horse battery", "csrf_token": token,
                                       "next": "/"}).status_code == 303
    shown = CliRunner().invoke(app, ["review", "show", str(story_id)],
                               env={"NEWSDESK_DATA_DIR": str(tmp_path / "cli"), "NEWSDESK_DATABASE_URL": db.url,
                                    "COLUMNS": "400"})
    assert shown.exit_code == 0, shown.output
    sources = [line for line in shown.output.splitlines() if line.startswith("  [")]
    assert len(sources) == len(_docs(HIRE))
    weak_lines = [line for line in sources if "joined on a weak match: check it belongs" in line]
    assert len(weak_lines) == 1 and HIRE[0] in weak_lines[0]
    page = client.get(f"/story/{story_id}").text
    cards = re.findall(r'<article class="source card" id="src-\d+">(.*?)</article>', page, re.S)
    assert len(cards) == len(_docs(HIRE))
    marked = [c for c in cards if "joined on a weak match: check it belongs" in c]
    assert len(marked) == 1 and HIRE[0] in marked[0]


def test_a_rewrite_of_the_day_updates_the_flags(db: Database) -> None:
    """A rerun that finds the item strongly matched clears its flag, and the other way round."""
    _store(db, _docs(HIRE)[:2])
    with db.session() as s:
        ids = dict(s.execute(select(Item.guid, Item.id)).all())
        replace_day_stories(s, DAY, [StoryWrite(key="k", title="t", item_ids=list(ids.values()), rank=1, score=1.0,
                                                reasons=[], weak_item_ids=frozenset({ids["cut-1"]}))])
    assert _weak_flags(db) == {"cut-0": False, "cut-1": True}
    with db.session() as s:
        replace_day_stories(s, DAY, [StoryWrite(key="k", title="t", item_ids=list(ids.values()), rank=1, score=1.0,
                                                reasons=[], weak_item_ids=frozenset({ids["cut-0"]}))])
    assert _weak_flags(db) == {"cut-0": True, "cut-1": False}


def test_a_weak_source_split_off_by_the_editor_is_a_plain_story_of_its_own(db: Database, tmp_path: Path) -> None:
    _store(db, _docs(HIRE))
    ctx = Context(settings=load_settings({"NEWSDESK_DATA_DIR": str(tmp_path)}).with_overrides(database_url=db.url), db=db)
    cluster_stage(ctx, DAY)
    with db.session() as s:
        (story_id,) = s.scalars(select(Story.id).where(Story.day == DAY, Story.active.is_(True))).all()
        save_machine_draft(s, story_id, style="awesome-ai-daily", status="pending", model="m", prompt_version="v1",
                           input_hash="h", fields={"headline": "Quillon cuts 1,200 jobs in Dublin", "summary": []})
        lone_id = s.scalars(select(Item.id).where(Item.guid == "lone")).one()
        desk.split_off(s, story_id, "ana", lone_id)
    assert not any("weak match" in r for r in _reasons_by_guid(db)["cut-0"])  # at once, not only after a rerun
    cluster_stage(ctx, DAY)  # the rerun keeps it apart, and it joined nothing: no weak mark, no weak reason
    with db.session() as s:
        story_of = dict(s.execute(select(Item.guid, StoryItem.story_id).join(StoryItem, StoryItem.item_id == Item.id)
                                  .join(Story, Story.id == StoryItem.story_id).where(Story.active.is_(True))).all())
    assert story_of["lone"] != story_of["cut-0"] and len({story_of[d["id"]] for d in _docs(HIRE)}) == 2
    reasons = _reasons_by_guid(db)
    assert not any("weak match" in r for r in reasons["lone"] + reasons["cut-0"])
    assert not any(_weak_flags(db).values())


def test_a_weak_source_merged_back_by_the_editor_is_no_longer_weak(db: Database, tmp_path: Path) -> None:
    """Split off and merged back: the editor has ruled it belongs, so a rerun marks no weak match."""
    _store(db, _docs(HIRE))
    ctx = Context(settings=load_settings({"NEWSDESK_DATA_DIR": str(tmp_path)}).with_overrides(database_url=db.url), db=db)
    cluster_stage(ctx, DAY)
    assert _weak_flags(db)["lone"]
    with db.session() as s:
        (story_id,) = s.scalars(select(Story.id).where(Story.day == DAY, Story.active.is_(True))).all()
        save_machine_draft(s, story_id, style="awesome-ai-daily", status="pending", model="m", prompt_version="v1",
                           input_hash="h", fields={"headline": "Quillon cuts 1,200 jobs in Dublin", "summary": []})
        lone_id = s.scalars(select(Item.id).where(Item.guid == "lone")).one()
        split = desk.split_off(s, story_id, "ana", lone_id)
        desk.merge_into(s, split.new.id, story_id, "ana")
    cluster_stage(ctx, DAY)
    reasons = _reasons_by_guid(db)
    assert not any("weak match" in r for r in reasons["lone"]) and not any(_weak_flags(db).values())


def test_merging_into_a_story_with_a_weak_source_clears_its_weak_reason_at_once(db: Database, tmp_path: Path) -> None:
    """The editor's merge rules on every source of the story: the queue stops asking at once."""
    _store(db, _docs(HIRE))
    ctx = Context(settings=load_settings({"NEWSDESK_DATA_DIR": str(tmp_path)}).with_overrides(database_url=db.url), db=db)
    cluster_stage(ctx, DAY)
    assert _reasons_by_guid(db)["cut-0"][0] == weak_match_reason(1)
    with db.session() as s:
        (story_id,) = s.scalars(select(Story.id).where(Story.day == DAY, Story.active.is_(True))).all()
        save_machine_draft(s, story_id, style="awesome-ai-daily", status="pending", model="m", prompt_version="v1",
                           input_hash="h", fields={"headline": "Quillon cuts 1,200 jobs in Dublin", "summary": []})
        cut_id = s.scalars(select(Item.id).where(Item.guid == "cut-1")).one()
        split = desk.split_off(s, story_id, "ana", cut_id)  # a plain source split off, then merged back
    assert _reasons_by_guid(db)["cut-0"][0] == weak_match_reason(1)  # the weak source is still there
    with db.session() as s:
        desk.merge_into(s, split.new.id, story_id, "ana")
    assert not any("weak match" in r for r in _reasons_by_guid(db)["cut-0"])
    assert not any(_weak_flags(db).values())
