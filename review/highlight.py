"""Find the source passages a draft sentence rests on, so editors can check it at a glance.

A passage is a source sentence; the one sharing most content words with a
citing summary sentence is highlighted. Output is plain segments, never
HTML: templates escape every piece.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

WORD = re.compile(r"[^\W_]+(?:['’.-][^\W_]+)*", re.UNICODE)
SENTENCE_END = re.compile(r"(?<=[.!?…])[\"”’)\]]*\s+(?=[\"“‘(\[]?[^\W_])|\n+", re.UNICODE)
STOP = frozenset(
    "the a an and or but of to in on at for with by from as is are was were be been being it its this that these those "
    "has have had will would can could should may might not no than then so such into over about after before also "
    "said says say he she they we you i his her their our your them which who whom what when where while new more most".split()
)
MIN_SHARED = 2
MIN_SCORE = 0.25


@dataclass
class Segment:
    text: str
    cited_by: list[int] = field(default_factory=list)  # 1-based summary sentence numbers


def content_words(text: str) -> set[str]:
    return {w.lower() for w in WORD.findall(text) if w.lower() not in STOP and (len(w) > 2 or w.isdigit())}


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Start/end offsets of the sentences (and lines) of a text, whitespace trimmed."""
    spans, start = [], 0
    for m in SENTENCE_END.finditer(text):
        spans.append((start, m.start()))
        start = m.end()
    spans.append((start, len(text)))
    out = []
    for a, b in spans:
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if b > a:
            out.append((a, b))
    return out


def best_passages(text: str, claim: str) -> list[tuple[int, int]]:
    """The source sentence(s) sharing most words with `claim` (ties within 80% of the best)."""
    want = content_words(claim)
    if not want:
        return []
    scored = []
    for a, b in sentence_spans(text):
        shared = len(want & content_words(text[a:b]))
        score = shared / len(want)
        if shared >= MIN_SHARED and score >= MIN_SCORE:
            scored.append((score, a, b))
    if not scored:
        return []
    top = max(s for s, _, _ in scored)
    return sorted((a, b) for s, a, b in scored if s >= 0.8 * top)[:3]


def highlight(text: str, claims: list[tuple[int, str]]) -> list[Segment]:
    """Split `text` into segments, marking the passages each (number, sentence) claim cites."""
    marks: dict[tuple[int, int], list[int]] = {}
    for number, claim in claims:
        for span in best_passages(text, claim):
            marks.setdefault(span, []).append(number)
    segments, pos = [], 0
    for (a, b) in sorted(marks):
        if a < pos:  # spans never overlap (they are sentences), but stay safe
            continue
        if a > pos:
            segments.append(Segment(text[pos:a]))
        segments.append(Segment(text[a:b], sorted(set(marks[(a, b)]))))
        pos = b
    if pos < len(text):
        segments.append(Segment(text[pos:]))
    return segments
