"""The desk end to end in headless Chromium: review, publish, conflicts and escaping as an editor sees them.

Runs Debian's `chromium` through Playwright (`make browser` installs it) and
skips when either is missing. Screenshots go to the test's temp dir; set
NEWSDESK_SCREENSHOTS to a folder to keep a set for a human look.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import threading
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

import feedparser
import pytest

from review.app import create_app
from review.settings import ReviewSettings
from review.users import add_user
from storage import desk
from test_review_http import DAY, PASSWORD, SITE, XSS, seed

pytestmark = pytest.mark.browser

CHROMIUM = next((p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser") if Path(p).exists()), None) or shutil.which("chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
LAPTOP = {"width": 1366, "height": 768}  # the smallest screen the desk is designed for


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(db, tmp_path) -> Iterator[dict[str, Any]]:
    """The desk on 127.0.0.1 under uvicorn in a thread, with a seeded day and two editors."""
    uvicorn = pytest.importorskip("uvicorn")
    ids = seed(db)
    add_user(db, "ana", "editor", PASSWORD)
    add_user(db, "ben", "editor", PASSWORD)
    out = tmp_path / "site"
    settings = ReviewSettings(database_url=db.url, secret_key="browser-test-secret-0123456789", publish_dir=out, site_url=SITE)
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    started = threading.Event()
    while thread.is_alive() and not srv.started:  # uvicorn has no ready callback; poll its flag
        started.wait(0.05)
    if not srv.started:
        pytest.fail("the desk did not start")
    yield {"url": f"http://127.0.0.1:{port}", "ids": ids, "out": out, "db": db}
    srv.should_exit = True
    thread.join(10)


@pytest.fixture
def browser() -> Iterator[Any]:
    if CHROMIUM is None:
        pytest.skip("no Chromium found (install Debian's chromium package: make browser)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


class Shots:
    """Screenshots into the test's temp dir, and into $NEWSDESK_SCREENSHOTS when set."""

    def __init__(self, tmp: Path):
        self.dirs = [tmp]
        if os.environ.get("NEWSDESK_SCREENSHOTS"):
            self.dirs.append(Path(os.environ["NEWSDESK_SCREENSHOTS"]))
        for d in self.dirs:
            d.mkdir(parents=True, exist_ok=True)

    def __call__(self, pg, name: str, full: bool = False) -> Path:
        first = self.dirs[0] / f"{name}.png"
        pg.screenshot(path=str(first), full_page=full)
        for d in self.dirs[1:]:
            shutil.copyfile(first, d / first.name)
        return first


@pytest.fixture
def shot(tmp_path) -> Shots:
    return Shots(tmp_path / "shots")


class Tab:
    """One editor's browser context, recording any dialog a page tries to open (none should)."""

    def __init__(self, browser, base: str):
        self.context = browser.new_context(viewport=LAPTOP)
        self.page = self.context.new_page()
        self.page.set_default_timeout(15000)
        self.base = base
        self.dialogs: list[str] = []
        self.page.on("dialog", self._dialog)

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def login(self, name: str) -> "Tab":
        pg = self.page
        pg.goto(f"{self.base}/")
        assert pg.url.startswith(f"{self.base}/login")
        pg.fill("input[name=name]", name)
        pg.fill("input[name=password]", PASSWORD)
        pg.click("button:has-text('Sign in')")
        pg.wait_for_selector("ol.queue")
        return self

    def story(self, story_id: int) -> None:
        self.page.goto(f"{self.base}/story/{story_id}")
        self.page.wait_for_selector(".story-grid")

    def save_view(self, text: str) -> None:
        pg = self.page
        if pg.locator("details.edit[open]").count() == 0:
            pg.click("details.edit > summary")
        pg.fill("textarea[name=view]", text)
        pg.click("button:has-text('Save changes')")


@pytest.fixture
def tabs(browser, server) -> Iterator[Any]:
    opened: list[Tab] = []

    def open_tab() -> Tab:
        opened.append(Tab(browser, server["url"]))
        return opened[-1]

    yield open_tab
    for t in opened:
        t.context.close()


def _keep_failure(shot: Shots, tab: Tab) -> None:
    try:
        shot(tab.page, "failure", full=True)  # what the browser showed when it went wrong
    except Exception:
        pass


