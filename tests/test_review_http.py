"""The editors' desk over HTTP, against a real database: auth, CSRF, roles, conflicts, escaping, publishing."""
from __future__ import annotations

import json
import re
import threading
import types
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import feedparser
import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from review.app import create_app
from review.publishing import publish_day
from review.settings import ReviewSettings
from review.users import add_user
from storage import desk
from storage.db import Database
from storage.models import AuditLog, Draft, Item, LLMCall, Run
from storage.writes import StoryWrite, ItemWrite, record_source_health, replace_day_stories, save_machine_draft, upsert_items, upsert_sources

DAY = "2026-11-18"
T0 = datetime(2026, 11, 18, 9, 0, tzinfo=timezone.utc)
SITE = "https://news.example.org"
PASSWORD = "correct horse battery"
XSS = "<script>alert('x')</script>"


# ------------------------------------------------------------------ fixtures and helpers


def seed(db: Database) -> dict[str, int]:
    """A day with three drafted stories; one source title and one view carry a script tag."""
    with db.session() as s:
        ids = upsert_sources(s, [
            {"name": "Wire", "type": "feed", "url": "https://wire.test/feed"},
            {"name": "Lab Blog", "type": "feed", "url": "https://lab.test/feed"},
            {"name": "Broken Feed", "type": "feed", "url": "https://broken.test/feed"},
        ])
        upsert_items(s, ids["Wire"], [
            ItemWrite(kind="article", guid="w1", url="https://wire.test/a", title=f"Lab ships model {XSS}",
                      text="Acme Lab released Falcon-9B on Tuesday. The model beats larger rivals on coding benchmarks. "
                           "It is available under an open licence.\nPricing was not disclosed.",
                      content_hash="h1", published_at=T0),
            ItemWrite(kind="article", guid="w2", url="https://wire.test/b", title="Chip exports tighten",
                      text="New rules limit exports of accelerators. Vendors expect delays.", content_hash="h2", published_at=T0),
            ItemWrite(kind="article", guid="w3", url="https://wire.test/c", title="Robot lab funding",
                      text="A robotics startup raised money.", content_hash="h3", published_at=T0),
        ], now=T0)
        upsert_items(s, ids["Lab Blog"], [
            ItemWrite(kind="article", guid="l1", url="https://lab.test/falcon", title="Introducing Falcon-9B",
                      text="Today we release Falcon-9B, a 9B-parameter model. Falcon-9B leads coding benchmarks among open models.",
                      content_hash="h4", published_at=T0),
        ], now=T0)
        for _ in range(3):
            record_source_health(s, ids["Broken Feed"], ok=False, error="HTTP 503")
        items = {it.guid: it.id for it in s.scalars(select(Item))}
        keys = replace_day_stories(s, DAY, [
            StoryWrite(key="falcon", title="Falcon", item_ids=[items["w1"], items["l1"]], rank=1, score=3.5, reasons=["2 outlets", "lab announcement"]),
            StoryWrite(key="chips", title="Chips", item_ids=[items["w2"]], rank=2, score=2.0, reasons=["policy"]),
            StoryWrite(key="robots", title="Robots", item_ids=[items["w3"]], rank=3, score=1.0, reasons=["funding"]),
        ])
        save_machine_draft(
            s, keys["falcon"], style="awesome-ai-daily", status="pending", model="m", prompt_version="v1", input_hash="a",
            fields={"headline": "Acme Lab releases Falcon-9B",
                    "summary": [{"text": "Acme Lab released Falcon-9B, which leads open models on coding benchmarks.",
                                 "source_ids": [str(items["w1"]), str(items["l1"])]},
                                {"text": "The model costs $5 per million tokens.", "source_ids": [str(items["w1"])]}],
                    "view": f"Awesome AI View: open models keep closing the gap {XSS}", "tags": ["Models"],
                    "unsupported": [{"sentence": 1, "claim": "$5 per million tokens", "reason": "no source gives a price"}],
                    "violations": [{"rule": "view-length", "message": "the view is short"}]},
        )
        save_machine_draft(
            s, keys["chips"], style="awesome-ai-daily", status="pending", model="m", prompt_version="v1", input_hash="b",
            fields={"headline": "Export rules tighten for accelerators",
                    "summary": [{"text": "New rules limit accelerator exports.", "source_ids": [str(items["w2"])]}],
                    "view": "Awesome AI View: supply chains shift.", "tags": ["Policy"]},
        )
        save_machine_draft(
            s, keys["robots"], style="awesome-ai-daily", status="pending", model="m", prompt_version="v1", input_hash="c",
            fields={"headline": "Robotics startup raises a round",
                    "summary": [{"text": "A robotics startup raised money.", "source_ids": [str(items["w3"])]}],
                    "view": "Awesome AI View: robots need capital.", "tags": ["Funding"]},
        )
        s.add(LLMCall(day=DAY, model="m", prompt_version="v1", input_tokens=1200, output_tokens=300, cost_usd=0.42))
        s.add(Run(day=DAY, status="ok", notes=["1 source failed"], stats={"items": 4}))
        return {"falcon": keys["falcon"], "chips": keys["chips"], "robots": keys["robots"], **items}


