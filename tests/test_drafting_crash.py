"""A kill during drafting loses at most the stories in flight: each draft and its LLM calls are
committed the moment the model answers, and a rerun asks only for the rest."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from newsdesk.cli import app
from newsdesk.demo import SAMPLE_DAY, serve_sample_day
from storage.db import Database
from storage.models import Draft, LLMCall
from tests.fakes.openai_server import FakeOpenAI
from tests.test_night_e2e import _env

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]
REPO = Path(__file__).resolve().parents[1]
DRAFT_ONLY = (
    "import sys\n"
    "from newsdesk.config import load_settings\n"
    "from flows.pipeline import Context, draft_stage\n"
    "from storage.db import Database\n"
    "s = load_settings()\n"
    "draft_stage(Context(s, Database(s.database_url)), sys.argv[1], s.style, s.max_stories)\n"
)


@pytest.fixture(scope="module")
def sample_server() -> Iterator[str]:
    with serve_sample_day() as base_url:
        yield base_url


def _llm_drafts(db_url: str, model: str) -> tuple[int, int]:
    """(drafts written by the model, the day's recorded drafting calls)."""
    db = Database(db_url)
    with db.session() as s:
        drafts = s.scalar(select(func.count()).select_from(Draft).where(Draft.model == model))
        calls = s.scalar(select(func.count()).select_from(LLMCall)
                         .where(LLMCall.day == SAMPLE_DAY, LLMCall.purpose != "probe"))
    db.dispose()
    return int(drafts or 0), int(calls or 0)


def test_a_kill_mid_draft_keeps_every_answered_story_and_the_rerun_pays_only_for_the_rest(
    tmp_path: Path, db_url: str, sample_server: str
) -> None:
    env = _env(tmp_path, db_url, sample_server)
    result = CliRunner().invoke(app, ["run", "--day", SAMPLE_DAY], env=env)  # extractive night: stories exist
    assert result.exit_code == 0, result.output
    with FakeOpenAI(latency=0.25) as fake:
        llm_env = {**os.environ, **env, "OPENAI_API_KEY": "k", "OPENAI_BASE_URL": fake.base_url,
                   "NEWSDESK_MODEL": fake.model, "NEWSDESK_LLM_CONCURRENCY": "1"}
        proc = subprocess.Popen([sys.executable, "-c", DRAFT_ONLY, SAMPLE_DAY], cwd=REPO, env=llm_env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 120
            while _llm_drafts(db_url, fake.model)[0] < 3:
                assert proc.poll() is None, f"drafting ended before the kill: {proc.stderr.read().decode()[-2000:]}"
                assert time.monotonic() < deadline, "no drafts were saved while the stage ran"
                time.sleep(0.05)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
        saved, recorded = _llm_drafts(db_url, fake.model)
        asked_before_kill = len(fake.chat_calls)
        assert recorded >= saved, "a saved draft's LLM call was not recorded"
        assert asked_before_kill <= recorded + 1, "more than the story in flight was lost"

        # the rerun drafts only what the kill left undone
        rerun = CliRunner().invoke(app, ["run", "--day", SAMPLE_DAY, "--from-stage", "draft"],
                                   env={**env, "OPENAI_API_KEY": "k", "OPENAI_BASE_URL": fake.base_url,
                                        "NEWSDESK_MODEL": fake.model})
        assert rerun.exit_code == 0, rerun.output
        total, recorded_total = _llm_drafts(db_url, fake.model)
        assert saved < total, "the kill came after the last story"
        assert len(fake.chat_calls) <= recorded_total + 1, "an answered call went unrecorded"
        db = Database(db_url)
        with db.session() as s:
            per_story = s.execute(select(LLMCall.story_id, func.count()).where(LLMCall.purpose == "draft")
                                  .group_by(LLMCall.story_id)).all()
        db.dispose()
        asked_twice = [sid for sid, n in per_story if n > 1]
        assert not asked_twice, f"stories drafted before the kill were asked again: {asked_twice}"
