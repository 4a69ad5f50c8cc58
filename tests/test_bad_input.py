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


BAD_ENTRIES = [
    ({"options": [1, 2]}, "options must be a mapping"),
    ({"options": "min_points=5"}, "options must be a mapping"),
    ({"url": 123}, "url must be text"),
    ({"url": "javascript:alert(1)"}, "url must be an http(s) URL"),
    ({"url": "file:///etc/passwd"}, "url must be an http(s) URL"),
    ({"base_url": "data:text/plain,x"}, "base_url must be an http(s) URL"),
    ({"tags": {"a": 1}}, "tags must be a list"),
    ({"weight": [1]}, "weight must be a number"),
    ({"weight": "heavy"}, "weight must be a number"),
]


@pytest.mark.parametrize(("fields", "message"), BAD_ENTRIES, ids=[m + str(i) for i, (_, m) in enumerate(BAD_ENTRIES)])
def test_a_bad_sources_entry_is_one_line_in_every_command(tmp_path: Path, fields: dict, message: str) -> None:
    entry = {"name": "Odd", "type": "feed", "url": "https://odd.example.com/feed"} | fields
    env = _env(tmp_path, f"sqlite:///{tmp_path / 'nd.db'}", [entry])
    assert invoke(env, "init").exit_code == 0
    for args in (["sources", "list"], ["collect", "--day", "2026-11-19"], ["sources", "export-opml"]):
        one_line_error(invoke(env, *args), message)


def test_run_with_an_unknown_source_fails_before_the_flow_starts(tmp_path: Path, db_url: str) -> None:
    from sqlalchemy import func, select

    from storage.db import Database
    from storage.models import Run

    env = _env(tmp_path, db_url, [{"name": "Fine Feed", "type": "feed", "url": "https://fine.example.com/feed"}])
    one_line_error(invoke(env, "run", "--day", "2026-11-19", "--source", "nope"), "unknown source(s): nope")
    one_line_error(invoke(env, "collect", "--day", "2026-11-19", "--source", "nope"), "unknown source(s): nope")
    db = Database(db_url)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Run)) == 0  # no run was started, so none failed
    db.dispose()



@pytest.mark.usefixtures("prefect_harness")
def test_run_with_a_broken_sources_file_fails_before_the_flow_starts(tmp_path: Path, db_url: str) -> None:
    """Not a failed run with Prefect's traceback half a minute later: one line, at once, no run recorded."""
    from sqlalchemy import func, select

    from storage.db import Database
    from storage.models import Run

    env = _env(tmp_path, db_url, [{"name": "Odd", "kind": "feed", "url": "https://odd.example.com/feed"}])
    one_line_error(invoke(env, "run", "--day", "2026-11-19"), "sources.yaml entry 1 (Odd): type must be one of")
    db = Database(db_url)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Run)) == 0
    db.dispose()
    assert invoke(env, "run", "--day", "2026-11-19", "--from-stage", "cluster").exit_code == 0  # needs no sources


@pytest.mark.usefixtures("prefect_harness")
def test_the_scheduled_flow_does_not_retry_a_broken_sources_file(tmp_path: Path, db_url: str,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A deployment runs the flow without the CLI's early check: its collect task fails once, not
    again after its retry delay (a retry cannot mend the file), and the run says why."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    from flows.nightly import nightly
    from storage.db import Database
    from storage.models import Run

    env = _env(tmp_path, db_url, [{"name": "Odd", "kind": "feed", "url": "https://odd.example.com/feed"}])
    assert invoke(env, "init").exit_code == 0
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    state = nightly(day="2026-11-19", return_state=True)
    assert state.is_failed()
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id])))
    [collect] = [r for r in runs if r.name.startswith("collect")]
    assert collect.run_count == 1, f"collect ran {collect.run_count} times"
    db = Database(db_url)
    with db.session() as s:
        [run] = s.query(Run).all()
        assert run.status == "failed"
    db.dispose()

SOURCES_WITH_COMMENTS = """\
# Our sources. Keep this comment.
sources:
  # Labs
  - {name: Lab Blog, type: feed, url: "https://lab.example.com/feed", tags: [lab]}  # the main one
  - {name: Hacker News, type: hackernews, options: {min_points: 100}}
"""
IMPORT = b"""<?xml version="1.0"?><opml version="2.0"><head><title>x</title></head><body>
<outline text="Press"><outline type="rss" text="Wire &amp; Co" xmlUrl="https://wire.example.com/rss?a=1&amp;b=2"/></outline>
<outline type="rss" text="Lab Blog" xmlUrl="https://lab.example.com/feed"/>
<outline type="atom" text="Papers: daily" xmlUrl="https://papers.example.com/atom"/>
</body></opml>"""


def _opml_env(tmp_path: Path) -> tuple[dict[str, str], Path]:
    path = tmp_path / "sources.yaml"
    path.write_text(SOURCES_WITH_COMMENTS, encoding="utf-8")
    path.chmod(0o640)
    return {"NEWSDESK_DATA_DIR": str(tmp_path / "data"), "NEWSDESK_SOURCES": str(path)}, path


