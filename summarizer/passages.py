"""Pick the most informative passages of a story's sources under a token budget.

Why: sources repeat each other (wire copy, reposts) and carry boilerplate, and input tokens
are what a nightly run pays for. Each source gets its best passages in turn (round robin, so
no source is starved), near-duplicates across sources are dropped, and the result keeps the
original order within each source so the model reads coherent text.
"""
from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass, field
from typing import Sequence

from summarizer.models import SourceDoc

log = logging.getLogger(__name__)

CHARS_PER_TOKEN = 4


@functools.lru_cache(maxsize=32)
def _encoder(model: str | None):  # -> tiktoken.Encoding | None
    """tiktoken's encoding for a model, or None when unknown or not downloadable (offline)."""
    if not model:
        return None
    try:
        import tiktoken

        return tiktoken.encoding_for_model(model)
    except Exception as exc:  # unknown model, no network for the encoding file, no tiktoken
        log.debug("token counting falls back to an estimate for %s: %s", model, exc)
        return None


def count_tokens(text: str, model: str | None = None) -> int:
    """Exact count where tiktoken knows the model and has its encoding, else ~4 chars per token."""
    enc = _encoder(model)
    if enc is not None:
        try:
            return len(enc.encode(text, disallowed_special=()))
        except Exception:  # pragma: no cover - defensive: never let counting crash drafting
            pass
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’)]*\s+(?=[\"'“‘(]?[A-Z0-9])")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’.$%-]*")
_BOILERPLATE = re.compile(
    r"subscribe|newsletter|sign up|cookie|all rights reserved|click here|read more|advertisement|"
    r"follow us|share this|related articles|terms of service|privacy policy",
    re.IGNORECASE,
)
_MAX_PASSAGE_WORDS = 90


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def split_passages(text: str) -> list[str]:
    """Paragraphs, with long ones cut into runs of whole sentences."""
    out: list[str] = []
    for para in re.split(r"\n\s*\n|\n(?=\S)", text):
        para = " ".join(para.split())
        if not para:
            continue
        if len(para.split()) <= _MAX_PASSAGE_WORDS:
            out.append(para)
            continue
        chunk: list[str] = []
        for sentence in split_sentences(para):
            if chunk and len(" ".join(chunk + [sentence]).split()) > _MAX_PASSAGE_WORDS:
                out.append(" ".join(chunk))
                chunk = []
            chunk.append(sentence)
        if chunk:
            out.append(" ".join(chunk))
    return out


def _is_boilerplate(passage: str) -> bool:
    """Short calls to action ("Subscribe to our newsletter") carry no news."""
    return len(passage.split()) < 15 and bool(_BOILERPLATE.search(passage))


def _terms(text: str) -> set[str]:
    return {w.lower().strip(".") for w in _WORD.findall(text) if len(w) > 3}


def score_passage(passage: str, position: int, title_terms: set[str]) -> float:
    """Higher for concrete facts: numbers, names, quotes, title overlap, early position."""
    words = passage.split()
    n = len(words)
    if n < 5:
        return 0.1
    numbers = len(re.findall(r"\d", passage)) ** 0.5
    names = sum(1 for w in words[1:] if w[:1].isupper()) / n
    quote = 1.0 if re.search(r"[\"“].{10,}[\"”]", passage) else 0.0
    overlap = len(_terms(passage) & title_terms) / (len(title_terms) or 1)
    length = min(n, 60) / 60
    lead = 1.0 / (1 + position)
    penalty = 2.0 if _BOILERPLATE.search(passage) and n < 40 else 0.0
    return numbers * 0.6 + names * 3 + quote * 0.5 + overlap * 2 + length + lead * 1.5 - penalty


def _shingles(text: str, k: int = 3) -> set[tuple[str, ...]]:
    words = [w.lower() for w in _WORD.findall(text)]
    if len(words) < k:
        return {tuple(words)} if words else set()
    return {tuple(words[i : i + k]) for i in range(len(words) - k + 1)}


def _near_duplicate(a: set, b: set, threshold: float) -> bool:
    if not a or not b:
        return False
    return len(a & b) / min(len(a), len(b)) >= threshold


@dataclass
class SourceExcerpt:
    """The selected passages of one source, in their original order."""

    source: SourceDoc
    passages: list[str] = field(default_factory=list)
    tokens: int = 0

    @property
    def text(self) -> str:
        return "\n\n".join(self.passages)


def select_passages(
    sources: Sequence[SourceDoc],
    budget_tokens: int,
    *,
    model: str | None = None,
    max_sources: int | None = None,
    duplicate_threshold: float = 0.6,
) -> list[SourceExcerpt]:
    """Best passages of each source, deduplicated across sources, within `budget_tokens`.

    Sources are taken in the given order (best first); titles are always kept and counted.
    """
    chosen_sources = list(sources[:max_sources] if max_sources else sources)
    excerpts = [SourceExcerpt(s) for s in chosen_sources]
    used = sum(count_tokens(s.title, model) + 12 for s in chosen_sources)  # title + delimiter overhead
    queues: list[list[tuple[float, int, str]]] = []
    for src in chosen_sources:
        title_terms = _terms(src.title)
        passages = [p for p in split_passages(src.text) if not _is_boilerplate(p)]
        ranked = sorted(((score_passage(p, i, title_terms), i, p) for i, p in enumerate(passages)), reverse=True)
        queues.append(ranked)
    picked: list[list[tuple[int, str]]] = [[] for _ in chosen_sources]
    seen: list[set] = []
    progress = True
    while progress:
        progress = False
        for idx, queue in enumerate(queues):
            while queue:
                _, position, passage = queue.pop(0)
                shingles = _shingles(passage)
                if any(_near_duplicate(shingles, other, duplicate_threshold) for other in seen):
                    continue
                cost = count_tokens(passage, model) + 1
                if used + cost > budget_tokens:
                    continue  # a shorter passage further down may still fit
                used += cost
                seen.append(shingles)
                picked[idx].append((position, passage))
                excerpts[idx].tokens += cost
                progress = True
                break
    for excerpt, chosen in zip(excerpts, picked):
        excerpt.passages = [p for _, p in sorted(chosen)]
    return excerpts
