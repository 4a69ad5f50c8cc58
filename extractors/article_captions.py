"""Recognise image captions that reach the text as lines of their own.

trafilatura keeps a `<figcaption>` or a caption `<p>` under a photo as a
line of the body. A reader sees it under the picture, not as part of the
story, and the caption gives itself away by its credit ("... Photo:
Jane Doe", "(Picture credit: Getty)"), by a stock agency's name, or by a
label pointing at the picture ("Above: ...", "Left: ... Right: ...").
Credit-only lines are handled with the other boilerplate shapes; this
module covers the captions that carry a description before the credit.
A long text closed by a credit is a card's blurb under its photo (a FAQ
answer, a teaser the page keeps): the text stays, the credit goes.
"""
from __future__ import annotations

import re

from .article_words import words as _words

# A description of >= 4 words, then a credit closing the line: "Photo: Name",
# "Photo by: 'Name'.", "(Picture credit: Getty)", "Credit: Name". The credited
# name starts with a capital or a quote, which keeps sums ("tax credit: up to")
# and prose out.
_CREDIT_AT_END = re.compile(
    r"^(?P<caption>\W*\w.*?)[\s(|]\(?"
    r"(?i:(?:photo|image|picture|photograph)(?:\s+credit)?|credit)(?i:\s+by)?\s*:\s*"
    r"['\"‘“]?[A-Z][\w'’.&/ -]{1,60}['\"’”]?\s*\)?\.?\s*\|?$"
)
_MIN_CAPTION_WORDS = 4
_MAX_CAPTION_WORDS = 30  # longer text before a credit is a blurb: keep it, drop the credit
# A stock agency's name on a short line is a credit, whatever wording surrounds it.
_AGENCY = re.compile(r"\b(?:getty images|shutterstock|istock(?:photo)?|thinkstock)\b", re.I)
_AGENCY_MAX_WORDS = 8
# A credit line of its own that the boilerplate shapes ("Photo by ...", "Image: ...") miss.
_CREDIT_LINE = re.compile(
    r"^\(?(?:(?:photo|image|picture|photograph|illustration)s?\s+(?:from|courtesy(?: of)?)|courtesy of)\s+\S", re.I
)
_CREDIT_LINE_MAX_WORDS = 12
# A label that points at the picture: "Above: ...", "Left: ... Right: ...", "Pictured: ...".
_POINTER = re.compile(r"^(?:above|below|left|right|pictured|clockwise from (?:top )?left)\s*:\s*\w", re.I)


def strip_caption(line: str) -> str | None:
    """None for an image caption; the line without its photo credit for a long blurb; else the line.

    Captions: a description closed by a credit, a short line naming a
    stock agency, a short "Image from ..." / "Photo courtesy of ..." credit,
    a label pointing at the picture.
    """
    text = line.strip()
    if not text:
        return line
    if _POINTER.match(text) or (_AGENCY.search(text) and len(text.split()) <= _AGENCY_MAX_WORDS):
        return None
    if _CREDIT_LINE.match(text) and len(text.split()) <= _CREDIT_LINE_MAX_WORDS:
        return None
    match = _CREDIT_AT_END.match(text) if ":" in text else None
    if not match:
        return line
    words = _words(match["caption"])
    if words < _MIN_CAPTION_WORDS:
        return line
    return None if words <= _MAX_CAPTION_WORDS else match["caption"].rstrip()


def strip_captions(lines: list[str]) -> list[str]:
    """The lines without image captions, and long blurbs without their photo credit."""
    return [kept for kept in map(strip_caption, lines) if kept is not None]
