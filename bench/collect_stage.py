"""The collect stage end to end (network, parsing and the database) against a naive loop.

Usage: python -m bench.collect_stage [--feeds 500] [--items 20] [--latency 0.1] [--hosts 50]
                                     [--naive-sample 40] [--postgres URL] [--reference REV] [--repeat N]

The loopback feed server of `bench.collect` (a child process) serves `--feeds` RSS feeds with
ETags. Timed, each on a fresh database (SQLite in a temp dir; PostgreSQL too with `--postgres`,
in a throwaway schema):

- naive: `feedparser.parse(url)` per feed and one ORM insert per item, committed per feed
  (timed on `--naive-sample` feeds, extrapolated);
- night 1: `flows.pipeline.collect_stage`, as `newsdesk collect` runs it (in a fresh process);
- night 2: the same again, every feed answering 304.

With `--reference REV`, the code at that revision runs the same nights in its own process,
alternating with the current code (`--repeat` times each), against the same server and beside the
same naive loop: before and after from one run, under the same machine load. The feeds are spread
over `--hosts` loopback addresses, each its own host to the per-host politeness limits (four
requests at a time per host by default), as real feeds are spread over sites.

Night 2's parse calls (sources that were parsed) and its statements touching items, articles
or item links are counted: both should be zero.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import feedparser
import yaml
from sqlalchemy import create_engine, event, text

from bench.collect import served_feeds

DAY = "2026-11-23"
ROOT = Path(__file__).resolve().parent.parent


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


def nights(kind: str, urls: list[str], pg_url: str | None, tmp: Path) -> dict:
    """Night 1 and the all-304 night 2 of the collect stage, as `newsdesk collect` runs it, on a fresh database."""
    from flows.pipeline import Context, collect_stage
    from newsdesk.config import load_settings

    db, drop = _database(kind, tmp, pg_url)
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
    finally:
        db.dispose()
        drop()
    return {"t1": t1, "t2": t2, "fetched": first["fetched"], "new": first["new"], "failed": first["failed"],
            "parsed": sum(1 for r in second["sources"] if r["status"] == "ok"),
            "touching": sum(1 for q in seen if any(t in q for t in (" items", " articles", " item_links"))),
            "item_writes": sum(1 for q in seen if q.startswith(("insert into items", "update items")))}


def nights_in_child(root: Path, kind: str, urls: list[str], pg_url: str | None) -> dict:
    """`nights` in a fresh process importing the code under `root` (this file's copy runs it), so the
    reference and the current code start alike and run against the same server in the same hour."""
    with tempfile.TemporaryDirectory(prefix="newsdesk-bench-") as tmp:
        listed = Path(tmp) / "urls.json"
        listed.write_text(json.dumps(urls))
        done = subprocess.run([sys.executable, "-m", "bench.collect_stage", "--nights", kind, "--urls", str(listed)]
                              + (["--postgres", pg_url] if pg_url else []), cwd=root, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"error: the collect stage under {root} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


@contextmanager
def reference_tree(revision: str | None) -> Iterator[Path | None]:
    """The project's files at `revision` (`git archive`) with this bench file copied in, or None."""
    if revision is None:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="newsdesk-ref-") as tmp:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision], capture_output=True)
        if archive.returncode != 0:
            raise SystemExit(f"error: cannot read {revision}: {archive.stderr.decode().strip()}")
        subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
        shutil.copy(Path(__file__), Path(tmp) / "bench" / "collect_stage.py")
        yield Path(tmp)


def naive_rate(kind: str, urls: list[str], pg_url: str | None, tmp: Path) -> tuple[float, int, float]:
    ndb, ndrop = _database(kind, tmp, pg_url)
    try:
        tn, items_n = naive(ndb, urls)
    finally:
        ndb.dispose()
        ndrop()
    return tn, items_n, items_n / tn


def report(kind: str, label: str, r: dict, rate: float) -> None:
    rate1 = r["fetched"] / r["t1"]
    label = f"{label} " if label else ""
    print(f"[{kind}] {label}night 1: {r['t1']:6.2f} s  {r['fetched']} items ({r['new']} new, {r['failed']} failed sources)  "
          f"{rate1:7.0f} items/s  RATIO vs naive {rate1 / rate:5.1f}x (target >= 20x)")
    print(f"[{kind}] {label}night 2 (all 304): {r['t2']:6.2f} s  night 1 / night 2 {r['t1'] / r['t2']:4.1f}x (target >= 3x); "
          f"parse calls {r['parsed']}, statements on items/articles/links {r['touching']}, item writes {r['item_writes']}")


def run_backend(kind: str, urls: list[str], args, reference: Path | None) -> None:
    runs: dict[str, list[dict]] = {"reference": [], "current": []}
    for _ in range(args.repeat):
        if reference is not None:
            runs["reference"].append(nights_in_child(reference, kind, urls, args.postgres))
        runs["current"].append(nights_in_child(ROOT, kind, urls, args.postgres))
    with tempfile.TemporaryDirectory(prefix="newsdesk-bench-") as tmp:
        sample = urls[: args.naive_sample]
        tn, items_n, rate = naive_rate(kind, sample, args.postgres, Path(tmp))
    print(f"[{kind}] naive loop: {tn:6.2f} s for {len(sample)} feeds ({items_n} items)  {rate:7.0f} items/s")
    for label, done in runs.items():
        for r in done:
            report(kind, label if reference is not None else "", r, rate)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--naive-sample", type=int, default=40)
    parser.add_argument("--postgres", default=os.environ.get("NEWSDESK_BENCH_POSTGRES_URL"),
                        help="also measure on this PostgreSQL database (NEWSDESK_BENCH_POSTGRES_URL)")
    parser.add_argument("--reference", metavar="REV", help="also measure the code at this git revision (e.g. main), "
                        "each night in a fresh process, alternating with the current code")
    parser.add_argument("--repeat", type=int, default=1, help="measure each code this many times (alternating)")
    parser.add_argument("--nights", choices=["sqlite", "postgresql"], help=argparse.SUPPRESS)
    parser.add_argument("--urls", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.nights:  # the child of nights_in_child: one measurement, as one JSON line
        with tempfile.TemporaryDirectory(prefix="newsdesk-bench-") as tmp:
            print(json.dumps(nights(args.nights, json.loads(Path(args.urls).read_text()), args.postgres, Path(tmp))))
        return
    with served_feeds(args.feeds, args.items, args.latency, args.hosts) as (urls, hosts), \
            reference_tree(args.reference) as reference:
        print(f"{args.feeds} feeds x {args.items} items over {hosts} loopback hosts, {args.latency * 1000:.0f} ms per response"
              + (f"; reference: {args.reference}" if args.reference else ""))
        for kind in ["sqlite"] + (["postgresql"] if args.postgres else []):
            run_backend(kind, urls, args, reference)


if __name__ == "__main__":
    main()
