"""Blocking: the candidate pairs from rare terms never drop a pair the exact all-pairs product keeps."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.preprocessing import normalize

from summarizer.blocking import pairs_above


def _rows(n: int, features: int, seed: int, common: int = 5) -> sp.csr_matrix:
    """Non-negative unit rows with a Zipf-like vocabulary: a few features in almost every row."""
    rng = np.random.default_rng(seed)
    dense = np.zeros((n, features), dtype=np.float32)
    for i in range(n):
        dense[i, rng.choice(common, size=rng.integers(1, common + 1), replace=False)] = rng.random() * 0.5
        rare = rng.zipf(1.3, size=rng.integers(0, 12)) % features
        dense[i, rare] += rng.random(len(rare)).astype(np.float32)
    dense[rng.random(n) < 0.05] = 0.0  # some empty rows
    return sp.csr_matrix(normalize(dense))


def _exact(left: sp.csr_matrix, right: sp.csr_matrix, threshold: float, upper: bool) -> dict:
    product = (left @ right.T).toarray().astype(np.float64)
    rows, cols = np.nonzero(product >= threshold)
    return {(r, c): product[r, c] for r, c in zip(rows.tolist(), cols.tolist()) if not upper or c > r}


@pytest.mark.parametrize("threshold", [0.05, 0.25, 0.5, 0.9])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_self_join_finds_exactly_the_pairs_of_the_dense_product(threshold: float, seed: int) -> None:
    matrix = _rows(300, 80, seed)
    before = matrix.copy()
    rows, cols, dots = pairs_above(matrix, threshold, block=64)
    want = _exact(matrix, matrix, threshold, upper=True)
    got = dict(zip(zip(rows.tolist(), cols.tolist()), dots.tolist()))
    assert set(got) == set(want)
    assert all(abs(got[k] - want[k]) < 1e-5 for k in want)
    assert (matrix != before).nnz == 0, "the input is left as it was"


@pytest.mark.parametrize("threshold", [0.1, 0.3])
def test_cross_join_matches_the_dense_product(threshold: float) -> None:
    left, right = _rows(120, 60, 7), _rows(200, 60, 8) * np.float32(0.9)  # right norms below 1
    rows, cols, dots = pairs_above(left, threshold, sp.csr_matrix(right), block=50)
    want = _exact(left, right, threshold, upper=False)
    got = dict(zip(zip(rows.tolist(), cols.tolist()), dots.tolist()))
    assert set(got) == set(want)
    assert all(abs(got[k] - want[k]) < 1e-5 for k in want)


def test_empty_inputs_and_bad_threshold() -> None:
    empty = sp.csr_matrix((0, 4), dtype=np.float32)
    assert all(len(a) == 0 for a in pairs_above(empty, 0.2))
    zeros = sp.csr_matrix((3, 4), dtype=np.float32)
    assert all(len(a) == 0 for a in pairs_above(zeros, 0.2))
    with pytest.raises(ValueError):
        pairs_above(zeros, 0.0)


def test_rows_of_one_feature_have_no_prefix_and_still_pair() -> None:
    matrix = sp.csr_matrix(np.array([[1, 0, 0], [0, 1, 0], [1, 0, 0], [0, 0, 1]], dtype=np.float32))
    rows, cols, dots = pairs_above(matrix, 0.5)
    assert list(zip(rows.tolist(), cols.tolist())) == [(0, 2)] and dots.tolist() == [1.0]
