"""A story's similarities must not depend on how many unrelated items share its day.

Beyond ``IDF_DAY`` documents the IDF counts documents, not shares of the day
(`summarizer.similarity`); up to it, TF-IDF is scikit-learn's.
"""
from __future__ import annotations

import random
import string

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from summarizer.similarity import IDF_DAY, DocSpace, Vocabulary, tfidf
from summarizer.textfeatures import as_doc

STORY = [
    {"id": "a1", "title": "Quillon cuts 400 jobs at its Dublin office",
     "text": "Quillon will cut 400 jobs in Dublin, the chip designer said on Monday, "
             "as orders for its inference boards slowed. Staff were told in a town hall."},
    {"id": "a2", "title": "Quillon to lay off 400 Dublin staff",
     "text": "Chip designer Quillon is laying off 400 people at its Dublin office after "
             "a slowdown in orders, chief executive Maren Holt told staff on Monday."},
    {"id": "b1", "title": "Vantor cuts 250 jobs in Austin",
     "text": "Vantor will cut 250 jobs at its Austin campus, the cloud company said, "
             "after orders slowed. Staff were told on Tuesday."},
]


def _filler(n: int, seed: int = 3) -> list[dict]:
    """n short items on other matters, in words none of the story's items use."""
    rng = random.Random(seed)
    vocabulary = ["".join(rng.choice(string.ascii_lowercase) for _ in range(7)) for _ in range(4000)]
    return [{"id": f"f{k}", "title": " ".join(rng.sample(vocabulary, 4)),
             "text": " ".join(rng.sample(vocabulary, 25))} for k in range(n)]


def _story_sims(extra: int) -> np.ndarray:
    docs = [as_doc(d) for d in STORY + _filler(extra)]
    return DocSpace(docs).dense(np.arange(len(STORY)))


def test_a_story_weighs_the_same_on_a_day_of_any_size_beyond_the_cap() -> None:
    """Two days bigger than IDF_DAY: same similarities among the story's items."""
    big, bigger = _story_sims(IDF_DAY + 200), _story_sims(4 * IDF_DAY)
    np.testing.assert_allclose(big, bigger, atol=1e-6)
    assert big[0, 1] > big[0, 2]  # the test's items are what they claim: one story, one of a kind


def test_below_the_cap_a_bigger_day_still_changes_the_weights() -> None:
    """The cap only starts at IDF_DAY: smaller days keep scikit-learn's batch IDF."""
    small, larger = _story_sims(50), _story_sims(IDF_DAY // 2)
    assert not np.allclose(small, larger, atol=1e-4)


@pytest.mark.parametrize("n", [1, 7, 300, IDF_DAY])
def test_tfidf_up_to_the_cap_is_scikit_learns(n: int) -> None:
    rng = random.Random(n)
    texts = [[rng.choice("abcdefghij") * rng.randint(2, 3) for _ in range(rng.randint(1, 12))] for _ in range(n)]
    vocabulary = Vocabulary()
    ours = tfidf([vocabulary.encode(t) for t in texts]).toarray()
    theirs = TfidfVectorizer(analyzer=lambda t: t, sublinear_tf=True, dtype=np.float32).fit_transform(texts)
    order = [vocabulary.ids[token] for token in sorted(vocabulary.ids)]  # scikit-learn sorts its columns
    np.testing.assert_allclose(ours[:, order], theirs.toarray(), atol=1e-6)

