"""Group a day's items into stories (events): a partition of item ids.

1. Duplicate ids are folded (first occurrence wins); near-duplicates
   (syndicated copies, quotes) are grouped and represented by one item, so a
   wire story on twenty sites is one vote, not twenty.
2. Representatives are compared with `summarizer.similarity` (word TF-IDF +
   lead and whole-text names/numbers + time proximity). Every pair with
   similarity >= ``THRESHOLD`` is found exactly by blocking on shared rarer
   terms and names (`summarizer.blocking`), never by an all-pairs matrix.
3. Average-link agglomerative clustering: two clusters merge while the mean
   similarity over all their cross pairs is >= ``THRESHOLD``. A mean is never
   above the largest pair, so no cluster spans two connected components of
   the graph of pairs >= ``THRESHOLD``: each component is clustered on its own,
   exactly (dense, C implementation) up to ``DENSE_LIMIT`` items, otherwise on
   its pairs >= ``EDGE_FLOOR`` (at most ``MAX_NEIGHBORS`` per item; pairs below
   count as 0, an error of at most ``EDGE_FLOOR``). Memory stays
   O(pairs above the threshold + DENSE_LIMIT^2).
4. Stragglers (`summarizer.stragglers`): a cluster of one or two items, or of short
   items only (leads, blurbs, posts), joins the story of six or more items (and at
   least twice its size) with the highest mean similarity, if that mean is
   >= ``THRESHOLD - stragglers.MARGIN``. Those items are reported as joined on a
   weak match (`cluster_stories`): on the bench most such moves are right, but a
   different story about the same company or of the same kind, with a single item,
   is folded in this way too (docs/clustering-eval.md, lone near misses), so the
   desk shows the editor which stories hold one.

One configuration for every dataset; the number of clusters is never given.
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np
import scipy.sparse as sp
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.sparse.csgraph import connected_components
from scipy.spatial.distance import squareform

from summarizer.neardup import near_duplicate_labels_from_ids
from summarizer.similarity import DocSpace, SimilaritySettings, Vocabulary, strongest_per_node
from summarizer.stragglers import attach_stragglers
from summarizer.textfeatures import Doc, as_doc, words

THRESHOLD = 0.25  # chosen once (ECB+ sweep 0.22/0.25/0.28: F1 0.90/0.93/0.89); never per dataset
EDGE_FLOOR = 0.05
MAX_NEIGHBORS = 100
DENSE_LIMIT = 3000


def average_link(
    n: int, rows: np.ndarray, cols: np.ndarray, sims: np.ndarray, threshold: float
) -> list[int]:
    """Average-link clustering over a sparse similarity graph; returns a label per node.

    Cluster similarity = sum of edge similarities between them / (|A| * |B|).
    Smaller clusters' links are folded into larger ones, so the work is
    about O(E log E) for E edges.
    """
    links: list[dict[int, float]] = [dict() for _ in range(n)]
    for a, b, s in zip(rows.tolist(), cols.tolist(), sims.tolist()):
        if a != b:
            links[a][b] = links[a].get(b, 0.0) + s
            links[b][a] = links[b].get(a, 0.0) + s
    size = [1] * n
    alive = [True] * n
    owner = list(range(n))
    members: dict[int, list[int]] = {i: [i] for i in range(n)}
    heap = [(-s, a, b) for a, b, s in zip(rows.tolist(), cols.tolist(), sims.tolist())
            if a != b and s >= threshold]
    heapq.heapify(heap)
    # Lazy max-heap: a cluster growing only lowers its averages with untouched
    # neighbours, so an entry is an upper bound; on pop it is re-scored and
    # pushed back if it dropped. Only links whose sum changed get new entries.
    while heap:
        neg, a, b = heapq.heappop(heap)
        if -neg < threshold:
            break
        if not (alive[a] and alive[b]):
            continue
        total = links[a].get(b)
        if total is None:
            continue
        score = total / (size[a] * size[b])
        if score < -neg - 1e-12:
            if score >= threshold:
                heapq.heappush(heap, (-score, a, b))
            continue
        if len(links[a]) < len(links[b]):
            a, b = b, a
        alive[b] = False  # merge b into a
        del links[a][b]
        size[a] += size[b]
        a_links = links[a]
        for c, total in links[b].items():
            if c == a:
                continue
            merged = a_links.get(c, 0.0) + total
            a_links[c] = merged
            c_links = links[c]
            del c_links[b]
            c_links[a] = merged
            score = merged / (size[a] * size[c])
            if score >= threshold:
                heapq.heappush(heap, (-score, a, c))
        links[b] = {}
        members[a].extend(members.pop(b))
    for root, nodes in members.items():
        for node in nodes:
            owner[node] = root
    return owner


def _components(n: int, rows: np.ndarray, cols: np.ndarray) -> list[np.ndarray]:
    """Connected components of the graph of the given edges, each as sorted node indices."""
    graph = sp.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    order = np.argsort(component, kind="stable")
    bounds = np.flatnonzero(np.r_[True, np.diff(component[order]) != 0, True])
    return [order[start:stop] for start, stop in zip(bounds[:-1], bounds[1:])]


def _cluster_space(space: DocSpace, threshold: float) -> list[tuple[int, int]]:
    """Average-link labels for every document of the space (see module docstring)."""
    rows, cols, _ = space.pairs_above(threshold)
    labels = [(-1, i) for i in range(space.n)]  # (component's first node, label in component)
    for index in _components(space.n, rows, cols):
        if len(index) < 2:
            continue
        if len(index) <= DENSE_LIMIT:
            distance = 1.0 - space.dense(index)
            np.fill_diagonal(distance, 0.0)
            tree = linkage(squareform(np.clip(distance, 0.0, None), checks=False), "average")
            local = fcluster(tree, 1.0 - threshold, criterion="distance")
        else:
            r, c, s = strongest_per_node(len(index), *space.pairs_above(EDGE_FLOOR, index), MAX_NEIGHBORS)
            local = average_link(len(index), r, c, s, threshold)
        first = int(index[0])
        for node, label in zip(index.tolist(), np.asarray(local).tolist()):
            labels[node] = (first, int(label))
    return labels


@dataclass(frozen=True)
class Stories:
    """A partition of item ids, and the ids that joined their story only as stragglers
    (below the full threshold): the ones an editor should check."""

    groups: list[list[str]]
    weak: frozenset[str]


def cluster_docs(
    docs: list[Doc],
    *,
    threshold: float = THRESHOLD,
    settings: SimilaritySettings = SimilaritySettings(),
) -> list[list[str]]:
    """Cluster already-normalised docs with unique ids; see module docstring."""
    return partition_docs(docs, threshold=threshold, settings=settings).groups


def partition_docs(
    docs: list[Doc],
    *,
    threshold: float = THRESHOLD,
    settings: SimilaritySettings = SimilaritySettings(),
) -> Stories:
    """`cluster_docs`, with the ids that joined on a weak match."""
    if not docs:
        return Stories([], frozenset())
    vocabulary = Vocabulary()
    ids = [vocabulary.encode(words(d.full_text)) for d in docs]
    dup_labels = near_duplicate_labels_from_ids(ids)
    reps = sorted(set(dup_labels))
    rep_index = {r: k for k, r in enumerate(reps)}
    rep_docs = [docs[r] for r in reps]
    if len(rep_docs) > 1:
        space = DocSpace(rep_docs, settings, word_ids=[ids[r] for r in reps], vocabulary=vocabulary)
        found = _cluster_space(space, threshold)
        numbered: dict[tuple[int, int], int] = {}
        strong = np.array([numbered.setdefault(x, len(numbered)) for x in found])
        final = attach_stragglers(space, strong, threshold)
        labels, moved = final.tolist(), (final != strong).tolist()  # a moved cluster takes its story's label
    else:
        labels, moved = [0], [False]
    groups: dict[int, list[str]] = {}
    weak = []
    for doc, dup in zip(docs, dup_labels):
        groups.setdefault(labels[rep_index[dup]], []).append(doc.id)
        if moved[rep_index[dup]]:
            weak.append(doc.id)
    return Stories(list(groups.values()), frozenset(weak))


def cluster(docs: Iterable[Any]) -> list[list[str]]:
    """Partition item ids into stories: every distinct id exactly once, input order kept.

    Accepts dicts or objects with ``id``, ``title``, ``text``, ``url`` and
    optional ``published_at`` (datetime) and ``source``. A repeated id is
    clustered by its first occurrence; missing text or dates are tolerated.
    """
    return cluster_stories(docs).groups


def cluster_stories(docs: Iterable[Any]) -> Stories:
    """`cluster`, with the ids that joined their story on a weak match (as stragglers)."""
    unique: dict[str, Doc] = {}
    for raw in docs:
        doc = as_doc(raw)
        unique.setdefault(doc.id, doc)
    return partition_docs(list(unique.values()))
