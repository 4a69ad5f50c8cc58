"""Peak memory and wall time of each stage of a generated night, at several sizes.

Usage: python -m bench.memory [--sizes 2000,14000] [--items-per-feed 7] [--postgres URL]
                              [--stages collect,extract,cluster,draft,publish]

For each size n (articles in the day's window), a loopback server (a child process, so
serving costs the measured processes nothing) serves n / 7 RSS feeds of 7 items each,
spread over 50 loopback addresses, and an HTML page per article: nav, footer and a body of
~15 sentences built from made-up events (about four articles an event, sharing names and
topic words, with filler words around them), so the cluster stage has real stories to find.
The night then runs on a fresh database (SQLite in a temp dir, or a throwaway PostgreSQL
schema with ``--postgres``), one stage at a time, **each stage in a fresh child process**:

- collect, extract (two extraction workers), cluster: the pipeline's stage functions;
- draft: the draft stage against the OpenAI-compatible fake of the tests (loopback, no
  network; the top ``NEWSDESK_MAX_STORIES`` = 12 stories);
- publish: every pending draft approved, then the day published to a temp directory.

Printed per stage: wall seconds, CPU seconds of the stage process, its peak RSS (``ru_maxrss``
of the child, which includes the interpreter and imports: the "base" column is the RSS just
before the stage starts), and the peak RSS of its own worker processes, if any.

The default run (2,000 and 14,000 articles) takes about 3-4 minutes on two cores, most of it
extraction; ``--sizes 50000`` runs the 50k night (about 9 minutes more, 4 of them extraction).
``--keep DIR`` keeps each night's database, to rerun or profile one stage on it.
"""
from __future__ import annotations

import argparse
import asyncio
import html
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Iterator

from bench.collect import Response, http_handler, listen_on_loopback, served_by_child

DAY = "2026-11-23"
END = datetime(2026, 11, 23, 6, 0, tzinfo=timezone.utc)  # the day's cutoff (UTC default)
STAGES = ("collect", "extract", "cluster", "draft", "publish")
HOSTS = 50
ROOT = Path(__file__).resolve().parent.parent

_FILLER = ("the a of to in and on for with at by from that as is was were has have had will would "
           "said says about after before over under into more than most also but not its their this "
           "which who when while where year week officials according report reported people told "
           "statement government company city state police court market group plans new first").split()
_SYLLABLES = "ba ke ri so tu na le mi vo da pe ki lo ru sa te ni mo vu ga".split()


def _word(rng: random.Random, parts: int) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(parts))


