"""Merge: an editor moves a story's sources into another story of its day, and the merge holds.

Also the undo of Split off. Real items clustered by the real cluster stage (SQLite, and PostgreSQL
when configured; the day and its helpers are the split tests'), the desk function, reruns of the
cluster stage, the CLI, and the refusals.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

import flows.pipeline as pipeline
from flows.night import cluster_fingerprint
from flows.pipeline import cluster_stage, draft_stage
from newsdesk.cli import app
from storage import desk
from storage.db import Database
from storage.models import AuditLog, Draft, ItemJoin, ItemSeparation, Story
from test_split_story import DAY, count, draft, load_day, stories, story_of

FALCON = ("w1", "l1", "t1", "m1")


def joins(db: Database) -> dict[int, int]:
    with db.session() as s:
        return {item_id: group for item_id, group in s.execute(select(ItemJoin.item_id, ItemJoin.group_id))}


def day_rows(db: Database) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(Story).where(Story.day == DAY))


def test_a_merge_moves_the_items_and_holds_over_a_rerun_with_the_same_rows_and_draft(db: Database, tmp_path: Path) -> None:
    ctx, ids = load_day(db, tmp_path)
    falcon, rail = story_of(db, ids["w1"]), story_of(db, ids["r1"])
    draft(db, falcon, edited=True)
    version = draft(db, rail)
    fingerprint = cluster_fingerprint(ctx, DAY)
    with db.session() as s:
        result = desk.merge_into(s, rail, falcon, "ana", expected_version=version)
    assert cluster_fingerprint(ctx, DAY) != fingerprint  # a cached cluster run does not stand for this one
    assert result.into.id == falcon and result.merged_id == rail and result.item_ids == [ids["r1"]]
    assert result.into.status == "needs_human" and result.into.error == desk.MERGE_NOTICE
    union = frozenset(ids[g] for g in (*FALCON, "r1"))
    after = stories(db)
    assert after == {falcon: (f"i{ids['w1']}", union)}
    assert joins(db) == {i: min(union) for i in union}
    with db.session() as s:
        gone = s.get(Story, rail)
        assert not gone.active and s.scalars(select(Draft).where(Draft.story_id == rail)).one().version == version
        assert desk.list_stories(s, DAY)[0].id == falcon and len(desk.list_stories(s, DAY)) == 1  # off the queue
        audit = s.scalars(select(AuditLog).where(AuditLog.action == "story.merge")).one()
        assert audit.actor == "ana" and audit.before["merged_items"] == [ids["r1"]] and audit.after["key"] == f"i{ids['w1']}"
        detail = desk.get_story(s, falcon)
    assert detail.row.headline == "Falcon-9B, edited" and detail.history[-1]["action"] == "merge"
    rows = day_rows(db)

    cluster_stage(ctx, DAY)  # the rerun keeps the merge on the same row, adds none
    assert stories(db) == after and day_rows(db) == rows == 2
    with db.session() as s:
        assert desk.get_story(s, falcon).row.headline == "Falcon-9B, edited"
        assert not s.get(Story, rail).active


def test_without_the_join_a_rerun_takes_the_merge_apart(db: Database, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Control: the rerun keeps the merge only because the cluster stage joins the recorded group."""
    ctx, ids = load_day(db, tmp_path)
    falcon, rail = story_of(db, ids["w1"]), story_of(db, ids["r1"])
    draft(db, falcon)
    draft(db, rail)
    with db.session() as s:
        desk.merge_into(s, rail, falcon, "ana")
    monkeypatch.setattr(pipeline, "join_groups", lambda groups, blocks: groups)
    cluster_stage(ctx, DAY)
    assert story_of(db, ids["r1"]) != falcon


def test_merging_into_the_later_story_rekeys_it_and_the_merged_row_gives_up_its_key(db: Database, tmp_path: Path) -> None:
    ctx, ids = load_day(db, tmp_path)
    falcon, rail = story_of(db, ids["w1"]), story_of(db, ids["r1"])
    draft(db, rail)
    with db.session() as s:
        result = desk.merge_into(s, falcon, rail, "ana", expected_version=draft(db, falcon))
        assert s.get(Story, falcon).key == f"x{falcon}" and not s.get(Story, falcon).active
    assert result.into.id == rail and result.item_ids == sorted(ids[g] for g in FALCON)
    after = stories(db)
    assert after == {rail: (f"i{ids['w1']}", frozenset(ids[g] for g in (*FALCON, "r1")))}
    cluster_stage(ctx, DAY)
    assert stories(db) == after and day_rows(db) == 2
    draft_stage(ctx, DAY, "awesome-ai-daily", 10)  # a machine draft is redrafted on its new sources
    with db.session() as s:
        merged = desk.get_story(s, rail)
    assert merged.row.error is None and {r.id for r in merged.sources} == {str(i) for i in after[rail][1]}


