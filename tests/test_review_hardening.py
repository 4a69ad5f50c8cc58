"""The desk against abuse: one URL policy, revoked sessions, throttled logins, capped fields."""
from __future__ import annotations

import re

from sqlalchemy import select

from storage.models import Item
from test_review_http import desk_env, logged_in  # noqa: F401 - the fixture is used by name


def test_story_page_never_links_javascript_or_data_urls(desk_env) -> None:  # noqa: F811
    sid = desk_env.ids["falcon"]
    with desk_env.db.session() as s:
        items = {it.guid: it for it in s.scalars(select(Item))}
        items["w1"].url = "javascript:alert(document.cookie)"
        items["l1"].url = "data:text/html,<script>alert(1)</script>"
    page = logged_in(desk_env).get(f"/story/{sid}").text
    hrefs = re.findall(r'href="([^"]*)"', page)
    assert not [h for h in hrefs if h.lower().startswith(("javascript:", "data:"))], hrefs
    assert "Introducing Falcon-9B" in page  # the source is still shown, just not as a link


# ------------------------------------------------------------------ sessions are revoked server-side

import dataclasses  # noqa: E402

from starlette.testclient import TestClient  # noqa: E402

from review.app import create_app  # noqa: E402
from review.sessions import COOKIE  # noqa: E402
from storage.models import User  # noqa: E402
from test_review_http import PASSWORD, csrf_of, login, make_client, post  # noqa: E402


def _with_cookie(env, cookie: str) -> TestClient:
    """Another browser (or an attacker) holding a copy of a session cookie."""
    client = make_client(env.settings)
    client.cookies.set(COOKIE, cookie)
    return client


def test_logout_revokes_the_session_so_a_kept_cookie_is_dead(desk_env) -> None:  # noqa: F811
    client = logged_in(desk_env, "ana")
    kept = client.cookies.get(COOKIE)
    assert _with_cookie(desk_env, kept).get("/").status_code == 200  # the copy works while signed in
    assert post(client, "/logout").status_code == 303
    resp = _with_cookie(desk_env, kept).get("/")
    assert resp.status_code == 303 and resp.headers["location"].startswith("/login")
    assert _with_cookie(desk_env, kept).post("/story/1/approve", data={"version": "1"}).status_code == 401


def test_a_password_reset_or_disabling_a_user_ends_every_session(desk_env) -> None:  # noqa: F811
    from review.users import reset_password, set_active

    first, second = logged_in(desk_env, "ben"), logged_in(desk_env, "ben")
    other = logged_in(desk_env, "ana")
    reset_password(desk_env.db, "ben", "a brand new passphrase", actor="root")
    assert first.get("/").status_code == 303 and second.get("/").status_code == 303
    assert other.get("/").status_code == 200  # other users keep theirs
    assert login(make_client(desk_env.settings), "ben", "a brand new passphrase").status_code == 303
    third = make_client(desk_env.settings)
    assert login(third, "ben", "a brand new passphrase").status_code == 303
    kept = third.cookies.get(COOKIE)
    set_active(desk_env.db, "ben", False, actor="root")
    set_active(desk_env.db, "ben", True, actor="root")
    assert _with_cookie(desk_env, kept).get("/").status_code == 303  # re-enabling does not revive old sessions
    fourth = make_client(desk_env.settings)
    assert login(fourth, "ben", "a brand new passphrase").status_code == 303
    with desk_env.db.session() as s:  # a password changed by any other code path ends sessions too
        s.scalars(select(User).where(User.name == "ben")).one().password_hash = "$argon2id$changed-elsewhere"
    assert fourth.get("/").status_code == 303


# ------------------------------------------------------------------ login throttling


def _client(env, address: str, **overrides) -> TestClient:
    settings = dataclasses.replace(env.settings, **overrides)
    return TestClient(create_app(settings), base_url="http://testserver", follow_redirects=False, client=(address, 50000))


def _try(client: TestClient, name: str, password: str = "wrong-password", headers: dict | None = None):
    token = csrf_of(client.get("/login").text)
    return client.post("/login", data={"name": name, "password": password, "csrf_token": token, "next": "/"},
                       headers=headers or {})


def test_spraying_many_names_from_one_address_is_throttled(desk_env) -> None:  # noqa: F811
    client = _client(desk_env, "198.51.100.7")  # defaults: 5 per name and address, 20 per address
    codes = [_try(client, f"user{i}").status_code for i in range(20)]
    assert codes == [401] * 20
    blocked = _try(client, "ana", PASSWORD)  # a new name, even the right password: the address waits
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
    assert _try(_client(desk_env, "198.51.100.8"), "ana", PASSWORD).status_code == 303  # another address is fine


def test_many_addresses_are_throttled_together(desk_env) -> None:  # noqa: F811
    app = create_app(dataclasses.replace(desk_env.settings, login_max_global=5))
    codes = []
    for i in range(7):
        client = TestClient(app, base_url="http://testserver", follow_redirects=False, client=(f"203.0.113.{i}", 50000))
        codes.append(_try(client, f"user{i}").status_code)
    assert codes == [401] * 5 + [429] * 2


