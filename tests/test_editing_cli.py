"""Editing from the command line: `review edit` (with $EDITOR or options) goes through the desk's own
checks, a second approval says so, and an instruction with no model to read it is refused."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsdesk.cli import app
from storage import desk
from storage.db import Database
from test_truth_gate import DAY, seed


@pytest.fixture
def env(db_url: str, tmp_path: Path):
    db = Database(db_url)
    keys = seed(db)
    db.dispose()
    return {"NEWSDESK_DATA_DIR": str(tmp_path / "data"), "NEWSDESK_DATABASE_URL": db_url,
            "OPENAI_BASE_URL": "", "OPENAI_API_KEY": ""}, keys


def run(env: dict[str, str], *args: str):
    return CliRunner().invoke(app, list(args), env=env)


def detail(db_url: str, story_id: int) -> desk.StoryDetail:
    db = Database(db_url)
    try:
        with db.session() as s:
            return desk.get_story(s, story_id)
    finally:
        db.dispose()


def test_edit_with_options_writes_the_view_without_its_label_and_rechecks(env, db_url) -> None:
    variables, keys = env
    sid = keys["chips"]
    result = run(variables, "review", "edit", str(sid), "--as", "ana",
                 "--view", "The new export rules decide which labs can train frontier models, and how fast vendors can ship accelerators abroad.")
    assert result.exit_code == 0, result.output
    assert "saved #" in result.output and "changed view" in result.output
    d = detail(db_url, sid)
    assert d.view == "The new export rules decide which labs can train frontier models, and how fast vendors can ship accelerators abroad."
    assert d.editor == "ana" and d.history[-1]["action"] == "edited"
    assert not [v for v in d.violations if v["rule"] in ("view.placeholder", "view.missing", "view.opener")]
    # the view is written, so the gate lets it through now
    assert run(variables, "review", "approve", str(sid), "--as", "ana").exit_code == 0


def test_edit_summary_is_regrounded_like_the_desk(env, db_url) -> None:
    variables, keys = env
    sid = keys["chips"]
    result = run(variables, "review", "edit", str(sid), "--as", "ana",
                 "--summary", "New rules limit exports of accelerators. [1]\\nThe rules cost vendors $40 billion a year. [1]")
    assert result.exit_code == 0, result.output
    d = detail(db_url, sid)
    assert [s["text"] for s in d.summary] == ["New rules limit exports of accelerators.",
                                              "The rules cost vendors $40 billion a year."]
    assert any("40" in u["claim"] for u in d.unsupported), d.unsupported
    assert "unsupported:" in result.output


def _editor_script(tmp_path: Path, body: str) -> str:
    """A tiny $EDITOR: a Python script that rewrites the file it is given."""
    script = tmp_path / "fake_editor.py"
    script.write_text("import pathlib, sys\np = pathlib.Path(sys.argv[1])\ntext = p.read_text()\n" + body)
    return f"{sys.executable} {script}"


def test_edit_in_editor_round_trips_the_markdown(env, db_url, tmp_path) -> None:
    variables, keys = env
    sid = keys["chips"]
    editor = _editor_script(tmp_path, (
        "assert '# Chip Exports Tighten' in text and '## View' in text and '[1] Wire' in text, text\n"
        "text = text.replace('Chip Exports Tighten', 'Accelerator Exports Tighten')\n"
        "head, rest = text.split('## View', 1)\n"
        "rest = rest.split('## Tags', 1)[1]\n"
        "p.write_text(head + '## View\\n\\nThe new export rules decide where frontier models get trained.\\n\\n## Tags' + rest)\n"))
    result = run(variables | {"EDITOR": editor, "VISUAL": ""}, "review", "edit", str(sid), "--as", "ben")
    assert result.exit_code == 0, result.output
    d = detail(db_url, sid)
    assert d.row.headline == "Accelerator Exports Tighten"
    assert d.view == "The new export rules decide where frontier models get trained."
    assert d.tags == ["Policy"] and [s["text"] for s in d.summary] == ["New rules limit exports of accelerators."]
    # an unchanged file saves nothing
    untouched = run(variables | {"EDITOR": _editor_script(tmp_path, "pass\n"), "VISUAL": ""}, "review", "edit", str(sid))
    assert untouched.exit_code == 0 and "no change" in untouched.output
    assert detail(db_url, sid).row.version == d.row.version


def test_edit_in_editor_refuses_a_save_over_someone_elses(env, db_url, tmp_path) -> None:
    """Someone saves while the file is open: the editor's save is refused and their text is kept in a file."""
    variables, keys = env
    sid = keys["chips"]
    other = (f"from newsdesk.cli import app\nfrom typer.testing import CliRunner\n"
             f"CliRunner().invoke(app, ['review', 'edit', '{sid}', '--as', 'ben', '--view', 'Ben wrote this view first, while ana was typing.'])\n"
             "p.write_text(text.replace('# Chip Exports Tighten', '# Ana Headline'))\n")
    result = run(variables | {"EDITOR": _editor_script(tmp_path, other), "VISUAL": ""}, "review", "edit", str(sid), "--as", "ana")
    assert result.exit_code == 1 and "changed since you opened it" in result.output
    assert "Traceback" not in result.output
    kept = Path(result.output.split("kept in ")[1].split()[0])
    assert "# Ana Headline" in kept.read_text()
    kept.unlink()
    d = detail(db_url, sid)
    assert d.row.headline == "Chip Exports Tighten" and d.view.startswith("Ben wrote")


