"""Stragglers: small clusters join their best big story, decided on exact mean similarities."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.preprocessing import normalize

from summarizer.similarity import DocSpace
from summarizer.stragglers import SHORT_TERMS, attach_stragglers
from summarizer.textfeatures import Doc

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)


def _space(vectors: np.ndarray, hours: list[float | None] | None = None,
           terms: list[int] | np.ndarray | None = None) -> DocSpace:
    """A DocSpace of placeholder docs whose vectors, dates and content-word counts
    (articles' by default) are the given ones."""
    n = len(vectors)
    hours = hours or [None] * n
    docs = [Doc(id=str(k), title=f"Item {k}", text="",
                published_at=None if h is None else T0 + timedelta(hours=h)) for k, h in enumerate(hours)]
    space = DocSpace(docs)
    space.vectors = sp.csr_matrix(vectors, dtype=np.float32)
    space.terms = np.asarray(terms if terms is not None else [SHORT_TERMS * 3] * n)
    return space


def test_terms_count_the_distinct_content_words() -> None:
    docs = [Doc(id="a", title="Quillon cuts jobs", text="Quillon cuts 1,200 jobs in Dublin and the jobs go."),
            Doc(id="b", title="", text="")]
    assert DocSpace(docs).terms.tolist() == [5, 0]  # quillon cuts jobs 200 dublin (1 and stop words dropped)


def _story_and_item(story: int, mean: float) -> np.ndarray:
    """``story`` identical unit rows, then one row whose similarity to each of them is ``mean``."""
    rows = np.zeros((story + 1, 3))
    rows[:story, 0] = 1.0
    rows[story] = [mean, np.sqrt(1 - mean ** 2), 0.0]
    return rows


def _brute_force(space: DocSpace, labels: np.ndarray, threshold: float, margin: float,
                 most: int, least: int) -> np.ndarray:
    sims = (space.vectors @ space.vectors.T).toarray().astype(np.float64)
    index = np.arange(space.n)
    sims *= space.time_factor(np.repeat(index, space.n), np.tile(index, space.n)).reshape(sims.shape)
    sizes = np.bincount(labels)
    target = {}
    for small in range(len(sizes)):
        all_short = (space.terms[labels == small] < SHORT_TERMS).all()
        if sizes[small] == 0 or not (sizes[small] <= most or all_short):
            continue
        best = None
        for big in np.flatnonzero(sizes >= max(least, 2 * sizes[small] if sizes[small] > most else 0)):
            mean = sims[np.ix_(labels == small, labels == big)].mean()
            if mean >= threshold - margin and (best is None or mean > best[0] + 1e-9):
                best = (mean, big)
        if best is not None:
            target[small] = best[1]
    out = labels.copy()
    for small in target:
        end = small
        while end in target:
            end = target[end]
        out[labels == small] = end
    return out


def test_a_lone_item_joins_a_big_story_below_the_threshold_but_not_a_small_one() -> None:
    big = _space(_story_and_item(6, 0.2))
    assert attach_stragglers(big, np.array([0] * 6 + [1]), 0.25).tolist() == [0] * 7
    small = _space(_story_and_item(5, 0.2))
    assert attach_stragglers(small, np.array([0] * 5 + [1]), 0.25).tolist() == [0] * 5 + [1]


def test_below_the_margin_the_item_stays_alone() -> None:
    space = _space(_story_and_item(6, 0.14))
    assert attach_stragglers(space, np.array([0] * 6 + [1]), 0.25).tolist() == [0] * 6 + [1]


def _story_and_piece(story: int, piece: int, mean: float) -> np.ndarray:
    rows = _story_and_item(story, mean)
    return np.vstack([rows] + [rows[-1:]] * (piece - 1))


def test_three_articles_are_a_story_of_their_own() -> None:
    rows = _story_and_piece(6, 3, 0.2)
    labels = np.array([0] * 6 + [1, 1, 1])
    assert attach_stragglers(_space(rows), labels, 0.25).tolist() == labels.tolist()
    assert attach_stragglers(_space(rows[:-1]), labels[:-1], 0.25).tolist() == [0] * 8


def test_a_few_short_items_join_a_story_twice_their_size() -> None:
    short, long = SHORT_TERMS - 1, SHORT_TERMS
    labels = np.array([0] * 10 + [1] * 5)
    rows = _story_and_piece(10, 5, 0.2)
    assert attach_stragglers(_space(rows, terms=[long] * 10 + [short] * 5), labels, 0.25).tolist() == [0] * 15
    one_long = [long] * 10 + [short] * 4 + [long]
    assert attach_stragglers(_space(rows, terms=one_long), labels, 0.25).tolist() == labels.tolist()
    smaller = np.array([0] * 9 + [1] * 5)
    assert attach_stragglers(_space(rows[1:], terms=[long] * 9 + [short] * 5), smaller, 0.25).tolist() == \
        smaller.tolist()
    six = _story_and_piece(12, 6, 0.2)
    six_labels = np.array([0] * 12 + [1] * 6)
    assert attach_stragglers(_space(six, terms=[long] * 12 + [short] * 6), six_labels, 0.25).tolist() == [0] * 18
    assert attach_stragglers(_space(six[1:], terms=[long] * 11 + [short] * 6), six_labels[1:], 0.25).tolist() == \
        six_labels[1:].tolist()


def test_a_short_story_that_joins_a_bigger_one_takes_its_stragglers_along() -> None:
    short = SHORT_TERMS - 1
    rows = np.zeros((21, 3))
    rows[:14, 0] = 1.0                                     # 14 items
    rows[14:20] = [0.2, np.sqrt(1 - 0.04), 0.0]             # 6 short items, 0.2 to the 14
    rows[20] = [0.0, 1.0, 0.0]                              # one item, 0.98 to the six, 0 to the 14
    labels = np.array([0] * 14 + [1] * 6 + [2])
    got = attach_stragglers(_space(rows, terms=[SHORT_TERMS] * 14 + [short] * 7), labels, 0.25)
    assert got.tolist() == [0] * 21


def test_far_apart_in_time_the_mean_is_lowered_by_the_time_factor() -> None:
    rows = _story_and_item(6, 0.2)
    near = _space(rows, [0.0] * 6 + [100.0])
    assert attach_stragglers(near, np.array([0] * 6 + [1]), 0.25).tolist() == [0] * 7
    far = _space(rows, [0.0] * 6 + [24.0 * 60])
    assert attach_stragglers(far, np.array([0] * 6 + [1]), 0.25).tolist() == [0] * 6 + [1]


@pytest.mark.parametrize("dated", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_moves_are_those_of_the_dense_means(seed: int, dated: bool) -> None:
    rng = np.random.default_rng(seed)
    n, clusters = 120, 30
    labels = rng.integers(0, clusters, n)
    labels[:40] = rng.integers(0, 3, 40)  # a few big clusters
    labels = np.unique(labels, return_inverse=True)[1]
    centres = rng.random((clusters, 40)) ** 4
    rows = normalize(centres[labels] + 0.6 * rng.random((n, 40)) ** 6)
    hours = list(rng.uniform(0, 24 * 40, n)) if dated else None
    space = _space(rows, hours, terms=rng.integers(SHORT_TERMS - 15, SHORT_TERMS + 5, n))
    for threshold in (0.3, 0.5, 0.7):
        got = attach_stragglers(space, labels, threshold, margin=0.15, most=2, least=6)
        want = _brute_force(space, labels, threshold, 0.15, 2, 6)
        assert got.tolist() == want.tolist()
        assert (got != labels).any() or threshold == 0.7
