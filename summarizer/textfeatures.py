"""Cheap text features shared by near-duplicate detection, clustering and continuity.

Kept dependency-free (regexes only) so that every stage agrees on what a
"word", a "lead" and a "named entity" are.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from datetime import datetime
from pathlib import Path
from typing import Any

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_WORD = re.compile(r"\w+", re.UNICODE)
_ASCII_WORD = re.compile(r"\w+", re.ASCII)  # the same tokens on ASCII text, faster
_ENTITY_TOKEN = re.compile(r"[^\W\d_][\w'’.&-]*|\d[\d,.]*\d|\d", re.UNICODE)
# The same tokenisation, but a token starting with an ASCII lower-case letter (most of
# them, never a name) is consumed without being captured: findall returns "" for it.
_ENTITY_SCAN = re.compile(r"[a-z][\w'’.&-]*|(" + _ENTITY_TOKEN.pattern + ")", re.UNICODE)
_POSSESSIVE = re.compile(r"['’]s$")

# Capitalised words that name a time, not a participant: they make two
# different events look alike ("on Tuesday", "in December").
_CALENDAR = frozenset(
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec "
    "monday tuesday wednesday thursday friday saturday sunday today yesterday tomorrow "
    "am pm gmt utc est edt pst pdt bst cet ist et pt updated published posted".split()
)
STOP_WORDS_FILE = Path(__file__).parent / "data" / "stop_words.txt"


def _stop_words() -> frozenset[str]:
    """scikit-learn's English stop words, read from a copy: importing scikit-learn costs a second."""
    lines = STOP_WORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(w.strip() for w in lines if w.strip() and not w.startswith("#"))


_STOP = _stop_words() | {"mr", "mrs", "ms", "dr", "new", "says", "said"}

LEAD_SENTENCES = 3


@dataclass(frozen=True)
class Doc:
    """The fields the summarizer reads from an item, whatever its original type."""

    id: str
    title: str
    text: str
    url: str = ""
    published_at: datetime | None = None
    source: str = ""

    @property
    def full_text(self) -> str:
        if self.text.startswith(self.title):
            return self.text
        return f"{self.title}\n{self.text}" if self.title else self.text


def _field(doc: Any, name: str, default: Any = None) -> Any:
    if isinstance(doc, dict):
        return doc.get(name, default)
    return getattr(doc, name, default)


def as_doc(doc: Any) -> Doc:
    """Read a dict or object with id/title/text/url/published_at/source; tolerate gaps."""
    raw_id = _field(doc, "id")
    if raw_id is None:
        raw_id = _field(doc, "doc_id", "")
    published = _field(doc, "published_at")
    return Doc(
        id=str(raw_id),
        title=str(_field(doc, "title", "") or ""),
        text=str(_field(doc, "text", "") or ""),
        url=str(_field(doc, "url", "") or ""),
        published_at=published if isinstance(published, datetime) else None,
        source=str(_field(doc, "source", "") or ""),
    )


def normalize(text: str) -> str:
    """Case-, accent- and punctuation-insensitive form used for shingling."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_WORD.findall(text))


def words(text: str) -> list[str]:
    """Case- and accent-folded word tokens (any script)."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return (_ASCII_WORD if folded.isascii() else _WORD).findall(folded)


def content_words(tokens: list[str]) -> list[str]:
    """Tokens worth weighting: two characters or more, not an English stop word."""
    return [t for t in tokens if len(t) > 1 and t not in _STOP]


def is_content_word(token: str) -> bool:
    """`content_words` for one token."""
    return len(token) > 1 and token not in _STOP


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def lead(doc: Doc, n: int = LEAD_SENTENCES) -> str:
    """Title plus the first sentences: where news writing names who, what and where."""
    parts = sentences(doc.text)
    head = [doc.title] if doc.title and not (parts and parts[0].startswith(doc.title)) else []
    return "\n".join(head + parts[:n])


def entities(text: str) -> list[str]:
    """Capitalised words and numbers: a stand-in for named entities without a tagger.

    Two layoffs on the same day differ in company names and head counts, not in
    vocabulary, so these tokens carry most of the evidence that separates
    near-miss events. Possessives are folded ("OpenAI's" -> "openai").

    Sentences split at whitespace, which no token contains, so the names of the
    whole text are those of its sentences in order: it is scanned in one pass.
    """
    return [e for e in map(_token_entity, filter(None, _ENTITY_SCAN.findall(text))) if e is not None]


def _lead_cut(text: str, n: int) -> tuple[str | None, int]:
    """(first sentence, offset where the first ``n`` sentences of ``sentences(text)`` end)."""
    first, count, pos = None, 0, 0
    if n <= 0:
        parts = sentences(text)
        return (parts[0] if parts else None), 0
    for match in _SENTENCE_END.finditer(text):
        piece = text[pos : match.start()].strip()
        if piece:
            first = piece if first is None else first
            count += 1
            if count == n:
                return first, match.start()
        pos = match.end()
    if first is None:
        first = text[pos:].strip() or None
    return first, len(text)


def lead_and_body_entities(doc: Doc, n: int = LEAD_SENTENCES) -> tuple[list[str], list[str]]:
    """``entities(lead(doc, n))`` and ``entities(doc.full_text)``, scanning the text once.

    Only the first ``n`` sentences are split off (the lead); the rest is scanned whole
    (see `entities`).
    """
    first, cut = _lead_cut(doc.text, n)
    head = entities(doc.title) if doc.title and not (first is not None and first.startswith(doc.title)) else []
    lead_names = head + entities(doc.text[:cut])
    return lead_names, lead_names + entities(doc.text[cut:])


@lru_cache(maxsize=1 << 16)
def _token_entity(token: str) -> str | None:
    """The name a token stands for ("#" + digits for a number), or None; tokens repeat, so cached."""
    first = token[0]
    if first.isdigit():
        number = token.rstrip(".-'’").replace(",", "")
        return "#" + number if len(number) >= 2 else None  # single digits are mostly dates and counts
    if not first.isupper():
        return None
    token = _POSSESSIVE.sub("", token).rstrip(".-'’")
    if len(token) < 2:
        return None
    low = token.casefold()
    if low in _STOP or low in _CALENDAR:
        return None
    return low
