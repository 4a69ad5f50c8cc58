"""Stragglers: a lone item, a pair or a few short items join a big story at a lower mean similarity.

Average link at one threshold splits a story's short or off-angle items from it: a feed
blurb or a two-sentence post shares fewer words and names with each article than the
articles share with each other, so its mean similarity to the story falls just below the
threshold while the story itself is solid. After average link, every cluster of at most
``most`` items joins the cluster of at least ``least`` items with the highest mean
similarity (over all their cross pairs, time factor applied), if that mean is at least
``threshold - margin``. A cluster made only of short items (fewer than ``SHORT_TERMS``
distinct content words each: leads, blurbs, posts) counts as small whatever its size, as a
few blurbs say about as much as one article, but joins only a story at least twice its
size. A cluster that joins one that itself joins a bigger one ends in the biggest (sizes
at least double at each step, so there are no cycles).

Why only small into big: a wrong merge of two stories costs as many pairs as it joins,
so two big clusters keep the full threshold (the two events of one kind, two fights of one
boxer, sit just below it); a lone item next to a story of six or more is far more often one
of its stragglers than an event of its own. Small days (stories of one to four items) are
left as they are, so it does not lean on what a big day looks like. Stragglers attach to
the clusters found by average link, not to each other's result: the outcome does not
depend on the order of the items.

Exact and cheap: a mean reaches the floor only if one of its pairs does, so candidates are
the pairs >= the floor between big-cluster and small-cluster items (`blocking.pairs_above`,
a big x small join); a candidate's mean is the dot product of the two clusters' summed
vectors, minus what the time factor takes off the pairs more than ``same_event_hours``
apart (none on a normal day).
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from summarizer.blocking import pairs_above
from summarizer.similarity import DocSpace

MARGIN = 0.10  # ECB+ (every variation): 0.10-0.15 within 0.003 of each other
MOST = 2
LEAST = 6
SHORT_TERMS = 40  # ECB+ leads (title + two sentences): median 24 distinct content words, articles 98


def attach_stragglers(
    space: DocSpace, labels: np.ndarray, threshold: float,
    margin: float = MARGIN, most: int = MOST, least: int = LEAST,
) -> np.ndarray:
    """New labels (ints, one per document of ``space``): small clusters moved into their best big one."""
    labels = np.asarray(labels, dtype=np.int64)
    sizes = np.bincount(labels)
    long_items = np.bincount(labels, weights=space.terms >= SHORT_TERMS, minlength=len(sizes))
    is_small = (sizes <= most) | (long_items == 0)
    small = np.flatnonzero(is_small[labels])
    big = np.flatnonzero(sizes[labels] >= least)
    floor = threshold - margin
    if len(small) == 0 or len(big) == 0 or floor <= 0:
        return labels
    # Big items on the left: the rare-term index is then built over the (few) small ones.
    rows, cols, _ = pairs_above(space.vectors[big], floor, space.vectors[small])
    if len(rows) == 0:
        return labels
    pair_keys = np.unique(labels[small[cols]] * len(sizes) + labels[big[rows]])
    from_cluster, to_cluster = pair_keys // len(sizes), pair_keys % len(sizes)
    fits = (sizes[from_cluster] <= most) | (sizes[to_cluster] >= 2 * sizes[from_cluster])
    from_cluster, to_cluster = from_cluster[fits], to_cluster[fits]
    if len(from_cluster) == 0:
        return labels
    means = _cross_sums(space, labels, from_cluster, to_cluster) / (sizes[from_cluster] * sizes[to_cluster])
    ok = means >= floor
    if not ok.any():
        return labels
    from_cluster, to_cluster, means = from_cluster[ok], to_cluster[ok], means[ok]
    # Best big cluster per small one: highest mean, then lowest label.
    order = np.lexsort((to_cluster, -means, from_cluster))
    first = np.r_[True, from_cluster[order][1:] != from_cluster[order][:-1]]
    move = np.arange(len(sizes))
    move[from_cluster[order][first]] = to_cluster[order][first]
    while (move[move] != move).any():
        move = move[move]
    return move[labels]


def _cross_sums(space: DocSpace, labels: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Sum of the similarities (time factor applied) over all item pairs of clusters a[k] x b[k]."""
    involved, local = np.unique(np.concatenate([a, b]), return_inverse=True)
    member = np.flatnonzero(np.isin(labels, involved))
    position = np.searchsorted(involved, labels[member])
    summing = sp.csr_matrix((np.ones(len(member)), (position, member)), shape=(len(involved), space.n))
    sums = (summing @ space.vectors.astype(np.float64)).tocsr()
    totals = _row_dots(sums, local[: len(a)], local[len(a):])
    if np.isnan(space.hours).all():
        return totals
    # Pairs far apart in time: their product counted above, minus the time factor's share.
    members = {c: member[position == k] for k, c in enumerate(involved.tolist())}
    left = [np.repeat(members[x], len(members[y])) for x, y in zip(a.tolist(), b.tolist())]
    right = [np.tile(members[y], len(members[x])) for x, y in zip(a.tolist(), b.tolist())]
    owner = np.repeat(np.arange(len(a)), [len(p) for p in left])
    left, right = np.concatenate(left), np.concatenate(right)
    factor = space.time_factor(left, right)
    far = factor < 1.0
    if far.any():
        lost = _row_dots(space.vectors.astype(np.float64), left[far], right[far]) * (1.0 - factor[far])
        totals -= np.bincount(owner[far], weights=lost, minlength=len(a))
    return totals


def _row_dots(matrix: sp.csr_matrix, i: np.ndarray, j: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """matrix[i[k]] . matrix[j[k]] for every k (float64)."""
    out = np.empty(len(i))
    for start in range(0, len(i), chunk):
        stop = start + chunk
        product = matrix[i[start:stop]].multiply(matrix[j[start:stop]])
        out[start:stop] = np.asarray(product.sum(axis=1), dtype=np.float64).ravel()
    return out