def test_edit_without_an_editor_is_one_line(env) -> None:
    variables, keys = env
    result = run(variables | {"EDITOR": "", "VISUAL": ""}, "review", "edit", str(keys["chips"]))
    assert result.exit_code == 1 and "set $EDITOR" in result.output and "Traceback" not in result.output
    bad = run(variables, "review", "edit", "999999", "--view", "x")
    assert bad.exit_code == 1 and "no drafted story" in bad.output


def test_approving_twice_says_already_approved(env, db_url) -> None:
    variables, keys = env
    sid = str(keys["falcon"])
    assert run(variables, "review", "approve", sid, "--as", "ana", "--override", "checked").exit_code == 0
    again = run(variables, "review", "approve", sid, "--as", "ben")
    assert again.exit_code == 0 and "already approved" in again.output and "by ana" in again.output
    assert [h["action"] for h in detail(db_url, keys["falcon"]).history].count("approved") == 1


def test_regenerate_with_an_instruction_and_no_model_says_so(env, db_url) -> None:
    variables, keys = env
    sid = keys["chips"]
    version = detail(db_url, sid).row.version
    result = run(variables, "review", "regenerate", str(sid), "--instruction", "lead with the vendors")
    assert result.exit_code == 1 and "no LLM configured" in result.output and "--instruction" in result.output
    assert detail(db_url, sid).row.version == version


# ------------------------------------------------------------------ accounts and corrections


PASSWORD = "correct horse battery"


def test_users_disable_enable_and_reset_password_from_the_cli(env, db_url) -> None:
    from review.users import add_user, verify

    variables, _ = env
    db = Database(db_url)
    add_user(db, "ben", "editor", PASSWORD)
    out = run(variables, "users", "disable", "ben")
    assert out.exit_code == 0 and "disabled ben" in out.output
    assert verify(db, "ben", PASSWORD) is None
    assert "ben\teditor\tdisabled" in run(variables, "users", "list").output
    assert run(variables, "users", "enable", "ben").exit_code == 0
    reset = CliRunner().invoke(app, ["users", "reset-password", "ben", "--password-stdin"], env=variables,
                               input="a brand new secret\n")
    assert reset.exit_code == 0 and "password reset for ben" in reset.output
    assert verify(db, "ben", PASSWORD) is None and verify(db, "ben", "a brand new secret") is not None
    short = CliRunner().invoke(app, ["users", "reset-password", "ben", "--password-stdin"], env=variables, input="short\n")
    assert short.exit_code == 1 and "at least 8" in short.output
    assert run(variables, "users", "disable", "nobody").exit_code == 1
    db.dispose()


def test_a_correction_from_the_cli_needs_an_admin_as_in_the_desk(env, db_url, tmp_path) -> None:
    from review.users import add_user

    variables, keys = env
    db = Database(db_url)
    add_user(db, "ana", "editor", PASSWORD)
    add_user(db, "root", "admin", PASSWORD)
    db.dispose()
    site = str(tmp_path / "site")
    assert run(variables, "review", "approve", str(keys["falcon"]), "--as", "ana", "--override", "checked").exit_code == 0
    first = run(variables, "publish", "--day", DAY, "--out", site, "--as", "ana")  # editors publish a day
    assert first.exit_code == 0, first.output
    for who in ("ana", "mallory"):
        refused = run(variables, "publish", "--day", DAY, "--out", site, "--as", who, "--note", "fix")
        assert refused.exit_code == 1 and "correction is for admins" in refused.output, refused.output
    ok = run(variables, "publish", "--day", DAY, "--out", site, "--as", "root", "--note", "fixed a figure")
    assert ok.exit_code == 0 and "revision 2" in ok.output


def test_publish_style_does_not_stick_and_the_days_style_is_visible(env, db_url, tmp_path) -> None:
    from review.users import add_user

    variables, keys = env
    db = Database(db_url)
    add_user(db, "root", "admin", PASSWORD)
    db.dispose()
    site = tmp_path / "site"
    assert run(variables, "review", "approve", str(keys["falcon"]), "--override", "checked").exit_code == 0
    shown = run(variables, "digest", "show", "--day", DAY)
    assert shown.exit_code == 0 and f"{DAY}: style awesome-ai-daily" in shown.output
    once = run(variables, "publish", "--day", DAY, "--out", str(site), "--style", "ai-news-digest", "--as", "root")
    assert once.exit_code == 0 and "as ai-news-digest" in once.output and "for this publication only" in once.output
    assert "style awesome-ai-daily" in run(variables, "digest", "show", "--day", DAY).output
    again = run(variables, "publish", "--day", DAY, "--out", str(site), "--as", "root", "--note", "house style")
    assert again.exit_code == 0 and "as awesome-ai-daily" in again.output
    assert "Awesome AI View:" in (site / f"{DAY}.md").read_text() and "Why it matters" not in (site / f"{DAY}.md").read_text()
    changed = run(variables, "digest", "set", "--day", DAY, "--style", "ai-news-digest", "--title", "Chips and open models",
                  "--intro", "A day of export rules and open weights.")
    assert changed.exit_code == 0, changed.output
    info = run(variables, "digest", "show", "--day", DAY, "--json")
    import json

    data = json.loads(info.output)
    assert data["style"] == "ai-news-digest" and data["title"] == "Chips and open models"
    assert data["intro"] == "A day of export rules and open weights." and data["stories"][0]["id"] == keys["falcon"]
    third = run(variables, "publish", "--day", DAY, "--out", str(site), "--as", "root", "--note", "new style")
    assert "as ai-news-digest" in third.output and "Chips and open models" in (site / f"{DAY}.md").read_text()
    bad = run(variables, "digest", "set", "--day", DAY, "--style", "tabloid")
    assert bad.exit_code == 1 and "unknown style" in bad.output
