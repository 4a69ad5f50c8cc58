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
