"""The truth gate from the command line: nothing unsupported or unwritten is approved or published
without an editor saying why, and a placeholder view never goes out."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from newsdesk.cli import app
from storage.db import Database
from storage.models import AuditLog, Draft
from storage.writes import ItemWrite, StoryWrite, replace_day_stories, save_machine_draft, upsert_items, upsert_sources
from summarizer.lint import VIEW_PLACEHOLDER

DAY = "2026-11-18"
T0 = datetime(2026, 11, 18, 9, 0, tzinfo=timezone.utc)


def seed(db: Database) -> dict[str, int]:
    with db.session() as s:
        ids = upsert_sources(s, [{"name": "Wire", "type": "feed", "url": "https://wire.test/feed"}])
        upsert_items(s, ids["Wire"], [
            ItemWrite(kind="article", guid="w1", url="https://wire.test/a", title="Lab ships model",
                      text="Acme Lab released Falcon-9B on Tuesday.", content_hash="h1", published_at=T0),
            ItemWrite(kind="article", guid="w2", url="https://wire.test/b", title="Chip exports tighten",
                      text="New rules limit exports of accelerators.", content_hash="h2", published_at=T0),
        ], now=T0)
        from storage.models import Item

        items = {it.guid: it.id for it in s.scalars(select(Item))}
        keys = replace_day_stories(s, DAY, [
            StoryWrite(key="falcon", title="Falcon", item_ids=[items["w1"]], rank=1, score=2.0, reasons=[]),
            StoryWrite(key="chips", title="Chips", item_ids=[items["w2"]], rank=2, score=1.0, reasons=[]),
        ])
        save_machine_draft(s, keys["falcon"], style="awesome-ai-daily", status="needs_human", model="m",
                           prompt_version="v", input_hash="a", fields={
                               "headline": "Harrowgate Partners: Acme Lab Raises $913 Billion",
                               "summary": [{"text": "Acme Lab released Falcon-9B on Tuesday.", "source_ids": [str(items["w1"])]}],
                               "view": "Open models keep arriving faster than anyone can evaluate them properly.",
                               "tags": ["Models"],
                               "unsupported": [{"sentence": -2, "claim": "$913 Billion", "reason": "not in any source"},
                                               {"sentence": -2, "claim": "Harrowgate Partners", "reason": "not in any source"}]})
        save_machine_draft(s, keys["chips"], style="awesome-ai-daily", status="pending", model="extractive",
                           prompt_version="extractive", input_hash="b", fields={
                               "headline": "Chip Exports Tighten",
                               "summary": [{"text": "New rules limit exports of accelerators.", "source_ids": [str(items["w2"])]}],
                               "view": VIEW_PLACEHOLDER, "tags": ["Policy"],
                               "violations": [{"rule": "view.placeholder", "message": "The view is still the placeholder."}]})
        return keys


@pytest.fixture
def env(db_url: str, tmp_path: Path):
    db = Database(db_url)
    keys = seed(db)
    db.dispose()
    return {"NEWSDESK_DATA_DIR": str(tmp_path / "data"), "NEWSDESK_DATABASE_URL": db_url}, keys


def run(env: dict[str, str], *args: str):
    return CliRunner().invoke(app, list(args), env=env)


def test_unsupported_claims_block_approval_until_an_override_with_a_reason(env, db_url) -> None:
    variables, keys = env
    sid = str(keys["falcon"])
    refused = run(variables, "review", "approve", sid, "--as", "ana")
    assert refused.exit_code == 1 and "2 unsupported claim(s)" in refused.output and "headline" in refused.output
    assert "Traceback" not in refused.output
    ok = run(variables, "review", "approve", sid, "--as", "ana", "--override", "Figures checked against the filing")
    assert ok.exit_code == 0, ok.output
    db = Database(db_url)
    with db.session() as s:
        d = s.scalars(select(Draft).where(Draft.story_id == keys["falcon"])).one()
        entry = s.scalars(select(AuditLog).where(AuditLog.action == "approval.override")).one()
    db.dispose()
    assert d.status == "approved" and d.override["reason"] == "Figures checked against the filing"
    assert entry.actor == "ana" and len(entry.after["flags"]) == 2
    shown = run(variables, "review", "show", sid)
    assert "over 2 flag(s): Figures checked against the filing" in shown.output


def test_a_placeholder_view_is_never_approved_nor_published(env, db_url, tmp_path) -> None:
    variables, keys = env
    sid = str(keys["chips"])
    for extra in ([], ["--override", "ship it anyway"]):
        result = run(variables, "review", "approve", sid, "--as", "ana", *extra)
        assert result.exit_code == 1 and "until its view is written" in result.output
    # a draft approved before the gate existed still cannot go out with its placeholder
    db = Database(db_url)
    with db.session() as s:
        s.scalars(select(Draft).where(Draft.story_id == keys["chips"])).one().status = "approved"
    db.dispose()
    result = run(variables, "publish", "--day", DAY, "--out", str(tmp_path / "site"), "--as", "ana")
    assert result.exit_code == 1 and "no written view" in result.output
    assert not (tmp_path / "site" / f"{DAY}.md").exists()
