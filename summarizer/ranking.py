"""Order a day's stories by one documented score and say why, for the editors.

    score = (OUTLETS    * log2(1 + sum over distinct outlets of the outlet's source weight)
           + ENGAGEMENT * log10(1 + sum over items of KIND[kind] * sum_k KEY[k] * engagement[k])
           + RECENCY    * 0.5 ** (hours from the newest dated item to `now` / HALF_LIFE_HOURS))
          * novelty_factor * substance_factor

    novelty_factor = 1 - NOVELTY_PENALTY * max(0, s - SIMILAR) / (1 - SIMILAR)
    s = highest TF-IDF cosine between the story (title + text) and any recent text

    substance_factor = CHATTER (0.3) for a story made only of posts whose text, article included,
    has fewer than CHATTER_WORDS (20) words; times QUESTION (0.3) for a one-outlet thread of posts
    titled as a question ("Ask HN: ...", "...?"); times POINT_RELEASE (0.5) for a one-outlet story
    about a patch release (a version x.y.z with z > 0); else 1

Defaults (`RankWeights`): OUTLETS 3, ENGAGEMENT 0.5, RECENCY 1, HALF_LIFE_HOURS 12,
SIMILAR 0.3, NOVELTY_PENALTY 0.8; KEY: likes, replies, score, comments, points 1,
reposts and quotes 2; KIND: 1 for posts and articles.

- Distinct outlets weigh most: ten sites reporting one event is the strongest
  sign it matters, and a wire copy on twenty sites was already folded into one
  item by near-duplicate detection. Each outlet counts at its source's weight
  (default 1, configurable per source), so a trusted outlet counts for more.
- Engagement is log-scaled: 10x the likes is one step (worth 0.5), not ten,
  so a viral post cannot outweigh broad coverage (going from one outlet to
  two is worth 1.75). Reposts and quotes count double (they
  spread the story); articles carry little engagement of their own.
- Recency rewards stories still developing at the cutoff; undated stories get 0.
- Novelty: a story much like one of the last days' stories is pushed down
  (continuity decides whether it is an update or a repeat); below cosine
  ``SIMILAR`` there is no penalty at all.

- Question threads and point releases: "Ask HN: how do you evaluate X?" and
  "tool 0.6.3 released" can gather engagement on one site, but they are not
  the night's news; they must not rank above a story several outlets report.
- Substance: a lone short post with no article behind it ("congrats on the
  new job!") is chatter from a followed account, not news; it stays in the
  queue, near the bottom, with the reason shown.

Ties are broken by key, so the order is deterministic.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Mapping, Sequence

import numpy as np

from summarizer.blocking import pairs_above
from summarizer.similarity import Vocabulary, bag, tfidf_bags
from summarizer.textfeatures import is_content_word, words

KEY_WEIGHTS: Mapping[str, float] = {
    "likes": 1.0, "reposts": 2.0, "quotes": 2.0, "replies": 1.0,
    "score": 1.0, "comments": 1.0, "points": 1.0,
}
KIND_WEIGHTS: Mapping[str, float] = {"post": 1.0, "article": 1.0}
QUESTION_TITLE = re.compile(r"^\s*(ask|tell)\s+(hn|reddit|r/\w+)\b|\?\s*$", re.IGNORECASE)
POINT_RELEASE = re.compile(r"(?<![\w.])v?\d{1,3}\.\d+\.0*[1-9]\d*(?![\w.])")


@dataclass
class RankItem:
    """One item of a story, as ranking sees it."""

    source: str
    outlet: str
    kind: str  # "article" | "post"
    published_at: datetime | None
    engagement: dict[str, int] = field(default_factory=dict)
    weight: float = 1.0


@dataclass
class StoryCandidate:
    """A story to rank (a plain class: the pipeline attaches its own attributes)."""

    key: str
    title: str
    text: str
    items: list[RankItem]


@dataclass(frozen=True)
class RankWeights:
    """The score's constants (see module docstring); one set for every night."""

    outlets: float = 3.0
    engagement: float = 0.5
    recency: float = 1.0
    half_life_hours: float = 12.0
    similar: float = 0.3
    novelty_penalty: float = 0.8
    chatter: float = 0.3
    chatter_words: int = 20
    question: float = 0.3
    point_release: float = 0.5
    key_weights: Mapping[str, float] = field(default_factory=lambda: dict(KEY_WEIGHTS))
    kind_weights: Mapping[str, float] = field(default_factory=lambda: dict(KIND_WEIGHTS))


@dataclass
class Ranked:
    candidate: StoryCandidate
    score: float
    reasons: list[str]


def _utc(when: datetime) -> datetime:
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def outlet_weights(items: Sequence[RankItem]) -> dict[str, float]:
    """Each distinct outlet with its weight (the highest of its items')."""
    out: dict[str, float] = {}
    for item in items:
        name = item.outlet or item.source or "unknown"
        out[name] = max(out.get(name, 0.0), max(item.weight, 0.0))
    return out


