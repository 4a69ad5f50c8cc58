"""One document similarity for clustering and continuity: words, names and time.

    sim(a, b) = time(a, b) * ( TEXT_WEIGHT        * cos(tfidf_words(a), tfidf_words(b))
                             + ENTITY_WEIGHT      * cos(tfidf_names(lead a), tfidf_names(lead b))
                             + BODY_ENTITY_WEIGHT * cos(tfidf_names(a), tfidf_names(b)) )

- Words: TF-IDF (English stop words, sublinear tf) over title + text (casefolded). It finds
  the topic, but two layoffs or two earthquakes share most of their words.
- Names: capitalised words and numbers (`textfeatures.entities`), TF-IDF
  weighted, twice: of the lead (title + first three sentences), where a news
  story names its participants, place and figures, and of the whole text,
  which adds the venue, the opponent, the head count given further down.
  Names are what separates near-miss events (two fights of one boxer, two
  piracy raids of one navy). On ECB+ the whole-text names lifted BCubed F1
  from 0.897 to 0.929 with one threshold. If either document has no names
  (lower-case posts, non-Latin scripts) both name terms are dropped and the
  word cosine is scaled by sqrt(TEXT_WEIGHT) (1 when neither has names), so
  the pair is neither rewarded nor punished by what it lacks.
- Time: 1 when either date is missing or the items are within
  ``same_event_hours`` (a week); beyond that it halves every ``half_life_hours``
  (two weeks). Dates only separate what is clearly apart: news keeps covering an
  event for days (36 h / 72 h split 15% of follow-ups 1-10 days on and cost 0.07
  BCubed F1 against no dates; a week / two weeks gains 0.02 against no dates).

Each part is a dot product of L2-normalised sparse vectors, so the whole
similarity is one sparse product of concatenated rows. The pairs above a
threshold are found by prefix-filter blocking (`summarizer.blocking`): exact,
never an n x n matrix. TF-IDF is computed here from token ids (`Vocabulary`),
the same numbers as scikit-learn's ``TfidfVectorizer(sublinear_tf=True)`` on a day of
up to ``IDF_DAY`` documents. On a bigger day the IDF counts documents, not shares of
the day: a word in 60 documents weighs the same on a day of 10,000 as on a day of
1,000. Otherwise every word of a story gains ln(10) on the big day, topical words
close in on names, and two stories of one kind merge: ten re-spelled, disjoint copies
of ECB+ scored F1 0.924 together against 0.93-0.94 each alone; with the cap 0.931
(docs/clustering-eval.md, ninth round).
"""
from __future__ import annotations

import itertools
import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import scipy.sparse as sp

from summarizer.blocking import pairs_above
from summarizer.textfeatures import Doc, is_content_word, lead_and_body_entities, words


@dataclass(frozen=True)
class SimilaritySettings:
    """Weights of the similarity; chosen once for every dataset, never per run."""

    text_weight: float = 0.4
    entity_weight: float = 0.3
    body_entity_weight: float = 0.3
    same_event_hours: float = 168.0
    half_life_hours: float = 336.0


IDF_DAY = 1000  # beyond this many documents, IDF no longer grows with the day (module docstring)


class Vocabulary:
    """Token -> integer id, first come first numbered; one per batch, shared by its stages."""

    def __init__(self) -> None:
        self.ids: defaultdict[str, int] = defaultdict(itertools.count().__next__)

    def encode(self, tokens: Sequence[str]) -> np.ndarray:
        """Ids of the tokens; a new token gets the next id (the lookup loop runs in C)."""
        return np.fromiter(map(self.ids.__getitem__, tokens), dtype=np.int64, count=len(tokens))

    def mask(self, keep) -> np.ndarray:
        """Boolean array over ids: ``keep(token)`` for each token seen so far."""
        out = np.zeros(len(self.ids), dtype=bool)
        for token, k in self.ids.items():
            out[k] = keep(token)
        return out


Bag = tuple[np.ndarray, np.ndarray]  # (sorted distinct token ids, float32 counts) of one text


