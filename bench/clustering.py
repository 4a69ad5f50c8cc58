"""Score newsdesk's story clustering on every variation of a gold file, before and after a change.

Usage: python -m bench.clustering FILE.jsonl [--reference REV] [--seeds N] [--sweep] [--near-miss N]
                                    [--big N] [--scale 10000,14000,50000] [--no-scale]
                                    [--reference-scale 10000,14000]

FILE.jsonl holds one document a line: ``{doc_id, title, text, event_cluster}`` (``topic``
and ``published_at`` in ISO 8601 are used when present). The metric is BCubed
precision/recall/F1 over documents; no method is told the number of clusters.

One run prints:

- **Variations** (`bench.clustering_sets`): the file whole; its topic halves; small
  days (1-4 and 1-2 documents per event, ``--seeds`` subsamples each; mean and worst
  seed); leads only; mixed lengths; with synthetic dates (the file has none, so "whole"
  is the no-dates check); a ``--big`` document day of re-spelled copies. Columns: the
  current code, the code at ``--reference`` (default ``main``) loaded from git into the
  same process, and the plain TF-IDF average-link baseline (distance 0.8) where it fits
  in memory. One setting for all: nothing is tuned per variation.
- **Lone near misses** (``--near-miss N``, N items each way; 0 skips): days on which one
  event of a topic is a big story and the other event of the same kind has one item
  (`clustering_sets.lone_near_misses`), on the whole texts and on leads only. The figure
  is the share of those lone items shown inside the other event's story (lower is better):
  a story folded into another is one the editor never sees, and BCubed F1 hardly notices
  one item.
- ``--sweep``: the current code's F1 on every variation at thresholds around the
  shipped one, with the worst variation per threshold, so a peak shows as a peak.
- **Scale**: for each size of ``--scale``, a child process builds a big day, then runs
  the cluster stage's computing parts as the pipeline does (cluster, ranking's novelty
  against three earlier days' stories, continuity links to them) and prints wall and
  CPU seconds of each and the process's peak RSS during the stage (VmHWM, reset after
  the documents are built; "before" is the RSS holding the documents). The code at
  ``--reference`` runs the same at the ``--reference-scale`` sizes.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Callable

import numpy as np

from bench import clustering_sets as sets

SWEEP_STEPS = [-0.04, -0.03, -0.02, -0.01, 0.0, 0.01, 0.02, 0.03, 0.04]
BASELINE_LIMIT = 3000  # the baseline is dense (n x n): skip it on bigger days
HISTORY_DAYS = 3


def bcubed(pred: list[list[str]], gold: dict[str, str]) -> tuple[float, float, float]:
    """BCubed precision, recall, F1 of a partition against gold labels (same ids)."""
    pred_of = {doc_id: k for k, group in enumerate(pred) for doc_id in group}
    pred_members: dict[int, set[str]] = defaultdict(set)
    gold_members: dict[str, set[str]] = defaultdict(set)
    for doc_id, label in gold.items():
        pred_members[pred_of[doc_id]].add(doc_id)
        gold_members[label].add(doc_id)
    precision = recall = 0.0
    for doc_id, label in gold.items():
        mine, truth = pred_members[pred_of[doc_id]], gold_members[label]
        both = len(mine & truth)
        precision += both / len(mine)
        recall += both / len(truth)
    n = len(gold)
    precision, recall = precision / n, recall / n
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def baseline(docs: list[dict]) -> list[list[str]]:
    """TF-IDF over text, average-link on cosine distance, threshold 0.8 (dense; for reference)."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform
    from sklearn.feature_extraction.text import TfidfVectorizer

    if len(docs) < 2:
        return [[d["id"] for d in docs]]
    matrix = TfidfVectorizer(stop_words="english", sublinear_tf=True).fit_transform(
        [d["text"] for d in docs]
    )
    distance = np.clip(1.0 - (matrix @ matrix.T).toarray(), 0.0, 1.0)  # rows are L2-normalised
    np.fill_diagonal(distance, 0.0)
    tree = linkage(squareform(distance, checks=False), method="average")
    labels = fcluster(tree, 0.8, criterion="distance")
    groups: dict[int, list[str]] = defaultdict(list)
    for doc, label in zip(docs, labels):
        groups[int(label)].append(doc["id"])
    return list(groups.values())


