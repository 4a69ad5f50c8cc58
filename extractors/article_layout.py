"""Story text from old table layouts: one cell, <font> runs and <br> breaks.

Pages built before CSS layout keep the menu in one table cell and the
story in another, with no <p> at all: paragraphs are `<br><br>` runs
inside <font>. trafilatura then returns the whole table flattened into
"| menu | story |" rows, or nothing. The cell that holds the most unlinked
words is the story; its <br> runs are its paragraph breaks.
"""
from __future__ import annotations

import copy

from lxml.html import HtmlElement

from .article_words import words as _words

LAYOUT_CELL_MIN_WORDS = 80  # a story cell holds at least a few sentences
LAYOUT_CELL_MAX_LINK_SHARE = 0.2  # menus and link lists are mostly links
_SKIP = ("script", "style", "noscript")


def _cell_text(cell: HtmlElement) -> str:
    """Visible text of a cell, one line per <br>-separated run."""
    cell = copy.deepcopy(cell)
    for node in list(cell.iter(*_SKIP)):
        node.drop_tree()
    for br in cell.iter("br"):
        br.tail = "\n" + (br.tail or "")
    lines = (" ".join(line.split()) for line in cell.text_content().split("\n"))
    return "\n".join(line for line in lines if line)


def story_cell(tree: HtmlElement) -> str:
    """Text of the innermost table cell that reads like a story ("" if none)."""
    best, best_words = "", 0
    for cell in tree.iter("td"):
        if cell.find(".//table") is not None or cell.find(".//p") is not None:
            continue  # an outer layout cell, or a modern page that has paragraphs
        text = _cell_text(cell)
        words = _words(text)
        if words < LAYOUT_CELL_MIN_WORDS or words <= best_words:
            continue
        linked = _words(" ".join(cell.xpath(".//a//text()")))
        if linked <= LAYOUT_CELL_MAX_LINK_SHARE * words:
            best, best_words = text, words
    return best


def is_flattened_table(text: str) -> bool:
    """True when the extracted text is mostly table rows ("| a | b |")."""
    lines = [line for line in text.splitlines() if line.strip()]
    return bool(lines) and sum(line.lstrip().startswith("|") for line in lines) >= 0.5 * len(lines)
