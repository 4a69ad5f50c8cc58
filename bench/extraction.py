"""Score newsdesk's article extraction against plain trafilatura, set by set.

Usage: python -m bench.extraction DATASET_DIR [DATASET_DIR ...] [--limit N] [--workers N]

Each DATASET_DIR holds `html/<id>.html.gz` and `ground-truth.json`
(`{"<id>": {"articleBody": ..., "url": ...}}`). The metric is the shingle
F1 used by the public article-extraction benchmark, so numbers are
comparable with published ones: 4-token shingles, per-page tp/fp/fn
normalised to sum 1, precision and recall averaged over pages.

Both extractors run in the same process pool in the same run, so their
figures share the machine's load. Every set is also scored on two fixed
halves (by a hash of the page id): a change that only helps one half is
fitted to those pages, not an improvement.
"""
from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import sys
import time
import zlib
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Callable

_TOKEN = re.compile(r"\w+", re.UNICODE)
SHINGLE = 4


def shingles(text: str | None, n: int = SHINGLE) -> Counter:
    """Multiset of n-token shingles; very short texts become one shingle."""
    tokens = _TOKEN.findall(text or "")
    if 0 < len(tokens) < n:
        return Counter([tuple(tokens)])
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def page_scores(truth: str, pred: str | None) -> tuple[float, float]:
    """Precision and recall for one page (1.0 when both texts agree fully)."""
    t, p = shingles(truth), shingles(pred)
    tp = sum((t & p).values())
    fp = sum((p - t).values())
    fn = sum((t - p).values())
    if fp == 0 and fn == 0:
        return 1.0, 1.0
    total = tp + fp + fn
    tp, fp, fn = tp / total, fp / total, fn / total
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return precision, recall


def score(truths: dict[str, str], preds: dict[str, str | None]) -> tuple[float, float, float]:
    """Return (F1, precision, recall) from per-page means."""
    ps, rs = zip(*(page_scores(truths[k], preds.get(k)) for k in truths))
    p, r = statistics.fmean(ps), statistics.fmean(rs)
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return f1, p, r


def half(page_id: str) -> str:
    """Fixed half ("a" or "b") a page belongs to, stable across runs and machines."""
    return "ab"[zlib.crc32(page_id.encode()) % 2]


def load(dataset: Path, limit: int | None) -> tuple[dict[str, str], dict[str, tuple[bytes, str]]]:
    """Ground-truth texts and (raw html bytes, url) per page id."""
    truth = json.loads((dataset / "ground-truth.json").read_text(encoding="utf-8"))
    ids = sorted(truth)[:limit] if limit else sorted(truth)
    pages = {}
    for pid in ids:
        with gzip.open(dataset / "html" / f"{pid}.html.gz", "rb") as fh:
            pages[pid] = (fh.read(), truth[pid].get("url") or "")
    return {pid: truth[pid]["articleBody"] for pid in ids}, pages


def _newsdesk(html: bytes, url: str) -> str | None:
    from extractors import extract_article

    art = extract_article(html, url)
    return art.text if art else None


def _trafilatura(html: bytes, url: str) -> str | None:
    import trafilatura

    return trafilatura.extract(html, url=url)


EXTRACTORS: dict[str, Callable[[bytes, str], str | None]] = {"newsdesk": _newsdesk, "trafilatura": _trafilatura}


def _timed(job: tuple[str, bytes, str]) -> tuple[str | None, float]:
    name, html, url = job
    start = time.perf_counter()
    text = EXTRACTORS[name](html, url)
    return text, (time.perf_counter() - start) * 1000


def _warm(name: str) -> None:
    EXTRACTORS[name](b"<html><body><p>warm up imports and caches</p></body></html>", "")


def run(name: str, pages: dict[str, tuple[bytes, str]], pool: ProcessPoolExecutor | None):
    """Run one extractor over all pages; return outputs, per-page ms and wall seconds."""
    jobs = [(name, html, url) for html, url in pages.values()]
    start = time.perf_counter()
    if pool is None:
        _warm(name)
        start = time.perf_counter()
        results = [_timed(job) for job in jobs]
    else:
        list(pool.map(_warm, [name] * 4))
        start = time.perf_counter()
        results = list(pool.map(_timed, jobs, chunksize=4))
    wall = time.perf_counter() - start
    out = {pid: text for pid, (text, _) in zip(pages, results)}
    return out, [ms for _, ms in results], wall


def report(dataset: Path, limit: int | None, pool: ProcessPoolExecutor | None, dump: Path | None) -> dict[str, dict]:
    """Score both extractors on one set; print a table and return the figures."""
    truths, pages = load(dataset, limit)
    halves = {h: {k: v for k, v in truths.items() if half(k) == h} for h in "ab"}
    print(f"\n{dataset.name}: {len(pages)} pages (half a {len(halves['a'])}, half b {len(halves['b'])})")
    print(f"{'extractor':<12} {'F1':>6} {'P':>6} {'R':>6} {'F1 a':>6} {'F1 b':>6} {'pages/s':>8} {'median ms':>10}")
    figures = {}
    for name in EXTRACTORS:
        out, times, wall = run(name, pages, pool)
        f1, p, r = score(truths, out)
        fa, fb = (score(halves[h], out)[0] for h in "ab")
        rate = len(times) / wall
        med = statistics.median(times)
        figures[name] = {"f1": f1, "p": p, "r": r, "f1_a": fa, "f1_b": fb, "pages_per_s": rate, "median_ms": med}
        print(f"{name:<12} {f1:6.3f} {p:6.3f} {r:6.3f} {fa:6.3f} {fb:6.3f} {rate:8.1f} {med:10.1f}")
        if dump and name == "newsdesk":
            dump.mkdir(parents=True, exist_ok=True)
            (dump / f"{dataset.name}.json").write_text(json.dumps({k: {"articleBody": v or ""} for k, v in out.items()}))
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", type=Path, nargs="+")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--workers", type=int, default=2, help="processes (1 = in-process)")
    parser.add_argument("--dump", type=Path, default=None, help="directory for newsdesk outputs as JSON, one file per set")
    args = parser.parse_args(argv)
    for dataset in args.datasets:
        if not (dataset / "ground-truth.json").is_file() or not (dataset / "html").is_dir():
            print(f"dataset not found: {dataset} (needs ground-truth.json and html/)", file=sys.stderr)
            return 2
    print(f"workers: {args.workers} (ms per page is measured inside each worker; the machine may be shared)")
    pool = ProcessPoolExecutor(max_workers=args.workers) if args.workers > 1 else None
    try:
        summary = {ds.name: report(ds, args.limit, pool, args.dump) for ds in args.datasets}
    finally:
        if pool is not None:
            pool.shutdown()
    if len(summary) > 1:
        print("\nside by side (F1; newsdesk - trafilatura)")
        for name, fig in summary.items():
            nd, tr = fig["newsdesk"], fig["trafilatura"]
            print(f"{name:<24} newsdesk {nd['f1']:.3f}  trafilatura {tr['f1']:.3f}  diff {nd['f1'] - tr['f1']:+.3f}"
                  f"  (halves a {nd['f1_a'] - tr['f1_a']:+.3f}, b {nd['f1_b'] - tr['f1_b']:+.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
