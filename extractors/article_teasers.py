"""Drop other stories' teasers that sites place inside the story body.

News sites break a story with links to their other stories: a single
line ("Related: <headline>", "Also on <site>: <headline>") or a small
block under a label ("DON'T MISS", "Most read in world news") followed by
a few headlines, after which the story goes on. Both have a shape no
story paragraph has: a recommendation label followed by headline-length
lines. A block is only cut when story prose follows it, so a list the
story itself introduces at its end is left to the trailing-section rules.
"""
from __future__ import annotations

import re

# "Related: headline" (the label and a colon, then the teaser). "Read more:"
# lines are already boilerplate; "Also read:" and "See also:" are left out
# because sites as often use them for the story's own further reading.
_TEASER_LINE = re.compile(
    r"^[-–•*>»\[\s]*((related( posts?| articles?| stories| story| reading| content| coverage)?|see more)\s*:\s*\w"
    r"|also on \w+\.\w+\b)",
    re.I,
)
TEASER_LINE_MAX_WORDS = 25
# A label that opens a block of other stories' headlines.
_BLOCK_LABEL = re.compile(
    r"^[-•*#\s]*(don'?t miss|most (read|popular|viewed)( .{0,40})?|related|read more|more stories|recommended"
    r"|trending|popular|more|see more)\s*[:.…!]*\s*$",
    re.I,
)
BLOCK_MAX_LINES = 6  # a teaser block holds a few headlines, not a section
HEADLINE_MAX_WORDS = 20
_PROSE_WORDS = 15
_SENTENCE_END = re.compile(r"[.!?\"”’)]$")


def is_teaser_line(line: str) -> bool:
    """True for a one-line teaser of another story ("Related: ...")."""
    stripped = line.strip()
    return len(stripped.split()) <= TEASER_LINE_MAX_WORDS and bool(_TEASER_LINE.match(stripped))


def _is_prose(line: str) -> bool:
    return len(line.split()) >= _PROSE_WORDS and bool(_SENTENCE_END.search(line.strip()))


def cut_teaser_blocks(lines: list[str]) -> list[str]:
    """Remove a label and the 1-6 headline lines under it when story prose follows."""
    content = [i for i, line in enumerate(lines) if line.strip()]
    drop: set[int] = set()
    j = 1  # a label on the first line opens the page, not a block inside the story
    while j < len(content):
        if not _BLOCK_LABEL.match(lines[content[j]].strip()):
            j += 1
            continue
        end = j + 1
        while end < len(content) and end - j <= BLOCK_MAX_LINES:
            line = lines[content[end]]
            if _is_prose(line) or len(line.split()) > HEADLINE_MAX_WORDS:
                break
            end += 1
        run = end - j - 1
        if 1 <= run <= BLOCK_MAX_LINES and end < len(content) and _is_prose(lines[content[end]]):
            drop.update(content[j:end])
            j = end
        else:
            j += 1
    return [line for i, line in enumerate(lines) if i not in drop]


def drop_teasers(lines: list[str]) -> list[str]:
    """Both rules: teaser blocks first, then single teaser lines."""
    return [line for line in cut_teaser_blocks(lines) if not is_teaser_line(line)]
