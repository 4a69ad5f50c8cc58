"""Threads: a running story's days share one persisted thread, shown as a timeline.

Storage rules on SQLite and PostgreSQL, the cluster stage over a multi-day collection built
from the demo day (one event dealt out over many days must end in one thread; near-miss
events of one kind, like ECB+ subtopics, must stay apart), and the thread pages of the
archive.
"""
from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bench.thread_sets import demo_collection, score, simulate, spread
from flows.pipeline import Context, cluster_stage
from newsdesk.config import ConfigError, load_settings
from storage import desk
from storage.db import Database
from storage.models import Item, Story, StoryItem, Thread
from storage.threads import assign_threads, running_threads, story_thread, timeline
from storage.writes import ItemWrite, StoryWrite, replace_day_stories, save_machine_draft, upsert_items, upsert_sources

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc)


def _day(n: int) -> str:
    return (date(2026, 11, 1) + timedelta(days=n)).isoformat()


def _items(s, n: int, source: str = "Wire") -> list[int]:
    sid = upsert_sources(s, [{"name": source, "type": "feed", "url": f"https://{source.lower()}.test/feed"}])[source]
    upsert_items(s, sid, [ItemWrite(kind="article", guid=f"{source}-{k}", url=f"https://{source.lower()}.test/{k}",
                                    title=f"Item {k}", text=f"text {k}", content_hash=f"{source}-h{k}", published_at=T0)
                          for k in range(n)], now=T0)
    return list(s.scalars(select(Item.id).where(Item.source_id == sid).order_by(Item.id)))


def _story(s, day: str, key: str, item_ids: list[int], previous: int | None = None, threads: int = 14) -> int:
    """Write one story for a day (beside the day's others) and assign the day's threads."""
    existing = [StoryWrite(key=st.key, title=st.title, item_ids=[si.item_id for si in st.items], rank=st.rank,
                           score=st.score, reasons=[], previous_story_id=st.previous_story_id)
                for st in s.scalars(select(Story).where(Story.day == day, Story.active.is_(True))) if st.key != key]
    ids = replace_day_stories(s, day, existing + [StoryWrite(key=key, title=f"Story {key}", item_ids=item_ids, rank=9,
                                                             score=1.0, reasons=[], previous_story_id=previous)])
    assign_threads(s, day, threads)
    return ids[key]


def _thread(s, story_id: int) -> int | None:
    return s.get(Story, story_id).thread_id


def test_a_story_joins_its_predecessors_thread_within_the_window(db: Database) -> None:
    with db.session() as s:
        items = _items(s, 6)
        a = _story(s, _day(0), "a", items[:2])
        b = _story(s, _day(3), "b", items[2:3], previous=a)
        c = _story(s, _day(17), "c", items[3:4], previous=b)  # 14 days after b: still within
        d = _story(s, _day(32), "d", items[4:5], previous=c)  # 15 days after c: a new thread
        other = _story(s, _day(3), "other", items[5:6])
        assert _thread(s, a) == _thread(s, b) == _thread(s, c) is not None
        assert _thread(s, d) not in (None, _thread(s, a))
        assert _thread(s, other) not in (None, _thread(s, a), _thread(s, d))


def test_the_window_is_the_setting(db: Database) -> None:
    with db.session() as s:
        items = _items(s, 2)
        a = _story(s, _day(0), "a", items[:1], threads=2)
        b = _story(s, _day(3), "b", items[1:], previous=a, threads=2)
        assert _thread(s, a) != _thread(s, b)
    assert load_settings({}).thread_days == 14
    assert load_settings({"NEWSDESK_THREAD_DAYS": "30"}).thread_days == 30
    for bad in ("0", "two weeks"):
        with pytest.raises(ConfigError, match="NEWSDESK_THREAD_DAYS"):
            load_settings({"NEWSDESK_THREAD_DAYS": bad})


def test_reruns_keep_thread_ids_and_leave_no_empty_threads(db: Database) -> None:
    with db.session() as s:
        items = _items(s, 4)
        a = _story(s, _day(0), "a", items[:1])
        b = _story(s, _day(1), "b", items[1:2], previous=a)
        c = _story(s, _day(2), "c", items[2:3], previous=b)
        first = {x: _thread(s, x) for x in (a, b, c)}
        for day in (_day(0), _day(1), _day(2), _day(1)):
            assign_threads(s, day, 14)
        assert {x: _thread(s, x) for x in (a, b, c)} == first
        assert s.scalar(select(func.count()).select_from(Thread)) == 1
        # A rerun of day 1 finds b is no continuation after all: b starts a thread, and c (which continues b) moves with it.
        _story(s, _day(1), "b", items[1:2], previous=None)
        assert _thread(s, a) == first[a] and _thread(s, b) == _thread(s, c) != first[a]
        # ...and day 0 now continues an older story z: a joins z's thread, b's stays its own.
        z = _story(s, _day(-2), "z", items[3:4])
        _story(s, _day(0), "a", items[:1], previous=z)
        assert _thread(s, a) == _thread(s, z)
        assert s.scalar(select(func.count()).select_from(Thread)) == 2
        # A story regrouped away leaves its thread; the empty thread goes.
        replace_day_stories(s, _day(1), [])
        assign_threads(s, _day(1), 14)
        assert _thread(s, b) is None and s.scalar(select(func.count()).select_from(Thread)) == 2  # z+a, and c's


