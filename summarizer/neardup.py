"""Near-duplicate detection: syndicated copies, one wire story on several sites, quotes.

Method (linear in the number of items, no pairwise pass):

1. Each text becomes word 5-shingles, hashed to 64 bits with numpy.
2. Only shingles whose hash is 0 modulo ``SAMPLE`` are kept. The choice depends
   on the shingle alone, so two copies keep the *same* shingles (Broder's
   mod-m sampling), and shared samples estimate shared text.
3. An inverted index over kept shingles yields candidate pairs; shingles held
   by more than ``MAX_POSTING`` documents (site boilerplate) are skipped.
4. A pair is a near duplicate when the kept shingles of the *smaller* text are
   mostly found in the other (containment >= ``CONTAINMENT``): this catches both
   full copies and a short post quoting an article. Pairs are joined with
   union-find, so groups are transitive.
"""
from __future__ import annotations

from collections import Counter
from typing import Any, Iterable

import numpy as np

from summarizer.textfeatures import as_doc, words
from summarizer.unionfind import UnionFind

SHINGLE = 5
SAMPLE = 4
MAX_POSTING = 64
CONTAINMENT = 0.6
MIN_SHARED = 2

_MIX = np.uint64(0x9E3779B97F4A7C15)
_POSITION = [np.uint64(p) for p in (0x100000001B3, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9,
                                    0xD6E8FEB86659FD93, 0x27D4EB2F165667C5)]


def _word_ids(tokens: list[str], cache: dict[str, int]) -> np.ndarray:
    """64-bit ids of tokens; equal tokens get equal ids within one cache."""
    ids = np.fromiter((cache.setdefault(t, len(cache)) for t in tokens), dtype=np.uint64,
                      count=len(tokens))
    with np.errstate(over="ignore"):
        ids = (ids + np.uint64(1)) * _MIX
        ids ^= ids >> np.uint64(32)
        ids *= _POSITION[1]
    return ids


def sketch(tokens: list[str], cache: dict[str, int] | None = None) -> np.ndarray:
    """Sorted unique sampled shingle hashes of one token list.

    Texts shorter than one shingle become a single shingle of all their words,
    so very short items still match their exact copies.
    """
    if not tokens:
        return np.empty(0, dtype=np.uint64)
    ids = _word_ids(tokens, {} if cache is None else cache)
    with np.errstate(over="ignore"):
        if len(ids) < SHINGLE:
            h = np.zeros(1, dtype=np.uint64)
            for pos, value in enumerate(ids):
                h = h + value * _POSITION[pos]
            return (h ^ (h >> np.uint64(31))) * _MIX
        n = len(ids) - SHINGLE + 1
        h = np.zeros(n, dtype=np.uint64)
        for pos in range(SHINGLE):
            h = h + ids[pos : pos + n] * _POSITION[pos]
        h = (h ^ (h >> np.uint64(31))) * _MIX
        h ^= h >> np.uint64(29)
    kept = h[(h % np.uint64(SAMPLE)) == 0]
    if kept.size == 0:  # keep at least the smallest shingle: tiny texts still compare
        kept = h[np.argmin(h) : np.argmin(h) + 1]
    return np.unique(kept)


def near_duplicate_labels(texts: list[str]) -> list[int]:
    """Group label per text (the index of the group's first text); equal labels = copies."""
    return near_duplicate_labels_from_tokens([words(t) for t in texts])


def near_duplicate_labels_from_tokens(token_lists: list[list[str]]) -> list[int]:
    """As `near_duplicate_labels`, for texts already split with `textfeatures.words`."""
    cache: dict[str, int] = {}
    sketches = [sketch(tokens, cache) for tokens in token_lists]
    n = len(token_lists)
    uf: UnionFind[int] = UnionFind()
    sizes = np.array([len(s) for s in sketches])
    if n < 2 or sizes.sum() == 0:
        return list(range(n))
    hashes = np.concatenate(sketches)
    owners = np.repeat(np.arange(n), sizes)
    order = np.argsort(hashes, kind="stable")
    hashes, owners = hashes[order], owners[order]
    starts = np.flatnonzero(np.r_[True, hashes[1:] != hashes[:-1]])
    ends = np.r_[starts[1:], len(hashes)]
    shared: Counter[tuple[int, int]] = Counter()
    for start, end in zip(starts, ends):
        count = end - start
        if count < 2 or count > MAX_POSTING:
            continue
        members = owners[start:end].tolist()
        for a_pos in range(count):
            a = members[a_pos]
            for b in members[a_pos + 1 :]:
                shared[(a, b)] += 1
    for (a, b), common in shared.items():
        smaller = min(sizes[a], sizes[b])
        if common >= min(MIN_SHARED, smaller) and common / smaller >= CONTAINMENT:
            uf.union(a, b)
    return [uf.find(i) for i in range(n)]


def near_duplicate_groups(docs: Iterable[Any]) -> list[list[str]]:
    """Partition item ids into near-duplicate groups (singletons included), input order kept."""
    items = [as_doc(d) for d in docs]
    labels = near_duplicate_labels([d.full_text for d in items])
    groups: dict[int, list[str]] = {}
    for item, label in zip(items, labels):
        groups.setdefault(label, []).append(item.id)
    return list(groups.values())
