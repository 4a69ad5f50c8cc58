"""The collect stage end to end (network, parsing and the database) against a naive loop.

Usage: python -m bench.collect_stage [--feeds 500] [--items 20] [--latency 0.1] [--hosts 50]
                                     [--naive-sample 40] [--postgres URL]

The loopback feed server of `bench.collect` (a child process) serves `--feeds` RSS feeds with
ETags. Timed, each on a fresh database (SQLite in a temp dir; PostgreSQL too with `--postgres`,
in a throwaway schema):

- naive: `feedparser.parse(url)` per feed and one ORM insert per item, committed per feed
  (timed on `--naive-sample` feeds, extrapolated);
- night 1: `flows.pipeline.collect_stage`, as `newsdesk collect` runs it;
- night 2: the same again, every feed answering 304.

Night 2's parse calls (sources that were parsed) and its statements touching items, articles
or item links are counted: both should be zero.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from pathlib import Path

import feedparser
import yaml
from sqlalchemy import create_engine, event, text

from bench.collect import served_feeds

DAY = "2026-11-23"


def _fresh_postgres(url: str):
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in url else "?"

    def drop() -> None:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    return f"{url}{sep}options=-csearch_path%3D{schema}", drop


def _database(kind: str, tmp: Path, pg_url: str | None):
    from storage.db import Database

    if kind == "sqlite":
        url, drop = f"sqlite:///{tmp / f'bench-{uuid.uuid4().hex[:6]}.db'}", (lambda: None)
    else:
        url, drop = _fresh_postgres(pg_url)  # type: ignore[arg-type]
    db = Database(url)
    db.migrate()
    return db, drop


def naive(db, urls: list[str]) -> tuple[float, int]:
    """feedparser per feed, one ORM insert per item (what a first version would write)."""
    from datetime import datetime, timezone

    from storage.models import Item, Source

    start = time.perf_counter()
    n = 0
    for i, url in enumerate(urls):
        parsed = feedparser.parse(url)
        with db.session() as s:
            src = Source(name=f"naive{i}", type="feed", url=url)
            s.add(src)
            s.flush()
            for e in parsed.entries:
                s.add(Item(source_id=src.id, kind="article", guid=e.get("id") or e.get("link"), url=e.get("link"),
                           title=e.get("title", ""), text=e.get("summary", ""), content_hash=str(hash(e.get("summary"))),
                           window_at=datetime.now(timezone.utc)))
                s.flush()
                n += 1
    return time.perf_counter() - start, n


def _count_statements(db, seen: list[str]):
    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        seen.append(" ".join(statement.split()).lower())
    event.listen(db.engine, "before_cursor_execute", record)
    return lambda: event.remove(db.engine, "before_cursor_execute", record)


def run_backend(kind: str, urls: list[str], args, tmp: Path) -> None:
    from flows.pipeline import Context, collect_stage
    from newsdesk.config import load_settings

    db, drop = _database(kind, tmp, args.postgres)
    try:
        sources = tmp / "sources.yaml"
        sources.write_text(yaml.safe_dump({"sources": [{"name": f"feed{i}", "type": "feed", "url": u} for i, u in enumerate(urls)]}))
        os.environ.update({"NEWSDESK_DATABASE_URL": db.url, "NEWSDESK_SOURCES": str(sources), "NEWSDESK_DATA_DIR": str(tmp),
                           "NEWSDESK_ALLOW_PRIVATE_HOSTS": "loopback"})
        ctx = Context(load_settings(), db)
        t0 = time.perf_counter()
        first = collect_stage(ctx, DAY)
        t1 = time.perf_counter() - t0
        seen: list[str] = []
        stop = _count_statements(db, seen)
        t0 = time.perf_counter()
        second = collect_stage(ctx, DAY)
        t2 = time.perf_counter() - t0
        stop()
        parsed = sum(1 for r in second["sources"] if r["status"] == "ok")
        touching = sum(1 for q in seen if any(t in q for t in (" items", " articles", " item_links")))
        item_writes = sum(1 for q in seen if q.startswith(("insert into items", "update items")))
    finally:
        db.dispose()
        drop()
    ndb, ndrop = _database(kind, tmp, args.postgres)
    try:
        sample = urls[: args.naive_sample]
        tn, items_n = naive(ndb, sample)
    finally:
        ndb.dispose()
        ndrop()
    naive_rate = items_n / tn
    rate1 = first["fetched"] / t1
    print(f"[{kind}] night 1: {t1:6.2f} s  {first['fetched']} items ({first['new']} new, {first['failed']} failed sources)  {rate1:7.0f} items/s")
    print(f"[{kind}] night 2 (all 304): {t2:6.2f} s  parse calls {parsed}, statements on items/articles/links {touching}, item writes {item_writes}")
    print(f"[{kind}] naive loop: {tn:6.2f} s for {len(sample)} feeds ({items_n} items)  {naive_rate:7.0f} items/s")
    print(f"[{kind}] RATIO night 1 / naive (items/s): {rate1 / naive_rate:6.1f}x  (target >= 20x)")
    print(f"[{kind}] RATIO night 1 / night 2:         {t1 / t2:6.1f}x  (target >= 3x)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--naive-sample", type=int, default=40)
    parser.add_argument("--postgres", default=os.environ.get("NEWSDESK_BENCH_POSTGRES_URL"),
                        help="also measure on this PostgreSQL database (NEWSDESK_BENCH_POSTGRES_URL)")
    args = parser.parse_args(argv)
    with served_feeds(args.feeds, args.items, args.latency, args.hosts) as (urls, hosts):
        print(f"{args.feeds} feeds x {args.items} items over {hosts} loopback hosts, {args.latency * 1000:.0f} ms per response")
        for kind in ["sqlite"] + (["postgresql"] if args.postgres else []):
            with tempfile.TemporaryDirectory(prefix="newsdesk-bench-") as tmp:
                run_backend(kind, urls, args, Path(tmp))


if __name__ == "__main__":
    main()