def test_merging_a_split_off_story_back_undoes_the_split(db: Database, tmp_path: Path) -> None:
    ctx, ids = load_day(db, tmp_path)
    original = stories(db)
    falcon = story_of(db, ids["w1"])
    with db.session() as s:
        split = desk.split_off(s, falcon, "ana", ids["t1"], expected_version=draft(db, falcon))
    cluster_stage(ctx, DAY)
    assert story_of(db, ids["t1"]) == split.new.id != falcon
    with db.session() as s:
        result = desk.merge_into(s, split.new.id, falcon, "ben")
    assert result.unsplit == [ids["t1"]] and count(db, ItemSeparation) == 0
    assert stories(db) == original
    cluster_stage(ctx, DAY)
    assert stories(db) == original  # the same rows and keys as before the split
    with db.session() as s:
        s.query(ItemJoin).delete()  # and without the join too: clustering alone groups it as before the split
    cluster_stage(ctx, DAY)
    assert stories(db) == original
    with db.session() as s:
        assert s.scalars(select(Draft.story_id).where(Draft.headline == "Acme Lab releases Falcon-9B")).one() == falcon
        assert not s.get(Story, split.new.id).active


def test_a_split_after_a_merge_drops_the_join_of_what_it_splits(db: Database, tmp_path: Path) -> None:
    ctx, ids = load_day(db, tmp_path)
    falcon, rail = story_of(db, ids["w1"]), story_of(db, ids["r1"])
    draft(db, falcon)
    draft(db, rail)
    with db.session() as s:
        desk.merge_into(s, rail, falcon, "ana")
        split = desk.split_off(s, falcon, "ana", ids["r1"])
    falcon_items = frozenset(ids[g] for g in FALCON)
    assert joins(db) == {i: min(falcon_items) for i in falcon_items}  # the rest stays joined
    after = stories(db)
    assert after == {falcon: (f"i{ids['w1']}", falcon_items), split.new.id: (f"i{ids['r1']}", frozenset({ids["r1"]}))}
    assert split.new.id == rail  # the merged-away row comes back, as a rerun would bring it back
    cluster_stage(ctx, DAY)
    assert stories(db) == after and day_rows(db) == 2


def test_splitting_the_lowest_item_relabels_its_group(db: Database, tmp_path: Path) -> None:
    """w1 (with m1) labels the group: split off, the rest is labelled by its own lowest item."""
    ctx, ids = load_day(db, tmp_path)
    falcon, rail = story_of(db, ids["w1"]), story_of(db, ids["r1"])
    draft(db, falcon)
    draft(db, rail)
    with db.session() as s:
        desk.merge_into(s, rail, falcon, "ana")
        split = desk.split_off(s, falcon, "ana", ids["w1"])
    rest = frozenset(ids[g] for g in ("l1", "t1", "r1"))
    assert joins(db) == {i: min(rest) for i in rest}
    after = stories(db)
    assert after[falcon] == (f"i{min(rest)}", rest) and after[split.new.id][1] == frozenset({ids["w1"], ids["m1"]})
    cluster_stage(ctx, DAY)
    assert stories(db) == after


def test_a_merge_into_a_split_off_story_stays_with_it(db: Database, tmp_path: Path) -> None:
    """The target's own split holds: what was merged into it leaves with it, the story it left stays."""
    ctx, ids = load_day(db, tmp_path)
    falcon, rail = story_of(db, ids["w1"]), story_of(db, ids["r1"])
    draft(db, rail)
    with db.session() as s:
        split = desk.split_off(s, falcon, "ana", ids["t1"], expected_version=draft(db, falcon))
        desk.merge_into(s, rail, split.new.id, "ana")
    after = stories(db)
    assert after[split.new.id][1] == frozenset({ids["t1"], ids["r1"]})
    assert after[falcon][1] == frozenset(ids[g] for g in ("w1", "l1", "m1"))
    cluster_stage(ctx, DAY)
    assert stories(db) == after


