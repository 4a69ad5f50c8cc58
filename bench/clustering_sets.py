"""Variations of a gold event-cluster file, so one clustering setting is checked on many days.

Every builder takes the loaded documents (dicts with id/title/text/topic/published_at)
and gold labels (doc id -> event) and returns a new (docs, gold) pair; all are seeded,
so a run is repeatable. They change the *shape* of the day, never the method:

- ``halves``: topics dealt alternately into two halves (a smaller, different mix).
- ``small_days``: every gold event keeps 1..N of its documents (many one-item stories).
- ``leads_only``: title plus the first sentences only (feed blurbs, social posts).
- ``mixed_lengths``: half the documents (seeded) cut to their lead, the rest whole.
- ``with_dates``: each gold event gets a day in a four-week span; its documents are
  published hours after it, a few are follow-ups days later. The file itself has no
  dates, so it is the no-dates check.
- ``big_day``: n documents from re-spelled copies of the file (see `respell`): a day the
  size of a busy night, with many events of the same kind and different participants.
- ``lone_near_misses``: days on which one event of a topic is a big story and the other
  event of the same kind has a single item (one company's launch and a rival's, two
  earthquakes): that item is a story of its own and must not be folded into the big one.
"""
from __future__ import annotations

import math
import random
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterable

from summarizer.textfeatures import content_words, sentences, words

Docs = list[dict]
Gold = dict[str, str]

_TOKEN = re.compile(r"\w+|\W+")
_SYLLABLES = ("ba be bi bo bu ka ke ki ko ku da de di do du ra re ri ro ru sa se si so su "
              "ta te ti to tu na ne ni no nu la le li lo lu ma me mi mo mu va ve vi vo vu").split()
START = datetime(2026, 3, 2, 6, 0, tzinfo=timezone.utc)


def subset(docs: Docs, gold: Gold, keep: Iterable[str]) -> tuple[Docs, Gold]:
    ids = set(keep)
    part = [d for d in docs if d["id"] in ids]
    return part, {d["id"]: gold[d["id"]] for d in part}


def halves(docs: Docs, gold: Gold) -> dict[str, tuple[Docs, Gold]]:
    """Topics sorted and dealt alternately into halves A and B."""
    topics = sorted({d.get("topic", "") for d in docs}, key=lambda t: (len(t), t))
    half_of = {t: "AB"[k % 2] for k, t in enumerate(topics)}
    return {
        half: subset(docs, gold, (d["id"] for d in docs if half_of[d.get("topic", "")] == half))
        for half in "AB"
    }


def small_days(docs: Docs, gold: Gold, most: int, seed: int) -> tuple[Docs, Gold]:
    """Every gold event keeps a random 1..most of its documents (file order kept)."""
    rng = random.Random(seed)
    by_event: dict[str, list[str]] = defaultdict(list)
    for d in docs:
        by_event[gold[d["id"]]].append(d["id"])
    keep: set[str] = set()
    for event in sorted(by_event):
        members = by_event[event]
        keep.update(rng.sample(members, min(len(members), rng.randint(1, most))))
    return subset(docs, gold, keep)


def lead_text(doc: dict, n: int = 2) -> str:
    """The first n sentences of the text that are not the title itself."""
    title = doc["title"].strip()
    parts = [s for s in sentences(doc["text"]) if s != title]
    return "\n".join(parts[:n])


def leads_only(docs: Docs, gold: Gold, n: int = 2) -> tuple[Docs, Gold]:
    return [dict(d, text=lead_text(d, n)) for d in docs], dict(gold)


def mixed_lengths(docs: Docs, gold: Gold, seed: int = 0) -> tuple[Docs, Gold]:
    rng = random.Random(seed)
    return [dict(d, text=lead_text(d)) if rng.random() < 0.5 else d for d in docs], dict(gold)


def with_dates(docs: Docs, gold: Gold, seed: int = 0, span_days: int = 28) -> tuple[Docs, Gold]:
    """Dates per gold event: most documents within a day of it, 15% follow-ups 1-10 days on."""
    rng = random.Random(seed)
    events = sorted(set(gold.values()))
    day_of = {e: START + timedelta(hours=rng.uniform(0, 24 * span_days)) for e in events}
    out = []
    for d in docs:
        delay = rng.uniform(24, 240) if rng.random() < 0.15 else rng.expovariate(1 / 8)
        out.append(dict(d, published_at=day_of[gold[d["id"]]] + timedelta(hours=delay)))
    return out, dict(gold)


@dataclass(frozen=True)
class NearMiss:
    """A day with one lone item of a near-miss event beside its sibling event's big story."""

    docs: Docs
    gold: Gold
    lone: str  # the lone item's id
    sibling: str  # the big story's gold event


