"""Which of a story's sources the model reads, when it cannot read them all.

A 40-source story does not fit an 8k context, and the first eight items by id are often one
outlet's feed entry, its social post and two wire copies. So: drop near-copies first, then
take one source per distinct outlet (most informative first), then fill the remaining places
by informativeness. Every source left out is returned with the reason, so the desk can show
what the model did not see.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from summarizer.models import OmittedSource, SourceDoc

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’.$%-]*")
_DIGIT = re.compile(r"\d")
NEAR_COPY = 0.8  # share of one source's word shingles found in a better one


@dataclass
class Choice:
    chosen: list[SourceDoc]
    omitted: list[OmittedSource]


def informativeness(doc: SourceDoc) -> float:
    """More distinct words and figures, and an article over a post, make a better source to read."""
    words = _WORD.findall(f"{doc.title} {doc.text}")
    distinct = len({w.lower() for w in words})
    figures = len(_DIGIT.findall(doc.text))
    return distinct + 0.5 * min(figures, 80) + (40 if doc.kind == "article" else 0)


def _shingles(doc: SourceDoc, k: int = 4) -> set[tuple[str, ...]]:
    words = [w.lower() for w in _WORD.findall(doc.text or doc.title)]
    return {tuple(words[i : i + k]) for i in range(max(len(words) - k + 1, 1))} if words else set()


def _omit(doc: SourceDoc, reason: str) -> OmittedSource:
    return OmittedSource(id=doc.id, outlet=doc.outlet, title=doc.title, reason=reason)


def choose_sources(sources: Sequence[SourceDoc], max_sources: int) -> Choice:
    """Up to `max_sources` sources: distinct outlets first, then the most informative; no near-copies."""
    ranked = sorted(sources, key=lambda d: (-informativeness(d), d.id))
    kept: list[SourceDoc] = []
    kept_shingles: list[set] = []
    omitted: list[OmittedSource] = []
    for doc in ranked:
        sh = _shingles(doc)
        copy_of = next((k for k, ks in zip(kept, kept_shingles)
                        if sh and ks and len(sh & ks) / len(sh) >= NEAR_COPY), None)
        if copy_of is not None:
            omitted.append(_omit(doc, f"repeats {copy_of.outlet}'s text"))
            continue
        kept.append(doc)
        kept_shingles.append(sh)
    chosen: list[SourceDoc] = []
    outlets: set[str] = set()
    for doc in kept:  # one per outlet, best first
        if len(chosen) < max_sources and doc.outlet.casefold() not in outlets:
            chosen.append(doc)
            outlets.add(doc.outlet.casefold())
    for doc in kept:  # then fill by informativeness
        if len(chosen) < max_sources and doc not in chosen:
            chosen.append(doc)
    for doc in kept:
        if doc not in chosen:
            omitted.append(_omit(doc, f"more than {max_sources} sources: less informative than those shown"))
    order = {d.id: i for i, d in enumerate(sources)}
    chosen.sort(key=lambda d: order[d.id])  # the story's own order reads most naturally
    return Choice(chosen, omitted)
