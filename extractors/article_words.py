"""Word counts for the extraction checks, each candidate text counted once.

Several checks ask for the \\w+ token count of the same text (the retry
gate, the blob test, the shape test, the paragraph fallback, the page
kind). The regex is the cost, not the lookup, so whole texts are counted
once and remembered; short pieces (lines, paragraphs) are counted directly.
"""
from __future__ import annotations

import re
from functools import lru_cache

WORD = re.compile(r"\w+")


def words(text: str) -> int:
    """Number of \\w+ tokens, the unit every extraction threshold uses."""
    return len(WORD.findall(text))


@lru_cache(maxsize=32)
def text_words(text: str) -> int:
    """`words` of a whole candidate text, remembered (a page's checks share a handful of texts)."""
    return words(text)