def lone_near_misses(docs: Docs, gold: Gold, per_direction: int = 1, seed: int = 0,
                     least: int = 6) -> list[NearMiss]:
    """For each topic of exactly two events, each way round where the big event has ``least``
    documents or more: the whole file minus the other event, except ``per_direction`` seeded
    single documents of it (one day each)."""
    rng = random.Random(seed)
    by_event: dict[str, list[dict]] = defaultdict(list)
    events_of: dict[str, set[str]] = defaultdict(set)
    for d in docs:
        by_event[gold[d["id"]]].append(d)
        events_of[d.get("topic", "")].add(gold[d["id"]])
    out = []
    for topic in sorted(events_of, key=lambda t: (len(t), t)):
        pair = sorted(events_of[topic])
        if not topic or len(pair) != 2:
            continue
        for big, other in (pair, pair[::-1]):
            if len(by_event[big]) < least:
                continue
            for lone in rng.sample(by_event[other], min(per_direction, len(by_event[other]))):
                day = [d for d in docs if gold[d["id"]] != other] + [lone]
                out.append(NearMiss(day, {d["id"]: gold[d["id"]] for d in day}, lone["id"], big))
    return out


def without_dates(docs: Docs, gold: Gold) -> tuple[Docs, Gold]:
    return [dict(d, published_at=None) for d in docs], dict(gold)


# ----------------------------------------------------------------- big days


def general_words(docs: Docs, min_topics: int = 5) -> frozenset[str]:
    """Lower-case content words used in at least ``min_topics`` topics: the day's common vocabulary."""
    topics_of: dict[str, set[str]] = defaultdict(set)
    for d in docs:
        for w in set(content_words(words(d["title"] + "\n" + d["text"]))):
            topics_of[w].add(str(d.get("topic", "")))
    return frozenset(w for w, t in topics_of.items() if len(t) >= min_topics)


class Respeller:
    """One copy's re-spelling: a topical word or name is replaced, consistently, by a made-up one.

    With probability ``rate`` per word type (per copy), ``general_rate`` for the common
    vocabulary; stop words stay, numbers get other digits. Copies of one event are then events of the same
    kind with other participants and partly other words, not copies.
    """

    def __init__(self, copy: int, general: frozenset[str], rate: float = 0.9, general_rate: float = 0.5):
        self.copy, self.general, self.rate, self.general_rate = copy, general, rate, general_rate
        self.cache: dict[str, str] = {}

    def word(self, token: str) -> str:
        low = token.casefold()
        if low not in self.cache and not content_words([low]):
            return token
        if low not in self.cache:
            rng = random.Random(f"{self.copy}:{low}")
            if rng.random() >= (self.general_rate if low in self.general else self.rate):
                self.cache[low] = low
            elif low.isdigit():
                self.cache[low] = "".join(rng.choice("0123456789") for _ in low)
            else:
                syllables = max(2, min(5, math.ceil(len(low) / 2.5)))
                self.cache[low] = "".join(rng.choice(_SYLLABLES) for _ in range(syllables))
        new = self.cache[low]
        if token.isupper() and len(token) > 1:
            return new.upper()
        return new.capitalize() if token[:1].isupper() else new

    def text(self, text: str) -> str:
        return "".join(self.word(t) if t[:1].isalnum() else t for t in _TOKEN.findall(text))


def respell(doc: dict, speller: Respeller, rng: random.Random, drop: float = 0.2) -> dict:
    """A re-spelled document; each sentence after the third is dropped with probability ``drop``."""
    kept = [s for k, s in enumerate(doc["text"].split("\n")) if k < 3 or rng.random() >= drop]
    return dict(doc, title=speller.text(doc["title"]), text=speller.text("\n".join(kept)))


def big_day(docs: Docs, gold: Gold, n: int, seed: int = 0, rate: float = 0.9,
            general_rate: float = 0.5) -> tuple[Docs, Gold]:
    """n documents: copy 0 is the file, copies 1.. are re-spelled; a random n of them kept."""
    rng = random.Random(seed)
    general = general_words(docs)
    copies = max(1, math.ceil(n / len(docs)))
    pool: list[tuple[int, dict]] = [(c, d) for c in range(copies) for d in docs]
    chosen = sorted(rng.sample(range(len(pool)), min(n, len(pool))))
    spellers = {c: Respeller(seed * 1000 + c, general, rate, general_rate) for c in range(1, copies)}
    out, labels = [], {}
    for k in chosen:
        c, d = pool[k]
        new = d if c == 0 else respell(d, spellers[c], rng)
        new = dict(new, id=f"{c}:{d['id']}")
        out.append(new)
        labels[new["id"]] = f"{c}:{gold[d['id']]}"
    return out, labels
