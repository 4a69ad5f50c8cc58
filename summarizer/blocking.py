"""Every pair of sparse rows whose dot product reaches a threshold, exactly, without all pairs.

Rows are non-negative vectors of norm at most 1 (TF-IDF parts). A day of 14,000
articles shares common words ("said", "model", "company") across thousands of
documents: a plain sparse product spends its time and memory on those, and a dense
n x n matrix does not fit. Prefix filtering (Bayardo et al., "Scaling up all pairs
similarity search", 2007) avoids both and stays exact:

1. Features are ordered from the most to the least frequent. Each right-hand row is
   split into a *prefix* (its most frequent features, as many as keep the prefix's
   norm below ``threshold / max left norm``, or its dot with the largest left weight
   of each feature below ``threshold``, whichever is longer) and a *suffix* (the rest,
   rarer terms and names).
2. A pair can reach the threshold only if it shares a suffix feature: the prefix
   alone contributes less (Cauchy-Schwarz, or the max-weight bound). So candidates
   come from a product with the suffixes only, whose features are rare: the
   candidate lists stay short.
3. Each candidate's suffix part is known from that product; the prefix part is added
   by looking up the left row's weights for the right row's few prefix features.
   Candidates whose upper bound (suffix part + the smaller of left norm x prefix norm
   and the prefix's max-weight dot) is below the threshold are dropped before that.

Work is done in blocks of left rows, so memory is the candidate pairs of one block. A
self-join multiplies a block only with the chunks of right rows after its first row
(each pair is kept once, from its lower row): about half the products of a full one.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

_MARGIN = 1.0 - 1e-6  # float32 sums: keep the prefix strictly below the bound
CHUNK = 2048  # right rows per suffix chunk of a self-join


def _reorder_columns(matrix: sp.csr_matrix, rank: np.ndarray) -> sp.csr_matrix:
    out = sp.csr_matrix((matrix.data.copy(), rank[matrix.indices], matrix.indptr.copy()), shape=matrix.shape)
    out.sort_indices()  # in place: the copies above keep the caller's matrix intact
    return out


def _split_prefix(
    right: sp.csr_matrix, bound: float, threshold: float, max_weight: np.ndarray
) -> tuple[sp.csr_matrix, sp.csr_matrix, np.ndarray, np.ndarray]:
    """(suffix rows, prefix rows, prefix norms, prefix max-dots).

    The prefix is the longest run of leading entries whose norm stays below ``bound`` or
    whose dot with the largest left weight of each feature stays below ``threshold``:
    either way no left row reaches the threshold on the prefix alone.
    """
    starts = right.indptr[:-1]
    row_of = np.repeat(np.arange(right.shape[0], dtype=np.int32), np.diff(right.indptr))

    def below(values: np.ndarray, limit: float) -> np.ndarray:  # inclusive running sum in the row < limit
        running = np.cumsum(values)
        del values
        running -= np.where(starts > 0, running[np.maximum(starts - 1, 0)], 0.0)[row_of]
        return running < limit

    # One float64 array of the entries' size at a time: this runs on every weight of the batch.
    weights = right.data.astype(np.float64)
    in_prefix = below(weights ** 2, (bound * _MARGIN) ** 2)
    weights *= max_weight[right.indices]
    in_prefix |= below(weights, threshold * _MARGIN)
    del weights
    prefix_data = right.data[in_prefix].astype(np.float64)
    prefix_rows = row_of[in_prefix]
    prefix_sq = np.bincount(prefix_rows, weights=prefix_data ** 2, minlength=right.shape[0])
    prefix_best = np.bincount(prefix_rows, weights=prefix_data * max_weight[right.indices[in_prefix]],
                              minlength=right.shape[0])

    def rows_where(mask: np.ndarray) -> sp.csr_matrix:
        counts = np.bincount(row_of[mask], minlength=right.shape[0])
        indptr = np.concatenate([[0], np.cumsum(counts)])
        return sp.csr_matrix((right.data[mask], right.indices[mask], indptr), shape=right.shape)

    return rows_where(~in_prefix), rows_where(in_prefix), np.sqrt(prefix_sq), prefix_best


def _column_chunks(suffix: sp.csr_matrix, size: int) -> list[tuple[int, int, sp.csr_matrix]]:
    """(first right row, end, features x rows matrix) per chunk of ``size`` right rows."""
    return [(start, min(start + size, suffix.shape[0]), suffix[start : start + size].T.tocsr())
            for start in range(0, suffix.shape[0], size)]


def pairs_above(
    left: sp.csr_matrix,
    threshold: float,
    right: sp.csr_matrix | None = None,
    block: int = 256,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, cols, dots) of every pair with dot >= threshold (threshold > 0).

    Without ``right``, pairs of ``left`` with itself, row < col. With ``right``, every
    (left row, right row) pair. Dots are exact (float64 sums of float32 weights).
    """
    if threshold <= 0:
        raise ValueError("threshold must be positive")
    self_join = right is None
    left = sp.csr_matrix(left, dtype=np.float32)
    right = left if self_join else sp.csr_matrix(right, dtype=np.float32)
    empty = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float64))
    if left.shape[0] == 0 or right.shape[0] == 0 or left.nnz == 0 or right.nnz == 0:
        return empty
    df = np.bincount(right.indices, minlength=right.shape[1])
    rank = np.empty(right.shape[1], dtype=np.int64)
    rank[np.argsort(-df, kind="stable")] = np.arange(right.shape[1])
    left = _reorder_columns(left, rank)
    right = left if self_join else _reorder_columns(right, rank)
    left_norms = np.sqrt(np.asarray(left.multiply(left).sum(axis=1), dtype=np.float64).ravel())
    max_left = float(left_norms.max())
    if max_left == 0.0:
        return empty
    max_weight = np.zeros(left.shape[1], dtype=np.float64)
    np.maximum.at(max_weight, left.indices, left.data.astype(np.float64))
    suffix, prefix, prefix_norms, prefix_best = _split_prefix(right, threshold / max_left, threshold, max_weight)
    # A self-join keeps each pair once, from its lower row: a block of left rows is
    # multiplied only with the chunks of right rows that reach past its first row.
    chunks = _column_chunks(suffix, max(block, CHUNK) if self_join else suffix.shape[0])
    # Rarest (highest-ranked) feature of each prefix; -1 for an empty prefix.
    prefix_last = np.full(right.shape[0], -1, dtype=np.int64)
    has_prefix = np.diff(prefix.indptr) > 0
    prefix_last[has_prefix] = prefix.indices[prefix.indptr[1:][has_prefix] - 1]
    n_features = np.int64(left.shape[1])
    out: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for start in range(0, left.shape[0], block):
        stop = min(start + block, left.shape[0])
        part = left[start:stop]
        bound = (prefix_norms, prefix_best, left_norms[start:stop], threshold * _MARGIN)
        rows, cols, sums = _candidates(part, start if self_join else -1, chunks, bound)
        if len(rows) == 0:
            continue
        keys = np.repeat(np.arange(part.shape[0], dtype=np.int64), np.diff(part.indptr)) * n_features
        keys += part.indices
        # Tighter: only the left row's weights on features no rarer than the right row's
        # rarest prefix feature can meet that prefix.
        reach = _norm_up_to(part, keys, rows, prefix_last[cols], n_features)
        keep = sums + np.minimum(reach * prefix_norms[cols], prefix_best[cols]) >= threshold * _MARGIN
        rows, cols, sums = rows[keep], cols[keep], sums[keep]
        if len(rows) == 0:
            continue
        sums = sums + _prefix_dots(part, keys, prefix, rows, cols, n_features)
        ok = sums >= threshold
        out.append((rows[ok] + start, cols[ok], sums[ok]))
    if not out:
        return empty
    return tuple(np.concatenate(parts) for parts in zip(*out))  # type: ignore[return-value]


