"""Drop a second copy of a passage the page renders twice.

Some templates ship the story body twice (a desktop and a mobile variant,
a hidden copy for a tab or a print view); a reader sees one, but both
reach the text. Single repeated lines are left alone (a chorus, a
repeated call-out, the same label in two sections of a meal plan): only
a run of several consecutive lines that repeats an earlier run and holds
real prose is a copy.
"""
from __future__ import annotations

import re

MIN_RUN_LINES = 3
MIN_RUN_PROSE_WORDS = 100  # the copied run must hold this many words in sentence-length lines
_PROSE_WORDS = 15
_SENTENCE_END = re.compile(r"[.!?\"”’)]$")


def _prose_words(line: str) -> int:
    words = len(line.split())
    return words if words >= _PROSE_WORDS and _SENTENCE_END.search(line) else 0


def _longest_earlier_copy(lines: list[str], at: int, seen: dict[str, list[int]]) -> int:
    """Length of the longest run starting at `at` that repeats a run ending before `at`."""
    best = 0
    for start in seen.get(lines[at], ()):
        if start >= at:
            break
        length = 0
        while at + length < len(lines) and start + length < at and lines[start + length] == lines[at + length]:
            length += 1
        best = max(best, length)
    return best


def drop_repeated_passages(lines: list[str]) -> list[str]:
    """`lines` without runs that copy an earlier run of at least MIN_RUN_LINES lines of prose."""
    content = [i for i, line in enumerate(lines) if line.strip()]
    norm = [" ".join(lines[i].split()) for i in content]
    seen: dict[str, list[int]] = {}
    for n, line in enumerate(norm):
        seen.setdefault(line, []).append(n)
    drop: set[int] = set()
    at = 0
    while at < len(norm):
        run = _longest_earlier_copy(norm, at, seen)
        if run >= MIN_RUN_LINES and sum(_prose_words(line) for line in norm[at : at + run]) >= MIN_RUN_PROSE_WORDS:
            drop.update(content[at : at + run])
            at += run
        else:
            at += 1
    return [line for i, line in enumerate(lines) if i not in drop]
