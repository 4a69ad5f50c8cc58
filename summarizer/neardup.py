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
    return _mix(np.fromiter((cache.setdefault(t, len(cache)) for t in tokens), dtype=np.uint64,
                            count=len(tokens)))


def _mix(ids: np.ndarray) -> np.ndarray:
    ids = ids.astype(np.uint64)
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
    return _sketch_mixed(_word_ids(tokens, {} if cache is None else cache))


def sketch_ids(ids: np.ndarray) -> np.ndarray:
    """`sketch` of a text given as token ids (numbered in order of first appearance)."""
    if len(ids) == 0:
        return np.empty(0, dtype=np.uint64)
    return _sketch_mixed(_mix(ids))


def _sketch_mixed(ids: np.ndarray) -> np.ndarray:
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
    return _labels([sketch(tokens, cache) for tokens in token_lists])


def near_duplicate_labels_from_ids(id_lists: list[np.ndarray]) -> list[int]:
    """As `near_duplicate_labels`, for texts as token ids of one vocabulary (first-seen order)."""
    return _labels([sketch_ids(ids) for ids in id_lists])


def _labels(sketches: list[np.ndarray]) -> list[int]:
    n = len(sketches)
    sizes = np.array([len(s) for s in sketches], dtype=np.int64)
    if n < 2 or sizes.sum() == 0:
        return list(range(n))
    hashes = np.concatenate(sketches)
    owners = np.repeat(np.arange(n, dtype=np.int64), sizes)
    order = np.argsort(hashes, kind="stable")
    hashes, owners = hashes[order], owners[order]
    starts = np.flatnonzero(np.r_[True, hashes[1:] != hashes[:-1]])
    counts = np.diff(np.r_[starts, len(hashes)])
    usable = (counts >= 2) & (counts <= MAX_POSTING)
    group = np.repeat(np.where(usable, np.arange(len(starts)), -1), counts)
    owners, group = owners[group >= 0], group[group >= 0]
    # Every pair of owners within a posting list: owner k with owner k + step of the same list.
    keys = []
    for step in range(1, int(counts[usable].max(initial=1))):
        same = group[:-step] == group[step:]
        keys.append(owners[:-step][same] * n + owners[step:][same])
    uf: UnionFind[int] = UnionFind()
    if keys:
        pairs, shared = np.unique(np.concatenate(keys), return_counts=True)
        a, b = pairs // n, pairs % n
        smaller = np.minimum(sizes[a], sizes[b])
        close = (shared >= np.minimum(MIN_SHARED, smaller)) & (shared / smaller >= CONTAINMENT)
        for x, y in zip(a[close].tolist(), b[close].tolist()):
            uf.union(x, y)
    return [uf.find(i) for i in range(n)]


def near_duplicate_groups(docs: Iterable[Any]) -> list[list[str]]:
    """Partition item ids into near-duplicate groups (singletons included), input order kept."""
    items = [as_doc(d) for d in docs]
    labels = near_duplicate_labels([d.full_text for d in items])
    groups: dict[int, list[str]] = {}
    for item, label in zip(items, labels):
        groups.setdefault(label, []).append(item.id)
    return list(groups.values())