def item_engagement(item: RankItem, weights: RankWeights) -> float:
    """Weighted interaction count of one item (unknown keys and negatives ignored)."""
    total = sum(weights.key_weights.get(k, 0.0) * max(int(v or 0), 0) for k, v in item.engagement.items())
    return total * weights.kind_weights.get(item.kind, 1.0)


def novelty_similarities(
    texts: Sequence[str], recent_texts: Sequence[str], floor: float = 0.0
) -> np.ndarray:
    """Highest TF-IDF cosine of each text against the recent texts (0 when there are none).

    With ``floor`` > 0 only cosines >= floor are found (exactly; lower ones read 0), by
    blocking on shared rarer words (`summarizer.blocking`): a night's thousands of stories
    against three days of earlier ones never form a dense matrix.
    """
    if not texts or not recent_texts:
        return np.zeros(len(texts))
    vocabulary = Vocabulary()
    # Counted text by text (distinct ids and counts): the token arrays are never all held.
    bags = [bag(vocabulary.encode(words(t))) for t in list(texts) + list(recent_texts)]
    content = vocabulary.mask(is_content_word)
    matrix = tfidf_bags(bags, keep=content)  # as TfidfVectorizer(sublinear_tf=True)
    del bags
    if floor > 0:
        rows, _, sims = pairs_above(matrix[: len(texts)], floor, matrix[len(texts):])
        best = np.zeros(len(texts))
        np.maximum.at(best, rows, sims)
        return np.clip(best, 0.0, 1.0)
    sims = (matrix[: len(texts)] @ matrix[len(texts):].T).toarray()
    return np.clip(sims.max(axis=1), 0.0, 1.0)


def _score(
    candidate: StoryCandidate, similar_to_recent: float, now: datetime, weights: RankWeights
) -> Ranked:
    reasons: list[str] = []
    outlets = outlet_weights(candidate.items)
    weighted = sum(outlets.values())
    outlet_part = weights.outlets * math.log2(1.0 + weighted)
    reasons.append(_plural(len(outlets), "outlet"))
    if outlets and abs(weighted - len(outlets)) > 1e-9:
        reasons.append(f"source weights count as {weighted:g} outlets")

    engagement = sum(item_engagement(i, weights) for i in candidate.items)
    engagement_part = weights.engagement * math.log10(1.0 + engagement)
    best = max(
        ((v, k, i.source or i.outlet) for i in candidate.items for k, v in i.engagement.items() if v),
        default=None,
    )
    if best is not None:
        reasons.append(f"{best[0]} {best[1]} on {best[2]}")

    dates = [_utc(i.published_at) for i in candidate.items if i.published_at is not None]
    recency_part = 0.0
    if dates:
        age = max((_utc(now) - max(dates)).total_seconds() / 3600.0, 0.0)
        recency_part = weights.recency * 0.5 ** (age / weights.half_life_hours)
        reasons.append(f"published {age:.0f} h before cutoff")
    else:
        reasons.append("no publication dates")

    factor = 1.0
    if similar_to_recent >= weights.similar:
        excess = (similar_to_recent - weights.similar) / max(1.0 - weights.similar, 1e-9)
        factor = 1.0 - weights.novelty_penalty * min(excess, 1.0)
        reasons.append(
            f"similar to a story from the last days (novelty {1.0 - similar_to_recent:.1f})"
        )
    if candidate.items and all(i.kind == "post" for i in candidate.items):
        n_words = len(words(candidate.text)) or len(words(candidate.title))
        if n_words < weights.chatter_words:
            factor *= weights.chatter
            reasons.append(f"only a short post ({n_words} words), no article")
    if len(outlets) <= 1:
        if candidate.items and all(i.kind == "post" for i in candidate.items) and QUESTION_TITLE.search(candidate.title or ""):
            factor *= weights.question
            reasons.append("a question thread, not news")
        release = POINT_RELEASE.search(candidate.title or "")
        if release:
            factor *= weights.point_release
            reasons.append(f"a point release ({release.group(0)})")
    score = (outlet_part + engagement_part + recency_part) * factor
    return Ranked(candidate=candidate, score=score, reasons=reasons)


def rank(
    candidates: Sequence[StoryCandidate],
    *,
    now: datetime,
    recent_texts: Sequence[str] = (),
    weights: RankWeights | None = None,
) -> list[Ranked]:
    """Score every candidate and return them best first (ties by key)."""
    weights = weights or RankWeights()
    sims = novelty_similarities(  # below `similar` the score ignores the value
        [f"{c.title}\n{c.text}" for c in candidates], recent_texts, floor=weights.similar
    )
    ranked = [_score(c, float(s), now, weights) for c, s in zip(candidates, sims)]
    ranked.sort(key=lambda r: (-r.score, r.candidate.key))
    return ranked
