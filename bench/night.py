"""Benchmark a whole demo-sized night end to end, through the Prefect flow and in-process.

Usage: python -m bench.night [--latency 1.0] [--modes direct,prefect-cold,prefect-warm]

Each mode runs in its own fresh process (imports are part of a night's cost) over the bundled
sample day, served on loopback, with a fresh database and an OpenAI-compatible fake (the tests'
`FakeOpenAI`) that takes `--latency` seconds per request, probe included. Modes:

- `direct`: the stages called in-process (`flows.night.DIRECT`), no Prefect at all: the baseline;
- `prefect-cold`: `newsdesk run`'s path (the CLI's `run_flow`) with a new, empty Prefect home,
  so the ephemeral Prefect server creates its database (a machine's first night);
- `prefect-warm`: the same with the Prefect home the cold run left (every later night).

Printed per mode: the process's wall time, where it went (Python start and imports, the
flow's overhead around the stages, each stage from the run's own `seconds`; the draft stage's
includes waiting for the capability probe, which runs ahead of it), and the LLM calls.
Goal (issue 13): a whole night in < 30 s wall including Prefect.
"""
from __future__ import annotations

import time

STARTED = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
STAGE_NAMES = ("collect", "extract", "cluster", "draft", "queue")
MODES = ("direct", "prefect-cold", "prefect-warm")


def child(mode: str, latency: float, prefect_home: Path, work: Path) -> dict[str, Any]:
    """One night in this process; returns the figures as a dict (printed as JSON by `main`)."""
    os.environ.update({
        "PREFECT_HOME": str(prefect_home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "NEWSDESK_DATA_DIR": str(work / "data"),
        "NEWSDESK_ALLOW_PRIVATE_HOSTS": "loopback",
    })
    os.environ.pop("NEWSDESK_DATABASE_URL", None)
    sys.path.insert(0, str(ROOT / "tests"))  # the fake LLM server lives with the tests
    import yaml
    from fakes import FakeOpenAI

    from newsdesk.demo import SAMPLE_DAY, demo_sources, serve_sample_day

    with serve_sample_day() as base_url, FakeOpenAI(model="bench-model", latency=latency) as fake:
        sources = work / "sources.yaml"
        sources.write_text(yaml.safe_dump({"sources": demo_sources(base_url)}, sort_keys=False), encoding="utf-8")
        os.environ.update({"NEWSDESK_SOURCES": str(sources), "OPENAI_API_KEY": "bench", "OPENAI_BASE_URL": fake.base_url,
                           "NEWSDESK_MODEL": fake.model})
        from newsdesk.config import load_settings
        from storage.db import Database

        settings = load_settings()
        db = Database(settings.database_url)
        db.migrate()
        db.dispose()
        ready = time.perf_counter()
        if mode == "direct":
            from flows.night import run_night

            stats = run_night(settings, day=SAMPLE_DAY)
        else:
            from newsdesk import cli

            cli.state.settings = settings
            stats = cli.run_flow(SAMPLE_DAY, "collect", False, None, None, None)
        done = time.perf_counter()
        draft = stats.get("draft", {})
        return {"mode": mode, "setup": ready - STARTED, "night": done - ready, "seconds": stats.get("seconds", {}),
                "stories": stats.get("cluster", {}).get("stories"), "drafted": draft.get("drafted"),
                "chat_calls": len(fake.chat_calls), "probe_calls": len(fake.probe_calls)}


def run_mode(mode: str, latency: float, prefect_home: Path) -> dict[str, Any]:
    """The mode in a new process; its figures plus the process's whole wall time (start to exit)."""
    with tempfile.TemporaryDirectory(prefix="bench-night-") as work:
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "bench.night", "--child", mode, "--latency", str(latency),
                               "--prefect-home", str(prefect_home), "--work", work],
                              cwd=ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - started
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"{mode} failed (exit {proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return json.loads(lines[-1]) | {"wall": wall}


def report(r: dict[str, Any]) -> str:
    stages = r["seconds"]
    in_stages = sum(stages.values())
    # start: interpreter, imports, the loopback servers and the database; around: the flow's own cost
    # (Prefect's server and task runs; in-process, only the run row and lock); exit: shutting down.
    parts = [("start", r["setup"]), ("around stages", r["night"] - in_stages)]
    parts += [(name, stages.get(name, 0.0)) for name in STAGE_NAMES]
    parts.append(("exit", r["wall"] - r["setup"] - r["night"]))
    shares = ", ".join(f"{name} {sec:.1f}s ({sec / r['wall']:.0%})" for name, sec in parts)
    return (f"{r['mode']:>13}: {r['wall']:.1f}s wall; {shares}. "
            f"{r['stories']} stories, {r['drafted']} drafted, {r['chat_calls']} draft calls + {r['probe_calls']} probe calls")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=1.0, help="seconds per LLM request (the fake's)")
    parser.add_argument("--modes", default=",".join(MODES), help=f"comma-separated, of {', '.join(MODES)}")
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--prefect-home", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.latency, args.prefect_home, args.work)), flush=True)
        return
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        parser.error(f"unknown mode(s): {', '.join(unknown)}")
    print(f"demo night, fake LLM at {args.latency}s per request; each mode a fresh process and database")
    with tempfile.TemporaryDirectory(prefix="bench-prefect-") as home:
        results = {}
        for mode in modes:
            if mode == "prefect-warm" and "prefect-cold" not in results:  # warm the Prefect home first
                results["prefect-cold"] = run_mode("prefect-cold", args.latency, Path(home))
                print(report(results["prefect-cold"]), flush=True)
            results[mode] = run_mode(mode, args.latency, Path(home))  # warm after cold: the same Prefect home
            print(report(results[mode]), flush=True)
    base = results.get("direct")
    for mode in ("prefect-cold", "prefect-warm"):
        if base and mode in results:
            extra = results[mode]["wall"] - base["wall"]
            print(f"{mode} costs {extra:+.1f}s over in-process ({results[mode]['wall'] / base['wall']:.2f}x); "
                  f"goal < 30 s wall: {'met' if results[mode]['wall'] < 30 else 'not met'}")


if __name__ == "__main__":
    main()