# ------------------------------------------------------------------ review and publish


def test_editor_reviews_orders_and_publishes_a_day(server, tabs, shot) -> None:
    tab = tabs()
    try:
        _review_and_publish(server, tab, shot)
    except BaseException:
        _keep_failure(shot, tab)
        raise
    assert tab.dialogs == []


def _review_and_publish(server, tab: Tab, shot: Shots) -> None:
    base, ids, pg = server["url"], server["ids"], tab.page
    pg.goto(f"{base}/")
    pg.wait_for_selector("form[action='/login']")
    shot(pg, "01-login")
    tab.login("ana")
    assert pg.locator(".qrow").count() == 3
    assert "1 unsupported claim" in pg.locator(".qrow").first.inner_text()
    shot(pg, "02-queue")

    # the story: the draft beside its sources, cited passages highlighted
    pg.click("a.headline:has-text('Acme Lab releases Falcon-9B')")
    pg.wait_for_selector(".story-grid")
    assert pg.locator(".sources-col article.source").count() == 2
    assert pg.locator(".srctext mark").count() >= 1
    assert pg.locator(".sent.unsupported").count() == 1
    shot(pg, "03-story")

    # edit the view in place, then approve
    tab.save_view("Awesome AI View: open models keep closing the gap, and fast.")
    pg.wait_for_selector(".notice.ok")
    assert "Saved" in pg.locator(".notice.ok").inner_text()
    assert "closing the gap, and fast." in pg.locator("p.view").inner_text()
    assert pg.locator(".hist .act-edited").count() >= 1
    shot(pg, "04-story-saved")
    shot(pg, "04-story-saved-full", full=True)
    # the truth gate: the price is still unsupported, so approving asks for a reason
    pg.click("button.approve")
    pg.wait_for_selector(".gate")
    assert "“$5”" in pg.locator(".gate").inner_text() and "does not appear in Wire" in pg.locator(".gate").inner_text()
    shot(pg, "04b-truth-gate")
    pg.fill("input[name=override]", "Price confirmed on the lab's pricing page")
    pg.click("button:has-text('Approve anyway')")
    pg.wait_for_selector(".pill-approved")
    assert "Approved" in pg.locator(".notice.ok").inner_text()
    assert "Price confirmed on the lab" in pg.locator(".hist").inner_text()

    for key in ("chips", "robots"):
        tab.story(ids[key])
        pg.click("button.approve")
        pg.wait_for_selector(".pill-approved")

    # reorder: the robots story moves up above the chips story
    pg.click("nav a:has-text('Digest')")
    pg.wait_for_selector("ol.order")
    assert pg.locator("ol.order .headline").all_inner_texts()[1].startswith("Export rules")
    pg.click("button[aria-label^='Move “Robotics startup'][title='Move up']")
    pg.wait_for_selector(".notice.ok")
    heads = pg.locator("ol.order .headline").all_inner_texts()
    assert heads[1].startswith("Robotics startup") and heads[2].startswith("Export rules")
    pg.fill("input[name=title]", "Open models close the gap")
    pg.fill("textarea[name=intro]", "Open weights had a good night.")
    pg.click("button:has-text('Save title, intro and style')")
    pg.wait_for_selector(".notice.ok")
    preview = pg.frame_locator("iframe.preview")
    assert "and fast." in preview.locator("body").inner_text()
    shot(pg, "05-digest")
    shot(pg, "05-digest-full", full=True)

    pg.click("button:has-text('Publish 2026-11-18')")
    pg.wait_for_selector(".confirm-publish")  # what goes out, and where, before it goes
    assert "2026-11-18.html" in pg.locator(".confirm-files").inner_text()
    pg.click("button:has-text('Yes, publish 2026-11-18')")
    pg.wait_for_selector(".notice.ok")
    assert "Published" in pg.locator(".notice.ok").inner_text()
    assert "Revision 1" in pg.locator(".pubs").inner_text()
    shot(pg, "06-digest-published")

    with server["db"].session() as s:
        assert [e.story_id for e in desk.digest_data(s, DAY).entries] == [ids["falcon"], ids["robots"], ids["chips"]]
    _check_published_files(server["out"])

    # the published page, as readers get it, links back to the list
    pg.goto((server["out"] / f"{DAY}.html").as_uri())
    assert pg.locator("a:has-text('Back to list')").get_attribute("href") == "index.html"
    assert "Robotics startup" in pg.locator("body").inner_text()
    shot(pg, "07-published-page")
    pg.click("a:has-text('Back to list')")
    assert pg.locator(f"a[href='{DAY}.html']").count() >= 1
    shot(pg, "08-archive-index")

    pg.goto(f"{base}/sources")
    assert "Flagged · 3 nights" in pg.locator("table").inner_text()
    shot(pg, "09-sources")