@pytest.fixture
def desk_env(db: Database, tmp_path: Path):
    ids = seed(db)
    add_user(db, "ana", "editor", PASSWORD)
    add_user(db, "ben", "editor", PASSWORD)
    add_user(db, "root", "admin", PASSWORD)
    settings = ReviewSettings(database_url=db.url, secret_key="test-secret-key-0123456789", publish_dir=tmp_path / "site", site_url=SITE)
    return types.SimpleNamespace(db=db, ids=ids, settings=settings, out=tmp_path / "site")


def make_client(settings: ReviewSettings, base_url: str = "http://testserver") -> TestClient:
    return TestClient(create_app(settings), base_url=base_url, follow_redirects=False)


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "page has no CSRF field"
    return m.group(1)


def login(client: TestClient, name: str, password: str = PASSWORD):
    token = csrf_of(client.get("/login").text)
    return client.post("/login", data={"name": name, "password": password, "csrf_token": token, "next": "/"})


def logged_in(env, name: str = "ana") -> TestClient:
    client = make_client(env.settings)
    assert login(client, name).status_code == 303
    return client


def version_of(env, story_id: int) -> int:
    with env.db.session() as s:
        return s.scalars(select(Draft.version).where(Draft.story_id == story_id)).one()


def post(client: TestClient, path: str, data: dict | None = None, page: str = "/"):
    """A form post the way a browser sends it: with the CSRF token from a page of this session."""
    token = csrf_of(client.get(page).text)
    return client.post(path, data={"csrf_token": token, **(data or {})})


# ------------------------------------------------------------------ auth


PUBLIC = {"/login", "/static", "/subscribe", "/subscribe/confirm", "/unsubscribe/{token}"}  # the newsletter pages are for readers


def routes_of(app) -> list[tuple[str, str]]:
    """Every (method, path) the desk serves, with path parameters filled in."""
    out = []
    for route in app.routes:
        inner = getattr(route, "original_router", None) or (route if hasattr(route, "routes") and not hasattr(route, "path") else None)
        if inner is not None:  # an included router (the desk includes them without a prefix)
            out += routes_of(inner)
            continue
        methods = getattr(route, "methods", None)
        if route.path in PUBLIC or not methods:
            continue
        path = route.path.replace("{story_id}", "1").replace("{day}", DAY)
        out += [(m, path) for m in sorted(methods - {"HEAD"})]
    return out


def test_nothing_is_visible_or_changeable_without_login(desk_env) -> None:
    client = make_client(desk_env.settings)
    routes = routes_of(client.app)
    assert ("POST", "/story/1/regenerate") in routes and ("GET", "/sources") in routes and len(routes) >= 18
    for method, path in routes:
        if method == "GET":
            resp = client.get(path)
            assert resp.status_code == 303, path
            assert resp.headers["location"].startswith("/login?next="), path
        else:
            resp = client.request(method, path, data={"version": "1"})
            assert resp.status_code == 401, (method, path)
        assert "Acme" not in resp.text, path
    assert client.get("/login").status_code == 200
    assert client.get("/static/desk.css").status_code == 200


def test_login_sets_a_hardened_cookie_and_audits(desk_env) -> None:
    client = make_client(desk_env.settings)
    resp = login(client, "ana")
    assert resp.status_code == 303 and resp.headers["location"] == "/"
    cookie = resp.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    assert client.get("/").status_code == 200
    tls = make_client(desk_env.settings, base_url="https://testserver")
    assert "secure" in login(tls, "ana").headers["set-cookie"].lower()
    bad = make_client(desk_env.settings)
    resp = login(bad, "ana", "wrong password")
    assert resp.status_code == 401 and "Wrong name or password" in resp.text
    with desk_env.db.session() as s:
        actions = [a.action for a in s.scalars(select(AuditLog).where(AuditLog.entity == "user"))]
    assert actions.count("user.login") == 2 and "user.login_failed" in actions and "user.created" in actions


def test_login_redirects_back_but_never_off_site(desk_env) -> None:
    client = make_client(desk_env.settings)
    token = csrf_of(client.get("/login?next=/sources").text)
    resp = client.post("/login", data={"name": "ana", "password": PASSWORD, "csrf_token": token, "next": "/sources"})
    assert resp.headers["location"] == "/sources"
    client = make_client(desk_env.settings)
    token = csrf_of(client.get("/login").text)
    resp = client.post("/login", data={"name": "ana", "password": PASSWORD, "csrf_token": token, "next": "//evil.test/x"})
    assert resp.headers["location"] == "/"


def test_logout_ends_the_session(desk_env) -> None:
    client = logged_in(desk_env)
    assert post(client, "/logout").status_code == 303
    assert client.get("/").status_code == 303


