"""Score newsdesk's story clustering against the TF-IDF average-link baseline.

Usage: python -m bench.clustering FILE.jsonl [--scale N] [--no-scale] [--no-sweep]
                                    [--split topics] [--small-stories N]

FILE.jsonl holds one document a line: ``{doc_id, title, text, event_cluster}``
(``published_at`` in ISO 8601 is used when present). The metric is BCubed
precision/recall/F1 over documents; neither method is told the number of
clusters. The baseline is the usual one: TF-IDF (word unigrams, English stop
words, sublinear tf) over ``text``, average-link agglomerative clustering on
cosine distance, distance threshold 0.8.

The sweep re-runs newsdesk's clustering at thresholds around the shipped
one (nothing else changes), so a reader sees whether the score is a plateau or
a spike. ``--split topics`` is a held-out check: the file's ``topic`` values
are sorted and dealt alternately into halves A and B; each half is clustered on
its own, the threshold that is best on one half is scored on the other, next to
the shipped threshold, in both directions. ``--small-stories N`` sweeps a
subsample in which every gold event keeps 1 to N of its documents (seeded), the
shape of a real news day (many single-item stories), where methods that lean on
cluster size (shared nearest neighbours) lose what they gain on the full file.

The scaling run clusters N (default 10,000) documents made by replicating the
file's documents with per-copy word substitutions (so they are neither exact
copies nor one giant story) and reports wall time (an untraced run) and peak
Python memory (a second run under tracemalloc, which slows it down).
"""
from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
import tracemalloc
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import numpy as np

from summarizer.clustering import THRESHOLD, cluster, cluster_docs
from summarizer.textfeatures import as_doc

SWEEP_STEPS = [-0.06, -0.04, -0.03, -0.02, -0.01, 0.0, 0.01, 0.02, 0.03, 0.04, 0.06]


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
    from sklearn.feature_extraction.text import TfidfVectorizer

    matrix = TfidfVectorizer(stop_words="english", sublinear_tf=True).fit_transform(
        [d["text"] for d in docs]
    )
    if len(docs) < 2:
        return [[d["id"] for d in docs]]
    tree = linkage(matrix.toarray(), method="average", metric="cosine")
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


_WORD = re.compile(r"\w+")


def replicate(docs: list[dict], n: int, seed: int = 0) -> list[dict]:
    """n documents from the given ones: each copy has 15% of its words swapped at random."""
    rng = random.Random(seed)
    vocabulary = [w for d in docs for w in _WORD.findall(d["text"])] or ["word"]
    out = []
    for k in range(n):
        src = docs[k % len(docs)]
        tokens = src["text"].split()
        for pos in range(len(tokens)):
            if rng.random() < 0.15:
                tokens[pos] = rng.choice(vocabulary)
        out.append({"id": f"r{k}", "title": src["title"], "text": " ".join(tokens), "url": ""})
    return out


def unique_docs(docs: list[dict]) -> list:
    """Docs as `cluster()` sees them: normalised, first occurrence of each id."""
    seen: dict[str, object] = {}
    for raw in docs:
        doc = as_doc(raw)
        seen.setdefault(doc.id, doc)
    return list(seen.values())


def sweep(docs: list[dict], gold: dict[str, str], thresholds: list[float]) -> list[tuple]:
    """(threshold, P, R, F1, clusters) of newsdesk's clustering at each threshold."""
    prepared = unique_docs(docs)
    scored = {d.id: gold[d.id] for d in prepared}
    rows = []
    for threshold in thresholds:
        groups = cluster_docs(prepared, threshold=threshold)
        rows.append((threshold, *bcubed(groups, scored), len(groups)))
    return rows


def sweep_thresholds(center: float = THRESHOLD) -> list[float]:
    return [round(center + step, 3) for step in SWEEP_STEPS]


def print_sweep(rows: list[tuple], title: str) -> None:
    print(title)
    print(f"{'threshold':>11}{'P':>7}{'R':>7}{'F1':>7}{'clusters':>10}")
    for threshold, p, r, f, count in rows:
        mark = "  <- shipped" if abs(threshold - THRESHOLD) < 1e-9 else ""
        print(f"{threshold:11.3f}{p:7.3f}{r:7.3f}{f:7.3f}{count:10d}{mark}")
    scores = [row[3] for row in rows]
    near = [row[3] for row in rows if abs(row[0] - THRESHOLD) <= 0.03 + 1e-9]
    print(f"{'':11}F1 min/mean within +-0.03 of shipped: {min(near):.3f}/{sum(near) / len(near):.3f}; "
          f"range over sweep {min(scores):.3f}-{max(scores):.3f}")


