"""What committing each page as soon as it is extracted costs against committing pages by the batch.

`python -m bench.extract_commit [--pages 1000] [--postgres URL]`: loopback article pages served by
a child process over several loopback hosts; each mode extracts all of them into a fresh database,
in one process, the modes taking turns:

- batch: the previous design (a batch of `--batch` pages fetched, extracted and committed in one
  transaction while the next batch downloads); a kill lost up to two batches;
- group: the extract stage as it is (each page committed before it leaves the window; pages that
  finish while a commit runs share the next one: storage.groupcommit);
- page: the same with one transaction per page (`COMMIT_GROUP_MAX = 1`).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

from sqlalchemy import event

from bench.collect import served_by_child
from bench.collect_stage import _database

DAY = "2026-11-23"


def _page(n: int) -> bytes:
    paras = "".join(
        f"<p>Paragraph {k} of article {n}: researchers describe how the model number {n} was trained, "
        f"evaluated on many benchmarks and released with weights and a long technical report.</p>"
        for k in range(8))
    return (f"<html><head><title>Article {n}</title></head><body><article><h1>Article {n}</h1>{paras}"
            f"</article></body></html>").encode()


def serve(hosts: int, latency: float) -> None:
    """Child process: serve /a/N on 127.0.0.1..hosts, print {address: port}, run until killed."""
    import threading

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            if latency:
                time.sleep(latency)
            if self.path.startswith("/a/"):
                body, status = _page(int(self.path[3:])), 200
            else:
                body, status = b"", 404
            self.send_response(status)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    ports = {}
    for h in range(1, hosts + 1):
        server = ThreadingHTTPServer((f"127.0.0.{h}", 0), Handler)
        server.daemon_threads = True
        ports[f"127.0.0.{h}"] = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print(json.dumps(ports), flush=True)
    threading.Event().wait()


@contextmanager
def served_pages(pages: int, hosts: int, latency: float) -> Iterator[list[str]]:
    with served_by_child("bench.extract_commit", [f"--hosts={hosts}", f"--latency={latency}"],
                         [f"/a/{n}" for n in range(pages)]) as (urls, _):
        yield urls


def _seed(db, urls: list[str]) -> None:
    from storage.writes import ItemWrite, link_items_to_articles, upsert_items, upsert_sources

    when = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)
    with db.session() as s:
        sid = upsert_sources(s, [{"name": "pages", "type": "rss", "url": "http://127.0.0.1/feed"}])["pages"]
        upsert_items(s, sid, [ItemWrite(kind="article", guid=f"g{n}", url=u, title=f"Article {n}", text="summary",
                                        content_hash=f"h{n}", published_at=when + timedelta(seconds=n))
                              for n, u in enumerate(urls)])
        link_items_to_articles(s, sid)


def _batch_commit(ctx, todo, batch: int) -> dict[str, int]:
    """The previous extract stage: fetch a batch, extract it, commit it, while the next batch downloads."""
    from extractors import extract_many
    from extractors.article_batch import extraction_pool
    from flows import pipeline

    stats = {"articles": len(todo), "ok": 0, "fallback": 0, "failed": 0, "merged": 0}
    batches = [todo[i:i + batch] for i in range(0, len(todo), batch)]

    def save(pages, fetched, pool) -> None:
        arts = iter(extract_many([(c, f) for f, c, _ in fetched if c is not None], workers=ctx.parse_workers, pool=pool))
        rows = [pipeline._page_row(t, f, next(arts) if f[1] is not None else None, stats) for t, f in zip(pages, fetched)]
        stats["merged"] += pipeline._commit_pages(ctx, rows)

    async def run(pool) -> None:
        async with pipeline.stage_fetcher(ctx.settings, ctx.db) as fetcher:
            async def fetch(b):
                return await asyncio.gather(*(pipeline._fetch_one(fetcher, t.url) for t in b))
            pending = asyncio.ensure_future(fetch(batches[0]))
            for n, b in enumerate(batches):
                fetched = await pending
                if n + 1 < len(batches):
                    pending = asyncio.ensure_future(fetch(batches[n + 1]))
                await asyncio.to_thread(save, b, fetched, pool)

    with extraction_pool(ctx.parse_workers) as pool:
        asyncio.run(run(pool))
    return stats


def run_mode(mode: str, urls: list[str], postgres: str | None, tmp: Path, batch: int) -> dict[str, float]:
    from flows import pipeline
    from flows.pipeline import Context
    from newsdesk.config import load_settings

    db, drop = _database("postgresql" if postgres else "sqlite", tmp, postgres)
    try:
        _seed(db, urls)
        commits = [0]
        event.listen(db.engine, "commit", lambda conn: commits.__setitem__(0, commits[0] + 1))
        os.environ["NEWSDESK_EXTRACT_BATCH"] = str(batch)
        ctx = Context(load_settings(), db)
        with db.session() as s:
            todo = pipeline.pages_to_fetch(s, ctx.settings, DAY, False)
        began = time.perf_counter()
        if mode == "batch":
            stats = _batch_commit(ctx, todo, batch)
        else:
            pipeline.COMMIT_GROUP_MAX = 1 if mode == "page" else 500
            stats = pipeline.extract_pages(ctx, todo)
        wall = time.perf_counter() - began
        assert stats["ok"] == len(urls), stats
        return {"wall": wall, "commits": commits[0]}
    finally:
        pipeline.COMMIT_GROUP_MAX = 500
        db.dispose()
        drop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--hosts", type=int, default=10)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--batch", type=int, default=100, help="the batch (old) and the window (new)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--postgres", default=None, help="a PostgreSQL URL (a schema per mode); default SQLite")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.hosts, args.latency)
        return
    os.environ.setdefault("NEWSDESK_ALLOW_PRIVATE_HOSTS", "loopback")
    results: dict[str, list[dict[str, float]]] = {"batch": [], "group": [], "page": []}
    with tempfile.TemporaryDirectory() as tmp, served_pages(args.pages, args.hosts, args.latency) as urls:
        os.environ["NEWSDESK_DATA_DIR"] = tmp
        for r in range(args.rounds):
            order = ["batch", "group", "page"] if r % 2 == 0 else ["page", "group", "batch"]
            for mode in order:
                results[mode].append(run_mode(mode, urls, args.postgres, Path(tmp), args.batch))
                print(mode, results[mode][-1], flush=True)
    base = sum(x["wall"] for x in results["batch"]) / args.rounds
    print(f"{'mode':6} {'wall s (each round)':24} {'vs batch':>9} {'commits':>8}")
    for mode, runs in results.items():
        walls = [x["wall"] for x in runs]
        mean = sum(walls) / len(walls)
        print(f"{mode:6} {', '.join(f'{w:.2f}' for w in walls):24} {mean / base:9.2f} {runs[-1]['commits']:8.0f}")


if __name__ == "__main__":
    main()