def _check_published_files(out: Path) -> None:
    """Markdown in the chosen order; Atom parses cleanly; the JSON Feed has what version 1.1 requires."""
    md = (out / f"{DAY}.md").read_text()
    assert md.index("Robotics startup") < md.index("Export rules") and "and fast." in md
    assert "Open weights had a good night." in md

    index = (out / "index.html").read_text()
    assert f'href="{DAY}.html"' in index and 'href="feed.xml"' in index and 'href="feed.json"' in index

    atom = feedparser.parse((out / "feed.xml").read_text())
    assert not atom.bozo, atom.get("bozo_exception")
    assert atom.version == "atom10" and atom.feed.get("title")
    (entry,) = atom.entries
    assert entry.id == f"urn:newsdesk:digest:{DAY}" and entry.link == f"{SITE}/{DAY}.html"
    assert entry.get("updated") and entry.get("title")

    feed = json.loads((out / "feed.json").read_text())
    _check_json_feed_1_1(feed)
    assert [i["id"] for i in feed["items"]] == [f"urn:newsdesk:digest:{DAY}"]


def _check_json_feed_1_1(feed: dict[str, Any]) -> None:
    """The required and typed fields of https://jsonfeed.org/version/1.1."""
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert isinstance(feed["title"], str) and feed["title"]
    assert isinstance(feed["items"], list) and feed["items"]
    for key in ("home_page_url", "feed_url"):
        if key in feed:
            assert feed[key].startswith(("http://", "https://")), key
    assert "author" not in feed  # 1.1 uses "authors" (an array)
    for item in feed["items"]:
        assert isinstance(item["id"], str) and item["id"]
        assert isinstance(item.get("content_html"), str) or isinstance(item.get("content_text"), str)
        for key in ("date_published", "date_modified"):
            if key in item:
                datetime.fromisoformat(item[key].replace("Z", "+00:00"))  # RFC 3339
        if "authors" in item:
            assert isinstance(item["authors"], list)
        if "tags" in item:
            assert all(isinstance(t, str) for t in item["tags"])


# ------------------------------------------------------------------ two editors, one story


def test_second_editor_sees_the_other_version_instead_of_overwriting(server, tabs, shot) -> None:
    sid = server["ids"]["chips"]
    ana, ben = tabs().login("ana"), tabs().login("ben")
    try:
        ana.story(sid)
        ben.story(sid)  # both opened the same version
        ana.save_view("Awesome AI View: ana was here first.")
        ana.page.wait_for_selector(".notice.ok")
        ben.save_view("Awesome AI View: ben's competing take.")
        ben.page.wait_for_selector("section.conflict")
        conflict = ben.page.locator("section.conflict").inner_text()
        assert "changed since you opened it" in conflict
        assert "ana was here first." in conflict and "ben's competing take." in conflict
        assert "by ana" in conflict
        # nothing was overwritten: the page and the database show ana's text
        assert "ana was here first." in ben.page.locator("p.view").inner_text()
        assert ben.page.locator("textarea[name=view]").input_value() == "Awesome AI View: ben's competing take."
        shot(ben.page, "10-conflict")
    except BaseException:
        _keep_failure(shot, ben)
        raise
    with server["db"].session() as s:
        assert desk.get_story(s, sid).view == "ana was here first."  # the label is the renderer's


# ------------------------------------------------------------------ untrusted text


