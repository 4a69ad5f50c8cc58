"""Split off: an editor makes one source of a story a story of its own, and the split holds.

Real items clustered by the real cluster stage (SQLite, and PostgreSQL when configured), the desk
function, a rerun of the cluster stage, the draft stage after it, the CLI, and the refusals.
"""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from flows.night import cluster_fingerprint
from flows.pipeline import Context, cluster_stage, draft_stage
from newsdesk.cli import app
from newsdesk.config import load_settings
from storage import desk
from storage.db import Database
from storage.models import AuditLog, Draft, Item, ItemSeparation, Story, StoryItem
from storage.writes import ItemWrite, save_machine_draft, upsert_items, upsert_sources

DAY = "2026-11-18"
T0 = datetime(2026, 11, 18, 9, 0, tzinfo=timezone.utc)
FALCON = ("Acme Lab released Falcon-9B on Tuesday, a 9B-parameter open model that leads coding benchmarks among "
          "open models. Acme Lab said Falcon-9B beats larger rivals on coding benchmarks and is available under an "
          "open licence.")
# Each outlet's item: (guid, url, title, text). Wire and Mirror carry the same page: one article, one unit.
ITEMS = {
    "Wire": [("w1", "https://wire.test/falcon", "Acme Lab releases Falcon-9B, an open coding model", FALCON)],
    "Lab Blog": [("l1", "https://lab.test/falcon", "Introducing Falcon-9B",
                  "Today Acme Lab releases Falcon-9B, a 9B-parameter open model. Falcon-9B leads coding benchmarks "
                  "among open models and beats larger rivals on coding benchmarks.")],
    "Tech Daily": [("t1", "https://techdaily.test/falcon-9b", "Falcon-9B from Acme Lab tops coding benchmarks",
                    "Acme Lab's Falcon-9B, released Tuesday, tops coding benchmarks among open models, beating larger "
                    "rivals; the 9B-parameter model is available under an open licence.")],
    "Mirror": [("m1", "https://wire.test/falcon", "Acme Lab releases Falcon-9B (mirror)",
                "Falcon-9B is Acme Lab's new 9B-parameter open model for coding benchmarks.")],
    "Rail News": [("r1", "https://rail.test/annealer", "A quantum annealer schedules freight trains",
                   "A logistics company used a quantum annealer to schedule freight trains across three countries; "
                   "idle time in rail yards fell by a fifth in a month-long trial.")],
}


def ctx_of(db: Database, tmp_path: Path) -> Context:
    return Context(load_settings({"NEWSDESK_DATA_DIR": str(tmp_path / "data"), "NEWSDESK_DATABASE_URL": db.url,
                                  "NEWSDESK_DAY_CUTOFF": "12:00"}), db)  # the 09:00 items fall in DAY's window


def load_day(db: Database, tmp_path: Path) -> tuple[Context, dict[str, int]]:
    """Write the items and cluster them for real; returns the context and guid -> item id."""
    with db.session() as s:
        for outlet, rows in ITEMS.items():
            sid = upsert_sources(s, [{"name": outlet, "type": "feed", "url": f"https://{outlet.lower().replace(' ', '')}.test/feed"}])[outlet]
            upsert_items(s, sid, [ItemWrite(kind="article", guid=g, url=u, title=t, text=x, content_hash=f"h-{g}",
                                            published_at=T0) for g, u, t, x in rows], now=T0)
        ids = {it.guid: it.id for it in s.scalars(select(Item))}
    ctx = ctx_of(db, tmp_path)
    cluster_stage(ctx, DAY)
    return ctx, ids


def stories(db: Database) -> dict[int, tuple[str, frozenset[int]]]:
    """The day's active stories: id -> (key, item ids)."""
    with db.session() as s:
        rows = s.execute(select(Story.id, Story.key, StoryItem.item_id).join(StoryItem, StoryItem.story_id == Story.id)
                         .where(Story.day == DAY, Story.active.is_(True))).all()
    out: dict[int, tuple[str, set[int]]] = {}
    for sid, key, iid in rows:
        out.setdefault(sid, (key, set()))[1].add(iid)
    return {sid: (key, frozenset(items)) for sid, (key, items) in out.items()}


def story_of(db: Database, item_id: int) -> int:
    return next(sid for sid, (_, items) in stories(db).items() if item_id in items)


