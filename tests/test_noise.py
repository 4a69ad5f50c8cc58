"""What a newcomer should not see: telemetry errors, install deprecations, dropped-connection tracebacks, bad grammar."""
from __future__ import annotations

import tomllib
from pathlib import Path

import yaml
from typer.testing import CliRunner

from newsdesk import cli
from newsdesk.demo.server import QuietHTTPServer
from summarizer.lint import _range_check
from tests.httpserver import Route, TestServer

ROOT = Path(__file__).resolve().parents[1]
GOOD = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Fine</title>
<item><title>Fine story</title><link>https://fine.example.com/1</link><guid>fine-1</guid></item>
</channel></rss>"""


def test_the_embedded_prefect_server_sends_no_telemetry(monkeypatch) -> None:
    monkeypatch.delenv("PREFECT_SERVER_ANALYTICS_ENABLED", raising=False)
    cli._prefect_env()
    import os

    assert os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"


def test_the_license_is_an_spdx_string_so_install_prints_no_deprecation() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert isinstance(project["project"]["license"], str)
    assert not any(c.startswith("License ::") for c in project["project"].get("classifiers", []))
    setuptools = next(r for r in project["build-system"]["requires"] if r.startswith("setuptools"))
    assert setuptools.replace(" ", "") == "setuptools>=77"  # the first release that reads an SPDX string


def test_a_client_hanging_up_is_no_traceback(capsys) -> None:
    server = QuietHTTPServer(("127.0.0.1", 0), object)
    try:
        for error in (BrokenPipeError(32, "Broken pipe"), ConnectionResetError(104, "Connection reset by peer")):
            try:
                raise error
            except ConnectionError:
                server.handle_error(None, ("127.0.0.1", 1))
        assert capsys.readouterr().err == ""
        try:
            raise RuntimeError("a real bug")
        except RuntimeError:
            server.handle_error(None, ("127.0.0.1", 1))
        assert "a real bug" in capsys.readouterr().err
    finally:
        server.server_close()


def test_counts_agree_with_their_nouns() -> None:
    (v,) = _range_check("summary.sentences", "The summary", 1, (2, 4), "sentences")
    assert "1 sentence," in v.message
    (v,) = _range_check("tags.count", "The tag list", 1, (3, 8), "tags")
    assert "1 tag," in v.message


def test_collect_prints_the_night_without_a_style_and_counts_in_english(tmp_path: Path, db_url: str) -> None:
    with TestServer() as server:
        server.routes["/fine.xml"] = Route(body=GOOD)
        server.routes["/gone.xml"] = Route(404, b"gone")
        sources = tmp_path / "sources.yaml"
        sources.write_text(yaml.safe_dump({"sources": [
            {"name": "Fine Feed", "type": "feed", "url": server.url("/fine.xml")},
            {"name": "Gone Feed", "type": "feed", "url": server.url("/gone.xml")}]}), encoding="utf-8")
        env = {"NEWSDESK_DATA_DIR": str(tmp_path), "NEWSDESK_DATABASE_URL": db_url, "NEWSDESK_SOURCES": str(sources),
               "NEWSDESK_ALLOW_PRIVATE_HOSTS": "loopback", "COLUMNS": "200"}
        result = CliRunner().invoke(cli.app, ["collect", "--day", "2026-11-19"], env=env)
    assert result.exit_code == 0, result.output
    first = result.output.splitlines()[0]
    assert first == "Night of 2026-11-19", first
    assert "1 item from 2 sources" in result.output and "1 source failed" in result.output, result.output