def test_login_is_rate_limited_per_name_and_address(desk_env) -> None:
    client = make_client(desk_env.settings)
    for _ in range(5):
        assert login(client, "ana", "nope-nope").status_code == 401
    resp = login(client, "ana")  # even the right password waits now
    assert resp.status_code == 429 and "Too many failed attempts" in resp.text
    assert int(resp.headers["retry-after"]) > 0
    assert login(client, "ben").status_code == 303  # another name is not locked out


def test_a_disabled_user_is_out_at_once(desk_env) -> None:
    client = logged_in(desk_env, "ben")
    from storage.models import User

    with desk_env.db.session() as s:
        s.scalars(select(User).where(User.name == "ben")).one().active = False
    assert client.get("/").status_code == 303


# ------------------------------------------------------------------ CSRF


def test_every_post_needs_the_session_csrf_token(desk_env) -> None:
    sid = desk_env.ids["chips"]
    client = logged_in(desk_env)
    version = version_of(desk_env, sid)
    assert client.post(f"/story/{sid}/approve", data={"version": version}).status_code == 403
    resp = client.post(f"/story/{sid}/approve", data={"version": version, "csrf_token": "forged"})
    assert resp.status_code == 403 and "security token" in resp.text
    other = logged_in(desk_env, "ben")  # a real token, but of another session
    foreign = csrf_of(other.get("/").text)
    assert client.post(f"/story/{sid}/approve", data={"version": version, "csrf_token": foreign}).status_code == 403
    assert version_of(desk_env, sid) == version
    anon = make_client(desk_env.settings)
    anon.get("/login")
    assert anon.post("/login", data={"name": "ana", "password": PASSWORD}).status_code == 403
    assert post(client, f"/story/{sid}/approve", {"version": version}).status_code == 303


def test_every_form_on_every_page_carries_the_session_token(desk_env) -> None:
    approve_all(desk_env)
    client = logged_in(desk_env, "root")
    session_token = csrf_of(client.get("/").text)
    for path in ("/", f"/story/{desk_env.ids['falcon']}", f"/digest/{DAY}", "/sources", "/users", "/logout"):
        html = client.get(path).text
        forms = re.findall(r"<form[^>]*method=\"post\"[^>]*>.*?</form>", html, flags=re.S)
        assert forms, path
        for form in forms:
            assert re.findall(r'name="csrf_token" value="([^"]*)"', form) == [session_token], (path, form[:200])


# ------------------------------------------------------------------ queue and sources


def test_queue_shows_the_day_in_order_with_status_flags_and_run_summary(desk_env) -> None:
    client = logged_in(desk_env)
    page = client.get("/").text  # the newest day with stories
    assert DAY in page
    falcon, chips, robots = (page.index(h) for h in ("Acme Lab releases Falcon-9B", "Export rules tighten", "Robotics startup"))
    assert falcon < chips < robots
    assert "1 unsupported claim" in page and "1 style issue" in page
    assert "lab announcement" in page and "2 outlets" in page
    assert "1,500" in page and "$0.42" in page  # tokens and cost of the night
    assert "Broken Feed" in page and "Pending" in page
    filtered = client.get(f"/day/{DAY}?status=approved").text
    assert "Acme Lab releases" not in filtered and "No approved stories" in filtered
    assert client.get(f"/day/{DAY}?status=bogus").status_code == 400
    assert client.get("/day/not-a-day").status_code == 404


def test_sources_page_flags_sources_failing_for_nights(desk_env) -> None:
    page = logged_in(desk_env).get("/sources").text
    assert "Broken Feed" in page and "Flagged · 3 nights" in page and "HTTP 503" in page
    assert page.index("Broken Feed") < page.index("Lab Blog")


# ------------------------------------------------------------------ story page


def test_story_page_shows_draft_beside_sources_escaped_with_cited_passages(desk_env) -> None:
    sid = desk_env.ids["falcon"]
    page = logged_in(desk_env).get(f"/story/{sid}").text
    assert XSS not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page  # in the source title and in the view
    assert page.count("&lt;script&gt;") >= 2
    assert 'class="sent unsupported"' in page and "no source gives a price" in page
    assert "view-length" in page
    assert re.search(r"<mark[^>]*>(<sup>[^<]*</sup>)?The model beats larger rivals on coding benchmarks\.", page) is None
    assert re.search(r"<mark[^>]*><sup>1</sup>Falcon-9B leads coding benchmarks among open models\.</mark>", page)
    assert "Lab Blog" in page and "https://lab.test/falcon" in page
    assert "No language model is configured" in page


