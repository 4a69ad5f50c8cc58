"""Put back headings, lists and tables that fast mode dropped inside the body.

When a story is split across sections, trafilatura's main pass takes one
of them and its recovery pass collects the others' paragraphs, but outside
recall mode not their lists or headings, so bullet points vanish from the
middle of the text. Recall mode keeps them, but also keeps more page around
the story, so only what it found *between* the first and last line of the
chosen text is taken over; the chosen text's own ends stay where they were.
"""
from __future__ import annotations

from lxml.html import HtmlElement

_STRUCTURE = ("h2", "h3", "h4", "h5", "h6", "ul", "ol", "table")  # a list stands for its items
_NOT_PROSE = {"h2", "h3", "h4", "h5", "h6", "li"}  # neighbours that cannot place a block in the body
NEIGHBOUR_MIN_WORDS = 8  # a neighbour this long is prose, and finding it in the text places the block in the body
_PREFIX = 60  # characters compared; long enough to be unique, short enough to survive inline markup
MAX_ADDED_SHARE = 1.0  # recall mode may at most double the text's prose (more is a second story, not dropped headings)
_ITEM = ("- ", "| ")  # trafilatura's text for a list item and a table row


def _norm(text: str) -> str:
    return " ".join(text.split())


def _first_text(node: HtmlElement) -> str:
    """The block's first run of text (a heading, a list's first item): enough to tell if the text holds it."""
    for piece in node.itertext():
        piece = _norm(piece)
        if piece:
            return piece
    return ""


def dropped_inside_body(tree: HtmlElement, text: str) -> bool:
    """True when a heading, list or table missing from `text` sits next to prose that is in it.

    This decides whether a recall-mode run is worth its cost: most pages
    lose nothing inside the body and never pay for it.
    """
    flat = _norm(text)
    if not flat:
        return False
    for node in tree.iter(*_STRUCTURE):
        block = _first_text(node)
        if not block or block[:_PREFIX] in flat:
            continue
        for near in (node.getprevious(), node.getnext()):
            if near is None or not isinstance(near.tag, str) or near.tag in _NOT_PROSE:
                continue
            neighbour = _norm(near.text_content())
            if len(neighbour.split()) >= NEIGHBOUR_MIN_WORDS and neighbour[:_PREFIX] in flat:
                return True
    return False


def _is_subsequence(short: list[str], long: list[str]) -> bool:
    rest = iter(long)
    return all(any(line == other for other in rest) for line in short)


def merge_interior(text: str, recall: str) -> str:
    """`recall`'s lines from `text`'s first line to its last, when they hold all of `text` in order.

    Anything else (other ends, reordered or rewritten lines, more new prose
    than the text holds) returns `text` unchanged.
    """
    chosen = [_norm(line) for line in text.splitlines() if line.strip()]
    wider = [_norm(line) for line in recall.splitlines() if line.strip()]
    if not chosen or not wider:
        return text
    try:
        start = wider.index(chosen[0])
        end = len(wider) - 1 - wider[::-1].index(chosen[-1])
    except ValueError:
        return text
    interior = wider[start : end + 1]
    if end < start or not _is_subsequence(chosen, interior):
        return text
    kept = set(chosen)
    added = [line for line in interior if line not in kept]
    # A second story between the chosen ends would be paragraphs; list items
    # and table rows are the blocks this merge exists for, so they are not capped.
    added_prose = sum(len(line.split()) for line in added if not line.startswith(_ITEM))
    if not added or added_prose > MAX_ADDED_SHARE * sum(len(line.split()) for line in chosen):
        return text
    return "\n".join(interior)

