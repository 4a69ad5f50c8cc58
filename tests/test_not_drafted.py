"""Every story of the night is on the desk: the top N drafted, the rest listed as "not drafted" with a way to draft one.

The bundled sample day, run with a cap of six drafts, in the CLI and the web desk.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Iterator

import pytest
import yaml
from starlette.testclient import TestClient
from typer.testing import CliRunner

from newsdesk.cli import app
from newsdesk.config import load_settings
from newsdesk.demo import SAMPLE_DAY, demo_sources, serve_sample_day
from newsdesk.webapp import build_app
from review.users import add_user
from storage.db import Database

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]
CAP = 6
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def sample_server() -> Iterator[str]:
    with serve_sample_day() as base_url:
        yield base_url


def cli(env: dict[str, str], *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == code, f"newsdesk {' '.join(args)} exited {result.exit_code}:\n{result.output}"
    return result.output


@pytest.fixture
def night(tmp_path: Path, db_url: str, sample_server: str) -> dict[str, str]:
    sources = tmp_path / "sources.yaml"
    sources.write_text(yaml.safe_dump({"sources": demo_sources(sample_server)}), encoding="utf-8")
    env = {"NEWSDESK_DATA_DIR": str(tmp_path / "data"), "NEWSDESK_DATABASE_URL": db_url, "NEWSDESK_SOURCES": str(sources),
           "NEWSDESK_ALLOW_PRIVATE_HOSTS": "loopback", "OPENAI_API_KEY": "", "OPENAI_BASE_URL": "", "NEWSDESK_MODEL": ""}
    cli(env, "run", "--day", SAMPLE_DAY, "--max-stories", str(CAP))
    return env


def listing(env: dict[str, str]) -> dict:
    return json.loads(cli(env, "review", "list", "--day", SAMPLE_DAY, "--json"))


def test_stories_past_the_cap_are_listed_and_can_be_drafted_from_the_cli(night: dict[str, str]) -> None:
    data = listing(night)
    assert len(data["stories"]) == CAP
    rest = data["not_drafted"]
    assert rest, "the stories past the cap are invisible"
    assert [r["rank"] for r in rest] == sorted(r["rank"] for r in rest)
    assert min(r["rank"] for r in rest) > max(r["rank"] for r in data["stories"])
    layoff = next(r for r in rest if "Brightmoor" in r["headline"])
    assert "1 outlet" in layoff["reasons"]
    # multi-outlet news leads the night
    assert all(r["outlets"] >= 2 for r in data["stories"][:5])

    text = cli(night, "review", "list", "--day", SAMPLE_DAY)
    assert "not drafted" in text and "review draft" in text and "Brightmoor" in text

    assert "drafted" in cli(night, "review", "draft", str(layoff["id"]), "--as", "ana")
    after = listing(night)
    assert layoff["id"] in [r["id"] for r in after["stories"]]
    assert layoff["id"] not in [r["id"] for r in after["not_drafted"]]
    again = cli(night, "review", "draft", str(layoff["id"]), code=1)
    assert "already drafted" in again and "Traceback" not in again


def test_the_desk_lists_them_below_with_draft_this(night: dict[str, str]) -> None:
    rest = listing(night)["not_drafted"]
    settings = load_settings(night)
    db = Database(settings.database_url)
    add_user(db, "ana", "editor", PASSWORD)
    db.dispose()
    client = TestClient(build_app(settings), follow_redirects=False)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    assert client.post("/login", data={"name": "ana", "password": PASSWORD, "csrf_token": token, "next": "/"}).status_code == 303

    page = client.get(f"/day/{SAMPLE_DAY}").text
    section = page.split("Not drafted", 1)[1]
    for r in rest:
        assert f'action="/story/{r["id"]}/draft"' in section
    assert "Draft this" in section and "1 outlet" in section

    target = rest[0]["id"]
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = client.post(f"/story/{target}/draft", data={"csrf_token": token})
    assert answer.status_code == 303 and answer.headers["location"] == f"/story/{target}?ok=drafted"
    assert client.get(f"/story/{target}").status_code == 200
    assert target in [r["id"] for r in listing(night)["stories"]]
    assert client.post(f"/story/{target}/draft", data={"csrf_token": token}).status_code == 400
