"""Link tonight's stories to earlier days' stories: update, repeat, or new.

A current story continues a previous one when they share an item (a content
hash: the same article or post seen again) or when their title + text are
similar enough (`summarizer.similarity`: word TF-IDF plus named entities,
the same measure clustering uses, >= ``LINK_THRESHOLD``).

Each current story takes its best previous story: shared items first, then
the highest similarity, then the latest day. Links are assigned greedily over
all pairs in that order, so one previous story (or one thread, when the previous
stories carry thread ids) is continued by at most one current story and the best
match wins.

A continuation is a *repeat* when the previous story was published and the
current one brings nothing new (every content hash of it is already in the
previous story): it is not redrafted. Otherwise it is an update ("what's new
since"), drafted against the earlier story.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import scipy.sparse as sp

from summarizer.blocking import pairs_above
from summarizer.similarity import DocSpace
from summarizer.textfeatures import Doc

LINK_THRESHOLD = 0.3  # a little above clustering's 0.25: a false link reframes a story


@dataclass
class PreviousStory:
    id: int
    day: str
    title: str
    text: str
    published: bool
    content_hashes: frozenset[str]
    thread_id: int | None = None  # stories of one thread are continued once a day, like one story


@dataclass
class Continuation:
    previous_id: int
    is_repeat: bool
    similarity: float


Current = tuple[str, str, str, frozenset[str]]  # (key, title, text, content_hashes)


def _vectors(current: Sequence[Current], previous: Sequence[PreviousStory]) -> sp.csr_matrix:
    docs = [Doc(id=f"c{k}", title=c[1] or "", text=c[2] or "") for k, c in enumerate(current)]
    docs += [Doc(id=f"p{k}", title=p.title or "", text=p.text or "") for k, p in enumerate(previous)]
    return DocSpace(docs).vectors


def similarities(current: Sequence[Current], previous: Sequence[PreviousStory]) -> np.ndarray:
    """current x previous similarity matrix (no time factor: days are compared by rule).

    Dense: for a few stories. `link_stories` only looks at pairs above the threshold.
    """
    vectors = _vectors(current, previous)
    n = len(current)
    return np.asarray((vectors[:n] @ vectors[n:].T).toarray(), dtype=np.float64)


def _similar_pairs(
    current: Sequence[Current], previous: Sequence[PreviousStory], by_hash: dict[str, list[int]]
) -> dict[tuple[int, int], float]:
    """(current, previous) -> similarity for pairs >= LINK_THRESHOLD or sharing an item.

    Blocking (`summarizer.blocking`) finds the similar pairs without a current x
    previous matrix; pairs that share an item get their similarity one by one.
    """
    vectors = _vectors(current, previous)
    n = len(current)
    rows, cols, sims = pairs_above(vectors[:n], LINK_THRESHOLD, vectors[n:])
    found = {(i, j): s for i, j, s in zip(rows.tolist(), cols.tolist(), sims.tolist())}
    for i, (_, _, _, hashes) in enumerate(current):
        for j in {j for h in hashes for j in by_hash.get(h, ())}:
            if (i, j) not in found:
                found[(i, j)] = float(vectors[i].multiply(vectors[n + j]).sum())
    return found


def link_stories(
    current: Sequence[Current], previous: Sequence[PreviousStory]
) -> dict[str, Continuation]:
    """Map current story keys to the previous story they continue (see module docstring)."""
    if not current or not previous:
        return {}
    by_hash: dict[str, list[int]] = {}
    for j, prev in enumerate(previous):
        for h in prev.content_hashes:
            by_hash.setdefault(h, []).append(j)
    sims = _similar_pairs(current, previous, by_hash)
    pairs = []
    for (i, j), sim in sorted(sims.items()):
        prev = previous[j]
        shared = not current[i][3].isdisjoint(prev.content_hashes)
        pairs.append(((shared, round(sim, 9), prev.day, prev.id), i, j))
    pairs.sort(key=lambda p: p[0], reverse=True)
    links: dict[str, Continuation] = {}
    taken: set[tuple[str, int]] = set()
    for _, i, j in pairs:
        key, _, _, hashes = current[i]
        prev = previous[j]
        thread = ("t", prev.thread_id) if prev.thread_id is not None else ("s", prev.id)
        if key in links or thread in taken:
            continue
        taken.add(thread)
        links[key] = Continuation(
            previous_id=prev.id,
            is_repeat=bool(prev.published and hashes and hashes <= prev.content_hashes),
            similarity=round(sims[(i, j)], 4),
        )
    return links