def test_forwarded_for_counts_only_from_a_configured_proxy(desk_env) -> None:  # noqa: F811
    # Default: no proxy is trusted, so rotating X-Forwarded-For from one peer changes nothing.
    direct = _client(desk_env, "127.0.0.1")
    codes = [_try(direct, "ana", headers={"X-Forwarded-For": f"10.9.8.{i}"}).status_code for i in range(6)]
    assert codes == [401] * 5 + [429]
    # Behind a configured proxy, the client the proxy names is counted (and audited).
    proxied = _client(desk_env, "127.0.0.1", trusted_proxies=("127.0.0.1",))
    codes = [_try(proxied, "ben", headers={"X-Forwarded-For": f"10.9.8.{i}"}).status_code for i in range(6)]
    assert codes == [401] * 6
    spoofed = _try(proxied, "ben", headers={"X-Forwarded-For": "1.1.1.1, 10.9.8.0"})  # the left entry is the client's claim
    assert spoofed.status_code == 401
    from storage.models import AuditLog

    with desk_env.db.session() as s:
        ips = [a.after["ip"] for a in s.scalars(select(AuditLog).where(AuditLog.action == "user.login_failed", AuditLog.actor == "ben"))]
    assert ips[:6] == [f"10.9.8.{i}" for i in range(6)] and ips[6] == "10.9.8.0"


def test_real_client_takes_the_rightmost_untrusted_hop() -> None:
    from review.clientaddr import parse_proxies, real_client

    proxies = parse_proxies(["10.0.0.0/8", "127.0.0.1"])
    assert real_client("127.0.0.1", ["6.6.6.6, 203.0.113.9, 10.1.1.1"], proxies) == "203.0.113.9"
    assert real_client("198.51.100.1", ["203.0.113.9"], proxies) == "198.51.100.1"  # not from a proxy: ignored
    assert real_client("127.0.0.1", [], proxies) == "127.0.0.1"
    assert real_client("127.0.0.1", ["203.0.113.9"], ()) == "127.0.0.1"


def test_limiter_memory_is_bounded_whatever_names_are_sprayed() -> None:
    from review.ratelimit import LoginLimiter

    limiter = LoginLimiter(5, 900, max_per_address=10**9, max_global=10**9, max_keys=500)
    for i in range(20_000):
        limiter.attempt(f"name-{i}", f"10.{i // 65536}.{i // 256 % 256}.{i % 256}")
    assert limiter.tracked_keys() <= 1_000


# ------------------------------------------------------------------ field sizes


def test_oversized_fields_are_refused_with_the_text_kept_and_nothing_saved(desk_env) -> None:  # noqa: F811
    sid = desk_env.ids["chips"]
    client = logged_in(desk_env)
    page = client.get(f"/story/{sid}").text
    form = {"csrf_token": csrf_of(page), "version": "1", "headline": "Export rules tighten", "view": "Awesome AI View: ok.",
            "tags": "Policy", "section": ""}
    huge = client.post(f"/story/{sid}/edit", data=form | {"summary": "word " * 200_000})  # a megabyte
    assert huge.status_code == 413
    long = client.post(f"/story/{sid}/edit", data=form | {"summary": ("A sentence about chips. " * 400) + "[1]"})
    assert long.status_code == 400 and "limit is 2,000" in long.text
    assert "A sentence about chips." in long.text  # the editor's text is still in the form
    for field, size in (("headline", 301), ("view", 4_001), ("tags", 61)):
        resp = client.post(f"/story/{sid}/edit", data=form | {"summary": "Rules tighten. [1]", field: "x" * size})
        assert resp.status_code == 400 and "limit" in resp.text, field
    rejected = client.post(f"/story/{sid}/reject", data={"csrf_token": csrf_of(page), "version": "1", "reason": "r" * 2_001})
    assert rejected.status_code == 400 and "limit is 2,000" in rejected.text
    digest = client.get("/digest/2026-11-18").text
    intro = client.post("/digest/2026-11-18/meta", data={"csrf_token": csrf_of(digest), "version": "0", "title": "T",
                                                         "intro": "i" * 4_001, "style": ""})
    assert intro.status_code == 400 and "limit is 4,000" in intro.text
    regen = client.post(f"/story/{sid}/regenerate", data={"csrf_token": csrf_of(page), "instruction": "n" * 2_001})
    assert regen.status_code == 400
    from storage import desk

    with desk_env.db.session() as s:
        assert desk.get_story(s, sid).row.version == 1  # nothing was saved


def test_the_cli_applies_the_same_limits(desk_env) -> None:  # noqa: F811
    from typer.testing import CliRunner

    from newsdesk.cli import app

    env = {"NEWSDESK_DATABASE_URL": desk_env.db.url, "NEWSDESK_DATA_DIR": str(desk_env.out.parent / "data")}
    result = CliRunner().invoke(app, ["review", "reject", str(desk_env.ids["chips"]), "--reason", "r" * 5_000], env=env)
    assert result.exit_code == 1 and "limit is 2,000" in result.output and "Traceback" not in result.output


async def test_hash_gate_bounds_hashing_and_turns_away_past_its_queue() -> None:
    import asyncio

    from review.ratelimit import Busy, HashGate

    gate = HashGate(slots=2, max_waiting=2)
    inside = 0
    most = 0
    release = asyncio.Event()

    async def sign_in() -> str:
        nonlocal inside, most
        try:
            async with gate.slot():
                inside += 1
                most = max(most, inside)
                await release.wait()
                inside -= 1
                return "checked"
        except Busy:
            return "busy"

    tasks = [asyncio.create_task(sign_in()) for _ in range(6)]
    await asyncio.sleep(0.05)
    release.set()
    results = await asyncio.gather(*tasks)
    assert most == 2 and results.count("checked") == 4 and results.count("busy") == 2
