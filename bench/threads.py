"""Score threads on multi-day collections: one event's documents over many days, one thread.

Usage: python -m bench.threads [ECB_FILE.jsonl] [--seeds N] [--window 14] [--span 20] [--revise]

Collections (`bench.thread_sets`): the demo sample day's articles, and ECB+ when its file
is given (43 topics, each two events of one kind: the two must stay two threads). Each
event's documents are dealt out over days (``--span`` days, gaps of 1-3 days), one or
two a day, then the night is simulated day after day: cluster, continuity, thread.

Two layouts: "together" (every event starts anywhere in the span, so the two events of one
topic run at the same time: the hard case) and "apart" (the second event of a topic starts
window + 1 days after the first one's last document, a recurrence as in the world).
Printed per collection, layout and documents-a-day: BCubed P/R/F1 of threads against gold
events, purity (share of documents in a one-event thread), events split over threads,
threads holding several events, of which across topics (unrelated stories joined) and
within a topic (two events of one kind joined); mean and worst over ``--seeds``.

``--revise``: each setting also with `bench.thread_revisions` (threads revised after each
night: a candidate, not in the pipeline), on the same days in the same run.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from bench.thread_revisions import Revision
from bench.thread_sets import demo_collection, ecb_collection, score, simulate, spread


def run(name: str, docs: list[dict], gold: dict[str, str], seeds: int, window: int, span: int,
        revise: bool = False) -> None:
    topic = {d["id"]: str(d.get("topic", gold[d["id"]])) for d in docs}
    rules = [("", None)] + ([(" revised", Revision())] if revise else [])
    for layout, apart in (("together", None), ("apart", window + 1)):
        for per_day in (1, 2):
            for label, revision in rules:
                rows, started = [], time.perf_counter()
                for seed in range(seeds):
                    days = spread(docs, gold, span_days=span, per_day=per_day, seed=seed, apart=apart)
                    rows.append(score(simulate(days, window, revision), gold, topic))
                _print(f"{name} {layout}{label}", per_day, rows, (time.perf_counter() - started) / seeds)


def _print(name: str, per_day: int, rows: list, secs: float) -> None:
    """One line: means over seeds, and the worst seed's F1."""
    def mean(attr: str) -> float:
        return sum(getattr(r, attr) for r in rows) / len(rows)

    worst = min(rows, key=lambda r: r.f1)
    print(f"{name:<22} {per_day}/day  P {mean('precision'):.3f}  R {mean('recall'):.3f}  "
          f"F1 {mean('f1'):.3f} (worst {worst.f1:.3f})  purity {mean('purity'):.3f}  "
          f"split {mean('split_events'):.1f}  merged {mean('merged_threads'):.1f} "
          f"(across topics {mean('cross_topic'):.1f}, same kind {mean('same_kind'):.1f})  "
          f"{secs:.1f} s/run")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ecb", nargs="?", help="ECB+ event-cluster file (ecbplus_docs.jsonl)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--window", type=int, default=14, help="thread window in days (NEWSDESK_THREAD_DAYS)")
    ap.add_argument("--span", type=int, default=20, help="days over which events start")
    ap.add_argument("--revise", action="store_true", help="also with threads revised after each night (a candidate)")
    args = ap.parse_args(argv)
    print(f"threads: window {args.window} days, events start within {args.span} days, {args.seeds} seeds "
          "(timings on a shared machine)")
    docs, gold = demo_collection()
    print(f"demo: {len(docs)} documents, {len(set(gold.values()))} events")
    run("demo", docs, gold, args.seeds, args.window, args.span, args.revise)
    if args.ecb:
        path = Path(args.ecb)
        if not path.is_file():
            print(f"error: no ECB+ file at {path}", file=sys.stderr)
            return 2
        docs, gold = ecb_collection(str(path))
        print(f"ECB+: {len(docs)} documents, {len(set(gold.values()))} events, "
              f"{len({d['topic'] for d in docs})} topics")
        run("ECB+", docs, gold, args.seeds, args.window, args.span, args.revise)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