def test_edit_saves_a_new_version_and_reruns_the_real_checks(desk_env) -> None:
    sid = desk_env.ids["falcon"]
    client = logged_in(desk_env)
    page = f"/story/{sid}"
    form = {"headline": "Acme Lab releases Falcon-9B", "tags": "Models, Open source", "section": ""}
    resp = post(client, f"/story/{sid}/edit", form | {
        "version": version_of(desk_env, sid), "view": "Awesome AI View: <b>sharper</b>.",
        "summary": "Acme Lab released Falcon-9B. [1][2]\nIt costs $9 per million tokens. [1]",
    }, page=page)
    assert resp.status_code == 303 and resp.headers["location"].endswith("ok=saved")
    with desk_env.db.session() as s:
        d = desk.get_story(s, sid)
    assert d.view == "<b>sharper</b>." and d.tags == ["Models", "Open source"] and d.editor == "ana"
    assert d.summary[0]["source_ids"] == [d.sources[0].id, d.sources[1].id] and d.summary[1]["source_ids"] == [d.sources[0].id]
    assert [u["sentence"] for u in d.unsupported] == [1] and "$9" in d.unsupported[0]["claim"]  # the grounding checker
    assert "view.markup" in {v["rule"] for v in d.violations}  # the style linter

    resp = post(client, f"/story/{sid}/edit", form | {
        "version": version_of(desk_env, sid), "view": "Awesome AI View: sharper.",
        "summary": "Acme Lab released Falcon-9B on Tuesday. [1]\nFalcon-9B leads coding benchmarks among open models. [2]",
    }, page=page)
    assert resp.status_code == 303
    with desk_env.db.session() as s:
        d = desk.get_story(s, sid)
    assert d.unsupported == [] and "view.markup" not in {v["rule"] for v in d.violations}
    html = client.get(page).text
    assert "<del class=\"dl\"" in html and "<ins class=\"dl\"" in html and "sharper." in html and "by <b>ana</b>" in html
    assert 'class="sent unsupported"' not in html


def test_second_editor_gets_409_with_the_other_version_and_no_overwrite(desk_env) -> None:
    sid = desk_env.ids["chips"]
    ana, ben = logged_in(desk_env, "ana"), logged_in(desk_env, "ben")
    opened = version_of(desk_env, sid)
    ana_token, ben_token = csrf_of(ana.get(f"/story/{sid}").text), csrf_of(ben.get(f"/story/{sid}").text)
    base = {"headline": "Export rules tighten for accelerators", "summary": "New rules limit accelerator exports. [1]", "tags": "Policy", "section": ""}
    resp = ana.post(f"/story/{sid}/edit", data=base | {"version": opened, "view": "Awesome AI View: ana's take.", "csrf_token": ana_token})
    assert resp.status_code == 303
    resp = ben.post(f"/story/{sid}/edit", data=base | {"version": opened, "view": "Awesome AI View: ben's take.", "csrf_token": ben_token})
    assert resp.status_code == 409
    assert "changed since you opened it" in resp.text
    assert "ana&#39;s take" in resp.text and "ben&#39;s take" in resp.text  # theirs beside yours
    with desk_env.db.session() as s:
        assert desk.get_story(s, sid).view == "ana's take."  # the label is the renderer's, never stored
    # approving from the stale page is refused too
    assert ben.post(f"/story/{sid}/approve", data={"version": opened, "csrf_token": ben_token}).status_code == 409


def test_approve_reject_reopen_and_history(desk_env) -> None:
    sid = desk_env.ids["robots"]
    client = logged_in(desk_env)
    page = f"/story/{sid}"
    resp = post(client, f"/story/{sid}/reject", {"version": version_of(desk_env, sid), "reason": "  "}, page)
    assert resp.status_code == 400 and "needs a reason" in resp.text
    assert post(client, f"/story/{sid}/reject", {"version": version_of(desk_env, sid), "reason": "Too thin"}, page).status_code == 303
    assert post(client, f"/story/{sid}/reopen", {"version": version_of(desk_env, sid)}, page).status_code == 303
    assert post(client, f"/story/{sid}/approve", {"version": version_of(desk_env, sid)}, page).status_code == 303
    html = client.get(page).text
    assert "Approved" in html and "Too thin" in html
    for action in ("drafted", "rejected", "reopened", "approved"):
        assert f"act-{action}" in html
    with desk_env.db.session() as s:
        assert [h["action"] for h in desk.get_story(s, sid).history] == ["drafted", "rejected", "reopened", "approved"]
    assert client.get("/story/99999").status_code == 404


