"""Whole nights through the public CLI and the Prefect flow, offline.

The sample day is served by its real HTTP server on 127.0.0.1, the LLM is an
OpenAI-compatible fake on loopback, and the database is SQLite and (when
configured) PostgreSQL.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Iterator

import pytest
import yaml
from sqlalchemy import func, select
from typer.testing import CliRunner

from newsdesk.cli import app
from newsdesk.demo import SAMPLE_DAY, demo_sources, serve_sample_day
from newsdesk.demo.expected import EXPECTED_STORIES, MERGED_INTO, NEAR_MISS_PAIRS, item_ref
from storage.db import Database
from storage.models import Article, AuditLog, Draft, Item, ItemLink, LLMCall, Source, Story, StoryItem
from tests.fakes.openai_server import FakeOpenAI

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]

COUNTED = (Source, Item, Article, ItemLink, Story, StoryItem, Draft, LLMCall)


@pytest.fixture(scope="module")
def sample_server() -> Iterator[str]:
    with serve_sample_day() as base_url:
        yield base_url


def _env(tmp_path: Path, db_url: str, base_url: str, *, broken: bool = False, llm: FakeOpenAI | None = None) -> dict[str, str]:
    sources = demo_sources(base_url, include_broken=broken)
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump({"sources": sources}), encoding="utf-8")
    env = {
        "NEWSDESK_DATA_DIR": str(tmp_path / "data"),
        "NEWSDESK_DATABASE_URL": db_url,
        "NEWSDESK_SOURCES": str(path),
        "NEWSDESK_ALLOW_PRIVATE_HOSTS": "loopback",
        "NEWSDESK_MAX_STORIES": "12",
        "OPENAI_API_KEY": "",
        "OPENAI_BASE_URL": "",
        "NEWSDESK_MODEL": "",
    }
    if llm is not None:
        env.update({"OPENAI_API_KEY": "test-key", "OPENAI_BASE_URL": llm.base_url, "NEWSDESK_MODEL": llm.model})
    return env


def cli(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, f"newsdesk {' '.join(args)} exited {result.exit_code}:\n{result.output}"
    return result.output


def counts(db_url: str) -> dict[str, int]:
    db = Database(db_url)
    with db.session() as s:
        out = {m.__tablename__: s.scalar(select(func.count()).select_from(m)) for m in COUNTED}
    db.dispose()
    return out


def story_of(db_url: str, base_url: str) -> dict[str, int]:
    """Map each expected reference (article path or post guid) to the story holding it."""
    db = Database(db_url)
    with db.session() as s:
        rows = s.execute(
            select(StoryItem.story_id, Item)
            .join(Item, Item.id == StoryItem.item_id)
            .join(Story, Story.id == StoryItem.story_id)
            .where(Story.day == SAMPLE_DAY, Story.active.is_(True))
        ).all()
        found = {item_ref(item, base_url): story_id for story_id, item in rows}
    db.dispose()
    return found


def test_full_night_groups_stories_and_rerun_is_free(tmp_path: Path, db_url: str, sample_server: str) -> None:
    with FakeOpenAI() as fake:
        env = _env(tmp_path, db_url, sample_server, llm=fake)
        output = cli(env, "run", "--day", SAMPLE_DAY)
        assert "drafted" in output
        calls_first = len(fake.chat_calls)
        assert calls_first > 0

        # Multi-outlet stories merged, near-miss stories apart.
        where = story_of(db_url, sample_server)
        for group in EXPECTED_STORIES:
            refs = [r for r in group if r not in MERGED_INTO]
            missing = [r for r in refs if r not in where]
            assert not missing, f"items never reached a story: {missing}"
            stories = {where[r] for r in refs}
            assert len(stories) == 1, f"{group} spread over stories {stories}"
        for a, b in NEAR_MISS_PAIRS:
            if a in where and b in where:
                assert where[a] != where[b], f"near-miss {a} and {b} merged"

        listing = json.loads(cli(env, "review", "list", "--day", SAMPLE_DAY, "--json"))
        assert listing["stories"], "no drafts queued"
        assert all(r["status"] in ("pending", "needs_human") for r in listing["stories"])
        assert any(r["outlets"] >= 3 for r in listing["stories"]), "no multi-source story"
        # every request is recorded: the capability probe (once per endpoint) and the drafts
        assert listing["nights"][0]["calls"] == calls_first + len(fake.probe_calls)
        assert 0 < len(fake.probe_calls) <= 7
        assert listing["nights"][0]["tokens"] > 0

        before = counts(db_url)
        probes = len(fake.probe_calls)
        cli(env, "run", "--day", SAMPLE_DAY)
        assert counts(db_url) == before, "a rerun of the same day wrote rows"
        assert len(fake.chat_calls) == calls_first, "a rerun with unchanged inputs called the LLM"
        assert len(fake.probe_calls) == probes, "the endpoint's capabilities are remembered, not probed again"


def test_night_without_llm_is_extractive_and_says_so_once(tmp_path: Path, db_url: str, sample_server: str) -> None:
    env = _env(tmp_path, db_url, sample_server)
    output = cli(env, "run", "--day", SAMPLE_DAY)
    assert output.count("No LLM configured") == 1
    listing = json.loads(cli(env, "review", "list", "--day", SAMPLE_DAY, "--json"))
    assert listing["stories"]
    first = listing["stories"][0]["id"]
    shown = json.loads(cli(env, "review", "show", str(first), "--json"))
    assert shown["summary"] and all(s["source_ids"] for s in shown["summary"]), "extractive sentences must be cited"
    source_ids = {src["id"] for src in shown["sources"]}
    assert all(set(s["source_ids"]) <= source_ids for s in shown["summary"])
    assert "Editor" in shown["view"] or not shown["view"], "the view is left for the editor"


def test_a_broken_source_is_recorded_and_the_night_goes_on(tmp_path: Path, db_url: str, sample_server: str) -> None:
    env = _env(tmp_path, db_url, sample_server, broken=True)
    output = cli(env, "run", "--day", SAMPLE_DAY)
    assert re.search(r"\b[1-9]\d* sources? failed", output), output
    listing = json.loads(cli(env, "review", "list", "--day", SAMPLE_DAY, "--json"))
    failed = listing["nights"][0]["failed_sources"]
    assert failed and all(f["error"] for f in failed), "broken sources must be recorded with their error"
    assert listing["stories"], "the other sources still made a digest"
    health = json.loads(cli(env, "sources", "list", "--json"))
    assert any(h["failing_streak"] == 1 and h["last_error"] for h in health)


def test_approve_then_publish_writes_the_house_style(tmp_path: Path, db_url: str, sample_server: str) -> None:
    with FakeOpenAI() as fake:
        env = _env(tmp_path, db_url, sample_server, llm=fake)
        cli(env, "run", "--day", SAMPLE_DAY, "--max-stories", "4")
    listing = json.loads(cli(env, "review", "list", "--day", SAMPLE_DAY, "--status", "pending", "--json"))
    ids = [r["id"] for r in listing["stories"]][:2]
    assert len(ids) == 2
    for sid in ids:
        cli(env, "review", "approve", str(sid), "--as", "ana")
    out_dir = tmp_path / "site"
    cli(env, "publish", "--day", SAMPLE_DAY, "--out", str(out_dir))
    md = (out_dir / f"{SAMPLE_DAY}.md").read_text(encoding="utf-8")
    assert f"Awesome AI Daily | {SAMPLE_DAY}" in md
    assert "1. " in md and "2. " in md and "3. " not in md.split("Awesome AI Daily")[1].split("\n1. ")[0]
    assert md.count("Awesome AI View:") == 2


def test_bad_input_is_one_line_and_non_zero(tmp_path: Path) -> None:
    env = {"NEWSDESK_DATA_DIR": str(tmp_path / "nowhere"), "NEWSDESK_DATABASE_URL": ""}
    runner = CliRunner()
    for args, expect in ((["review", "list"], "newsdesk init"), (["run", "--day", "2026-02-30"], "bad day"),
                         (["review", "show", "999"], "newsdesk init")):
        result = runner.invoke(app, args, env=env)
        assert result.exit_code != 0
        assert expect in result.output
        assert "Traceback" not in result.output
    result = runner.invoke(app, ["run", "--frobnicate"], env=env)
    assert result.exit_code == 2 and "No such option" in result.output


def test_an_llm_that_fails_queues_stories_for_a_human_and_a_rerun_repairs_them(
    tmp_path: Path, db_url: str, sample_server: str
) -> None:
    with FakeOpenAI() as fake:
        fake.set_default("server_error")
        env = _env(tmp_path, db_url, sample_server, llm=fake)
        env["NEWSDESK_MAX_STORIES"] = "3"
        output = cli(env, "run", "--day", SAMPLE_DAY)
        assert "3 need a human" in output
        listing = json.loads(cli(env, "review", "list", "--day", SAMPLE_DAY, "--json"))
        broken = [r for r in listing["stories"] if r["status"] == "needs_human"]
        assert len(broken) == 3
        shown = json.loads(cli(env, "review", "show", str(broken[0]["id"]), "--json"))
        assert "server" in (shown["row"]["error"] or "").lower() or "500" in (shown["row"]["error"] or "")

        fake.set_default("good")
        before = counts(db_url)
        output = cli(env, "run", "--day", SAMPLE_DAY, "--from-stage", "draft")
        assert "3 drafted" in output
        after = counts(db_url)
        assert {k: v for k, v in after.items() if k != "llm_calls"} == {k: v for k, v in before.items() if k != "llm_calls"}
        statuses = {r["status"] for r in json.loads(cli(env, "review", "list", "--day", SAMPLE_DAY, "--json"))["stories"]}
        assert "needs_human" not in statuses


def test_missing_prompt_templates_mark_the_stories_and_the_night_goes_on(
    tmp_path: Path, db_url: str, sample_server: str
) -> None:
    with FakeOpenAI() as fake:
        env = _env(tmp_path, db_url, sample_server, llm=fake)
        env["NEWSDESK_MAX_STORIES"] = "3"
        env["NEWSDESK_PROMPTS_DIR"] = str(tmp_path / "no-prompts-here")
        output = cli(env, "run", "--day", SAMPLE_DAY)
        assert "Prompt templates could not be loaded" in output and "3 need a human" in output
        assert fake.chat_calls == []
    stories = json.loads(cli(env, "review", "list", "--day", SAMPLE_DAY, "--json"))["stories"]
    assert len(stories) == 3 and all(r["status"] == "needs_human" for r in stories)
    shown = json.loads(cli(env, "review", "show", str(stories[0]["id"]), "--json"))
    assert "prompt not available" in shown["row"]["error"] and shown["summary"], "the extractive draft is kept"


def test_one_story_is_regenerated_with_the_editors_instruction(tmp_path: Path, db_url: str, sample_server: str) -> None:
    with FakeOpenAI() as fake:
        env = _env(tmp_path, db_url, sample_server, llm=fake)
        env["NEWSDESK_MAX_STORIES"] = "3"
        cli(env, "run", "--day", SAMPLE_DAY)
        listing = json.loads(cli(env, "review", "list", "--day", SAMPLE_DAY, "--json"))["stories"]
        target, other = listing[0]["id"], listing[1]["id"]
        calls = len(fake.chat_calls)

        cli(env, "review", "regenerate", str(target), "--instruction", "Lead with the price cut.", "--as", "ana")
        new_calls = fake.chat_calls[calls:]
        assert new_calls and "Lead with the price cut." in new_calls[0].text("user")
        shown = json.loads(cli(env, "review", "show", str(target), "--json"))
        assert shown["row"]["version"] == 2
        assert shown["history"][-1]["author"] == "ana" and shown["history"][-1]["action"] == "regenerated"
        db = Database(db_url)
        with db.session() as s:
            entry = s.scalars(select(AuditLog).where(AuditLog.action == "regenerated")).one()
        db.dispose()
        assert entry.actor == "ana" and entry.entity_id == str(target)
        assert entry.before["version"] == 1 and entry.after["version"] == 2
        assert entry.after["instruction"] == "Lead with the price cut."

        fake.set_default("server_error")
        result = CliRunner().invoke(app, ["review", "regenerate", str(target)], env=env)
        assert result.exit_code != 0 and "draft is unchanged" in result.output and "Traceback" not in result.output
        kept = json.loads(cli(env, "review", "show", str(target), "--json"))
        assert kept["row"]["version"] == 2 and kept["row"]["headline"] == shown["row"]["headline"]
        fake.set_default("good")

        cli(env, "review", "approve", str(target), "--as", "ana")
        version_approved = json.loads(cli(env, "review", "show", str(target), "--json"))["row"]["version"]
        cli(env, "run", "--day", SAMPLE_DAY, "--from-stage", "draft", "--force")
        approved = json.loads(cli(env, "review", "show", str(target), "--json"))
        assert approved["row"]["status"] == "approved" and approved["row"]["version"] == version_approved, \
            "--force must not redraft an editor's approved story"

        other_before = json.loads(cli(env, "review", "show", str(other), "--json"))
        calls = len(fake.chat_calls)
        cli(env, "run", "--story", str(other))
        assert len(fake.chat_calls) > calls, "--story redrafts that story even with unchanged inputs"
        other_after = json.loads(cli(env, "review", "show", str(other), "--json"))
        assert other_after["row"]["version"] == other_before["row"]["version"] + 1
        assert json.loads(cli(env, "review", "show", str(target), "--json"))["row"]["version"] == approved["row"]["version"]