def bag(ids: np.ndarray) -> Bag:
    """Distinct ids and their counts: all TF-IDF needs of a text, a fraction of its token array."""
    distinct, counts = np.unique(ids, return_counts=True)
    return distinct, counts.astype(np.float32)


def tfidf(id_lists: Sequence[np.ndarray]) -> sp.csr_matrix:
    """Rows of sublinear-tf x smoothed-idf weights, L2-normalised (float32).

    As scikit-learn's ``TfidfVectorizer(sublinear_tf=True)``: tf -> 1 + ln(tf),
    idf = ln((1 + n) / (1 + df)) + 1, fitted on the batch itself, with n and df capped
    at ``IDF_DAY`` (a word's weight then depends on how many documents use it, not on
    how many others arrived the same day). Columns are the
    ids that occur (renumbered), so an empty batch is one all-zero column.
    """
    return tfidf_bags([bag(ids) for ids in id_lists])


def tfidf_bags(bags: Sequence[Bag], keep: np.ndarray | None = None) -> sp.csr_matrix:
    """`tfidf` of texts given as bags (`bag`): a big batch never holds every token at once.

    `keep`, a boolean mask over token ids (e.g. `Vocabulary.mask(is_content_word)`), drops the others first.
    """
    if keep is not None:
        bags = [(d[keep[d]], c[keep[d]]) for d, c in bags]
    n = len(bags)
    lengths = np.fromiter((len(b[0]) for b in bags), dtype=np.int64, count=n)
    if n == 0 or lengths.sum() == 0:
        return sp.csr_matrix((n, 1), dtype=np.float32)
    used, cols = np.unique(np.concatenate([b[0] for b in bags]), return_inverse=True)
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    counts = sp.csr_matrix((np.concatenate([b[1] for b in bags]), cols, indptr), shape=(n, len(used)))
    day = min(n, IDF_DAY)
    df = np.minimum(np.bincount(cols, minlength=len(used)), day)
    idf = (np.log((1.0 + day) / (1.0 + df)) + 1.0).astype(np.float32)
    counts.data = (1.0 + np.log(counts.data)) * idf[counts.indices]
    return l2_rows(counts)


def l2_rows(m: sp.csr_matrix) -> sp.csr_matrix:
    """Each row divided by its L2 norm, float32, exactly as scikit-learn's `normalize` computes it
    (squares in float32, summed in double in row order, the division in double; empty rows stay
    zero), without importing scikit-learn (a second at the start of every night)."""
    m = sp.csr_matrix(m, dtype=np.float32, copy=True)
    squares = sp.csr_matrix(((m.data * m.data).astype(np.float64), m.indices, m.indptr), shape=m.shape)
    norms = np.sqrt(squares @ np.ones(m.shape[1], dtype=np.float64))  # csr_matvec: one running sum per row
    norms[norms == 0.0] = 1.0
    m.data = (m.data.astype(np.float64) / np.repeat(norms, np.diff(m.indptr))).astype(np.float32)
    return m