def draft(db: Database, story_id: int, edited: bool = False) -> int:
    """A machine draft on the story (optionally edited by an editor); returns its version."""
    with db.session() as s:
        d = save_machine_draft(s, story_id, style="awesome-ai-daily", status="pending", model="m", prompt_version="v1",
                               input_hash="x", fields={"headline": "Acme Lab releases Falcon-9B",
                                                       "summary": [{"text": "Acme Lab released Falcon-9B.", "source_ids": []}],
                                                       "view": "Awesome AI View: open models gain.", "tags": ["Models"]})
        if edited:
            row = desk.edit(s, story_id, "ana", expected_version=d.version, changes={"headline": "Falcon-9B, edited"})
            return row.version
        return d.version


def count(db: Database, model) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_the_day_clusters_the_falcon_sources_into_one_story(db: Database, tmp_path: Path) -> None:
    """The precondition the other tests build on: one Falcon story of four items, the annealer apart."""
    _, ids = load_day(db, tmp_path)
    falcon = story_of(db, ids["w1"])
    assert stories(db)[falcon] == (f"i{ids['w1']}", frozenset(ids[g] for g in ("w1", "l1", "t1", "m1")))
    assert story_of(db, ids["r1"]) != falcon


def test_a_split_holds_over_a_rerun_with_the_same_rows_and_draft(db: Database, tmp_path: Path) -> None:
    ctx, ids = load_day(db, tmp_path)
    falcon = story_of(db, ids["w1"])
    version = draft(db, falcon)
    with db.session() as s:  # t1 was a story of its own on an earlier run: that row comes back, as a rerun would bring it
        earlier = Story(day=DAY, key=f"i{ids['t1']}", title="Falcon-9B tops coding benchmarks", active=False)
        s.add(earlier)
        s.flush()
        earlier_id = earlier.id
    fingerprint = cluster_fingerprint(ctx, DAY)
    with db.session() as s:
        result = desk.split_off(s, falcon, "ana", ids["t1"], expected_version=version)
    assert cluster_fingerprint(ctx, DAY) != fingerprint  # a cached cluster run does not stand for this one
    assert result.new.id == earlier_id
    assert result.kept.id == falcon and result.item_ids == [ids["t1"]]
    assert result.kept.status == "needs_human" and result.kept.error == desk.SPLIT_NOTICE
    assert result.new.status == "needs_human" and "split off story" in (result.new.error or "")
    after = stories(db)
    assert after[falcon] == (f"i{ids['w1']}", frozenset(ids[g] for g in ("w1", "l1", "m1")))
    assert after[result.new.id] == (f"i{ids['t1']}", frozenset({ids["t1"]}))

    cluster_stage(ctx, DAY)  # the rerun reproduces the split on the same rows, adds none
    assert stories(db) == after
    with db.session() as s:
        assert s.scalars(select(Draft.story_id).where(Draft.headline == "Acme Lab releases Falcon-9B")).one() == falcon
        assert s.scalar(select(func.count()).select_from(Story).where(Story.day == DAY)) == len(after)
        sep = s.scalars(select(ItemSeparation)).one()
        assert (sep.item_id, sep.day, sep.actor) == (ids["t1"], DAY, "ana")
        audit = s.scalars(select(AuditLog).where(AuditLog.action == "story.split")).one()
        assert audit.actor == "ana" and audit.after["new_story"] == result.new.id

    # the next draft run drafts the new story like any other, and redrafts the one it left
    draft_stage(ctx, DAY, "awesome-ai-daily", 10)
    with db.session() as s:
        new, kept = desk.get_story(s, result.new.id), desk.get_story(s, falcon)
    assert new.summary and new.row.error is None and [r.id for r in new.sources] == [str(ids["t1"])]
    assert kept.row.error is None and str(ids["t1"]) not in {r.id for r in kept.sources}


def test_splitting_off_the_lowest_item_rekeys_the_story_it_leaves(db: Database, tmp_path: Path) -> None:
    """w1 (with m1, the same page) holds the lowest id: the Falcon row keeps its id and draft under l1's key."""
    ctx, ids = load_day(db, tmp_path)
    falcon = story_of(db, ids["w1"])
    version = draft(db, falcon, edited=True)
    lowest_left = min(ids["l1"], ids["t1"])
    with db.session() as s:  # an earlier run's story, regrouped away, holds the key the Falcon row needs now
        retired = Story(day=DAY, key=f"i{lowest_left}", title="Introducing Falcon-9B", active=False)
        s.add(retired)
        s.flush()
        retired_id = retired.id
    with db.session() as s:
        result = desk.split_off(s, falcon, "ana", ids["m1"], expected_version=version)
        assert s.get(Story, retired_id).key == f"x{retired_id}" and not s.get(Story, retired_id).active
    assert result.item_ids == sorted([ids["w1"], ids["m1"]])  # the same article goes with it
    after = stories(db)
    assert after[falcon] == (f"i{lowest_left}", frozenset({ids["l1"], ids["t1"]}))
    assert after[result.new.id] == (f"i{ids['w1']}", frozenset({ids["w1"], ids["m1"]}))
    with db.session() as s:
        kept = desk.get_story(s, falcon)
    assert kept.row.headline == "Falcon-9B, edited" and kept.row.status == "needs_human"  # the editor's text stays
    assert kept.row.error == desk.SPLIT_NOTICE and kept.history[-1]["action"] == "split"
    rows = count(db, Story)

    cluster_stage(ctx, DAY)
    assert stories(db) == after and count(db, Story) == rows == len(after) + 1  # + the retired row
    with db.session() as s:
        assert desk.get_story(s, falcon).row.headline == "Falcon-9B, edited"
    # the edited draft is the editor's: the draft run keeps it, notice and all
    draft_stage(ctx, DAY, "awesome-ai-daily", 10)
    with db.session() as s:
        assert desk.get_story(s, falcon).row.error == desk.SPLIT_NOTICE