def load(path: Path) -> tuple[list[dict], dict[str, str]]:
    docs, gold = [], {}
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            row = json.loads(line)
            doc_id = str(row["doc_id"])
            published = row.get("published_at")
            docs.append(
                {
                    "id": doc_id,
                    "title": row.get("title") or "",
                    "text": row.get("text") or "",
                    "url": row.get("source_url") or row.get("url") or "",
                    "published_at": datetime.fromisoformat(published) if published else None,
                    "topic": str(row.get("topic", "")),
                }
            )
            gold[doc_id] = str(row["event_cluster"])
    return docs, gold


# ------------------------------------------------------------------ variations


def variations(docs: list[dict], gold: dict[str, str], seeds: int, big: int) -> dict[str, list[tuple]]:
    """Name -> list of (docs, gold) (several for seeded subsamples)."""
    out: dict[str, list[tuple]] = {"whole (no dates)": [(docs, gold)]}
    for half, part in sets.halves(docs, gold).items():
        out[f"topic half {half}"] = [part]
    out["small days 1-4"] = [sets.small_days(docs, gold, 4, seed) for seed in range(seeds)]
    out["small days 1-2"] = [sets.small_days(docs, gold, 2, seed) for seed in range(seeds)]
    out["leads only"] = [sets.leads_only(docs, gold)]
    out["mixed lengths"] = [sets.mixed_lengths(docs, gold)]
    out["with dates"] = [sets.with_dates(docs, gold)]
    out["small 1-4 with dates"] = [sets.with_dates(*sets.small_days(docs, gold, 4, seed))
                                   for seed in range(seeds)]
    if big:
        out[f"big day {big // 1000}k"] = [sets.big_day(docs, gold, big)]
    return out


def score_runs(fn: Callable[[list[dict]], list[list[str]]], runs: list[tuple]) -> tuple:
    """(P, R, F1) averaged over the runs, the worst run's F1, seconds in total."""
    scores, seconds = [], 0.0
    for docs, gold in runs:
        started = time.perf_counter()
        groups = fn(docs)
        seconds += time.perf_counter() - started
        scores.append(bcubed(groups, gold))
    mean = tuple(float(np.mean([s[k] for s in scores])) for k in range(3))
    return (*mean, min(s[2] for s in scores), seconds)


def absorbed_share(fn: Callable[[list[dict]], list[list[str]]], cases: list[sets.NearMiss]) -> tuple[float, float]:
    """Share of lone near-miss items put in the story holding most of their sibling event; seconds."""
    absorbed, seconds = 0, 0.0
    for case in cases:
        started = time.perf_counter()
        groups = fn(case.docs)
        seconds += time.perf_counter() - started
        sibling_story = max(groups, key=lambda g: sum(case.gold[i] == case.sibling for i in g))
        absorbed += case.lone in sibling_story
    return absorbed / max(len(cases), 1), seconds


def print_near_misses(docs: list[dict], gold: dict[str, str], per_direction: int,
                      methods: dict[str, Callable]) -> None:
    print(f"lone near misses ({per_direction} a way): share of lone items folded into the other "
          "event's story (lower is better), seconds")
    for label, (d, g) in {"whole": (docs, gold), "leads only": sets.leads_only(docs, gold)}.items():
        cases = sets.lone_near_misses(d, g, per_direction)
        cells = []
        for name, fn in methods.items():
            share, seconds = absorbed_share(fn, cases)
            cells.append(f"{name}: {share:.3f} ({seconds:.0f} s)")
        print(f"  {label:<11} {len(cases)} days | " + " | ".join(cells))


def print_variations(table: dict[str, dict[str, tuple]], sizes: dict[str, str], methods: list[str]) -> None:
    head = f"{'variation':<24}{'docs':>13}"
    for name in methods:
        head += f" | {name[:24]:^31}"
    print(head)
    sub = f"{'':<37}" + "".join(f" | {'P':>6}{'R':>6}{'F1':>6}{'worst':>6}{'sec':>5}" for _ in methods)
    print(sub)
    for variation, row in table.items():
        line = f"{variation:<24}{sizes[variation]:>13}"
        for name in methods:
            if name not in row:
                line += f" | {'-':^31}"
                continue
            p, r, f, worst, seconds = row[name]
            line += f" | {p:6.3f}{r:6.3f}{f:6.3f}{worst:6.3f}{seconds:5.1f}"
        print(line)
    for name in methods:
        scored = [row[name][2] for row in table.values() if name in row]
        worst = min(row[name][3] for row in table.values() if name in row)
        print(f"{name}: mean F1 over variations {np.mean(scored):.4f}, lowest variation {min(scored):.4f}, "
              f"worst single run {worst:.4f}")