class DocSpace:
    """Vectors for a batch of documents; IDF comes from the batch itself."""

    def __init__(
        self,
        docs: Sequence[Doc],
        settings: SimilaritySettings = SimilaritySettings(),
        tokens: Sequence[list[str]] | None = None,
        *,
        word_ids: Sequence[np.ndarray] | None = None,
        vocabulary: Vocabulary | None = None,
    ):
        """``tokens``: `textfeatures.words` of each doc's full text, if already computed;
        or ``word_ids``: those tokens encoded with ``vocabulary``."""
        self.settings = settings
        self.n = len(docs)
        if word_ids is None or vocabulary is None:  # counted text by text: no token arrays kept
            vocabulary = Vocabulary()
            bags = [bag(vocabulary.encode(t)) for t in (tokens if tokens is not None
                                                         else (words(d.full_text) for d in docs))]
        else:
            bags = [bag(ids) for ids in word_ids]
        content = vocabulary.mask(is_content_word)
        words_matrix = tfidf_bags(bags, keep=content)
        del bags
        # Distinct content words per document: how much text it has (a lead, a post, an article).
        self.terms = np.diff(words_matrix.indptr)
        names_vocabulary = Vocabulary()
        lead_names, all_names = [], []
        for d in docs:
            in_lead, in_body = lead_and_body_entities(d)
            lead_names.append(names_vocabulary.encode(in_lead))
            all_names.append(names_vocabulary.encode(in_body))
        names = tfidf(lead_names)
        body_names = tfidf(all_names)
        has_names = np.asarray(names.getnnz(axis=1) > 0)
        text_scale = np.where(has_names, math.sqrt(settings.text_weight), 1.0)
        name_scale = np.where(has_names, math.sqrt(settings.entity_weight), 0.0)
        body_scale = np.where(has_names, math.sqrt(settings.body_entity_weight), 0.0)
        self.vectors = sp.hstack(
            [sp.diags(text_scale.astype(np.float32)) @ words_matrix,
             sp.diags(name_scale.astype(np.float32)) @ names,
             sp.diags(body_scale.astype(np.float32)) @ body_names],
            format="csr",
        ).astype(np.float32)
        self.vectors.eliminate_zeros()
        self.hours = np.array(
            [d.published_at.timestamp() / 3600.0 if d.published_at else np.nan for d in docs],
            dtype=np.float64,
        )

    def time_factor(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Penalty for items far apart in time; 1 when a date is unknown."""
        gap = np.abs(self.hours[rows] - self.hours[cols])
        excess = np.clip(gap - self.settings.same_event_hours, 0.0, None)
        factor = np.power(0.5, excess / self.settings.half_life_hours)
        return np.where(np.isnan(factor), 1.0, factor)

    def pair(self, i: int, j: int) -> float:
        base = float(self.vectors[i].multiply(self.vectors[j]).sum())
        return base * float(self.time_factor(np.array([i]), np.array([j]))[0])

    def dense(self, index: np.ndarray) -> np.ndarray:
        """Exact similarity matrix among the given documents (time factor applied)."""
        part = self.vectors[index]
        sims = (part @ part.T).toarray().astype(np.float64)
        if not np.isnan(self.hours[index]).all():
            rows, cols = np.meshgrid(index, index, indexing="ij")
            sims *= self.time_factor(rows.ravel(), cols.ravel()).reshape(sims.shape)
        return sims

    def pairs_above(
        self, threshold: float, index: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every pair i < j with similarity >= threshold (time factor applied), exactly.

        With ``index``, only pairs among those documents (returned as positions in it).
        Never forms an n x n matrix (see `summarizer.blocking`).
        """
        vectors = self.vectors if index is None else self.vectors[index]
        rows, cols, sims = pairs_above(vectors, threshold)
        if len(rows) and not np.isnan(self.hours).all():
            global_rows, global_cols = (rows, cols) if index is None else (index[rows], index[cols])
            sims = sims * self.time_factor(global_rows, global_cols)
            ok = sims >= threshold
            rows, cols, sims = rows[ok], cols[ok], sims[ok]
        return rows, cols, sims

    def candidate_edges(
        self, floor: float, max_neighbors: int, block: int = 512
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Pairs i < j with similarity >= floor, each row keeping its ``max_neighbors`` best."""
        rows, cols, sims = self.pairs_above(floor)
        return strongest_per_node(self.n, rows, cols, sims, max_neighbors)


def strongest_per_node(
    n: int, rows: np.ndarray, cols: np.ndarray, sims: np.ndarray, most: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The edges that are among the ``most`` strongest of at least one of their two nodes."""
    if len(rows) == 0:
        return rows, cols, sims
    ends = np.concatenate([rows, cols])
    edge = np.concatenate([np.arange(len(rows))] * 2)
    order = np.lexsort((-np.concatenate([sims, sims]), ends))
    ends, edge = ends[order], edge[order]
    starts = np.flatnonzero(np.r_[True, ends[1:] != ends[:-1]])
    rank = np.arange(len(ends)) - np.repeat(starts, np.diff(np.r_[starts, len(ends)]))
    keep = np.zeros(len(rows), dtype=bool)
    keep[edge[rank < most]] = True
    return rows[keep], cols[keep], sims[keep]
