"""Full-text search cost, against baselines run in the same process (SQLite; PostgreSQL with --postgres URL).

Measures, for N items (default 5000) in stories of 5 items with one draft each:
- writing: inserting the items, stories and drafts through the storage layer with the
  index kept by the database (triggers / generated columns) versus the same writes on a
  schema without the index (the baseline: the cost the index adds to every night);
- searching: `storage.search.search` for a rare and a common word, versus a LIKE scan
  of the same tables (what a search without an index would do).
Prints wall times and ratios. Run: python -m bench.search [--items N] [--postgres URL]
"""
from __future__ import annotations

import argparse
import random
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

from alembic import command
from sqlalchemy import create_engine, text

from storage import search
from storage.db import Database, _alembic_config
from storage.writes import ItemWrite, StoryWrite, replace_day_stories, save_machine_draft, upsert_items, upsert_sources

WORDS = ("model lab release open weights benchmark chip export policy funding robot agent training inference "
         "dataset license price token context reasoning vision speech safety evaluation startup cloud").split()


def _text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def write(db: Database, items: int, seed: int = 7) -> float:
    rng = random.Random(seed)
    when = datetime(2026, 11, 18, 3, tzinfo=timezone.utc)
    start = time.perf_counter()
    per_day = 500
    for d in range(0, items, per_day):
        day = f"2026-{1 + (d // per_day) // 28 % 12:02d}-{1 + (d // per_day) % 28:02d}"
        with db.session() as s:
            src = upsert_sources(s, [{"name": "Wire", "type": "feed", "url": "https://wire.test/feed"}])["Wire"]
            writes = [ItemWrite(kind="article", guid=f"g{d + k}", url=f"https://wire.test/{d + k}", title=_text(rng, 8),
                                text=_text(rng, 300) + (" zeppelin" if (d + k) % 997 == 0 else ""), content_hash=f"h{d + k}",
                                published_at=when) for k in range(min(per_day, items - d))]
            upsert_items(s, src, writes, now=when)
            ids = [i for (i,) in s.execute(text("SELECT id FROM items WHERE guid LIKE :p"), {"p": "g%"}).all()][d:d + len(writes)]
            stories = [StoryWrite(key=f"k{d + k}", title=_text(rng, 6), item_ids=ids[k:k + 5], rank=k // 5 + 1, score=1.0, reasons=[])
                       for k in range(0, len(ids), 5)]
            keys = replace_day_stories(s, day, stories)
            for sw in stories:
                save_machine_draft(s, keys[sw.key], style="awesome-ai-daily", status="pending", model="m", prompt_version="v1",
                                   input_hash=sw.key, fields={"headline": sw.title, "summary": [{"text": _text(rng, 40), "source_ids": []}],
                                                              "view": "Awesome AI View: " + _text(rng, 20), "tags": ["Models"]})
    return time.perf_counter() - start


schemas: list[str] = []


def database(url: str | None, tmp: Path, name: str) -> Database:
    if url is None:
        db = Database(f"sqlite:///{tmp / name}.db")
    else:
        schema = f"bench_{name}_{uuid.uuid4().hex[:8]}"
        schemas.append(schema)
        with create_engine(url).begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        db = Database(f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}")
    db.migrate()
    return db


def without_index(db: Database) -> None:
    cfg = _alembic_config(db.engine)
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0003")
    with db.engine.begin() as conn:  # the columns 0007 adds for links added by hand stay, so the ORM still fits
        conn.execute(text("ALTER TABLE items ADD COLUMN added_by VARCHAR(200)"))
        conn.execute(text("ALTER TABLE items ADD COLUMN added_note TEXT"))


def timed(fn, repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=5000)
    ap.add_argument("--postgres", default=None, help="a PostgreSQL URL to measure there instead of SQLite")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        indexed, plain = database(args.postgres, Path(tmp), "indexed"), database(args.postgres, Path(tmp), "plain")
        without_index(plain)
        t_plain = write(plain, args.items)
        t_indexed = write(indexed, args.items)
        print(f"write {args.items} items, {args.items // 5} stories and drafts: no index {t_plain:.2f} s, "
              f"indexed {t_indexed:.2f} s, ratio {t_indexed / t_plain:.2f}x")
        for word in ("zeppelin", "benchmark"):
            with indexed.session() as s:
                hits = len(search.search(s, word, limit=50))
                t_fts = timed(lambda: search.search(s, word, limit=50))
            with plain.session() as s:
                like = f"%{word}%"
                scan = ("SELECT count(*) FROM (SELECT story_id FROM story_items si JOIN items i ON i.id = si.item_id "
                        "WHERE i.title LIKE :w OR i.text LIKE :w UNION SELECT story_id FROM drafts "
                        "WHERE headline LIKE :w OR \"view\" LIKE :w) x")
                t_like = timed(lambda: s.execute(text(scan), {"w": like}).scalar_one())
            print(f"search {word!r} ({hits} hits shown): index {t_fts * 1000:.1f} ms, LIKE scan {t_like * 1000:.1f} ms, "
                  f"ratio {t_like / t_fts:.1f}x")
        indexed.dispose()
        plain.dispose()
        if args.postgres:  # leave nothing behind
            with create_engine(args.postgres).begin() as conn:
                for schema in schemas:
                    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


if __name__ == "__main__":
    main()