def test_import_opml_keeps_comments_and_replaces_the_file_atomically(tmp_path: Path) -> None:
    from newsdesk.sources import load_sources

    env, path = _opml_env(tmp_path)
    opml = tmp_path / "subs.opml"
    opml.write_bytes(IMPORT)
    with path.open(encoding="utf-8") as reader_before:  # a reader that opened the file before the import
        result = invoke(env, "sources", "import-opml", str(opml))
        assert result.exit_code == 0 and "added 2 sources" in result.output, result.output
        assert reader_before.read() == SOURCES_WITH_COMMENTS  # still the whole old file: a rename, not a rewrite in place
    text = path.read_text(encoding="utf-8")
    assert text.startswith(SOURCES_WITH_COMMENTS.rstrip("\n")), text  # every comment and entry kept as written
    specs = load_sources(path)
    assert [(s.name, s.url, s.tags) for s in specs[2:]] == [
        ("Wire & Co", "https://wire.example.com/rss?a=1&b=2", ("Press",)),
        ("Papers: daily", "https://papers.example.com/atom", ()),
    ]
    assert path.stat().st_mode & 0o777 == 0o640
    assert not list(tmp_path.glob(".sources.yaml.*"))  # no temporary file left behind
    again = invoke(env, "sources", "import-opml", str(opml))
    assert again.exit_code == 0 and "added 0 sources" in again.output and path.read_text(encoding="utf-8") == text


BAD_OPML = {
    "entity bomb": ("<!DOCTYPE opml [" + '<!ENTITY a "aaaaaaaaaa">' + "".join(
        f'<!ENTITY {n} "{("&" + p + ";") * 10}">' for p, n in zip("abcdefg", "bcdefgh")) + "]>"
        '<opml version="2.0"><body><outline text="&h;" xmlUrl="https://x.example.com/f"/></body></opml>', "entit"),
    "truncated": (IMPORT.decode()[:IMPORT.decode().index('<outline type="atom"') + 25], "truncated or malformed"),
    "javascript xmlUrl": (IMPORT.decode().replace("https://papers.example.com/atom", "javascript:alert(1)"), "not an http(s) URL"),
}


@pytest.mark.parametrize("case", list(BAD_OPML))
def test_a_bad_opml_imports_nothing_and_exits_non_zero(tmp_path: Path, case: str) -> None:
    env, path = _opml_env(tmp_path)
    opml = tmp_path / "bad.opml"
    content, message = BAD_OPML[case]
    opml.write_text(content, encoding="utf-8")
    result = invoke(env, "sources", "import-opml", str(opml))
    one_line_error(result, message)
    assert "nothing imported" in result.output
    assert path.read_text(encoding="utf-8") == SOURCES_WITH_COMMENTS


# -- database URLs (the README promises one line for each) ------------------------------------

COMMANDS = (["review", "list"], ["users", "list"], ["sources", "list"], ["init"], ["review", "show", "1"],
            ["publish", "--day", "2026-11-19"], ["run", "--day", "2026-11-19"])


def _url_cases(tmp_path: Path) -> dict[str, tuple[str, str]]:
    not_a_db = tmp_path / "notes.sqlite"
    not_a_db.write_text("these are my notes, not a database\n" * 50, encoding="utf-8")
    return {
        "bogus scheme": ("bogus://x", "unsupported database 'bogus'"),
        "not a url": ("not a url", "is not a database URL"),
        "mysql": ("mysql://ana:secret@db.example.com/news", "unsupported database 'mysql'"),
        "psycopg2 not installed": ("postgresql+psycopg2://ana@127.0.0.1/news", "psycopg2 driver is not installed"),
        "not a database file": (f"sqlite:///{not_a_db}", "file is not a database"),
        "no such postgres database": ("postgresql://postgres@127.0.0.1:5432/newsdesk_no_such_db_x", "does not exist"),
    }


@pytest.mark.parametrize("case", ["bogus scheme", "not a url", "mysql", "psycopg2 not installed", "not a database file",
                                  "no such postgres database"])
def test_a_database_url_that_cannot_work_is_one_line_in_every_command(tmp_path: Path, case: str) -> None:
    url, message = _url_cases(tmp_path)[case]
    if case == "no such postgres database":
        from conftest import POSTGRES_URL

        if not POSTGRES_URL:
            pytest.skip("needs NEWSDESK_TEST_POSTGRES_URL (a PostgreSQL server to ask)")
    env = {"NEWSDESK_DATA_DIR": str(tmp_path / "data")}
    for args in COMMANDS:
        result = invoke(env, "--database-url", url, *args)
        one_line_error(result, message)
        assert "secret" not in result.output  # passwords never printed
    one_line_error(invoke(env, "users", "list", "--database-url", url), message)  # the sub-command's own option
    one_line_error(invoke(env | {"NEWSDESK_DATABASE_URL": url}, "review", "list"), message)


def test_a_missing_database_is_one_line_and_the_same_exit_code_everywhere(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'absent' / 'newsdesk.db'}"
    env = {"NEWSDESK_DATA_DIR": str(tmp_path / "data"), "NEWSDESK_DATABASE_URL": url}
    for args in COMMANDS:
        if args in (["init"], ["sources", "list"]):
            continue
        one_line_error(invoke(env, *args), "run `newsdesk init` first")
    one_line_error(invoke(env, "users", "list", "--database-url", url), "run `newsdesk init` first")
    listed = invoke(env, "sources", "list")  # the sources file is readable without a database: listed, with a note
    assert listed.exit_code == 0 and "no database yet" in listed.output
    assert not (tmp_path / "absent" / "newsdesk.db").exists()  # nothing created by asking


def test_a_plain_postgresql_url_uses_the_installed_psycopg_3(db_url: str, tmp_path: Path) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only")
    plain = "postgresql://" + db_url.split("://", 1)[1]
    env = {"NEWSDESK_DATA_DIR": str(tmp_path / "data")}
    for args in (["init"], ["users", "list"], ["review", "list"]):
        result = invoke(env, "--database-url", plain, *args)
        assert result.exit_code == 0 and "Traceback" not in result.output, result.output
    assert "no users yet" in invoke(env, "users", "list", "--database-url", plain).output