def test_timeline_tells_each_day_its_headline_and_what_changed(db: Database) -> None:
    with db.session() as s:
        wire = _items(s, 3)
        lab = _items(s, 1, source="Lab")
        a = _story(s, _day(0), "a", wire[:2])
        b = _story(s, _day(1), "b", wire[1:3] + lab, previous=a)  # one item seen the day before
        save_machine_draft(s, b, style="awesome-ai-daily", status="pending", model="m", prompt_version="v", input_hash="x",
                           fields={"headline": "Update: the lab confirms the release",
                                   "summary": [{"text": "The lab confirmed the release on Monday.", "source_ids": []},
                                               {"text": "Earlier context.", "source_ids": []}],
                                   "view": "", "tags": []})
        view = story_thread(s, b)
        assert view is not None and view.thread_id == _thread(s, a)
        assert [(e.story_id, e.day, e.headline, e.new_sources) for e in view.entries] == [
            (a, _day(0), "Story a", 2), (b, _day(1), "Update: the lab confirms the release", 2)]
        assert view.entries[1].changed == "The lab confirmed the release on Monday."
        assert view.entries[1].new_outlets == ["Lab", "Wire"] and view.entries[0].status is None
        assert view.title == "Update: the lab confirms the release" and (view.first_day, view.last_day) == (_day(0), _day(1))
        lone = _story(s, _day(1), "lone", _items(s, 1, source="Solo"))
        assert story_thread(s, lone) is None  # a one-day story has no timeline to show
        assert running_threads(s, published_only=False) == [timeline(s, view.thread_id)]
        assert running_threads(s, published_only=True) == []


# ------------------------------------------------------------------ the cluster stage over many days


def _load_collection(db: Database, docs: list[dict]) -> list[str]:
    """Write the documents as items, each in the window of the night after its day; returns the nights."""
    nights = set()
    with db.session() as s:
        by_outlet: dict[str, list[dict]] = defaultdict(list)
        for d in docs:
            by_outlet[d["source"]].append(d)
        for outlet, group in sorted(by_outlet.items()):
            sid = upsert_sources(s, [{"name": outlet, "type": "feed", "url": f"https://{outlet}.test/feed"}])[outlet]
            upsert_items(s, sid, [
                ItemWrite(kind="article", guid=d["id"], url=f"https://{outlet}.test{d['id']}", title=d["title"],
                          text=d["text"], content_hash=hashlib.sha256(d["id"].encode()).hexdigest(),
                          published_at=d["published_at"]) for d in group], now=T0)
        for d in docs:
            nights.add((date.fromisoformat(d["day"]) + timedelta(days=1)).isoformat())
    return sorted(nights)


def _doc_threads(db: Database) -> dict[str, int]:
    with db.session() as s:
        rows = s.execute(select(Item.guid, Story.thread_id).join(StoryItem, StoryItem.item_id == Item.id)
                         .join(Story, Story.id == StoryItem.story_id).where(Story.active.is_(True))).all()
    return {guid: thread for guid, thread in rows}


@pytest.mark.parametrize("seed", [0, 3])
def test_one_event_over_many_days_is_one_thread_and_near_misses_stay_apart(db: Database, tmp_path: Path, seed: int) -> None:
    docs, gold = demo_collection()
    days = spread(docs, gold, span_days=12, per_day=1, seed=seed)
    assert max(len({d["day"] for d in days if gold[d["id"]] == e}) for e in set(gold.values())) >= 4  # a running story
    ctx = Context(settings=load_settings({"NEWSDESK_DATA_DIR": str(tmp_path)}).with_overrides(database_url=db.url), db=db)
    nights = _load_collection(db, days)
    for night in nights:
        cluster_stage(ctx, night)
    got = _doc_threads(db)
    assert set(got) == set(gold)
    topic = {d["id"]: d["topic"] for d in docs}
    scores = score(got, gold, topic)
    assert (scores.split_events, scores.merged_threads, scores.cross_topic, scores.same_kind) == (0, 0, 0, 0), scores
    # The same nights in memory (the bench's simulation) agree with the pipeline.
    assert score(simulate(days), gold, topic) == scores
    # A rerun of every night changes no thread and makes none.
    with db.session() as s:
        count = s.scalar(select(func.count()).select_from(Thread))
    for night in nights:
        cluster_stage(ctx, night)
    assert _doc_threads(db) == got
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Thread)) == count == len(set(gold.values()))


