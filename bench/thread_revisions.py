"""Revising threads after a night's links: a candidate measured on the bench, not in the pipeline.

Continuity decides a story's thread once, story against story; a thread that has taken in the
other event of its kind cannot see it later. This step runs in `bench.thread_sets.simulate`
after each night's threads (``--revise`` in `bench.threads`), over the stories within the
window, with continuity's similarity (`summarizer.similarity`, no time factor):

1. Re-decide: each story (oldest first) moves to the thread whose latest ``k`` stories (itself
   left out) it matches best by mean similarity, when that mean is >= ``redecide_min`` and
   beats its own thread's by ``redecide_margin`` (a story alone in its thread scores 0).
2. Split: each thread that got a story tonight is re-clustered by average link (as
   `summarizer.clustering` does) cut at ``split_cut``; when the group holding the oldest story
   and another group both have ``split_min_group`` stories or more, that other group leaves:
   to the other thread it matches with mean similarity >= ``move_min``, else to a new thread.

Not in `storage.threads`: both steps change earlier days' threads after their night, which a
rerun of such a night (it links against the current threads and puts a story in its
predecessor's thread) would not reproduce; the decision would have to be stored first.
Figures and what was rejected on the way: docs/threads.md.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform

from summarizer.similarity import DocSpace
from summarizer.textfeatures import Doc


@dataclass(frozen=True)
class Revision:
    """The candidate's settings (docs/threads.md, issue 12, second round)."""

    k: int = 3
    redecide_min: float = 0.35
    redecide_margin: float = 0.15
    split_cut: float = 0.25
    split_min_group: int = 3
    move_min: float = 0.25


@dataclass
class WindowStory:
    id: int
    day: str
    title: str
    text: str
    thread: int


def _similarities(stories: list[WindowStory]) -> np.ndarray:
    vectors = DocSpace([Doc(id=str(k), title=s.title or "", text=s.text or "") for k, s in enumerate(stories)]).vectors
    return np.asarray((vectors @ vectors.T).toarray())


def _redecide(stories: list[WindowStory], sims: np.ndarray, rule: Revision) -> None:
    for i, story in enumerate(stories):
        members: dict[int, list[int]] = {}
        for j, other in enumerate(stories):
            if j != i:
                members.setdefault(other.thread, []).append(j)

        def score(thread: int) -> float:
            latest = members.get(thread, [])[-rule.k:]
            return float(sims[i, latest].mean()) if latest else 0.0

        own = score(story.thread)
        best_thread, best = None, rule.redecide_min
        for thread in members:
            if thread == story.thread:
                continue
            s = score(thread)
            if s >= best and s > own + rule.redecide_margin:
                best_thread, best = thread, s
        if best_thread is not None:
            story.thread = best_thread


def _split(stories: list[WindowStory], sims: np.ndarray, touched: set[int], rule: Revision,
           new_thread: Callable[[], int]) -> None:
    for thread in sorted(touched):
        index = [k for k, s in enumerate(stories) if s.thread == thread]
        if len(index) < max(3, 2 * rule.split_min_group):
            continue
        sub = sims[np.ix_(index, index)]
        distance = np.clip(1.0 - sub, 0.0, None)
        np.fill_diagonal(distance, 0.0)
        labels = fcluster(linkage(squareform(distance, checks=False), "average"), 1.0 - rule.split_cut,
                          criterion="distance").tolist()
        if len(set(labels)) < 2:
            continue
        oldest = min(range(len(index)), key=lambda m: (stories[index[m]].day, stories[index[m]].id))
        if labels.count(labels[oldest]) < rule.split_min_group:
            continue
        for label in sorted(set(labels) - {labels[oldest]}):
            group = [index[m] for m, lab in enumerate(labels) if lab == label]
            if len(group) < rule.split_min_group:
                continue
            target, best = None, rule.move_min
            for other in sorted({s.thread for s in stories} - {thread}):
                mean = float(sims[np.ix_(group, [k for k, s in enumerate(stories) if s.thread == other])].mean())
                if mean >= best:
                    target, best = other, mean
            target = new_thread() if target is None else target
            for k in group:
                stories[k].thread = target


def revise(stories: list[WindowStory], touched: set[int], new_thread: Callable[[], int],
           rule: Revision = Revision()) -> None:
    """Re-decide then split, in place (see module docstring); ``stories`` oldest first."""
    if len(stories) < 2:
        return
    sims = _similarities(stories)
    _redecide(stories, sims, rule)
    _split(stories, sims, touched, rule, new_thread)