def article(feed: int, item: int, n_articles: int) -> dict:
    """One generated article: its event decides names and topic words; text is deterministic."""
    k = feed * 1000 + item
    rng = random.Random(k)
    event = rng.randrange(max(1, n_articles // 4))
    erng = random.Random(10_000_000 + event)
    names = [_word(erng, 3).capitalize() for _ in range(3)]
    place = _word(erng, 2).capitalize()
    number = str(erng.randrange(12, 9000))
    topic = [_word(erng, 3) for _ in range(8)]
    title = f"{names[0]} {rng.choice(topic)} {topic[0]} in {place}, {number} {topic[1]}"
    sentences = []
    for _ in range(rng.randint(10, 20)):
        words = []
        for _ in range(rng.randint(12, 24)):
            roll = rng.random()
            words.append(rng.choice(names + [place, number]) if roll < 0.12
                         else rng.choice(topic) if roll < 0.35 else rng.choice(_FILLER))
        sentences.append(words[0].capitalize() + " " + " ".join(words[1:]) + ".")
    when = END - timedelta(minutes=(k * 7) % (22 * 60) + 5)
    return {"title": title, "sentences": sentences, "when": when}


def _page(feed: int, item: int, n_articles: int) -> bytes:
    a = article(feed, item, n_articles)
    paragraphs = "".join(f"<p>{html.escape(' '.join(a['sentences'][i:i + 3]))}</p>"
                         for i in range(0, len(a["sentences"]), 3))
    return (f"<!doctype html><html><head><title>{html.escape(a['title'])} | Site {feed}</title>"
            f'<meta property="og:title" content="{html.escape(a["title"])}">'
            f'<meta property="article:published_time" content="{a["when"].isoformat()}"></head><body>'
            f"<nav><a href='/'>Home</a> <a href='/world'>World</a> <a href='/business'>Business</a></nav>"
            f"<article><h1>{html.escape(a['title'])}</h1><p class='byline'>By Staff</p>{paragraphs}</article>"
            f"<aside><h2>Related</h2><ul><li><a href='/x'>Other story</a></li></ul></aside>"
            f"<footer>Copyright Site {feed}. All rights reserved.</footer></body></html>").encode()


def _feed(feed: int, items: int, n_articles: int, base: str) -> bytes:
    parts = []
    for j in range(items):
        a = article(feed, j, n_articles)
        parts.append(f"<item><title>{html.escape(a['title'])}</title><link>{base}/a/{feed}/{j}.html</link>"
                     f'<guid isPermaLink="false">f{feed}-{j}</guid><pubDate>{format_datetime(a["when"], usegmt=True)}</pubDate>'
                     f"<description>{html.escape(a['sentences'][0])}</description></item>")
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Site {feed}</title>'
            f"<link>{base}/</link><description>bench</description>{''.join(parts)}</channel></rss>").encode()


async def _serve(feeds: int, items: int) -> None:
    n_articles = feeds * items

    async def respond(path: str, headers: dict[str, str], base: str) -> Response | None:
        parts = path.split("?")[0].strip("/").split("/")
        try:
            if parts[0] == "feeds" and len(parts) == 2:
                return 200, {"Content-Type": "application/rss+xml"}, _feed(int(parts[1].split(".")[0]), items, n_articles, base)
            if parts[0] == "a" and len(parts) == 3:
                return 200, {"Content-Type": "text/html; charset=utf-8"}, _page(int(parts[1]), int(parts[2].split(".")[0]), n_articles)
        except ValueError:
            pass
        return None

    await listen_on_loopback(http_handler(respond), HOSTS)


@contextmanager
def served_night(feeds: int, items: int) -> Iterator[list[str]]:
    """The generated night served by a child process; yields every feed's URL."""
    with served_by_child("bench.memory", [str(feeds), str(items)], [f"/feeds/{i}.xml" for i in range(feeds)]) as (urls, _):
        yield urls


# -- one stage in this (child) process -------------------------------------------


def _rss_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def run_stage(stage: str) -> dict:
    """Run one stage against the environment's database; the numbers the parent prints."""
    from flows import pipeline
    from newsdesk.config import load_settings
    from storage.db import Database

    settings = load_settings()
    db = Database(settings.database_url)
    ctx = pipeline.Context(settings, db)
    if stage == "publish":
        from review.publishing import publish_day
        from storage import desk
    base = _rss_mib()
    wall, cpu = time.perf_counter(), time.process_time()
    if stage == "collect":
        stats = pipeline.collect_stage(ctx, DAY)
        info = {"items": stats["fetched"], "failed": stats["failed"]}
    elif stage == "extract":
        stats = pipeline.extract_stage(ctx, DAY)
        info = {k: v for k, v in stats.items() if isinstance(v, int)}
    elif stage == "cluster":
        info = pipeline.cluster_stage(ctx, DAY)
    elif stage == "draft":
        stats = pipeline.draft_stage(ctx, DAY, settings.style, settings.max_stories)
        info = {k: v for k, v in stats.items() if isinstance(v, int)}
    else:
        with db.session() as s:
            pending = [row.id for row in desk.list_stories(s, DAY) if row.status == "pending"]
            for story_id in pending:
                desk.approve(s, story_id, "bench", override="checked")
        result = publish_day(db, DAY, "bench", settings.publish_dir)
        info = {"approved": len(pending), "published": result.stories}
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    db.dispose()
    return {"wall": wall, "cpu": cpu, "base": base,
            "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "workers": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, "info": info}


# -- the parent -------------------------------------------------------------------


def _database(tmp: Path, postgres: str | None) -> tuple[str, callable]:
    from bench.collect_stage import _fresh_postgres
    from storage.db import Database

    url, drop = (_fresh_postgres(postgres) if postgres else (f"sqlite:///{tmp / 'night.db'}", lambda: None))
    db = Database(url)
    db.migrate()
    db.dispose()
    return url, drop


def night(n: int, args: argparse.Namespace, llm_url: str, llm_model: str) -> list[tuple[str, dict | None]]:
    import yaml

    feeds = max(1, n // args.items_per_feed)
    rows: list[tuple[str, dict | None]] = []
    with tempfile.TemporaryDirectory(prefix="newsdesk-memory-") as name, served_night(feeds, args.items_per_feed) as urls:
        tmp = Path(name)
        if args.keep:  # the night's database and files stay there, to rerun or profile a stage
            tmp = args.keep / str(n)
            tmp.mkdir(parents=True, exist_ok=True)
        url, drop = _database(tmp, args.postgres)
        try:
            sources = tmp / "sources.yaml"
            sources.write_text(yaml.safe_dump({"sources": [{"name": f"site{i}", "type": "feed", "url": u}
                                                           for i, u in enumerate(urls)]}))
            env = dict(os.environ, NEWSDESK_DATABASE_URL=url, NEWSDESK_SOURCES=str(sources),
                       NEWSDESK_DATA_DIR=str(tmp / "data"), NEWSDESK_PUBLISH_DIR=str(tmp / "site"),
                       NEWSDESK_ALLOW_PRIVATE_HOSTS="loopback", NEWSDESK_MAX_STORIES="12",
                       NEWSDESK_TIMEZONE="UTC", NEWSDESK_DAY_CUTOFF="06:00",
                       OPENAI_API_KEY="bench-key", OPENAI_BASE_URL=llm_url, NEWSDESK_MODEL=llm_model)
            for stage in args.stages:
                done = subprocess.run([sys.executable, "-m", "bench.memory", "--stage", stage],
                                      capture_output=True, text=True, cwd=ROOT, env=env)
                if done.returncode != 0:
                    print(f"  {n} {stage} failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}", flush=True)
                    rows.append((stage, None))
                    break
                row = json.loads(done.stdout.strip().splitlines()[-1])
                rows.append((stage, row))
                print(f"  {n:>6} {stage:<8} {row['wall']:7.1f} s  peak {row['peak']:6.0f} MiB  {row['info']}", flush=True)
        finally:
            drop()
    return rows


def print_table(results: dict[int, list[tuple[str, dict | None]]]) -> None:
    print("\nper stage, each in a fresh child process: wall s / CPU s of the stage process; peak RSS MiB of the "
          "process (ru_maxrss); base = RSS before the stage; workers = peak RSS of its worker processes")
    print(f"{'articles':>8} {'stage':<8} {'wall s':>7} {'CPU s':>7} {'peak MiB':>9} {'base':>6} {'workers':>8}  counts")
    for n, rows in results.items():
        for stage, row in rows:
            if row is None:
                print(f"{n:>8} {stage:<8} {'failed':>7}")
                continue
            workers = f"{row['workers']:8.0f}" if row["workers"] else f"{'-':>8}"
            print(f"{n:>8} {stage:<8} {row['wall']:7.1f} {row['cpu']:7.1f} {row['peak']:9.0f} {row['base']:6.0f} "
                  f"{workers}  {json.dumps(row['info'])}")
        done = [r for _, r in rows if r]
        if done:
            print(f"{n:>8} {'night':<8} {sum(r['wall'] for r in done):7.1f} {sum(r['cpu'] for r in done):7.1f} "
                  f"{max(r['peak'] for r in done):9.0f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2000,14000", help="articles per night, comma-separated")
    parser.add_argument("--items-per-feed", type=int, default=7)
    parser.add_argument("--stages", default=",".join(STAGES))
    parser.add_argument("--postgres", default=os.environ.get("NEWSDESK_BENCH_POSTGRES_URL"))
    parser.add_argument("--keep", type=Path, help="keep each night's SQLite database and files in DIR/<size>")
    parser.add_argument("--stage", help=argparse.SUPPRESS)
    parser.add_argument("--serve", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        asyncio.run(_serve(*args.serve))
        return 0
    if args.stage:
        print(json.dumps(run_stage(args.stage)))
        return 0
    args.stages = [s for s in args.stages.split(",") if s]
    sys.path.insert(0, str(ROOT / "tests"))  # the fake LLM server lives with the tests
    from fakes import FakeOpenAI

    fake = FakeOpenAI().start()
    results: dict[int, list] = {}
    try:
        for n in [int(s) for s in args.sizes.split(",") if s]:
            print(f"night of {n} articles ({max(1, n // args.items_per_feed)} feeds x {args.items_per_feed}), "
                  f"{'PostgreSQL' if args.postgres else 'SQLite'}", flush=True)
            results[n] = night(n, args, fake.base_url, fake.model)
    finally:
        fake.stop()
    print_table(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
