"""Score newsdesk's article extraction against plain trafilatura on a dataset.

Usage: python -m bench.extraction DATASET_DIR [--limit N]

DATASET_DIR holds `html/<id>.html.gz` and `ground-truth.json`
(`{"<id>": {"articleBody": ..., "url": ...}}`). The metric is the shingle
F1 used by the public article-extraction benchmark, so numbers are
comparable with published ones: 4-token shingles, per-page tp/fp/fn
normalised to sum 1, precision and recall averaged over pages.
"""
from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import sys
import time
from collections import Counter
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


def load(dataset: Path, limit: int | None) -> tuple[dict[str, str], dict[str, tuple[bytes, str]]]:
    """Ground-truth texts and (raw html bytes, url) per page id."""
    truth = json.loads((dataset / "ground-truth.json").read_text(encoding="utf-8"))
    ids = sorted(truth)[:limit] if limit else sorted(truth)
    pages = {}
    for pid in ids:
        with gzip.open(dataset / "html" / f"{pid}.html.gz", "rb") as fh:
            pages[pid] = (fh.read(), truth[pid].get("url") or "")
    return {pid: truth[pid]["articleBody"] for pid in ids}, pages


def run(fn: Callable[[bytes, str], str | None], pages: dict[str, tuple[bytes, str]]):
    """Run one extractor over all pages; return outputs and per-page ms."""
    out, times = {}, []
    for pid, (html, url) in pages.items():
        start = time.perf_counter()
        out[pid] = fn(html, url)
        times.append((time.perf_counter() - start) * 1000)
    return out, times


def _newsdesk(html: bytes, url: str) -> str | None:
    from extractors import extract_article

    art = extract_article(html, url)
    return art.text if art else None


def _trafilatura(html: bytes, url: str) -> str | None:
    import trafilatura

    return trafilatura.extract(html, url=url)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--dump", type=Path, default=None, help="write newsdesk outputs as JSON")
    args = parser.parse_args(argv)
    if not (args.dataset / "ground-truth.json").is_file() or not (args.dataset / "html").is_dir():
        print(f"dataset not found: {args.dataset} (needs ground-truth.json and html/)", file=sys.stderr)
        return 2
    truths, pages = load(args.dataset, args.limit)
    print(f"{len(pages)} pages")
    print(f"{'extractor':<12} {'F1':>6} {'P':>6} {'R':>6} {'pages/s':>8} {'median ms':>10}")
    for name, fn in (("newsdesk", _newsdesk), ("trafilatura", _trafilatura)):
        fn(*next(iter(pages.values())))  # warm up imports and caches
        out, times = run(fn, pages)
        f1, p, r = score(truths, out)
        rate = len(times) / (sum(times) / 1000)
        print(f"{name:<12} {f1:6.3f} {p:6.3f} {r:6.3f} {rate:8.1f} {statistics.median(times):10.1f}")
        if args.dump and name == "newsdesk":
            args.dump.write_text(json.dumps({k: {"articleBody": v or ""} for k, v in out.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
