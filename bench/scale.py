"""The collect stage in-process vs on a local Dask cluster of 1 and 2 worker processes.

Usage: python -m bench.scale [--feeds 5000] [--items 20] [--latency 0.1] [--hosts 50]
                             [--batch 500] [--postgres URL]

The loopback feed server of `bench.collect` (a child process) serves generated feeds; each mode
collects them into a fresh database (SQLite, or a throwaway PostgreSQL schema with `--postgres`,
which is what several workers should share). Reported: wall time including the cluster's
start-up (the temporary Prefect server, when PREFECT_API_URL is unset, starts before the timing), items/s, the ratio of 2 workers to 1, each worker's peak RSS, the workers' CPU seconds (items per CPU s: a worker's own efficiency) and how many of the machine's cores were busy (the feed server, the database and Prefect share them). A Prefect server
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


def busy_cores_ticks() -> int:
    """Clock ticks all cores spent busy so far (Linux /proc/stat; 0 elsewhere): the whole machine,
    so the feed server, the database and the Prefect server count too."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
    except OSError:
        return 0
    return sum(fields) - fields[3] - fields[4]  # all but idle and iowait


def _own_cpu() -> float:
    """CPU seconds of this process and its waited-for children (the in-process mode's parse pool)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


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
        busy_before, cpu_before = busy_cores_ticks(), _own_cpu()
        start = time.perf_counter()
        stats = scaleout.collect(ctx, DAY, None, False) if workers else pipeline.collect_stage(ctx, DAY)
        took = time.perf_counter() - start
        busy = (busy_cores_ticks() - busy_before) / os.sysconf("SC_CLK_TCK") / took
        cpu = stats.get("worker_cpu_s", _own_cpu() - cpu_before)
    finally:
        db.dispose()
        drop()
    rate = max(stats["fetched"], 1) / took
    peaks = ", ".join(f"{mb:.0f} MB" for _, mb in stats.get("peak_rss_mb", [])[:8]) or \
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB (this process)"
    print(f"{mode:<18} {took:7.2f} s  {stats['fetched']} items  {rate:7.0f} items/s  failed sources {stats['failed']}  peak RSS {peaks}")
    print(f"{'':<18} {'workers' if workers else 'this process and its parse pool'}: {cpu:.1f} CPU s, "
          f"{max(stats['fetched'], 1) / max(cpu, 1e-9):.0f} items per CPU s; machine busy {busy:.2f} of {os.cpu_count()} cores")
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
