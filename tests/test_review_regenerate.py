"""Regenerate one story from the desk, through the app `newsdesk serve` builds, against a fake LLM server.

The hook is the real one (newsdesk.webapp wires it to the drafter), so this
checks the editor's instruction reaches the model and only that story is redrafted.
"""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from starlette.testclient import TestClient

from fakes import FakeOpenAI
from newsdesk.config import load_settings
from newsdesk.webapp import build_app
from review.users import add_user
from storage import desk
from storage.models import AuditLog
from test_review_http import PASSWORD, csrf_of, login, seed


def _env(tmp_path: Path, db_url: str, fake: FakeOpenAI) -> dict[str, str]:
    return {
        "NEWSDESK_DATA_DIR": str(tmp_path / "data"),
        "NEWSDESK_DATABASE_URL": db_url,
        "NEWSDESK_SECRET_KEY": "regenerate-test-secret-0123456789",
        "NEWSDESK_ALLOW_PRIVATE_HOSTS": "loopback",
        "OPENAI_API_KEY": "test-key",
        "OPENAI_BASE_URL": fake.base_url,
        "NEWSDESK_MODEL": fake.model,
    }


def test_regenerate_one_story_with_an_instruction(db, tmp_path) -> None:
    ids = seed(db)
    add_user(db, "ana", "editor", PASSWORD)
    sid, other = ids["chips"], ids["falcon"]
    with db.session() as s:
        before_other = desk.get_story(s, other)
    with FakeOpenAI() as fake:
        client = TestClient(build_app(load_settings(_env(tmp_path, db.url, fake))), follow_redirects=False)
        assert login(client, "ana").status_code == 303
        page = client.get(f"/story/{sid}").text
        assert "Regenerate this story" in page  # offered because a model is configured
        resp = client.post(f"/story/{sid}/regenerate",
                           data={"instruction": "Lead with the export rules", "csrf_token": csrf_of(page)})
        assert resp.status_code == 303 and resp.headers["location"].endswith("ok=regenerated"), resp.text[:500]
        calls = list(fake.chat_calls)
    assert calls, "the model was not asked"
    assert all("Lead with the export rules" in c.text() for c in calls)
    assert all("New rules limit exports of accelerators" in c.text() for c in calls)  # this story's source ...
    assert not any("Falcon-9B" in c.text() for c in calls)  # ... and no other story's
    with db.session() as s:
        d = desk.get_story(s, sid)
        after_other = desk.get_story(s, other)
        audited = s.scalars(select(AuditLog).where(AuditLog.action == "regenerated")).all()
    assert d.history[-1]["action"] == "regenerated" and d.history[-1]["author"] == "ana"
    assert d.row.version == 2 and d.summary and d.row.status == "pending"
    assert (after_other.row.version, after_other.view) == (before_other.row.version, before_other.view)
    (audit,) = audited
    assert audit.actor == "ana" and audit.before["version"] == 1 and audit.after["version"] == 2
    assert audit.before["view"] == "Awesome AI View: supply chains shift." and audit.after["instruction"] == "Lead with the export rules"
    html = client.get(f"/story/{sid}?ok=regenerated").text
    assert "Redrafted by the model" in html and "act-regenerated" in html