def test_a_merge_into_an_undrafted_story_gives_it_a_draft_to_land_on(db: Database, tmp_path: Path) -> None:
    """An undrafted story (past the night's drafting cap) is offered too: the merge gives it a draft."""
    _, ids = load_day(db, tmp_path)
    falcon, rail = story_of(db, ids["w1"]), story_of(db, ids["r1"])
    with db.session() as s:
        assert [t.status for t in desk.merge_targets(s, falcon)] == ["undrafted"]
        result = desk.merge_into(s, falcon, rail, "ana", expected_version=draft(db, falcon))
        detail = desk.get_story(s, rail)
    assert result.into.status == "needs_human" and result.into.error == desk.MERGE_NOTICE
    assert [h["action"] for h in detail.history] == ["merge"] and len(detail.sources) == 5


def test_refusals_are_one_line(db: Database, tmp_path: Path) -> None:
    _, ids = load_day(db, tmp_path)
    falcon, rail = story_of(db, ids["w1"]), story_of(db, ids["r1"])
    version = draft(db, falcon)
    draft(db, rail)
    with db.session() as s:
        other_day = Story(day="2026-11-17", key="i1", title="Yesterday")
        s.add(other_day)
        s.flush()
        other_id = other_day.id

    def refused(story_id: int, target_id: int, match: str, exc=desk.InvalidAction, **kw) -> None:
        with db.session() as s, pytest.raises(exc, match=match) as info:
            desk.merge_into(s, story_id, target_id, "ana", **kw)
        assert "\n" not in str(info.value)

    refused(falcon, falcon, f"story {falcon} cannot be merged into itself")
    refused(falcon, other_id, f"story {other_id} is a story of 2026-11-17, story {falcon} of {DAY}")
    refused(falcon, 10**6, "no story with id", exc=desk.NotFound)
    refused(10**6, falcon, "no drafted story", exc=desk.NotFound)
    refused(falcon, rail, "changed since you opened it", exc=desk.Conflict, expected_version=version - 1)
    with db.session() as s:
        desk.approve(s, falcon, "ben")
    refused(falcon, rail, f"story {falcon} is approved: reopen it before merging it")
    refused(rail, falcon, f"story {falcon} is approved: reopen it before merging into it")
    with db.session() as s:
        desk.publish(s, DAY, "ben", render=lambda data: "# digest")
    refused(rail, falcon, f"story {falcon} is published: reopen it")
    with db.session() as s:
        assert [r.id for r in desk.merge_targets(s, rail)] == []  # approved and published stories are not offered
        desk.reopen(s, falcon, "ben")
        assert [r.id for r in desk.merge_targets(s, rail)] == [falcon]
        desk.merge_into(s, rail, falcon, "ben")  # reopened, it merges
    refused(rail, falcon, f"story {rail} is no longer on the desk: it was merged into another story")
    refused(falcon, rail, f"story {rail} is no longer on the desk")
    assert count(db, ItemJoin) == 5
    with db.session() as s, pytest.raises(desk.InvalidAction, match="approve the story that holds its sources"):
        desk.approve(s, rail, "ben")  # it is in no digest: an approval there would publish nothing


def test_the_cli_merges_a_story(db: Database, tmp_path: Path) -> None:
    _, ids = load_day(db, tmp_path)
    falcon, rail = story_of(db, ids["w1"]), story_of(db, ids["r1"])
    draft(db, falcon)
    draft(db, rail)
    env = {"NEWSDESK_DATA_DIR": str(tmp_path / "data"), "NEWSDESK_DATABASE_URL": db.url}
    res = CliRunner().invoke(app, ["review", "merge", str(rail), "--into", str(falcon), "--as", "cleo"], env=env)
    assert res.exit_code == 0, res.output
    assert f"#{falcon}" in res.output and story_of(db, ids["r1"]) == falcon
    res = CliRunner().invoke(app, ["review", "merge", str(rail), "--into", str(falcon)], env=env)
    assert res.exit_code == 1 and res.output.count("\n") == 1 and "no longer on the desk" in res.output
    shown = CliRunner().invoke(app, ["review", "show", str(rail)], env=env)
    assert shown.exit_code == 0 and f"this story is {desk.OFF_DESK}" in " ".join(shown.output.split())  # as wrapped
    shown = CliRunner().invoke(app, ["review", "show", str(falcon)], env=env)
    assert "no longer on the desk" not in " ".join(shown.output.split())