def test_a_short_thread_window_splits_a_story_with_gaps(db: Database, tmp_path: Path) -> None:
    """Control: the same collection with a one-day window splits events whose days are apart."""
    docs, gold = demo_collection()
    days = spread(docs, gold, span_days=12, per_day=1, seed=0)
    ctx = Context(settings=load_settings({"NEWSDESK_DATA_DIR": str(tmp_path), "NEWSDESK_THREAD_DAYS": "1"})
                  .with_overrides(database_url=db.url), db=db)
    for night in _load_collection(db, days):
        cluster_stage(ctx, night)
    scores = score(_doc_threads(db), gold, {d["id"]: d["topic"] for d in docs})
    assert scores.split_events > 0 and scores.merged_threads == 0


# ------------------------------------------------------------------ the desk's story page and the archive

PASSWORD = "correct horse battery"


def _two_published_days(db: Database, out: Path) -> dict[str, int]:
    """A story published on day 0 and its update on day 1 (one thread); day 1 has an unrelated story too."""
    from review.publishing import publish_day

    with db.session() as s:
        items = _items(s, 3)
        ids = {"a": _story(s, _day(0), "a", items[:1])}
        ids["b"] = _story(s, _day(1), "b", items[1:2], previous=ids["a"])
        ids["c"] = _story(s, _day(1), "c", items[2:3])
        heads = {"a": "Lab <b>announces</b> the Orrel model", "b": "Update: the lab ships the Orrel model",
                 "c": "A harbour gets a new crane"}
        for key, head in heads.items():
            item = items["abc".index(key)]
            save_machine_draft(s, ids[key], style="awesome-ai-daily", status="pending", model="m", prompt_version="v",
                               input_hash=key, fields={
                                   "headline": head, "summary": [{"text": f"Item {key} said so.", "source_ids": [str(item)]}],
                                   "view": "Awesome AI View: it matters for the field.", "tags": ["Models"]})
            desk.approve(s, ids[key], "ana")
    publish_day(db, _day(0), "ana", out)
    publish_day(db, _day(1), "ana", out)
    return ids


def test_archive_has_a_page_per_running_story_with_its_published_days(db: Database, tmp_path: Path) -> None:
    out = tmp_path / "site"
    ids = _two_published_days(db, out)
    with db.session() as s:
        thread = s.get(Story, ids["a"]).thread_id
        lone = s.get(Story, ids["c"]).thread_id
    page = (out / f"thread-{thread}.html").read_text(encoding="utf-8")
    assert page.index(f'href="{_day(0)}.html"') < page.index(f'href="{_day(1)}.html"')
    assert "Lab &lt;b&gt;announces&lt;/b&gt; the Orrel model" in page and "<b>announces" not in page  # escaped
    assert "Update: the lab ships the Orrel model" in page and "What changed: Item b said so." in page
    assert "harbour" not in page
    assert not (out / f"thread-{lone}.html").exists()  # one day only: no thread page
    listing = (out / "threads.html").read_text(encoding="utf-8")
    assert f'href="thread-{thread}.html"' in listing and "Update: the lab ships the Orrel model" in listing
    assert 'href="threads.html"' in (out / "index.html").read_text(encoding="utf-8")
    # A thread that no longer qualifies loses its page on the next rebuild.
    from review.archive import rebuild

    with db.session() as s:
        replace_day_stories(s, _day(1), [])
        assign_threads(s, _day(1), 14)
    with db.session() as s:
        rebuild(s, out, None)
    assert not (out / f"thread-{thread}.html").exists()
    assert "No running story yet" in (out / "threads.html").read_text(encoding="utf-8")


def test_story_page_shows_the_running_story_timeline(db: Database, tmp_path: Path) -> None:
    import re

    from starlette.testclient import TestClient

    from review.app import create_app
    from review.settings import ReviewSettings
    from review.users import add_user

    ids = _two_published_days(db, tmp_path / "site")
    add_user(db, "ana", "editor", PASSWORD)
    settings = ReviewSettings(database_url=db.url, secret_key="test-secret-key-0123456789", publish_dir=tmp_path / "site")
    client = TestClient(create_app(settings), follow_redirects=False)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    assert client.post("/login", data={"name": "ana", "password": PASSWORD, "csrf_token": token, "next": "/"}).status_code == 303
    html = client.get(f"/story/{ids['b']}").text
    timeline_html = html[html.index('id="thread"'):html.index("</section>", html.index('id="thread"'))]
    assert f'href="/story/{ids["a"]}"' in timeline_html and "Lab &lt;b&gt;announces&lt;/b&gt; the Orrel model" in timeline_html
    assert "(this story)" in timeline_html and "First reported: Item a said so." in timeline_html
    assert "What changed: Item b said so." in timeline_html
    assert timeline_html.index(_day(0)) < timeline_html.index(_day(1))
    assert 'id="thread"' not in client.get(f"/story/{ids['c']}").text  # a one-day story has no timeline