def sweep(module: ModuleType, sets_by_name: dict[str, list[tuple]]) -> None:
    """F1 of the current code on every variation at thresholds around the shipped one."""
    shipped = module.THRESHOLD
    thresholds = [round(shipped + step, 3) for step in SWEEP_STEPS]
    names = list(sets_by_name)
    print("sweep (F1, mean over seeds):")
    print(f"{'threshold':>10}" + "".join(f"{n[:10]:>11}" for n in names) + f"{'lowest':>9}")
    for threshold in thresholds:
        cells = []
        for name in names:
            f1s = []
            for docs, gold in sets_by_name[name]:
                prepared = _unique(module, docs)
                f1s.append(bcubed(module.cluster_docs(prepared, threshold=threshold), gold)[2])
            cells.append(float(np.mean(f1s)))
        mark = "  <- shipped" if abs(threshold - shipped) < 1e-9 else ""
        print(f"{threshold:10.3f}" + "".join(f"{c:11.4f}" for c in cells) + f"{min(cells):9.4f}{mark}")


def _unique(module: ModuleType, docs: list[dict]) -> list:
    seen: dict[str, object] = {}
    for raw in docs:
        doc = module.as_doc(raw)
        seen.setdefault(doc.id, doc)
    return list(seen.values())


# ------------------------------------------------------------------ scale