def topic_split(docs: list[dict], gold: dict[str, str]) -> int:
    """Held-out check: pick the threshold on one half of the topics, score it on the other."""
    topics = sorted({d.get("topic", "") for d in docs}, key=lambda t: (len(t), t))
    if len(topics) < 2:
        print("split: the file has fewer than two topics; no held-out check", file=sys.stderr)
        return 2
    half_of = {t: "AB"[k % 2] for k, t in enumerate(topics)}
    thresholds = sweep_thresholds()
    results = {}
    for half in "AB":
        part = [d for d in docs if half_of[d.get("topic", "")] == half]
        results[half] = sweep(part, gold, thresholds)
        print_sweep(results[half], f"half {half}: {len(part)} documents, "
                    f"{len({gold[d['id']] for d in part})} gold clusters, "
                    f"{sum(v == half for v in half_of.values())} topics")
    shipped = thresholds.index(round(THRESHOLD, 3))
    print(f"{'held-out':<10}{'picked':>8}{'F1 there':>10}{'F1 held-out':>13}{'shipped F1 held-out':>21}")
    for pick, held in ("AB", "BA"):
        best = max(range(len(thresholds)), key=lambda k: results[pick][k][3])
        print(f"{pick + ' -> ' + held:<10}{thresholds[best]:8.3f}{results[pick][best][3]:10.3f}"
              f"{results[held][best][3]:13.3f}{results[held][shipped][3]:21.3f}")
    return 0


def small_stories(docs: list[dict], gold: dict[str, str], most: int, seed: int = 0) -> list[dict]:
    """Every gold event keeps a random 1..most of its documents (file order kept)."""
    rng = random.Random(seed)
    by_event: dict[str, list[str]] = defaultdict(list)
    for d in docs:
        by_event[gold[d["id"]]].append(d["id"])
    keep: set[str] = set()
    for event in sorted(by_event):
        members = by_event[event]
        keep.update(rng.sample(members, min(len(members), rng.randint(1, most))))
    return [d for d in docs if d["id"] in keep]


def scaling_run(docs: list[dict], n: int, trace: bool = True) -> tuple[float, float | None, int]:
    """Seconds (untraced), peak MiB (tracemalloc, second run) and cluster count for n documents."""
    sample = replicate(docs, n)
    started = time.perf_counter()
    groups = cluster(sample)
    elapsed = time.perf_counter() - started
    assert sorted(i for g in groups for i in g) == sorted(d["id"] for d in sample)
    peak_mib = None
    if trace:
        tracemalloc.start()
        cluster(sample)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        peak_mib = peak / 2**20
    return elapsed, peak_mib, len(groups)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--scale", type=int, default=10_000, help="documents in the scaling run")
    parser.add_argument("--no-scale", action="store_true", help="skip the scaling run")
    parser.add_argument("--no-trace", action="store_true", help="time the scaling run only")
    parser.add_argument("--no-sweep", action="store_true", help="skip the threshold sweep")
    parser.add_argument("--split", choices=["topics"], help="held-out check over the file's topics")
    parser.add_argument("--small-stories", type=int, metavar="N",
                        help="also sweep a subsample keeping 1..N documents of each gold event")
    args = parser.parse_args(argv)
    if not args.file.is_file():
        print(f"error: dataset not found: {args.file}", file=sys.stderr)
        return 2
    docs, gold = load(args.file)
    if not docs:
        print(f"error: no documents in {args.file}", file=sys.stderr)
        return 2
    print(f"{len(docs)} documents, {len(set(gold.values()))} gold clusters")

    started = time.perf_counter()
    ours = cluster(docs)
    ours_time = time.perf_counter() - started
    started = time.perf_counter()
    base = baseline(docs)
    base_time = time.perf_counter() - started
    print(f"{'method':<28}{'P':>7}{'R':>7}{'F1':>7}{'clusters':>10}{'sec':>8}")
    for name, groups, seconds in (
        ("newsdesk cluster()", ours, ours_time),
        ("baseline tfidf avg-link 0.8", base, base_time),
    ):
        p, r, f = bcubed(groups, gold)
        print(f"{name:<28}{p:7.3f}{r:7.3f}{f:7.3f}{len(groups):10d}{seconds:8.2f}")

    if not args.no_sweep:
        print_sweep(sweep(docs, gold, sweep_thresholds()), "threshold sweep (newsdesk cluster_docs):")
    if args.split == "topics" and topic_split(docs, gold):
        return 2

    if args.small_stories:
        part = small_stories(docs, gold, args.small_stories)
        print_sweep(sweep(part, gold, sweep_thresholds()),
                    f"small stories: {len(part)} documents, 1-{args.small_stories} per gold event:")

    if not args.no_scale:
        seconds, peak_mib, count = scaling_run(docs, args.scale, trace=not args.no_trace)
        memory = "not traced" if peak_mib is None else f"{peak_mib:.0f} MiB"
        print(
            f"scaling: {args.scale} replicated documents -> {count} clusters "
            f"in {seconds:.1f} s (target < 30 s), peak traced memory {memory}"
        )
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
