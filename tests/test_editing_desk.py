"""The desk's editing papercuts over HTTP: accounts, the approve conflict, the publish confirmation,
the day's style and a readable history."""
from __future__ import annotations


from review.users import verify
from storage import desk
from test_review_http import PASSWORD, csrf_of, desk_env, logged_in, login, make_client, post, version_of  # noqa: F401


def test_admin_disables_a_user_and_resets_a_password_ending_their_sessions(desk_env) -> None:
    root, ben = logged_in(desk_env, "root"), logged_in(desk_env, "ben")
    assert ben.get("/").status_code == 200
    page = root.get("/users").text
    assert 'action="/users/active"' in page and 'action="/users/password"' in page
    assert post(root, "/users/password", {"name": "ben", "password": "a brand new secret"}, "/users").status_code == 303
    assert ben.get("/").status_code == 303  # the old session is gone
    assert verify(desk_env.db, "ben", "a brand new secret") is not None
    ben = make_client(desk_env.settings)
    assert login(ben, "ben", "a brand new secret").status_code == 303
    assert post(root, "/users/active", {"name": "ben", "active": "0"}, "/users").status_code == 303
    assert ben.get("/").status_code == 303
    assert login(make_client(desk_env.settings), "ben", "a brand new secret").status_code != 303
    assert ">no<" in root.get("/users").text
    # an admin cannot lock themselves out; an editor cannot manage accounts
    resp = post(root, "/users/active", {"name": "root", "active": "0"}, "/users")
    assert resp.status_code == 400 and "your own account" in resp.text
    ana = logged_in(desk_env, "ana")
    assert post(ana, "/users/active", {"name": "ben", "active": "1"}, "/").status_code == 403
    assert post(root, "/users/active", {"name": "ben", "active": "1"}, "/users").status_code == 303
    assert login(make_client(desk_env.settings), "ben", "a brand new secret").status_code == 303


def _yours(html: str) -> str:
    """The "Your unsaved text" column of a conflict page."""
    return html.split("Your unsaved text", 1)[1].split("</div>", 1)[0]


def test_an_approve_conflict_shows_the_editors_own_text(desk_env) -> None:
    sid = desk_env.ids["chips"]
    ana, ben = logged_in(desk_env, "ana"), logged_in(desk_env, "ben")
    opened = version_of(desk_env, sid)
    page = ana.get(f"/story/{sid}").text
    assert 'form="edit-form"' in page  # the Approve button sends the edit form's text
    base = {"headline": "Export rules tighten for accelerators", "summary": "New rules limit accelerator exports. [1]",
            "tags": "Policy", "section": ""}
    assert post(ben, f"/story/{sid}/edit", base | {"version": opened, "view": "ben saved this view first."},
                f"/story/{sid}").status_code == 303
    resp = ana.post(f"/story/{sid}/approve", data=base | {"version": opened, "view": "ana typed this view.",
                                                          "csrf_token": csrf_of(page)})
    assert resp.status_code == 409
    assert "ana typed this view." in _yours(resp.text) and "ben saved" not in _yours(resp.text)
    # unsaved changes are never approved unseen
    current = version_of(desk_env, sid)
    resp = post(ana, f"/story/{sid}/approve", base | {"version": current, "view": "a different view, not saved."}, f"/story/{sid}")
    assert resp.status_code == 400 and "unsaved changes" in resp.text and "a different view, not saved." in resp.text
    with desk_env.db.session() as s:
        assert desk.get_story(s, sid).row.status == "pending"


def test_history_shows_whole_lines_removed_then_added() -> None:
    from review.diffs import line_diff

    old = "Acme released Falcon.\nIt beats rivals on coding.\nPricing was not given.\nOne.\nTwo.\nThree.\nFour."
    new = "Acme released Falcon-9B on Tuesday.\nIt beats rivals on coding.\nPricing was not given.\nOne.\nTwo.\nThree.\nFour."
    pieces = [(p.op, p.text) for p in line_diff(old, new)]
    assert pieces[:2] == [("del", "Acme released Falcon."), ("ins", "Acme released Falcon-9B on Tuesday.")]
    assert ("same", "It beats rivals on coding.") in pieces
    assert pieces[-1][0] == "fold" and "4 unchanged" in pieces[-1][1]
    # a huge rewrite is not aligned pair by pair: all old, then all new
    big_old, big_new = "\n".join(f"a{i}" for i in range(300)), "\n".join(f"b{i}" for i in range(300))
    ops = [p.op for p in line_diff(big_old, big_new)]
    assert ops == ["del"] * 300 + ["ins"] * 300


def test_story_page_history_is_a_line_diff(desk_env) -> None:
    sid = desk_env.ids["chips"]
    ana = logged_in(desk_env, "ana")
    data = {"headline": "Export rules tighten for accelerators", "tags": "Policy", "section": "",
            "summary": "New rules limit accelerator exports for every lab. [1]", "view": "A view."}
    assert post(ana, f"/story/{sid}/edit", data | {"version": version_of(desk_env, sid)}, f"/story/{sid}").status_code == 303
    html = ana.get(f"/story/{sid}").text
    assert '<del class="dl" aria-label="removed">New rules limit accelerator exports.</del>' in html
    assert '<ins class="dl" aria-label="added">New rules limit accelerator exports for every lab.</ins>' in html


def test_the_day_page_shows_the_days_style(desk_env) -> None:
    ana = logged_in(desk_env, "ana")
    assert "Style: Awesome AI Daily" in ana.get("/day/2026-11-18").text
    with desk_env.db.session() as s:
        desk.update_digest(s, "2026-11-18", "ana", style="ai-news-digest")
    assert "Style: AI News Digest" in ana.get("/day/2026-11-18").text


def test_publish_asks_first_showing_what_goes_out_and_where(desk_env) -> None:
    from test_review_http import DAY, SITE, approve_all

    approve_all(desk_env)
    ana, root = logged_in(desk_env, "ana"), logged_in(desk_env, "root")
    digest = ana.get(f"/digest/{DAY}").text
    assert f'<form method="get" action="/digest/{DAY}/publish"' in digest  # the button asks, it does not publish
    page = ana.get(f"/digest/{DAY}/publish")
    assert page.status_code == 200
    html = page.text
    assert "Yes, publish 2026-11-18" in html and "Awesome AI Daily" in html
    assert str(desk_env.out / f"{DAY}.html") in html and f"{SITE}/feed.xml" in html
    assert "No email is sent." in html and "Not posted to any channel." in html
    assert not (desk_env.out / f"{DAY}.md").exists()  # asking wrote nothing
    assert post(ana, f"/digest/{DAY}/publish", {"version": csrf_version(html)}, f"/digest/{DAY}").status_code == 303
    assert (desk_env.out / f"{DAY}.md").exists()
    # a correction: editors may not, an admin sees the note and the revision
    assert ana.get(f"/digest/{DAY}/publish").status_code == 403
    html = root.get(f"/digest/{DAY}/publish", params={"note": "fixed a figure"}).text
    assert "Revision 2, a correction" in html and "fixed a figure" in html and 'name="note" value="fixed a figure"' in html


def csrf_version(html: str) -> str:
    import re

    return re.search(r'name="version" value="(\d+)"', html).group(1)
