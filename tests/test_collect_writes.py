"""The collect stage's database work: set-based, nothing for an unchanged feed, no Prefect."""
from __future__ import annotations

import os
import subprocess
import sys
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Iterator

import yaml
from sqlalchemy import event, func, select

from flows.pipeline import Context, collect_stage
from newsdesk.config import load_settings
from storage.db import Database
from storage.models import Article, Item
from tests.httpserver import Recorded, Route, TestServer

REPO = Path(__file__).resolve().parents[1]
DAY = "2026-11-23"
FEEDS, ITEMS = 6, 15


def _feed(index: int) -> bytes:
    base = datetime(2026, 11, 22, 20, 0, tzinfo=timezone.utc)
    entries = "".join(
        f"<item><title>Feed {index} story {j}</title><link>https://site{index}.test/story-{j}</link>"
        f"<guid>f{index}-s{j}</guid><pubDate>{format_datetime(base - timedelta(minutes=7 * j), usegmt=True)}</pubDate>"
        f"<description>Story {j} of feed {index}</description></item>"
        for j in range(ITEMS))
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {index}</title>'
            f"<link>https://site{index}.test/</link><description>d</description>{entries}</channel></rss>").encode()


def _route(index: int):
    etag = f'"feed-{index}-v1"'

    def answer(req: Recorded) -> Route:
        if req.headers.get("if-none-match") == etag:
            return Route(status=304, headers={"ETag": etag})
        return Route(body=_feed(index), headers={"Content-Type": "application/rss+xml", "ETag": etag})
    return answer


@contextmanager
def _feeds(tmp_path: Path, db_url: str) -> Iterator[dict[str, str]]:
    with TestServer() as server:
        for i in range(FEEDS):
            server.routes[f"/feed/{i}.xml"] = _route(i)
        path = tmp_path / "sources.yaml"
        path.write_text(yaml.safe_dump({"sources": [
            {"name": f"Feed {i}", "type": "feed", "url": server.url(f"/feed/{i}.xml")} for i in range(FEEDS)]}))
        yield {"NEWSDESK_DATABASE_URL": db_url, "NEWSDESK_SOURCES": str(path), "NEWSDESK_DATA_DIR": str(tmp_path / "data"),
               "NEWSDESK_ALLOW_PRIVATE_HOSTS": "loopback"}


@contextmanager
def _statements(db: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        seen.append(" ".join(statement.split()).lower())
    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def test_an_unchanged_night_touches_only_the_sources_health(tmp_path: Path, db: Database, monkeypatch) -> None:
    with _feeds(tmp_path, db.url) as env:
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        ctx = Context(load_settings(), db)
        first = collect_stage(ctx, DAY)
        assert first["new"] == FEEDS * ITEMS and first["failed"] == 0
        with db.session() as s:
            assert s.scalar(select(func.count()).select_from(Item)) == FEEDS * ITEMS
            assert s.scalar(select(func.count()).select_from(Article)) == FEEDS * ITEMS
            assert s.scalar(select(func.count()).select_from(Item).where(Item.article_id.is_(None))) == 0
        with _statements(db) as seen:
            second = collect_stage(ctx, DAY)
        assert all(r["status"] == "not_modified" for r in second["sources"])
        touching = [q for q in seen if any(t in q for t in (" items", " articles", " item_links"))]
        assert not touching, f"an all-304 night still read or wrote items: {touching[:3]}"
        writes = [q for q in seen if q.startswith(("insert", "update", "delete"))]
        assert writes and all(" sources " in q for q in writes)


def test_the_first_night_writes_items_set_based(tmp_path: Path, db: Database, monkeypatch) -> None:
    with _feeds(tmp_path, db.url) as env:
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        with _statements(db) as seen:
            collect_stage(Context(load_settings(), db), DAY)
    item_inserts = [q for q in seen if q.startswith("insert into items")]
    article_inserts = [q for q in seen if q.startswith("insert into articles")]
    assert len(item_inserts) <= FEEDS, f"{len(item_inserts)} item INSERTs for {FEEDS} feeds: not one per feed"
    assert len(article_inserts) <= FEEDS
    assert not [q for q in seen if q.startswith("update items")], "items were inserted, then updated one by one"


COLLECT_AND_REPORT = (
    "import sys\n"
    "from typer.testing import CliRunner\n"
    "from newsdesk.cli import app\n"
    "r = CliRunner().invoke(app, ['collect', '--day', sys.argv[1]])\n"
    "print(r.exit_code, 'prefect' in sys.modules)\n"
    "print(r.output)\n"
)


def test_newsdesk_collect_does_not_import_prefect(tmp_path: Path, db_url: str) -> None:
    with _feeds(tmp_path, db_url) as env:
        done = subprocess.run([sys.executable, "-c", COLLECT_AND_REPORT, DAY], cwd=REPO, env={**os.environ, **env},
                              capture_output=True, text=True, timeout=120)
    code, imported = done.stdout.splitlines()[0].split()
    assert code == "0", done.stdout + done.stderr
    assert imported == "False", "newsdesk collect imported Prefect"


def test_the_stage_links_posts_to_articles_as_link_items_to_articles_would(tmp_path: Path, db: Database, monkeypatch) -> None:
    from newsdesk.demo import SAMPLE_DAY, demo_sources, serve_sample_day
    from storage.models import ItemLink
    from storage.writes import link_items_to_articles

    with serve_sample_day() as base_url:
        path = tmp_path / "sources.yaml"
        path.write_text(yaml.safe_dump({"sources": demo_sources(base_url)}), encoding="utf-8")
        for k, v in {"NEWSDESK_DATABASE_URL": db.url, "NEWSDESK_SOURCES": str(path), "NEWSDESK_DATA_DIR": str(tmp_path / "data"),
                     "NEWSDESK_ALLOW_PRIVATE_HOSTS": "loopback"}.items():
            monkeypatch.setenv(k, v)
        stats = collect_stage(Context(load_settings(), db), SAMPLE_DAY)
    assert stats["failed"] == 0 and stats["new"] > 0
    with db.session() as s:
        links = s.scalar(select(func.count()).select_from(ItemLink))
        assert links > 0, "no post was linked to the article it points at"
        own = s.scalar(select(func.count()).select_from(ItemLink).join(Item, Item.id == ItemLink.item_id)
                       .where(Item.article_id == ItemLink.article_id))
        assert own == 0, "an item was linked to its own article"
        assert link_items_to_articles(s, None) == 0, "the stage missed links or attachments the full pass finds"
