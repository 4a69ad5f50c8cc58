"""Links added by hand: fetched through the collectors' guard from a real loopback server, extracted,
placed into the day's matching story or a new one, shown with who added it; failures are one line and kept."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from flows.add_link import AddLinkError, add_link
from flows.pipeline import Context
from httpserver import Route, TestServer
from newsdesk.cli import app
from newsdesk.config import load_settings
from storage import desk
from storage.db import Database
from storage.models import Article, AuditLog, Item, Story
from test_review_http import DAY, seed


def page(title: str, paragraphs: list[str], site: str = "Example Tech News") -> bytes:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
            f'<meta property="og:site_name" content="{site}"></head><body><header><nav><a href="/">Home</a></nav></header>'
            f"<main><article><h1>{title}</h1>{body}</article></main><footer>© Example</footer></body></html>").encode()


FALCON = page("Falcon-9B tops coding benchmarks, Acme Lab says", [
    "Acme Lab released Falcon-9B on Tuesday, a 9B-parameter open model that leads coding benchmarks among open models.",
    "The Falcon-9B model beats larger rivals on coding benchmarks, according to figures Acme Lab published with the release.",
    "Acme Lab said Falcon-9B is available under an open licence and that pricing for hosted access was not disclosed.",
    "Independent testers were still reproducing the Falcon-9B coding benchmark results on Wednesday.",
])
QUANTUM = page("A quantum annealer schedules freight trains", [
    "A logistics company used a quantum annealer to schedule freight trains across three countries this week.",
    "The annealer cut idle time in rail yards by a fifth in a month-long trial, the company said in a statement.",
    "Rail operators have long struggled with scheduling problems that grow quickly with the number of trains.",
    "The company plans a second trial with passenger trains next spring if regulators agree to the experiment.",
])


@pytest.fixture
def site():
    with TestServer() as srv:
        srv.routes["/robots.txt"] = Route(200, b"User-agent: *\nDisallow: /private/\n", {"Content-Type": "text/plain"})
        html = {"Content-Type": "text/html; charset=utf-8"}
        srv.routes["/falcon"] = Route(200, FALCON, html)
        srv.routes["/quantum"] = Route(200, QUANTUM, html)
        srv.routes["/private/memo"] = Route(200, QUANTUM, html)
        srv.routes["/gone"] = Route(404, b"not found", html)
        srv.routes["/shell"] = Route(200, b"<html><body><div id='app'></div></body></html>", html)
        yield srv


def env_of(db: Database, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"NEWSDESK_DATA_DIR": str(tmp_path / "data"), "NEWSDESK_DATABASE_URL": db.url,
            "NEWSDESK_ALLOW_PRIVATE_HOSTS": "loopback", "NEWSDESK_HTTP_PER_HOST": "1", **extra}


def ctx_of(db: Database, tmp_path: Path, **extra: str) -> Context:
    settings = load_settings(env_of(db, tmp_path, **extra))
    settings.http.retries = 1
    return Context(settings, db)


def count(db: Database, model) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_a_link_about_a_story_of_the_day_joins_it_and_shows_who_added_it(db: Database, tmp_path: Path, site) -> None:
    keys = seed(db)
    result = add_link(ctx_of(db, tmp_path), site.url("/falcon"), actor="ana", day=DAY, note="the lab's own figures")
    assert result.joined and not result.already and result.story_id == keys["falcon"]
    assert site.hits("/falcon")[0].headers["user-agent"].startswith("newsdesk/")  # the collectors' client
    assert site.hits("/robots.txt")  # politely
    with db.session() as s:
        detail = desk.get_story(s, keys["falcon"])
    (added,) = [r for r in detail.sources if r.added_by]
    assert added.added_by == "ana" and added.added_note == "the lab's own figures"
    assert added.outlet == "Example Tech News" and "Independent testers" in added.text
    with db.session() as s:
        audit = s.scalars(select(AuditLog).where(AuditLog.action == "link.added")).one()
        assert audit.actor == "ana" and audit.after["joined"] is True

    again = add_link(ctx_of(db, tmp_path), site.url("/falcon"), actor="ana", day=DAY)  # a rerun: nothing twice
    assert again.already and again.story_id == keys["falcon"] and again.item_id == result.item_id
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Item).where(Item.added_by.is_not(None))) == 1
        assert len(desk.get_story(s, keys["falcon"]).sources) == 3


def test_an_unrelated_link_makes_a_new_story_the_desk_can_find(db: Database, tmp_path: Path, site) -> None:
    from storage import search

    keys = seed(db)
    result = add_link(ctx_of(db, tmp_path), site.url("/quantum"), actor="ben", day=DAY)
    assert not result.joined and result.story_id not in (keys["falcon"], keys["chips"], keys["robots"])
    with db.session() as s:
        story = s.get(Story, result.story_id)
        assert story.day == DAY and story.active and story.reasons == ["added by hand by ben"]
        assert story.title == "A quantum annealer schedules freight trains"
        ranks = [r for (r,) in s.execute(select(Story.rank).where(Story.day == DAY, Story.active.is_(True)))]
        assert story.rank == max(ranks)
        assert [h.story_id for h in search.search(s, "annealer freight")] == [result.story_id]


def test_draft_on_request(db: Database, tmp_path: Path, site) -> None:
    seed(db)
    result = add_link(ctx_of(db, tmp_path), site.url("/quantum"), actor="ben", day=DAY, draft=True)
    assert result.drafted
    with db.session() as s:
        detail = desk.get_story(s, result.story_id)
        assert detail.row.status in ("pending", "needs_human") and detail.summary


@pytest.mark.parametrize("path, reason", [
    ("/gone", "HTTP 404"),
    ("/private/memo", "robots.txt"),
    ("/shell", "no article text"),
])
def test_failures_are_one_line_kept_on_the_article_and_change_nothing_else(db: Database, tmp_path: Path, site, path, reason) -> None:
    seed(db)
    stories, items = count(db, Story), count(db, Item)
    with pytest.raises(AddLinkError, match=reason) as err:
        add_link(ctx_of(db, tmp_path), site.url(path), actor="ana", day=DAY)
    assert "\n" not in str(err.value)
    assert (count(db, Story), count(db, Item)) == (stories, items)
    with db.session() as s:
        art = s.scalars(select(Article).where(Article.canonical_url.like(f"%{path}"))).one()
        assert art.status == "failed" and reason in art.error
        assert s.scalars(select(AuditLog).where(AuditLog.action == "link.add_failed")).one().actor == "ana"


def test_the_ssrf_rules_of_collecting_hold(db: Database, tmp_path: Path, site) -> None:
    seed(db)
    ctx = ctx_of(db, tmp_path, NEWSDESK_ALLOW_PRIVATE_HOSTS="false")  # public addresses only, as in production
    with pytest.raises(AddLinkError, match="could not add"):
        add_link(ctx, site.url("/falcon"), actor="ana", day=DAY)
    assert site.hits("/falcon") == []  # refused before any connection
    for bad in ("file:///etc/passwd", "javascript:alert(1)", "not a url", "ftp://example.org/x"):
        with pytest.raises(AddLinkError, match="not a web address"):
            add_link(ctx, bad, actor="ana", day=DAY)


def test_cli_add(db: Database, tmp_path: Path, site) -> None:
    keys = seed(db)
    env = env_of(db, tmp_path, NEWSDESK_EDITOR="cleo")
    runner = CliRunner()
    res = runner.invoke(app, ["add", site.url("/falcon"), "--day", DAY, "--note", "primary source", "--json"], env=env)
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["story_id"] == keys["falcon"] and data["added_by"] == "cleo" and data["joined"]
    res = runner.invoke(app, ["add", site.url("/quantum"), "--day", DAY, "--as", "dan"], env=env)
    assert res.exit_code == 0 and "new story #" in res.output
    res = runner.invoke(app, ["add", site.url("/gone"), "--day", DAY], env=env)
    assert res.exit_code == 1 and res.output.count("\n") == 1 and "HTTP 404" in res.output
    res = runner.invoke(app, ["add", site.url("/quantum"), "--day", "18.11.2026"], env=env)
    assert res.exit_code == 1 and "bad day" in res.output


def test_the_desk_form_adds_a_link_and_keeps_the_input_on_failure(db: Database, tmp_path: Path, site) -> None:
    from starlette.testclient import TestClient

    from newsdesk.webapp import build_app
    from review.users import add_user
    from test_review_http import PASSWORD, csrf_of, login

    keys = seed(db)
    add_user(db, "ana", "editor", PASSWORD)
    settings = load_settings(env_of(db, tmp_path, NEWSDESK_SECRET_KEY="test-secret-key-0123456789"))
    client = TestClient(build_app(settings), base_url="http://testserver", follow_redirects=False)
    assert client.get("/add").status_code in (302, 303)  # editors only
    assert login(client, "ana").status_code == 303
    form = client.get(f"/add?day={DAY}").text
    assert f'value="{DAY}"' in form
    resp = client.post("/add", data={"csrf_token": csrf_of(form), "url": site.url("/falcon"), "day": DAY,
                                     "note": "straight from the lab"})
    assert resp.status_code == 303 and resp.headers["location"] == f"/story/{keys['falcon']}?ok=added"
    story = client.get(resp.headers["location"]).text
    assert "added by ana: straight from the lab" in story and "Link added" in story

    resp = client.post("/add", data={"csrf_token": csrf_of(form), "url": site.url("/gone"), "day": DAY, "note": "keep me"})
    assert resp.status_code == 502 and "HTTP 404" in resp.text and 'value="keep me"' in resp.text
    resp = client.post("/add", data={"csrf_token": csrf_of(form), "url": site.url("/quantum"), "day": "tomorrow"})
    assert resp.status_code == 400 and "must look like" in resp.text and site.hits("/quantum") == []
    assert client.post("/add", data={"url": site.url("/quantum"), "day": DAY}).status_code == 403  # no CSRF token
    resp = client.post("/add", data={"csrf_token": csrf_of(form), "url": site.url("/quantum"), "day": DAY, "draft": "1"})
    assert resp.status_code == 303
    with db.session() as s:
        new_id = int(resp.headers["location"].split("/")[2].split("?")[0])
        assert desk.get_story(s, new_id).summary  # drafted on request


def test_a_rerun_of_the_night_keeps_the_link_in_its_story(db: Database, tmp_path: Path, site) -> None:
    from flows.pipeline import cluster_stage

    from storage.models import StoryItem

    seed(db)
    ctx = ctx_of(db, tmp_path, NEWSDESK_DAY_CUTOFF="12:00")  # the seeded items (09:00) fall in the day's window
    added = add_link(ctx, site.url("/falcon"), actor="ana", day=DAY)
    cluster_stage(ctx, DAY)
    with db.session() as s:
        def story_of(item_id: int) -> int:
            return s.scalars(select(StoryItem.story_id).join(Story, Story.id == StoryItem.story_id)
                             .where(StoryItem.item_id == item_id, Story.active.is_(True))).one()
        w1, l1 = (s.scalars(select(Item.id).where(Item.guid == g)).one() for g in ("w1", "l1"))
        assert story_of(added.item_id) == story_of(w1) == story_of(l1)
        assert s.get(Item, added.item_id).added_by == "ana"


def test_a_failed_add_never_spoils_a_page_the_night_already_extracted(db: Database, tmp_path: Path, site) -> None:
    seed(db)
    ctx = ctx_of(db, tmp_path)
    add_link(ctx, site.url("/falcon"), actor="ana", day=DAY)
    site.routes["/falcon"] = Route(503, b"busy", {"Content-Type": "text/plain"})
    with pytest.raises(AddLinkError, match="HTTP 503"):
        add_link(ctx, site.url("/falcon"), actor="ana", day=DAY)
    with db.session() as s:
        art = s.scalars(select(Article).where(Article.canonical_url == site.url("/falcon"))).one()
        assert art.status == "ok" and "Independent testers" in art.text
        assert s.scalars(select(AuditLog).where(AuditLog.action == "link.add_failed")).one().after["error"].startswith("HTTP 503")
