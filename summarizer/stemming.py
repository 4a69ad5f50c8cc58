"""Fold English inflections (plurals, -ed, -ing) so that short texts share word forms.

A blurb says "earthquake kills 5", the article "the earthquakes killed five": the
same words, different forms. These are steps 1 and 5a of Porter's stemmer (1980), the
parts that remove inflections (derivational suffixes are left alone: "government" and
"govern" stay apart). Pure Python, no dependency; tokens are folded once per
distinct token (`fold_ids`), never once per occurrence.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Iterable

import numpy as np

_VOWELS = frozenset("aeiou")
LEVEL = 3  # experiment: 1 plurals, 2 + -ed/-ing/y, 3 + final e


def _is_consonant(word: str, i: int) -> bool:
    ch = word[i]
    if ch in _VOWELS:
        return False
    if ch == "y":
        return i == 0 or not _is_consonant(word, i - 1)
    return True


def _measure(stem: str) -> int:
    """Porter's m: the number of vowel-consonant sequences in the stem."""
    m, previous_vowel = 0, False
    for i in range(len(stem)):
        consonant = _is_consonant(stem, i)
        if consonant and previous_vowel:
            m += 1
        previous_vowel = not consonant
    return m


def _has_vowel(stem: str) -> bool:
    return any(not _is_consonant(stem, i) for i in range(len(stem)))


def _ends_cvc(stem: str) -> bool:
    """Consonant-vowel-consonant, the last not w, x or y ("hop", not "snow")."""
    n = len(stem)
    return (n >= 3 and _is_consonant(stem, n - 3) and not _is_consonant(stem, n - 2)
            and _is_consonant(stem, n - 1) and stem[-1] not in "wxy")


@lru_cache(maxsize=1 << 17)
def stem(word: str) -> str:
    """Porter steps 1 (1a plurals, 1b -ed/-ing, 1c y -> i) and 5a (final e) of a lower-case word.

    Words of three letters or fewer, and words with anything but ASCII letters, are
    returned as they are.
    """
    if len(word) <= 3 or not (word.isascii() and word.isalpha()):
        return word
    # 1a: plurals
    if word.endswith("sses"):
        word = word[:-2]
    elif word.endswith("ies"):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    if LEVEL == 1:
        return word
    # 1b: -eed, -ed, -ing
    if word.endswith("eed"):
        if _measure(word[:-3]) > 0:
            word = word[:-1]
    else:
        for suffix in ("ed", "ing"):
            if word.endswith(suffix) and _has_vowel(word[: -len(suffix)]):
                word = word[: -len(suffix)]
                if word.endswith(("at", "bl", "iz")):
                    word += "e"
                elif len(word) >= 2 and word[-1] == word[-2] and _is_consonant(word, len(word) - 1) \
                        and word[-1] not in "lsz":
                    word = word[:-1]
                elif _measure(word) == 1 and _ends_cvc(word):
                    word += "e"
                break
    # 1c: y -> i
    if word.endswith("y") and _has_vowel(word[:-1]):
        word = word[:-1] + "i"
    if LEVEL == 2:
        return word
    # 5a: a final e goes where 1b may have taken it ("charged" and "charges" -> "charg")
    if word.endswith("e"):
        m = _measure(word[:-1])
        if m > 1 or (m == 1 and not _ends_cvc(word[:-1])):
            word = word[:-1]
    return word


def fold_ids(tokens: Iterable[str]) -> np.ndarray:
    """For each token (in id order), the number of its stem (stems numbered as first seen)."""
    numbers: dict[str, int] = {}
    out = [numbers.setdefault(stem(t), len(numbers)) for t in tokens]
    return np.asarray(out, dtype=np.int64)
