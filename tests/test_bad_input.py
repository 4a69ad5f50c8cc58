"""Bad input through the public CLI: one line, a non-zero exit, nothing lost, and problems shown where an editor looks."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from newsdesk.cli import app
from tests.httpserver import Recorded, Route, TestServer

FEEDS = Path(__file__).parent / "fixtures" / "feeds"
GOOD = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Fine</title>
<item><title>Fine story</title><link>https://fine.example.com/1</link><guid>fine-1</guid></item>
</channel></rss>"""


def invoke(env: dict[str, str], *args: str, input: str | None = None):
    return CliRunner().invoke(app, list(args), env=env, input=input)


def one_line_error(result, fragment: str) -> None:
    """The README's promise: a non-zero exit and one line on stderr, no traceback."""
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert result.exit_code == 1, result.output
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert fragment in lines[0], result.output
    assert "Traceback" not in result.output


def _env(tmp_path: Path, db_url: str, sources: list[dict]) -> dict[str, str]:
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump({"sources": sources}), encoding="utf-8")
    return {
        "NEWSDESK_DATA_DIR": str(tmp_path / "data"),
        "NEWSDESK_DATABASE_URL": db_url,
        "NEWSDESK_SOURCES": str(path),
        "NEWSDESK_ALLOW_PRIVATE_HOSTS": "loopback",
        "OPENAI_API_KEY": "",
        "OPENAI_BASE_URL": "",
    }


def test_a_truncated_feed_shows_its_warnings_in_sources_list(tmp_path: Path, db_url: str) -> None:
    with TestServer() as server:
        def truncated(req: Recorded) -> Route:
            if req.headers.get("if-none-match") == '"t1"':
                return Route(304, headers={"ETag": '"t1"'})
            return Route(body=(FEEDS / "truncated.xml").read_bytes(), headers={"ETag": '"t1"'})

        server.routes["/cut.xml"] = truncated
        server.routes["/fine.xml"] = Route(body=GOOD)
        env = _env(tmp_path, db_url, [{"name": "Cut Feed", "type": "feed", "url": server.url("/cut.xml")},
                                      {"name": "Fine Feed", "type": "feed", "url": server.url("/fine.xml")}])
        assert invoke(env, "collect", "--day", "2026-11-19").exit_code == 0
        rows = {r["name"]: r for r in json.loads(invoke(env, "sources", "list", "--json").output)}
        assert rows["Cut Feed"]["warnings"] and "not well-formed" in rows["Cut Feed"]["warnings"][0]
        assert rows["Fine Feed"]["warnings"] == []
        assert invoke(env, "collect", "--day", "2026-11-19").exit_code == 0  # 304: the feed and its faults are unchanged
        assert server.hits("/cut.xml")[-1].headers.get("if-none-match") == '"t1"'
        rows = {r["name"]: r for r in json.loads(invoke(env, "sources", "list", "--json").output)}
        assert rows["Cut Feed"]["warnings"] and rows["Cut Feed"]["last_error"] is None
        table = invoke(env, "sources", "list").output
        assert "warning:" in table and "Fine Feed" in table
