"""The AI News Digest's day framing: a title, an intro and 3-5 descriptive headings chosen per day
(extractive without an LLM), stored without touching editors' work, editable from the CLI."""
from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from newsdesk.cli import app
from storage import desk
from storage.db import Database
from summarizer.dayplan import MAX_SECTIONS, PlanStory, extractive_plan
from test_truth_gate import DAY, seed

STORIES = [
    PlanStory(1, 1, "Halcyon launches Lumen-4 with a million-token context", ["Models", "Halcyon", "Lumen-4"]),
    PlanStory(2, 2, "Solvane revenue jumps on accelerator demand", ["Hardware", "Solvane"]),
    PlanStory(3, 3, "Kestrel Cloud raises a Series D", ["Funding", "Kestrel Cloud"]),
    PlanStory(4, 4, "Meridian ships Atlas-3 at a lower price", ["Models", "Meridian", "Pricing"]),
    PlanStory(5, 5, "Lawmakers draft incident reporting rules", ["Policy"]),
    PlanStory(6, 6, "Robot arm startup opens a factory", ["Robotics"]),
    PlanStory(7, 7, "A new benchmark for agents", ["Agents", "Benchmarks"]),
]


def test_the_plan_names_the_days_sections_and_bounds_them() -> None:
    plan = extractive_plan(STORIES)
    assert 3 <= len(plan.sections) <= MAX_SECTIONS
    assert plan.headings[1] == plan.headings[4] == "New models: Halcyon and Meridian"  # descriptive, per day
    assert plan.headings[2].endswith("Solvane")
    assert plan.title == "Halcyon launches Lumen-4 with a million-token context"
    assert plan.intro.startswith("7 stories today.") and "Halcyon launches Lumen-4" in plan.intro
    assert set(plan.headings) == {s.story_id for s in STORIES}


def test_an_editors_heading_is_kept_as_written() -> None:
    mine = [PlanStory(1, 1, "Halcyon launches Lumen-4", ["Models", "Halcyon"], section="The model race")] + STORIES[1:3]
    assert extractive_plan(mine).headings[1] == "The model race"


def test_digest_plan_from_the_cli_fills_an_empty_framing_and_keeps_an_editors(db_url: str, tmp_path: Path) -> None:
    db = Database(db_url)
    keys = seed(db)
    db.dispose()
    env = {"NEWSDESK_DATA_DIR": str(tmp_path / "data"), "NEWSDESK_DATABASE_URL": db_url}
    run = lambda *a: CliRunner().invoke(app, list(a), env=env)  # noqa: E731
    out = run("digest", "plan", "--day", DAY)
    assert out.exit_code == 0, out.output
    db = Database(db_url)
    with db.session() as s:
        data = desk.digest_data(s, DAY, approved_only=False)
        sections = {e.story_id: e.section for e in data.entries}
    assert data.title and data.intro and all(sections.values())
    assert run("review", "edit", str(keys["chips"]), "--section", "Export controls", "--as", "ana").exit_code == 0
    assert run("digest", "set", "--day", DAY, "--title", "My own title").exit_code == 0
    assert run("digest", "plan", "--day", DAY).exit_code == 0
    info = json.loads(run("digest", "show", "--day", DAY, "--json").output)
    assert info["title"] == "My own title"
    with db.session() as s:
        assert desk.get_story(s, keys["chips"]).section == "Export controls"
    assert run("digest", "plan", "--day", DAY, "--replace").exit_code == 0
    with db.session() as s:
        assert desk.digest_data(s, DAY, approved_only=False).title != "My own title"
        assert desk.get_story(s, keys["chips"]).section == "Export controls"
    db.dispose()


def test_with_a_model_the_day_is_framed_by_it_and_a_bad_answer_falls_back(db_url: str, tmp_path: Path) -> None:
    from fakes.openai_server import FakeOpenAI, Reply
    from sqlalchemy import select

    from storage.models import LLMCall

    db = Database(db_url)
    keys = seed(db)
    db.dispose()
    framing = {"title": "Open weights and export rules set the day's terms",
               "intro": ("Acme Lab released Falcon-9B while new rules limit exports of accelerators, so the day "
                         "pairs a release with a constraint on who can run such models at scale."),
               "sections": [{"heading": "Open models kept arriving", "story_ids": [keys["falcon"]]},
                            {"heading": "Chip rules tightened again", "story_ids": [keys["chips"]]}]}
    with FakeOpenAI() as fake:
        env = {"NEWSDESK_DATA_DIR": str(tmp_path / "data"), "NEWSDESK_DATABASE_URL": db_url,
               "NEWSDESK_ALLOW_PRIVATE_HOSTS": "loopback", "OPENAI_API_KEY": "test-key",
               "OPENAI_BASE_URL": fake.base_url, "NEWSDESK_MODEL": fake.model}
        fake.script([Reply(content=json.dumps(framing))])
        out = CliRunner().invoke(app, ["digest", "plan", "--day", DAY], env=env)
        assert out.exit_code == 0, out.output
        assert any("Harrowgate" in c.text() and "section" in c.text() for c in fake.chat_calls), [c.text()[:300] for c in fake.chat_calls]
        db = Database(db_url)
        with db.session() as s:
            data = desk.digest_data(s, DAY, approved_only=False)
            assert data.title == framing["title"] and data.intro == framing["intro"]
            assert {e.story_id: e.section for e in data.entries} == {keys["falcon"]: "Open models kept arriving",
                                                                     keys["chips"]: "Chip rules tightened again"}
            assert s.scalars(select(LLMCall).where(LLMCall.purpose == "dayplan")).first() is not None
        # a model that places a story twice is not believed: the extractive plan stands, with a note
        bad = framing | {"sections": [{"heading": "All", "story_ids": [keys["falcon"], keys["falcon"]]},
                                      {"heading": "Rest", "story_ids": [keys["chips"]]}]}
        fake.script([Reply(content=json.dumps(bad))] * 6)
        out = CliRunner().invoke(app, ["digest", "plan", "--day", DAY, "--replace"], env=env)
        assert out.exit_code == 0 and "extractive default" in out.output, out.output
        with db.session() as s:
            assert desk.digest_data(s, DAY, approved_only=False).title != framing["title"]
        db.dispose()