def test_split_off_a_source_lands_on_its_new_story(desk_env) -> None:
    from review.users import set_active
    from storage.models import ItemSeparation, StoryItem

    sid, lab = desk_env.ids["falcon"], desk_env.ids["l1"]
    page = f"/story/{sid}"
    anon = make_client(desk_env.settings)  # logged out: refused, nothing moves
    assert anon.post(f"{page}/split", data={"version": version_of(desk_env, sid), "item": lab}).status_code == 401
    gone = logged_in(desk_env, "ben")  # an account disabled since it opened the page
    token = csrf_of(gone.get(page).text)
    set_active(desk_env.db, "ben", False)
    assert gone.post(f"{page}/split", data={"version": 1, "item": lab, "csrf_token": token}).status_code == 401
    client = logged_in(desk_env)
    html = client.get(page).text
    assert html.count(">Split off into its own story</button>") == 2 and f'name="item" value="{lab}"' in html
    version = version_of(desk_env, sid)
    assert client.post(f"{page}/split", data={"version": version, "item": lab}).status_code == 403  # no CSRF token
    assert client.post(f"{page}/split", data={"version": version, "item": lab, "csrf_token": "forged"}).status_code == 403
    resp = post(client, f"{page}/split", {"version": version - 1, "item": lab}, page)
    assert resp.status_code == 409 and "changed since you opened it" in resp.text
    with desk_env.db.session() as s:
        assert s.scalars(select(ItemSeparation)).all() == [] and version_of(desk_env, sid) == version

    resp = post(client, f"{page}/split", {"version": version, "item": lab}, page)
    assert resp.status_code == 303
    new_id = int(resp.headers["location"].split("/")[2].split("?")[0])
    assert new_id != sid and resp.headers["location"] == f"/story/{new_id}?ok=split"
    new_page = client.get(resp.headers["location"]).text
    assert "Split off into a story of its own" in new_page and "Introducing Falcon-9B" in new_page
    assert f"split off story {sid}" in new_page and ">Split off into its own story</button>" not in new_page  # one source
    with desk_env.db.session() as s:
        assert set(s.scalars(select(StoryItem.story_id).where(StoryItem.item_id == lab))) == {new_id}
    old_page = client.get(page).text
    assert desk.SPLIT_NOTICE in old_page and ">Split off into its own story</button>" not in old_page
    resp = post(client, f"{page}/split", {"version": version_of(desk_env, sid), "item": desk_env.ids["w1"]}, page)
    assert resp.status_code == 400 and "nothing to split it from" in resp.text


def test_merge_into_another_story_lands_on_it(desk_env) -> None:
    from review.users import set_active
    from storage.models import ItemJoin, Story, StoryItem

    sid, falcon, chip = desk_env.ids["chips"], desk_env.ids["falcon"], desk_env.ids["w2"]
    page = f"/story/{sid}"
    anon = make_client(desk_env.settings)  # logged out: refused, nothing moves
    assert anon.post(f"{page}/merge", data={"version": version_of(desk_env, sid), "into": falcon}).status_code == 401
    gone = logged_in(desk_env, "ben")  # an account disabled since it opened the page
    token = csrf_of(gone.get(page).text)
    set_active(desk_env.db, "ben", False)
    assert gone.post(f"{page}/merge", data={"version": 1, "into": falcon, "csrf_token": token}).status_code == 401
    client = logged_in(desk_env)
    html = client.get(page).text
    assert '<select name="into" id="merge-into" required>' in html and f'<option value="{falcon}">' in html
    assert f'<option value="{sid}">' not in html  # not itself
    version = version_of(desk_env, sid)
    assert client.post(f"{page}/merge", data={"version": version, "into": falcon}).status_code == 403  # no CSRF token
    assert client.post(f"{page}/merge", data={"version": version, "into": falcon, "csrf_token": "forged"}).status_code == 403
    resp = post(client, f"{page}/merge", {"version": version - 1, "into": falcon}, page)
    assert resp.status_code == 409 and "changed since you opened it" in resp.text
    resp = post(client, f"{page}/merge", {"version": version, "into": sid}, page)
    assert resp.status_code == 400 and "cannot be merged into itself" in resp.text
    with desk_env.db.session() as s:
        assert s.scalars(select(ItemJoin)).all() == [] and version_of(desk_env, sid) == version

    resp = post(client, f"{page}/merge", {"version": version, "into": falcon}, page)
    assert resp.status_code == 303 and resp.headers["location"] == f"/story/{falcon}?ok=merged"
    target = client.get(resp.headers["location"]).text
    assert "Merged: the other story" in target and desk.MERGE_NOTICE in target
    with desk_env.db.session() as s:
        assert set(s.scalars(select(StoryItem.story_id).where(StoryItem.item_id == chip))) == {falcon}
        assert not s.get(Story, sid).active and len(s.scalars(select(ItemJoin)).all()) == 3
    assert f'<option value="{sid}">' not in target  # the merged-away story is off the desk
    resp = post(client, f"{page}/merge", {"version": version_of(desk_env, sid), "into": falcon}, page)
    assert resp.status_code == 400 and "no longer on the desk" in resp.text
    assert '<select name="into"' not in resp.text  # nothing to merge from an inactive story
    assert "This story is no longer on the desk" in client.get(page).text  # its page says so
    assert "This story is no longer on the desk" not in target


def test_the_truth_gate_refuses_unsupported_claims_until_an_audited_override(desk_env) -> None:
    sid = desk_env.ids["falcon"]
    client = logged_in(desk_env)
    page = f"/story/{sid}"
    resp = post(client, f"/story/{sid}/approve", {"version": version_of(desk_env, sid)}, page)
    assert resp.status_code == 400 and "1 unsupported claim(s)" in resp.text and "$5 per million tokens" in resp.text
    assert 'name="override"' in resp.text  # the page offers an approval with a reason
    with desk_env.db.session() as s:
        assert desk.get_story(s, sid).row.status == "pending"
    resp = post(client, f"/story/{sid}/approve", {"version": version_of(desk_env, sid), "override": "Price confirmed by the lab's page"}, page)
    assert resp.status_code == 303
    with desk_env.db.session() as s:
        detail = desk.get_story(s, sid)
        audit_row = s.scalars(select(AuditLog).where(AuditLog.action == "approval.override")).one()
    assert detail.row.status == "approved" and detail.override["reason"] == "Price confirmed by the lab's page"
    assert detail.history[-1]["note"].startswith("approved over 1 unsupported claim(s)")
    assert audit_row.actor == "ana" and "$5 per million tokens" in audit_row.after["flags"][0]
    html = client.get(page).text
    assert "Approved over 1 open flag(s)" in html and "Price confirmed by the lab" in html


