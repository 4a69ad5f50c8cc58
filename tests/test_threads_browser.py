"""The running story's timeline on the desk's story page, in headless Chromium (skips without it)."""
from __future__ import annotations

import threading
from typing import Any, Iterator

import pytest

from review.app import create_app
from review.settings import ReviewSettings
from review.users import add_user
from test_review_browser import LAPTOP, Tab, _free_port, _keep_failure, browser, shot  # noqa: F401  (fixtures)
from test_review_http import PASSWORD
from test_threads import _day, _two_published_days

pytestmark = pytest.mark.browser


@pytest.fixture
def thread_server(db, tmp_path) -> Iterator[dict[str, Any]]:
    uvicorn = pytest.importorskip("uvicorn")
    ids = _two_published_days(db, tmp_path / "site")
    add_user(db, "ana", "editor", PASSWORD)
    settings = ReviewSettings(database_url=db.url, secret_key="browser-test-secret-0123456789", publish_dir=tmp_path / "site")
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    waiter = threading.Event()
    while thread.is_alive() and not srv.started:
        waiter.wait(0.05)
    if not srv.started:
        pytest.fail("the desk did not start")
    yield {"url": f"http://127.0.0.1:{port}", "ids": ids}
    srv.should_exit = True
    thread.join(10)


def test_editor_follows_a_running_story_from_day_to_day(thread_server, browser, shot) -> None:  # noqa: F811
    ids = thread_server["ids"]
    tab = Tab(browser, thread_server["url"]).login("ana")
    pg = tab.page
    try:
        tab.story(ids["b"])
        card = pg.locator("#thread")
        assert card.is_visible()
        entries = card.locator("li.tl-entry")
        assert entries.count() == 2
        assert entries.nth(0).inner_text().startswith(_day(0)) and "(this story)" in entries.nth(1).inner_text()
        assert "Lab <b>announces</b> the Orrel model" in entries.nth(0).inner_text()  # shown as text, not markup
        assert pg.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # fits a laptop screen
        shot(pg, "thread-timeline")
        entries.nth(0).locator("a.tl-headline").click()
        pg.wait_for_url(f"**/story/{ids['a']}")
        back = pg.locator("#thread li.tl-entry").nth(1)
        assert "Update: the lab ships the Orrel model" in back.inner_text() and back.locator("a").count() >= 1
        tab.story(ids["c"])
        assert pg.locator("#thread").count() == 0  # a one-day story has no timeline
        assert not tab.dialogs
    except BaseException:
        _keep_failure(shot, tab)
        raise
    finally:
        tab.context.close()