def test_without_the_separation_a_rerun_folds_the_source_back(db: Database, tmp_path: Path) -> None:
    """Control: the rerun keeps a split apart only because of the recorded separation."""
    ctx, ids = load_day(db, tmp_path)
    falcon = story_of(db, ids["w1"])
    with db.session() as s:
        desk.split_off(s, falcon, "ana", ids["t1"], expected_version=draft(db, falcon))
        s.flush()
        s.query(ItemSeparation).delete()
    cluster_stage(ctx, DAY)
    assert story_of(db, ids["t1"]) == falcon


def test_refusals_are_one_line(db: Database, tmp_path: Path) -> None:
    _, ids = load_day(db, tmp_path)
    falcon, rail = story_of(db, ids["w1"]), story_of(db, ids["r1"])
    version = draft(db, falcon)
    draft(db, rail)

    def refused(story_id: int, item_id: int, match: str, exc=desk.InvalidAction, **kw) -> None:
        with db.session() as s, pytest.raises(exc, match=match) as info:
            desk.split_off(s, story_id, "ana", item_id, **kw)
        assert "\n" not in str(info.value)

    refused(falcon, ids["r1"], f"item {ids['r1']} is not a source of story {falcon}")
    refused(rail, ids["r1"], "has only one source: there is nothing to split it from")
    refused(falcon, ids["t1"], "changed since you opened it", exc=desk.Conflict, expected_version=version - 1)
    refused(10**6, ids["t1"], "no drafted story", exc=desk.NotFound)
    with db.session() as s:
        desk.approve(s, falcon, "ben")
    refused(falcon, ids["t1"], f"story {falcon} is approved: reopen it before splitting a source off")
    with db.session() as s:
        desk.publish(s, DAY, "ben", render=lambda data: "# digest")
    refused(falcon, ids["t1"], f"story {falcon} is published: reopen it")
    with db.session() as s:
        desk.reopen(s, falcon, "ben")
        assert desk.split_off(s, falcon, "ben", ids["t1"]).new.id != falcon  # reopened, it splits
    assert count(db, ItemSeparation) == 1


def test_a_story_of_one_article_cannot_be_split(db: Database, tmp_path: Path) -> None:
    _, ids = load_day(db, tmp_path)
    falcon = story_of(db, ids["w1"])
    with db.session() as s:
        desk.split_off(s, falcon, "ana", ids["t1"], expected_version=draft(db, falcon))
        desk.split_off(s, falcon, "ana", ids["l1"])
    mirror = story_of(db, ids["m1"])
    assert stories(db)[mirror][1] == frozenset({ids["w1"], ids["m1"]})
    with db.session() as s, pytest.raises(desk.InvalidAction, match="only one article"):
        desk.split_off(s, mirror, "ana", ids["m1"])


def test_the_cli_splits_a_source_off(db: Database, tmp_path: Path) -> None:
    _, ids = load_day(db, tmp_path)
    falcon = story_of(db, ids["w1"])
    draft(db, falcon)
    env = {"NEWSDESK_DATA_DIR": str(tmp_path / "data"), "NEWSDESK_DATABASE_URL": db.url}
    res = CliRunner().invoke(app, ["review", "split", str(falcon), "--item", str(ids["t1"]), "--as", "cleo"], env=env)
    assert res.exit_code == 0, res.output
    new = story_of(db, ids["t1"])
    assert f"new story #{new}" in res.output and new != falcon
    res = CliRunner().invoke(app, ["review", "split", str(new), "--item", str(ids["t1"])], env=env)
    assert res.exit_code == 1 and res.output.count("\n") == 1 and "nothing to split it from" in res.output