def test_a_placeholder_view_can_never_be_approved(desk_env) -> None:
    from summarizer.lint import VIEW_PLACEHOLDER

    sid = desk_env.ids["robots"]
    with desk_env.db.session() as s:
        d = s.scalars(select(Draft).where(Draft.story_id == sid)).one()
        d.view, d.violations = VIEW_PLACEHOLDER, [{"rule": "view.placeholder", "message": "The view is still the placeholder."}]
    client = logged_in(desk_env)
    page = f"/story/{sid}"
    for extra in ({}, {"override": "ship it"}):
        resp = post(client, f"/story/{sid}/approve", {"version": version_of(desk_env, sid)} | extra, page)
        assert resp.status_code == 400 and "until its view is written" in resp.text
        assert 'name="override"' not in resp.text
    # writing the view (without the label) resolves it
    resp = post(client, f"/story/{sid}/edit", {"version": version_of(desk_env, sid), "headline": "Robotics startup raises a round",
                                               "summary": "A robotics startup raised money. [1]", "tags": "Funding", "section": "",
                                               "view": "Robots need patient capital, and this round shows investors still have it."}, page)
    assert resp.status_code == 303
    assert post(client, f"/story/{sid}/approve", {"version": version_of(desk_env, sid)}, page).status_code == 303


def test_editors_write_only_the_view_and_the_page_prints_the_label(desk_env) -> None:
    sid = desk_env.ids["chips"]
    client = logged_in(desk_env)
    html = client.get(f"/story/{sid}").text
    textarea = re.search(r'<textarea name="view"[^>]*>(.*?)</textarea>', html, re.S).group(1)
    assert textarea.strip() == "supply chains shift." and "Awesome AI View:" not in textarea
    assert "<b>Awesome AI View:</b> supply chains shift." in html


def test_regenerate_goes_through_the_hook(desk_env) -> None:
    sid = desk_env.ids["chips"]
    client = logged_in(desk_env)
    resp = post(client, f"/story/{sid}/regenerate", {"instruction": "shorter"}, f"/story/{sid}")
    assert resp.status_code == 400 and "No language model is configured" in resp.text
    seen = []

    async def hook(story_id: int, instruction: str | None, actor: str) -> None:
        seen.append((story_id, instruction, actor))

    settings = ReviewSettings(**(vars(desk_env.settings) | {"regenerate": hook}))
    client = make_client(settings)
    login(client, "ben")
    resp = post(client, f"/story/{sid}/regenerate", {"instruction": "lead with the rules"}, f"/story/{sid}")
    assert resp.status_code == 303 and seen == [(sid, "lead with the rules", "ben")]
    post(client, f"/story/{sid}/regenerate", {"instruction": " "}, f"/story/{sid}")
    assert seen[-1] == (sid, None, "ben")


# ------------------------------------------------------------------ digest, roles, publishing


def approve_all(env) -> None:
    with env.db.session() as s:
        for key in ("falcon", "chips", "robots"):  # falcon has an unsupported price: approved over it
            desk.approve(s, env.ids[key], "ana", override="price confirmed with the lab" if key == "falcon" else None)


def digest_version(env) -> int:
    with env.db.session() as s:
        return desk.digest_data(s, DAY).version


def test_digest_reorder_drop_restore_title_and_preview(desk_env) -> None:
    approve_all(desk_env)
    ids = desk_env.ids
    client = logged_in(desk_env)
    page = f"/digest/{DAY}"
    assert post(client, f"{page}/move", {"version": digest_version(desk_env), "story_id": ids["robots"], "direction": "up"}, page).status_code == 303
    with desk_env.db.session() as s:
        assert [e.story_id for e in desk.digest_data(s, DAY).entries] == [ids["falcon"], ids["robots"], ids["chips"]]
    post(client, f"{page}/move", {"version": digest_version(desk_env), "story_id": ids["chips"], "position": 1}, page)
    post(client, f"{page}/drop", {"version": digest_version(desk_env), "story_id": ids["falcon"]}, page)
    with desk_env.db.session() as s:
        assert [e.story_id for e in desk.digest_data(s, DAY).entries] == [ids["chips"], ids["robots"]]
    html = client.get(page).text
    assert "Left out" in html and "Put back" in html
    post(client, f"{page}/restore", {"version": digest_version(desk_env), "story_id": ids["falcon"]}, page)
    resp = post(client, f"{page}/meta", {"version": digest_version(desk_env), "title": "Open models day", "intro": f"Intro {XSS}", "style": "ai-news-digest"}, page)
    assert resp.status_code == 303
    stale = post(client, f"{page}/move", {"version": 1, "story_id": ids["chips"], "direction": "down"}, page)
    assert stale.status_code == 409 and "changed since you opened it" in stale.text
    html = client.get(page).text
    assert "Open models day" in html and XSS not in html
    preview = client.get(f"{page}/preview?style=awesome-ai-daily")
    assert preview.status_code == 200 and "sandbox" in preview.headers["content-security-policy"]
    assert "Export rules tighten" in preview.text and XSS not in preview.text
    md = client.get(f"{page}/preview?format=md")
    assert md.headers["content-type"].startswith("text/plain") and "Export rules tighten" in md.text
    with desk_env.db.session() as s:
        assert s.scalars(select(AuditLog).where(AuditLog.action == "digest.updated")).first() is not None