def _rss_mib(field: str) -> float:
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def _timed(fn: Callable[[], object]) -> tuple[object, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def stage_child(path: Path, n: int, revision: str | None) -> dict:
    """Build an n-document day and three earlier days' stories, then run the stage's parts."""
    if revision:
        from bench.reference import load_summarizer

        clustering = load_summarizer(revision)
        package = clustering.__name__.rsplit(".", 1)[0]
        continuity = sys.modules.get(package + ".continuity") or __import__(package + ".continuity", fromlist=["x"])
        ranking = __import__(package + ".ranking", fromlist=["x"])
    else:
        from summarizer import clustering, continuity, ranking
    docs, gold = load(path)
    day, _ = sets.big_day(docs, gold, n, seed=0)
    earlier, earlier_gold = sets.big_day(docs, gold, n, seed=1)
    by_event: dict[str, list[dict]] = defaultdict(list)
    for d in earlier:
        by_event[earlier_gold[d["id"]]].append(d)
    previous = [
        continuity.PreviousStory(
            id=k * len(by_event) + j, day=f"2026-03-0{k + 1}", title=group[0]["title"],
            text="\n".join(d["text"] for d in group)[:20000], published=bool(j % 2),
            content_hashes=frozenset(f"{k}:{d['id']}" for d in group),
        )
        for k in range(HISTORY_DAYS) for j, group in enumerate(by_event.values())
    ]
    del earlier, by_event
    rss_before = _rss_mib("VmRSS")
    reset = _reset_peak()
    groups, cluster_wall, cluster_cpu = _timed(lambda: clustering.cluster(day))
    peaks = [_rss_mib("VmHWM")]
    text_of = {d["id"]: d for d in day}
    stories = [(f"s{k}", text_of[g[0]]["title"], "\n".join(text_of[i]["text"] for i in g)[:20000],
                frozenset(g)) for k, g in enumerate(groups)]
    _reset_peak()
    floor = {"floor": 0.3} if "floor" in ranking.novelty_similarities.__code__.co_varnames else {}
    _, novelty_wall, novelty_cpu = _timed(lambda: ranking.novelty_similarities(
        [f"{s[1]}\n{s[2]}" for s in stories], [p.title + "\n" + p.text for p in previous], **floor))
    peaks.append(_rss_mib("VmHWM"))
    _reset_peak()
    links, link_wall, link_cpu = _timed(lambda: continuity.link_stories(stories, previous))
    peaks.append(_rss_mib("VmHWM"))
    return {
        "n": n, "clusters": len(groups), "previous": len(previous), "links": len(links),
        "cluster": [cluster_wall, cluster_cpu, peaks[0]], "novelty": [novelty_wall, novelty_cpu, peaks[1]],
        "continuity": [link_wall, link_cpu, peaks[2]],
        "rss_before": rss_before, "peak": max(peaks) if reset else float("nan"),
    }


def run_scale(path: Path, n: int, revision: str | None) -> dict | None:
    command = [sys.executable, "-m", "bench.clustering", str(path), "--stage-child", str(n),
               "--reference", revision or ""]
    done = subprocess.run(command, capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parent.parent, env=dict(os.environ))
    if done.returncode != 0:
        print(f"scale {n} ({revision or 'current'}) failed: {done.stderr.strip().splitlines()[-1:]}")
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def print_scale(rows: list[tuple[str, dict]]) -> None:
    print("scale: the cluster stage's computing parts, one child process per row; each part: wall s / "
          "CPU s / peak RSS MiB (VmHWM, reset before the part); 'before': RSS holding the inputs")
    parts = ("cluster", "novelty", "continuity")
    print(f"{'code':<14}{'docs':>7}{'stories':>8}" + "".join(f"{p:>20}" for p in parts)
          + f"{'stage s':>15}{'peak MiB':>9}{'before':>7}")
    for name, r in rows:
        total = [sum(r[k][i] for k in parts) for i in (0, 1)]
        cells = "".join(f"{r[k][0]:7.1f}/{r[k][1]:<5.1f}/{r[k][2]:<6.0f}" for k in parts)
        print(f"{name[:14]:<14}{r['n']:7d}{r['clusters']:8d}{cells}{total[0]:8.1f}/{total[1]:<6.1f}"
              f"{r['peak']:9.0f}{r['rss_before']:7.0f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--reference", default="main", help="git revision to compare with ('' for none)")
    parser.add_argument("--seeds", type=int, default=5, help="subsamples per small-day variation")
    parser.add_argument("--big", type=int, default=10_000, help="documents in the big-day variation (0: none)")
    parser.add_argument("--sweep", action="store_true", help="threshold sweep over every variation")
    parser.add_argument("--near-miss", type=int, default=1, help="lone near-miss items each way (0: none)")
    parser.add_argument("--scale", default="10000,14000,50000", help="sizes of the scale runs")
    parser.add_argument("--reference-scale", default="10000,14000", help="sizes run with the reference")
    parser.add_argument("--no-scale", action="store_true", help="skip the scale runs")
    parser.add_argument("--only-scale", action="store_true", help="skip the variations")
    parser.add_argument("--stage-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not args.file.is_file():
        print(f"error: dataset not found: {args.file}", file=sys.stderr)
        return 2
    if args.stage_child:
        print(json.dumps(stage_child(args.file, args.stage_child, args.reference or None)))
        return 0
    docs, gold = load(args.file)
    if not docs:
        print(f"error: no documents in {args.file}", file=sys.stderr)
        return 2
    print(f"{args.file.name}: {len(docs)} documents, {len(set(gold.values()))} gold clusters")

    from summarizer import clustering as current

    methods: dict[str, Callable] = {"current": current.cluster}
    if args.reference:
        from bench.reference import load_summarizer

        try:
            methods[f"at {args.reference}"] = load_summarizer(args.reference).cluster
        except SystemExit as problem:  # not a git checkout, or no such revision
            print(f"note: no comparison: {problem}", file=sys.stderr)
            args.reference = ""
    methods["tfidf baseline 0.8"] = baseline
    sets_by_name = {} if args.only_scale else variations(docs, gold, args.seeds, args.big)
    table: dict[str, dict[str, tuple]] = {}
    sizes = {}
    for name, runs in sets_by_name.items():
        n_docs = int(np.mean([len(r[0]) for r in runs]))
        n_events = int(np.mean([len(set(r[1].values())) for r in runs]))
        sizes[name] = f"{n_docs}/{n_events}" + ("" if len(runs) == 1 else f" x{len(runs)}")
        table[name] = {
            method: score_runs(fn, runs)
            for method, fn in methods.items()
            if fn is not baseline or n_docs <= BASELINE_LIMIT
        }
    if table:
        print_variations(table, sizes, list(methods))
    if args.near_miss and not args.only_scale:
        print_near_misses(docs, gold, args.near_miss, methods)
    if args.sweep:
        sweep(current, {k: v for k, v in sets_by_name.items() if not k.startswith("big")})

    if not args.no_scale:
        rows = []
        reference_sizes = {int(s) for s in args.reference_scale.split(",") if s} if args.reference else set()
        for n in [int(s) for s in args.scale.split(",") if s]:
            if n in reference_sizes:
                result = run_scale(args.file, n, args.reference)
                if result:
                    rows.append((f"at {args.reference}", result))
            result = run_scale(args.file, n, None)
            if result:
                rows.append(("current", result))
        print_scale(rows)
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
