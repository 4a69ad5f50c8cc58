"""A whole night without Prefect (flows.night), and the LLM probe started ahead of drafting.

The sample day is served on loopback, the LLM is the OpenAI-compatible fake with a little
latency, the database SQLite and (when configured) PostgreSQL.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from flows import probe_ahead
from flows.draft_stage import load_capabilities
from flows.night import DIRECT, run_night
from flows.pipeline import Context
from newsdesk.config import load_settings
from newsdesk.demo import SAMPLE_DAY, demo_sources, serve_sample_day
from storage.db import Database
from storage.models import LLMCall, Run
from tests.fakes.openai_server import FakeOpenAI

STAGES = ["collect", "extract", "cluster", "draft", "queue"]


def _settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, db_url: str, base_url: str, fake: FakeOpenAI):
    sources = tmp_path / "sources.yaml"
    sources.write_text(yaml.safe_dump({"sources": demo_sources(base_url)}), encoding="utf-8")
    for key, value in {"NEWSDESK_DATABASE_URL": db_url, "NEWSDESK_DATA_DIR": str(tmp_path / "data"),
                       "NEWSDESK_SOURCES": str(sources), "NEWSDESK_ALLOW_PRIVATE_HOSTS": "loopback",
                       "NEWSDESK_MAX_STORIES": "6", "OPENAI_API_KEY": "test-key", "OPENAI_BASE_URL": fake.base_url,
                       "NEWSDESK_MODEL": fake.model}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("NEWSDESK_LLM_MODE", raising=False)
    return load_settings()


@pytest.mark.slow
def test_a_night_in_process_records_each_stage_time_and_probes_the_endpoint_once(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve_sample_day() as base_url, FakeOpenAI(latency=0.05) as fake:
        settings = _settings(monkeypatch, tmp_path, db_url, base_url, fake)
        stats = run_night(settings, stages=DIRECT, day=SAMPLE_DAY)
        assert list(stats["seconds"]) == STAGES and all(v >= 0 for v in stats["seconds"].values())
        assert stats["draft"]["drafted"] == stats["draft"]["stories"] > 0
        probes = len(fake.probe_calls)
        assert 0 < probes <= 7, "one probe for the night, started ahead of drafting"
        db = Database(db_url)
        try:
            with db.session() as s:
                run = s.scalars(select(Run)).one()
                assert run.status == "ok" and list(run.stats["seconds"]) == STAGES
                recorded = s.scalar(select(func.count()).select_from(LLMCall).where(LLMCall.story_id.is_(None)))
            assert recorded >= probes, "the probe's calls are the night's, recorded like the drafts'"
            assert load_capabilities(Context(settings, db)) is not None
        finally:
            db.dispose()
        run_night(settings, stages=DIRECT, day=SAMPLE_DAY, from_stage="draft", force=True)
        assert len(fake.probe_calls) == probes, "remembered capabilities are not probed again"


def test_a_second_probe_ahead_of_the_same_endpoint_joins_the_first_and_none_once_stored(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeOpenAI(latency=0.2) as fake:
        settings = _settings(monkeypatch, tmp_path, db_url, "http://127.0.0.1:9", fake)
        first = probe_ahead.start(settings, SAMPLE_DAY)
        assert first is not None
        assert probe_ahead.start(settings, SAMPLE_DAY) is first
        first.join(timeout=60)
        assert not first.is_alive()
        probes = len(fake.probe_calls)
        assert probes > 0
        assert probe_ahead.start(settings, SAMPLE_DAY) is None, "capabilities stored: nothing to probe"
        assert len(fake.probe_calls) == probes


def test_a_probe_ahead_that_finds_no_working_mode_stores_nothing_for_drafting_to_trust(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server still starting (here: refusing connections) is probed again when drafting needs it."""
    from newsdesk.demo_run import free_port

    with FakeOpenAI() as fake:
        settings = _settings(monkeypatch, tmp_path, db_url, "http://127.0.0.1:9", fake)
    port = free_port()  # nothing listens there now
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{port}/v1")
    monkeypatch.setenv("NEWSDESK_LLM_TIMEOUT", "5")
    settings = load_settings()
    thread = probe_ahead.start(settings, SAMPLE_DAY)
    assert thread is not None
    thread.join(timeout=120)
    db = Database(db_url)
    try:
        ctx = Context(settings, db)
        assert load_capabilities(ctx) is None
        with db.session() as s:
            assert s.scalar(select(func.count()).select_from(LLMCall)) > 0, "the failed probe calls are recorded"
        again = probe_ahead.start(settings, SAMPLE_DAY)
        assert again is not None, "drafting will probe again"
        again.join(timeout=120)
    finally:
        db.dispose()