def test_roles_editors_publish_admins_correct_and_manage_users(desk_env) -> None:
    approve_all(desk_env)
    editor, admin = logged_in(desk_env, "ana"), logged_in(desk_env, "root")
    page = f"/digest/{DAY}"
    assert editor.get("/users").status_code == 403
    assert post(editor, "/users", {"name": "eve", "role": "admin", "password": "long enough"}).status_code == 403
    assert admin.get("/users").status_code == 200
    assert post(admin, "/users", {"name": "cat", "role": "editor", "password": "long enough"}, "/users").status_code == 303
    assert post(admin, "/users", {"name": "cat", "role": "editor", "password": "long enough"}, "/users").status_code == 400
    assert login(make_client(desk_env.settings), "cat", "long enough").status_code == 303
    assert post(editor, f"{page}/publish", {"version": digest_version(desk_env)}, page).status_code == 303
    resp = post(editor, f"{page}/publish", {"version": digest_version(desk_env), "note": "typo"}, page)
    assert resp.status_code == 403 and "Only an admin" in resp.text
    assert post(admin, f"{page}/publish", {"version": digest_version(desk_env)}, page).status_code == 400  # a correction needs a note
    assert post(admin, f"{page}/publish", {"version": digest_version(desk_env), "note": "fixed a figure"}, page).status_code == 303
    with desk_env.db.session() as s:
        pubs = [(p.revision, p.published_by, p.note) for p in desk.published_days(s)[0].publications]
    assert pubs == [(1, "ana", None), (2, "root", "fixed a figure")]
    html = editor.get(page).text  # the desk shows every revision and its note
    assert "Revision 1" in html and "Revision 2" in html and "fixed a figure" in html


def test_publish_with_nothing_approved_is_refused(desk_env) -> None:
    client = logged_in(desk_env)
    resp = post(client, f"/digest/{DAY}/publish", {"version": digest_version(desk_env)}, f"/digest/{DAY}")
    assert resp.status_code == 400 and "no approved stories" in resp.text
    assert not (desk_env.out / f"{DAY}.html").exists()


def test_publish_writes_the_archive_and_feeds_and_corrections_keep_ids(desk_env) -> None:
    approve_all(desk_env)
    client = logged_in(desk_env, "root")
    page = f"/digest/{DAY}"
    assert post(client, f"{page}/publish", {"version": digest_version(desk_env)}, page).status_code == 303
    out = desk_env.out
    for name in (f"{DAY}.md", f"{DAY}.html", "index.html", "feed.xml", "feed.json"):
        assert (out / name).is_file(), name
    day_html = (out / f"{DAY}.html").read_text()
    assert 'href="index.html"' in day_html and "Back to list" in day_html
    assert XSS not in day_html and XSS not in (out / "index.html").read_text()
    assert f'href="{DAY}.html"' in (out / "index.html").read_text()
    assert "Acme Lab releases Falcon-9B" in (out / f"{DAY}.md").read_text()

    atom = feedparser.parse((out / "feed.xml").read_text())
    assert not atom.bozo and len(atom.entries) == 1
    first_id, first_updated = atom.entries[0].id, atom.entries[0].updated
    assert first_id == f"urn:newsdesk:digest:{DAY}" and atom.entries[0].link == f"{SITE}/{DAY}.html"
    feed = json.loads((out / "feed.json").read_text())
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert [i["id"] for i in feed["items"]] == [first_id] and feed["items"][0]["url"] == f"{SITE}/{DAY}.html"

    assert post(client, f"{page}/publish", {"version": digest_version(desk_env), "note": "fixed the price"}, page).status_code == 303
    with desk_env.db.session() as s:
        assert [p.revision for p in desk.published_days(s)[0].publications] == [1, 2]
    assert "Corrected on" in (out / f"{DAY}.html").read_text() and "fixed the price" in (out / f"{DAY}.html").read_text()
    assert "fixed the price" in (out / f"{DAY}.md").read_text()
    atom = feedparser.parse((out / "feed.xml").read_text())
    assert [e.id for e in atom.entries] == [first_id]
    assert atom.entries[0].updated >= first_updated and atom.entries[0].updated != atom.entries[0].published
    feed = json.loads((out / "feed.json").read_text())
    assert [i["id"] for i in feed["items"]] == [first_id]
    assert feed["items"][0]["date_modified"] > feed["items"][0]["date_published"]
    assert "Corrected on" in (out / "index.html").read_text()


