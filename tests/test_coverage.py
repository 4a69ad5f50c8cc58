"""Coverage counts outlets, not sources: an outlet's feed and its Bluesky account are one outlet."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from newsdesk.cli import app
from storage import desk
from storage.db import Database
from storage.models import Item
from storage.outlets import distinct_outlets, outlet_name
from storage.writes import ItemWrite, StoryWrite, replace_day_stories, save_machine_draft, upsert_items, upsert_sources
from summarizer.ranking import RankItem, StoryCandidate, rank

DAY = "2026-11-18"
T0 = datetime(2026, 11, 18, 9, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("source, outlet", [
    ("Tensor Tribune on Bluesky", "Tensor Tribune"), ("Tensor Tribune (Bluesky)", "Tensor Tribune"),
    ("Wire - X", "Wire"), ("Rita Koval (Mastodon)", "Rita Koval"), ("Hacker News", "Hacker News"),
    ("r/ModelWatch", "r/ModelWatch"), ("Onboarding Weekly", "Onboarding Weekly"), ("Bluesky", "Bluesky"),
])
def test_the_outlet_behind_a_source(source: str, outlet: str) -> None:
    assert outlet_name(source) == outlet


def test_distinct_outlets_fold_a_feed_and_its_account() -> None:
    assert distinct_outlets(["Tensor Tribune", "Tensor Tribune on Bluesky", "tensor tribune (Mastodon)", "Wire"]) == \
        ["Tensor Tribune", "Wire"]


def _seed(db: Database) -> dict[str, int]:
    with db.session() as s:
        ids = upsert_sources(s, [
            {"name": "Tensor Tribune", "type": "feed", "url": "https://tribune.test/feed"},
            {"name": "Tensor Tribune on Bluesky", "type": "bluesky", "handle": "tensortribune.test"},
            {"name": "Wire", "type": "feed", "url": "https://wire.test/feed"},
        ])
        for name, guid in (("Tensor Tribune", "t1"), ("Tensor Tribune on Bluesky", "b1"), ("Wire", "w1"), ("Wire", "w2")):
            upsert_items(s, ids[name], [ItemWrite(kind="post" if "Bluesky" in name else "article", guid=guid,
                                                  url=f"https://x.test/{guid}", title=f"Item {guid}",
                                                  text="Kestrel Cloud raised $640M.", content_hash=guid, published_at=T0)], now=T0)
        items = {it.guid: it.id for it in s.scalars(select(Item))}
        keys = replace_day_stories(s, DAY, [
            StoryWrite(key="one", title="One outlet twice", item_ids=[items["t1"], items["b1"]], rank=1, score=3.0, reasons=[]),
            StoryWrite(key="two", title="Two outlets", item_ids=[items["t1"], items["w2"]], rank=2, score=2.0, reasons=[]),
        ])
        for key in keys.values():
            save_machine_draft(s, key, style="awesome-ai-daily", status="pending", model="m", prompt_version="v1", input_hash=str(key),
                               fields={"headline": f"Story {key}", "summary": [], "view": "", "tags": []})
        return keys


def test_the_desk_shows_distinct_outlets_and_source_types_and_flags_single_source(db: Database, tmp_path) -> None:
    keys = _seed(db)
    with db.session() as s:
        rows = {r.id: r for r in desk.list_stories(s, day=DAY)}
    one, two = rows[keys["one"]], rows[keys["two"]]
    assert (one.outlets, one.outlet_names, one.source_types, one.single_source) == (1, ["Tensor Tribune"], ["bluesky", "feed"], True)
    assert (two.outlets, two.single_source) == (2, False)

    env = {"NEWSDESK_DATABASE_URL": db.url, "NEWSDESK_DATA_DIR": str(tmp_path)}
    shown = CliRunner().invoke(app, ["review", "show", str(keys["one"])], env=env)
    assert shown.exit_code == 0, shown.output
    assert "coverage: 1 outlet (Tensor Tribune); source types: bluesky, feed" in shown.output
    assert "single-source story" in shown.output
    listed = CliRunner().invoke(app, ["review", "list", "--day", DAY], env=env)
    assert "1 single" in listed.output


def test_ranking_counts_the_outlet_once() -> None:
    now = datetime(2026, 11, 19, 6, 0, tzinfo=timezone.utc)
    twice = StoryCandidate("a", "A", "text", [RankItem("Tribune", outlet_name("Tribune"), "article", T0),
                                              RankItem("Tribune on Bluesky", outlet_name("Tribune on Bluesky"), "post", T0)])
    (r,) = rank([twice], now=now)
    assert r.reasons[0] == "1 outlet"
