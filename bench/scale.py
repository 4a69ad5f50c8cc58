"""The collect stage in-process vs on a local Dask cluster of 1 and 2 worker processes.

Usage: python -m bench.scale [--feeds 5000] [--items 20] [--latency 0.1] [--hosts 50]
                             [--batch 500] [--postgres URL]

The loopback feed server of `bench.collect` (a child process) serves generated feeds; each mode
collects them into a fresh database (SQLite, or a throwaway PostgreSQL schema with `--postgres`,
which is what several workers should share). Reported: wall time including the cluster's
start-up (the temporary Prefect server, when PREFECT_API_URL is unset, starts before the timing), items/s, the ratio of 2 workers to 1, and each worker's peak RSS. A Prefect server
starts on first use (ephemeral, a few seconds) unless PREFECT_API_URL points at one.
"""
from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

import yaml

from bench.collect import served_feeds
from bench.collect_stage import DAY, _database


def run_mode(mode: str, workers: int, urls: list[str], args, tmp: Path) -> float:
    from flows import pipeline, scaleout
    from newsdesk.config import load_settings

    db, drop = _database("postgresql" if args.postgres else "sqlite", tmp, args.postgres)
    try:
        sources = tmp / "sources.yaml"
        sources.write_text(yaml.safe_dump({"sources": [{"name": f"feed{i}", "type": "feed", "url": u} for i, u in enumerate(urls)]}))
        os.environ.update({"NEWSDESK_DATABASE_URL": db.url, "NEWSDESK_SOURCES": str(sources), "NEWSDESK_DATA_DIR": str(tmp),
                           "NEWSDESK_ALLOW_PRIVATE_HOSTS": "loopback", "NEWSDESK_DASK_WORKERS": str(workers),
                           "NEWSDESK_TASK_BATCH": str(args.batch)})
        ctx = pipeline.Context(load_settings(), db)
        start = time.perf_counter()
        stats = scaleout.collect(ctx, DAY, None, False) if workers else pipeline.collect_stage(ctx, DAY)
        took = time.perf_counter() - start
    finally:
        db.dispose()
        drop()
    rate = max(stats["fetched"], 1) / took
    peaks = ", ".join(f"{mb:.0f} MB" for _, mb in stats.get("peak_rss_mb", [])[:8]) or \
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB (this process)"
    print(f"{mode:<18} {took:7.2f} s  {stats['fetched']} items  {rate:7.0f} items/s  failed sources {stats['failed']}  peak RSS {peaks}")
    errors = [r["error"] for r in stats.get("sources", []) if r.get("error")]
    if errors:
        print(' ' * 18, 'e.g.', errors[0])
    return rate


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=5000)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--batch", type=int, default=500, help="sources per task (NEWSDESK_TASK_BATCH)")
    parser.add_argument("--postgres", default=os.environ.get("NEWSDESK_BENCH_POSTGRES_URL"))
    args = parser.parse_args(argv)
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")  # 3-12 s idle, more under load
    os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="newsdesk-bench-prefect-"))
    from flows.scaleout import prefect_api_url

    prefect_api_url()  # the temporary Prefect server starts once, outside the timed modes
    with served_feeds(args.feeds, args.items, args.latency, args.hosts) as (urls, _):
        print(f"{args.feeds} feeds x {args.items} items, {args.latency * 1000:.0f} ms per response, "
              f"{'PostgreSQL' if args.postgres else 'SQLite'}, batches of {args.batch} sources")
        rates = {}
        for mode, workers in (("in-process", 0), ("dask, 1 worker", 1), ("dask, 2 workers", 2)):
            with tempfile.TemporaryDirectory(prefix="newsdesk-scale-") as tmp:
                rates[workers] = run_mode(mode, workers, urls, args, Path(tmp))
        print(f"RATIO dask 2 workers / 1 worker (items/s): {rates[2] / rates[1]:5.2f}x  (target >= 1.8x)")
        print(f"RATIO dask 2 workers / in-process:         {rates[2] / rates[0]:5.2f}x")


if __name__ == "__main__":
    main()
