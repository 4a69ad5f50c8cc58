"""The Atom and JSON feeds: HTML content beside text, ids that survive a later site URL, dated titles,
the masthead as feed title, and corrections that update an entry instead of adding one."""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import feedparser

from archive_days import add_day, approve_and_publish
from review import archive
from storage.db import Database
from test_review_http import DAY, SITE, XSS, seed


def check_json_feed_1_1(feed: dict) -> None:
    """Required and typed fields of JSON Feed 1.1 (https://jsonfeed.org/version/1.1)."""
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert isinstance(feed["title"], str) and feed["title"]
    assert isinstance(feed["items"], list)
    for item in feed["items"]:
        assert isinstance(item["id"], str) and item["id"]
        assert isinstance(item.get("content_html"), str) or isinstance(item.get("content_text"), str)
        for key in ("date_published", "date_modified"):
            if key in item:
                assert datetime.fromisoformat(item[key]).tzinfo is not None, key  # RFC 3339 with an offset
        for key in ("url", "external_url", "home_page_url", "feed_url"):
            if key in item:
                assert item[key].startswith("https://")
        if "tags" in item:
            assert all(isinstance(t, str) for t in item["tags"])


def parse_atom(out: Path) -> feedparser.FeedParserDict:
    atom = feedparser.parse((out / "feed.xml").read_bytes())
    assert not atom.bozo, atom.get("bozo_exception")
    assert atom.version == "atom10"
    return atom


def test_feeds_carry_html_and_text_with_dated_titles_under_the_masthead(db: Database, tmp_path: Path) -> None:
    seed(db)
    out = tmp_path / "site"
    approve_and_publish(db, DAY, out, site_url=SITE)

    atom = parse_atom(out)
    assert atom.feed.title == "Awesome AI Daily"
    assert '<p class="masthead">Awesome AI Daily | ' in (out / f"{DAY}.html").read_text()  # the page's own masthead
    (entry,) = atom.entries
    assert DAY in entry.title
    (content,) = entry.content
    assert content.type == "text/html"
    assert "<h2>" in content.value and "Acme Lab releases Falcon-9B" in content.value
    assert "<script" not in content.value and "&lt;script&gt;" in content.value  # the view's script tag stays text
    assert "Back to list" not in content.value and "<style" not in content.value
    assert entry.summary and "<" not in entry.summary
    assert {t.term for t in entry.tags} == {"Models", "Policy", "Funding"}

    feed = json.loads((out / "feed.json").read_text())
    check_json_feed_1_1(feed)
    assert feed["title"] == "Awesome AI Daily"
    (item,) = feed["items"]
    assert DAY in item["title"] and "<h2>" in item["content_html"] and "Acme Lab releases Falcon-9B" in item["content_text"]
    assert "<script>" not in item["content_html"]
    assert item["url"] == f"{SITE}/{DAY}.html"


def test_ids_stay_when_the_site_url_is_set_later_and_a_correction_updates_the_entry(db: Database, tmp_path: Path) -> None:
    seed(db)
    out = tmp_path / "site"
    approve_and_publish(db, DAY, out, site_url=None)
    atom = parse_atom(out)
    (first,) = atom.entries
    first_json = json.loads((out / "feed.json").read_text())["items"][0]
    assert "link" not in first or not first.link.startswith("https://")

    approve_and_publish(db, DAY, out, site_url=SITE, note="fixed the price", actor="root")
    atom = parse_atom(out)
    (entry,) = atom.entries  # updated, not duplicated
    assert entry.id == first.id == archive.item_id(DAY)
    assert entry.link == f"{SITE}/{DAY}.html"
    assert entry.published == first.published and datetime.fromisoformat(entry.updated) > datetime.fromisoformat(first.updated)
    assert "fixed the price" in entry.content[0].value and "fixed the price" in entry.summary
    feed = json.loads((out / "feed.json").read_text())
    check_json_feed_1_1(feed)
    (item,) = feed["items"]
    assert item["id"] == first_json["id"] == entry.id
    assert item["date_modified"] > first_json["date_modified"] and item["date_published"] == first_json["date_published"]


def test_several_days_newest_first_and_the_other_style_names_the_feed(db: Database, tmp_path: Path) -> None:
    out = tmp_path / "site"
    add_day(db, "2026-11-16", [("a", "Older news", ["Chips"])], style="ai-news-digest")
    approve_and_publish(db, "2026-11-16", out, style="ai-news-digest")
    add_day(db, "2026-11-17", [("b", "Newer news", ["Chips", "Labs"])], style="ai-news-digest")
    approve_and_publish(db, "2026-11-17", out, style="ai-news-digest")
    atom = parse_atom(out)
    assert atom.feed.title == "AI News Digest"
    assert [e.id for e in atom.entries] == [archive.item_id("2026-11-17"), archive.item_id("2026-11-16")]
    assert all(d in e.title for e, d in zip(atom.entries, ("2026-11-17", "2026-11-16")))
    assert len({e.title for e in atom.entries}) == 2
    check_json_feed_1_1(json.loads((out / "feed.json").read_text()))


def test_a_page_published_before_its_html_was_kept_still_gives_escaped_html(db: Database, tmp_path: Path) -> None:
    day = archive.ArchiveDay(day=DAY, title="T", markdown=f"# T\n\n{XSS}\n", first_published=datetime.now(),
                             updated=datetime.now(), revision=1, corrections=[], summary="")
    html = archive.content_html(day)
    assert html.startswith("<pre>") and "<script>" not in html and "&lt;script&gt;" in html
