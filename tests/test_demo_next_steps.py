"""The demo's printed "Next steps" work as printed: run in a shell's order, with only what they set.

They must name the demo's data directory AND its sources file (the repository's sources.yaml would fetch
the real internet and name unknown sources), and no command may be broken across lines at 80 columns.
"""
from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsdesk.cli import app
from newsdesk.demo import SAMPLE_DAY
from review.editing import form_changes, recheck, summary_to_text
from storage import desk
from storage.db import Database
from summarizer.models import SourceDoc
from summarizer.render import source_label

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]
NEWSDESK = str(Path(sys.executable).with_name("newsdesk"))
VIEW = "A million tokens only matter if the model can find the one paragraph that answers the question."


def _write_view(db_url: str, story_id: int) -> None:
    """What an editor does in the desk: write the view (the same checks as the desk's edit form)."""
    db = Database(db_url)
    with db.session() as s:
        detail = desk.get_story(s, story_id)
        changes = form_changes(detail, detail.row.headline, summary_to_text(detail.summary, detail.sources), VIEW,
                               ", ".join(detail.tags), detail.section or "")
        violations, unsupported = recheck(detail, changes)
        desk.edit(s, story_id, "ana", expected_version=detail.row.version, changes=changes,
                  violations=violations, unsupported=unsupported)
    db.dispose()


def test_the_printed_next_steps_work_as_printed(tmp_path: Path) -> None:
    home = tmp_path / "home"
    keys = ("NEWSDESK_DATA_DIR", "NEWSDESK_SOURCES", "NEWSDESK_ALLOW_PRIVATE_HOSTS", "NEWSDESK_DATABASE_URL",
            "NEWSDESK_DEMO_DIR", "OPENAI_API_KEY", "OPENAI_BASE_URL", "NEWSDESK_MODEL")
    env = {k: "" for k in keys} | {"NEWSDESK_DATA_DIR": str(home), "COLUMNS": "80"}
    saved = {k: os.environ.get(k) for k in keys}
    try:
        result = CliRunner().invoke(app, ["demo", "--port", "0"], env=env, catch_exceptions=False)
    finally:  # the demo points this process at its own data; put it back
        for k, v in saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    assert result.exit_code == 0, result.output
    steps = result.output.split("Next steps", 1)[1].splitlines()[1:]
    commands = [ln.strip() for ln in steps if ln.startswith("  ")]
    assert all(c.startswith(("export ", "newsdesk ")) for c in commands), steps  # nothing wrapped onto its own line
    exports = dict(c.removeprefix("export ").split("=", 1) for c in commands if c.startswith("export "))
    assert set(exports) == {"NEWSDESK_DATA_DIR", "NEWSDESK_SOURCES"}
    shell_env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "COLUMNS": "80"}
    shell_env |= {k: shlex.split(v)[0] for k, v in exports.items()}
    for k in ("PREFECT_HOME", "PREFECT_SERVER_ANALYTICS_ENABLED", "DO_NOT_TRACK"):
        shell_env[k] = os.environ[k]

    ran = []
    for command in commands:
        if command.startswith("export "):
            continue
        args = shlex.split(command)
        if args[1:] == ["serve"]:
            continue  # it serves until stopped; `users add` before it is what it needs
        if args[1:3] == ["review", "approve"]:
            _write_view(f"sqlite:///{Path(exports['NEWSDESK_DATA_DIR']) / 'newsdesk.db'}", int(args[3]))
        done = subprocess.run([NEWSDESK, *args[1:]], env=shell_env, input="correct horse battery\n",
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
        assert "Traceback" not in done.stderr and "unknown source" not in done.stderr, done.stderr
        ran.append(args[1])
    assert "serve" in " ".join(commands) and {"review", "users", "publish"} <= set(ran)
    md = (Path(exports["NEWSDESK_DATA_DIR"]) / "site" / f"{SAMPLE_DAY}.md").read_text(encoding="utf-8")
    assert "post by @profile" not in md and "post by @item" not in md


@pytest.mark.parametrize("doc, label", [
    (SourceDoc(id="1", title="t", outlet="Tensor Tribune on Bluesky", kind="post", network="bluesky",
               url="https://bsky.app/profile/tensortribune.example/post/3m6", author="@tensortribune.example"),
     "Bluesky post by @tensortribune.example"),
    (SourceDoc(id="1", title="t", outlet="Tribune", kind="post", url="https://bsky.app/profile/tribune.example/post/3m6"),
     "Bluesky post by @tribune.example"),
    (SourceDoc(id="1", title="t", outlet="OpenAI", kind="post", url="https://x.com/OpenAI/status/1"), "𝕏 post by @OpenAI"),
    (SourceDoc(id="1", title="t", outlet="Rita Koval (Mastodon)", kind="post", network="mastodon",
               url="https://newsfedi.example/@rkoval/1135", author="@rkoval@newsfedi.example"),
     "Mastodon post by @rkoval@newsfedi.example"),
    (SourceDoc(id="1", title="Meridian AI launches Atlas-3", outlet="Hacker News", kind="post", network="hackernews",
               url="https://ledger.example/atlas-3", author="tokenwrangler"), "Hacker News thread by tokenwrangler"),
    (SourceDoc(id="1", title="Ask HN: evals?", outlet="Hacker News", kind="post",
               url="https://news.ycombinator.com/item?id=45016002"), "Hacker News thread"),
    (SourceDoc(id="1", title="t", outlet="r/ModelWatch", kind="post", network="reddit", author="u/gradient",
               url="https://www.reddit.com/r/ModelWatch/comments/1gx7k2a/x"), "r/ModelWatch post by u/gradient"),
])
def test_social_sources_are_credited_to_their_author_on_their_network(doc: SourceDoc, label: str) -> None:
    assert source_label(doc) == label