def test_script_in_drafts_and_sources_shows_as_text_and_never_runs(server, tabs, shot) -> None:
    tab = tabs().login("ana")
    pg, sid = tab.page, server["ids"]["falcon"]
    try:
        tab.story(sid)
        assert XSS in pg.locator(".sources-col").inner_text()  # a source title with a script tag, as text
        assert XSS in pg.locator("p.view").inner_text()  # and the model's view
        assert pg.locator("main script").count() == 0
        hostile = "Awesome AI View: <img src=x onerror=alert('img')> bold claims <script>alert('view')</script>"
        tab.save_view(hostile)
        pg.wait_for_selector(".notice.ok")
        assert pg.locator("p.view").inner_text() == hostile
        assert pg.locator("main img").count() == 0
        shot(pg, "11-escaped")
        pg.click("button.approve")
        pg.wait_for_selector(".gate")  # the price is unsupported: approved with a reason
        pg.fill("input[name=override]", "checked <b>by hand</b>")
        pg.click("button:has-text('Approve anyway')")
        pg.wait_for_selector(".pill-approved")
        assert pg.locator("main b:has-text('by hand')").count() == 0
        pg.goto(f"{tab.base}/digest/{DAY}")
        pg.wait_for_selector("iframe.preview")
        assert "onerror" in pg.frame_locator("iframe.preview").locator("body").inner_text()
        pg.click("button:has-text('Publish 2026-11-18')")
        pg.click("button:has-text('Yes, publish 2026-11-18')")
        pg.wait_for_selector(".notice.ok")
        pg.goto((server["out"] / f"{DAY}.html").as_uri())
        assert "onerror=alert('img')" in pg.locator("body").inner_text()
        assert pg.locator("img").count() == 0 and pg.locator("body script").count() == 0
    except BaseException:
        _keep_failure(shot, tab)
        raise
    assert tab.dialogs == []


# ------------------------------------------------------------------ split off


def test_editor_splits_a_source_off_and_lands_on_its_story(server, tabs, shot) -> None:
    tab = tabs().login("ana")
    pg, sid = tab.page, server["ids"]["falcon"]
    try:
        tab.story(sid)
        source = pg.locator(".sources-col article.source", has_text="Introducing Falcon-9B")
        button = source.get_by_role("button", name="Split off into its own story")
        assert button.get_attribute("aria-describedby") == source.locator("h3").get_attribute("id")
        shot(pg, "12-before-split")
        button.click()
        pg.wait_for_selector(".notice.ok")
        assert "Split off into a story of its own" in pg.locator(".notice.ok").inner_text()
        new_id = int(pg.url.split("/story/")[1].split("?")[0])
        assert new_id != sid
        assert pg.locator(".sources-col article.source").count() == 1
        assert "Introducing Falcon-9B" in pg.locator(".sources-col").inner_text()
        assert pg.locator(".pill-needs_human").count() == 1
        shot(pg, "13-split-story")
        tab.story(sid)  # the story it left: one source fewer, and a notice for the editor
        assert pg.locator(".sources-col article.source").count() == 1
        assert desk.SPLIT_NOTICE in pg.locator(".flags").inner_text()
    except BaseException:
        _keep_failure(shot, tab)
        raise
    assert tab.dialogs == []


# ------------------------------------------------------------------ merge


def test_editor_merges_a_story_into_another_and_lands_on_it(server, tabs, shot) -> None:
    tab = tabs().login("ana")
    pg, sid, falcon = tab.page, server["ids"]["chips"], server["ids"]["falcon"]
    try:
        tab.story(sid)
        form = pg.locator("section.merge form")
        select = form.get_by_label("Merge into story")
        assert f"(#{falcon})" in select.inner_text() and f"(#{sid})" not in select.inner_text()
        select.select_option(str(falcon))
        shot(pg, "14-before-merge")
        form.get_by_role("button", name="Merge").click()
        pg.wait_for_selector(".notice.ok")
        assert "Merged: the other story" in pg.locator(".notice.ok").inner_text()
        assert pg.url.split("?")[0] == f"{tab.base}/story/{falcon}"
        assert pg.locator(".sources-col article.source").count() == 3  # Falcon's two and the chips story's one
        assert desk.MERGE_NOTICE in pg.locator(".flags").inner_text()
        shot(pg, "15-merged")
    except BaseException:
        _keep_failure(shot, tab)
        raise
    assert tab.dialogs == []