class Hook:
    """A Slack-compatible incoming webhook on 127.0.0.1: records each POST, answers `status`."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict]] = []
        self.status = 200
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server naming)
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                hook.posts.append((self.headers.get("content-type", ""), json.loads(body)))
                self.send_response(hook.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T000/B000/xyz"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "Hook":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_publishing_posts_to_a_slack_compatible_webhook_and_survives_its_failure(desk_env) -> None:
    approve_all(desk_env)
    page = f"/digest/{DAY}"
    with Hook() as hook:
        settings = ReviewSettings(**(vars(desk_env.settings) | {"webhook_url": hook.url}))
        editor, admin = make_client(settings), make_client(settings)
        login(editor, "ana"), login(admin, "root")
        resp = post(editor, f"{page}/publish", {"version": digest_version(desk_env)}, page)
        assert resp.status_code == 303 and resp.headers["location"].endswith("ok=published")
        (ctype, payload), = hook.posts
        assert ctype.startswith("application/json") and set(payload) == {"text"}
        assert payload["text"].startswith("Published:") and "3 stories" in payload["text"]
        assert f"{SITE}/{DAY}.html" in payload["text"]

        hook.status = 500  # the chat is down: the correction still goes out, and the editor is told
        resp = post(admin, f"{page}/publish", {"version": digest_version(desk_env), "note": "late fix"}, page)
        assert resp.status_code == 200 and "chat notification failed" in resp.text and "500" in resp.text
        assert len(hook.posts) == 2 and hook.posts[1][1]["text"].startswith("Corrected (late fix)")
    assert "late fix" in (desk_env.out / f"{DAY}.html").read_text()
    with desk_env.db.session() as s:
        assert [p.revision for p in desk.published_days(s)[0].publications] == [1, 2]
        assert s.scalars(select(AuditLog).where(AuditLog.action == "digest.webhook_failed")).first() is not None


def test_without_a_webhook_publishing_posts_nothing(desk_env) -> None:
    approve_all(desk_env)
    result = publish_day(desk_env.db, DAY, "ana", desk_env.out, site_url=SITE)
    assert result.revision == 1 and result.webhook_sent is None and result.webhook_error is None


def test_every_change_is_audited_with_who_before_and_after(desk_env) -> None:
    sid = desk_env.ids["chips"]
    client = logged_in(desk_env, "ben")
    page = f"/story/{sid}"
    post(client, f"/story/{sid}/edit", {"version": version_of(desk_env, sid), "headline": "Export rules tighten again",
                                        "summary": "New rules limit accelerator exports. [1]", "view": "Awesome AI View: supply chains shift.",
                                        "tags": "Policy", "section": ""}, page)
    post(client, f"/story/{sid}/approve", {"version": version_of(desk_env, sid)}, page)
    post(client, f"/digest/{DAY}/meta", {"version": digest_version(desk_env), "title": "Rules day", "intro": "", "style": ""}, f"/digest/{DAY}")
    with desk_env.db.session() as s:
        rows = {a.action: a for a in s.scalars(select(AuditLog).where(AuditLog.actor == "ben").order_by(AuditLog.id))}
    edited, approved, digest = rows["edited"], rows["approved"], rows["digest.updated"]
    assert (edited.entity, edited.entity_id) == ("draft", str(sid)) and edited.created_at is not None
    assert edited.before["headline"] == "Export rules tighten for accelerators"
    assert edited.after["headline"] == "Export rules tighten again"
    assert (approved.before["status"], approved.after["status"]) == ("pending", "approved")
    assert digest.entity_id == DAY and (digest.before or {}).get("title") != "Rules day" and digest.after["title"] == "Rules day"
    assert "user.login" in rows


def test_users_cli_adds_and_lists(desk_env) -> None:
    from typer.testing import CliRunner

    from review.cli import users_app

    runner = CliRunner()
    url = desk_env.db.url
    res = runner.invoke(users_app, ["add", "dan", "--role", "admin", "--password-stdin", "--database-url", url], input="s3cret-password\n")
    assert res.exit_code == 0, res.output
    res = runner.invoke(users_app, ["add", "dan", "--password-stdin", "--database-url", url], input="s3cret-password\n")
    assert res.exit_code == 1 and "already exists" in res.output
    res = runner.invoke(users_app, ["add", "eve", "--role", "boss", "--password-stdin", "--database-url", url], input="s3cret-password\n")
    assert res.exit_code == 1 and "unknown role" in res.output
    res = runner.invoke(users_app, ["list", "--database-url", url])
    assert res.exit_code == 0 and "dan\tadmin" in res.output and "ana\teditor" in res.output
    assert login(make_client(desk_env.settings), "dan", "s3cret-password").status_code == 303
