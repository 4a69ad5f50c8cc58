"""Errors the README promises as one line: impossible dates, the demo on a busy port, bogus days in the desk."""
from __future__ import annotations

import socket
import types
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsdesk.cli import app
from review.users import add_user
from storage.db import Database
from test_bad_input import one_line_error
from test_review_http import PASSWORD, logged_in


@pytest.mark.parametrize("day, fragment", [("2026-02-30", "no such date"), ("2026-99-99", "no such date"),
                                           ("30/02/2026", "use YYYY-MM-DD"), ("2026-2-3", "use YYYY-MM-DD")])
def test_an_impossible_day_is_no_such_date_and_a_malformed_one_a_format_error(tmp_path: Path, day: str, fragment: str) -> None:
    env = {"NEWSDESK_DATA_DIR": str(tmp_path), "NEWSDESK_DATABASE_URL": ""}
    for args in (["review", "list", "--day", day], ["publish", "--day", day], ["collect", "--day", day]):
        one_line_error(CliRunner().invoke(app, args, env=env), fragment)


def test_the_demo_on_a_busy_port_names_a_free_one(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(app, ["demo", "--port", str(port)],
                                    env={"NEWSDESK_DATA_DIR": str(tmp_path), "NEWSDESK_DATABASE_URL": ""})
    one_line_error(result, f"port {port} is in use; run `newsdesk demo --port ")


def test_the_desk_answers_404_for_a_day_that_does_not_exist(db: Database, tmp_path: Path) -> None:
    from review.settings import ReviewSettings

    add_user(db, "ana", "editor", PASSWORD)
    env = types.SimpleNamespace(settings=ReviewSettings(database_url=db.url, secret_key="test-secret-key-0123456789",
                                                        publish_dir=tmp_path / "site"))
    client = logged_in(env)
    for path in ("/day/2026-99-99", "/day/2026-02-30", "/digest/2026-02-30", "/day/nonsense"):
        answer = client.get(path)
        assert answer.status_code == 404, path
    assert "no such date" in client.get("/day/2026-02-30").text
    assert client.get("/day/2026-02-28").status_code == 200