def _candidates(
    part: sp.csr_matrix, start: int, chunks: list[tuple[int, int, sp.csr_matrix]],
    bound: tuple[np.ndarray, np.ndarray, np.ndarray, float],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows in part, right rows, suffix dots) of the pairs whose upper bound reaches the threshold.

    ``start`` >= 0: a self-join block starting there (only right rows after each row).
    Each chunk's products are filtered before the next is made, so memory is one chunk's.
    """
    prefix_norms, prefix_best, norms, floor = bound
    found = []
    for first, end, suffix_t in chunks:
        if start >= 0 and end <= start + 1:
            continue
        partial = (part @ suffix_t).tocoo()
        rows, cols, sums = partial.row, partial.col.astype(np.int64) + first, partial.data
        del partial
        keep = cols > rows + start if start >= 0 else np.ones(len(rows), dtype=bool)
        keep &= sums + np.minimum(norms[rows] * prefix_norms[cols], prefix_best[cols]) >= floor
        found.append((rows[keep].astype(np.int64), cols[keep], sums[keep].astype(np.float64)))
    if not found:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float64)
    return tuple(np.concatenate(x) for x in zip(*found))  # type: ignore[return-value]


def _norm_up_to(
    part: sp.csr_matrix, keys: np.ndarray, rows: np.ndarray, last: np.ndarray, n_features: np.int64
) -> np.ndarray:
    """Per pair: norm of the left row's weights on features ranked <= last (0 if last < 0)."""
    squares = part.data.astype(np.float64) ** 2
    running = np.concatenate([[0.0], np.cumsum(squares)])
    row_start = part.indptr[rows]
    upto = np.searchsorted(keys, rows * n_features + np.maximum(last, 0), side="right")
    upto = np.maximum(upto, row_start)  # a row with nothing that common
    norms = np.sqrt(np.clip(running[upto] - running[row_start], 0.0, None))
    return np.where(last >= 0, norms, 0.0)


def _prefix_dots(
    part: sp.csr_matrix, keys: np.ndarray, prefix: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray,
    n_features: np.int64,
) -> np.ndarray:
    """Sum over each right row's prefix features of left weight x right weight, per pair."""
    lengths = np.diff(prefix.indptr)[cols]
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(len(rows))
    pair_of = np.repeat(np.arange(len(rows)), lengths)
    offsets = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    entry = prefix.indptr[cols][pair_of] + offsets
    wanted = rows[pair_of] * n_features + prefix.indices[entry]
    where = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    found = keys[where] == wanted
    weights = np.where(found, part.data[where].astype(np.float64), 0.0) * prefix.data[entry]
    return np.bincount(pair_of, weights=weights, minlength=len(rows))
