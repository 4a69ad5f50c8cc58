"""Score newsdesk's story clustering against the TF-IDF average-link baseline.

Usage: python -m bench.clustering FILE.jsonl [--scale N] [--no-scale]

FILE.jsonl holds one document a line: ``{doc_id, title, text, event_cluster}``
(``published_at`` in ISO 8601 is used when present). The metric is BCubed
precision/recall/F1 over documents; neither method is told the number of
clusters. The baseline is the usual one: TF-IDF (word unigrams, English stop
words, sublinear tf) over ``text``, average-link agglomerative clustering on
cosine distance, distance threshold 0.8.

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

from summarizer.clustering import cluster


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
