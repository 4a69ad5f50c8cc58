"""The HTML archive's ways through: previous/next day on each day page, month pages, tag pages."""
from __future__ import annotations

import re
from pathlib import Path

from archive_days import add_day, approve_and_publish
from review import archive_pages
from storage.db import Database

DAYS = {
    "2026-10-31": [("halloween", "Spooky model card", ["Open Models"])],
    "2026-11-02": [("chips", "Chip export rules", ["Policy"]), ("weights", "Open weights land", ["open models"])],
    "2026-11-03": [("robots", "Robot lab raises", ["Funding"])],
}


def publish_all(db: Database, out: Path) -> None:
    for day, stories in DAYS.items():
        add_day(db, day, stories)
        approve_and_publish(db, day, out)


def links(html: str) -> list[str]:
    return re.findall(r'href="([^"]+)"', html)


def test_day_pages_link_previous_and_next_day_month_and_tags(db: Database, tmp_path: Path) -> None:
    out = tmp_path / "site"
    publish_all(db, out)
    first, middle, last = ((out / f"{d}.html").read_text() for d in DAYS)
    assert 'rel="prev"' not in first and 'rel="next" href="2026-11-02.html"' in first  # yesterday's page learned its next day
    assert 'rel="prev" href="2026-10-31.html"' in middle and 'rel="next" href="2026-11-03.html"' in middle
    assert 'rel="prev" href="2026-11-02.html"' in last and 'rel="next"' not in last
    assert 'href="2026-10.html"' in first and 'href="2026-11.html"' in middle
    assert middle.count(f'class="{archive_pages.NAV_CLASS}"') == 1  # rebuilt from the kept page, never stacked
    assert 'href="tag-policy.html"' in middle and 'href="tag-open-models.html"' in middle
    assert "Back to list" in middle  # the published page is still all there
    for page in (first, middle, last):
        for href in links(page):
            if not href.startswith(("http", "#", "mailto:")):
                assert (out / href).is_file(), href


def test_month_and_tag_pages_list_their_days_and_the_index_links_them(db: Database, tmp_path: Path) -> None:
    out = tmp_path / "site"
    publish_all(db, out)
    november = (out / "2026-11.html").read_text()
    assert "November 2026" in november and 'href="2026-11-02.html"' in november and 'href="2026-11-03.html"' in november
    assert "2026-10-31" not in november
    assert 'href="2026-10-31.html"' in (out / "2026-10.html").read_text()

    tag = (out / "tag-open-models.html").read_text()  # "Open Models" and "open models" are one tag
    assert "Spooky model card" in tag and "Open weights land" in tag and "Chip export rules" not in tag
    assert tag.index("2026-11-02") < tag.index("2026-10-31")  # newest first
    index = (out / "index.html").read_text()
    for href in ("2026-11.html", "2026-10.html", "tag-open-models.html", "tag-policy.html", "tag-funding.html"):
        assert f'href="{href}"' in index, href


def test_a_tag_gone_after_a_correction_loses_its_page(db: Database, tmp_path: Path) -> None:
    from sqlalchemy import select
    from storage import desk
    from storage.models import Draft, Story

    out = tmp_path / "site"
    publish_all(db, out)
    assert (out / "tag-funding.html").is_file()
    with db.session() as s:
        story = s.scalars(select(Story).where(Story.day == "2026-11-03")).one()
        draft = s.scalars(select(Draft).where(Draft.story_id == story.id)).one()
        desk.edit(s, story.id, "ana", expected_version=draft.version, changes={"tags": ["Robots"]})
    approve_and_publish(db, "2026-11-03", out, note="retagged", actor="root")
    assert not (out / "tag-funding.html").exists() and (out / "tag-robots.html").is_file()
    assert 'href="tag-funding.html"' not in (out / "index.html").read_text()


def test_tag_slugs_are_file_safe() -> None:
    assert archive_pages.tag_slug("C++ / Rust") == "c-rust"
    assert archive_pages.tag_slug("../../etc") == "etc"
    assert archive_pages.tag_slug("???") == "tag"
