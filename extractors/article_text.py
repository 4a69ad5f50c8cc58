"""Choose the article body: trafilatura first, a second opinion when implausible.

trafilatura is the best single extractor we measured, but it sometimes
returns navigation menus, or only the first of several body sections
when a site splits the story around ads. A second run is costly, so it
only happens when the first result looks wrong, and a plausibility
score picks between the candidates.
"""
from __future__ import annotations

from functools import lru_cache

import trafilatura
from lxml.html import HtmlElement

from .article_clean import clean_text
from .article_layout import is_flattened_table, story_cell
from .article_headings import restore_headings
from .article_merge import dropped_inside_body, merge_interior
from .article_paragraphs import prose_paragraphs
from .article_words import WORD as _WORD, text_words, words as _words
from .metadata import PageMeta

# Comments are not part of the story. Fast mode skips trafilatura's own
# readability/justext comparison: on most pages that comparison only costs
# time or swaps a good body for a longer, noisier one, so it runs only when
# the fast result holds a small share of the page's text (see `retry_when_small`).
_BASE = dict(include_comments=False, include_tables=True, fast=True, output_format="txt")
SMALL_SHARE = 0.2  # a result below this share of the page's unlinked words gets a retry
_PROSE_XPATH = "//p[not(ancestor::nav or ancestor::footer or ancestor::aside or ancestor::header)]"
PROSE_MIN_WORDS = 20  # a paragraph this long is story text, not a caption or teaser
SENTENCE_LINE_WORDS = 8  # lines shorter than this are menu entries, labels, credits
BLOB_MIN_WORDS = 200
BLOB_LINE_SHARE = 0.8  # one line holding more than this share of the words is not a structured text


def _trafilatura(tree: HtmlElement, url: str, **options: bool) -> str:
    text = trafilatura.extract(tree, url=url or None, **{**_BASE, **options})
    return text or ""


class PageRuns:
    """trafilatura's text for one page, each set of options run at most once.

    Several checks may ask for the same mode (the small-share retry and the
    body merge both want recall mode); trafilatura works on a copy of the
    tree, so a second run would only repeat the first.
    """

    def __init__(self, tree: HtmlElement, url: str) -> None:
        self.tree, self.url = tree, url
        self._texts: dict[tuple[tuple[str, bool], ...], str] = {}

    def text(self, **options: bool) -> str:
        key = tuple(sorted(options.items()))
        if key not in self._texts:
            self._texts[key] = _trafilatura(self.tree, self.url, **options)
        return self._texts[key]


_HIDDEN = ("script", "style", "noscript")


def visible_texts(root: HtmlElement) -> list[str]:
    """Text nodes under `root` outside scripts, styles and noscript, in document order.

    The same nodes as `.//text()[not(ancestor::script or ...)]` at about half
    its cost: the ancestor test runs for every text node, while the hidden
    subtrees are few and can be collected once.
    """
    if next(root.iterancestors(*_HIDDEN), None) is not None:
        return []
    hidden: set[HtmlElement] = set()
    for node in root.iter(*_HIDDEN):
        hidden.update(node.iter())
    texts = []
    for piece in root.xpath(".//text()"):
        holder = piece.getparent()
        if piece.is_tail:  # a tail belongs to the element's parent
            holder = holder.getparent()
        if holder not in hidden:
            texts.append(piece)
    return texts


def unlinked_words(tree: HtmlElement) -> int:
    """Visible body words outside links: the most text an article body could hold."""
    body = tree.find(".//body")
    root = body if body is not None else tree
    total = _words(" ".join(visible_texts(root)))
    return total - _words(" ".join(root.xpath(".//a//text()")))


def could_be_small_share(text: str, tree: HtmlElement) -> bool:
    """Cheap pre-check: False when `text` surely holds enough of the page.

    Whitespace splitting is several times faster than counting \\w+ tokens;
    a page's \\w+ tokens never reach twice its whitespace tokens in practice
    (that would take every word to be hyphenated or abbreviated), so the
    exact count is only needed below that bound.
    """
    body = tree.find(".//body")
    root = body if body is not None else tree
    words = text_words(text)
    upper = len(root.text_content().split())
    if words >= SMALL_SHARE * 2 * upper:
        return False  # scripts only lower the bound: no need to count them
    upper -= sum(len(node.text_content().split()) for node in root.iter("script", "style", "noscript"))
    return words < SMALL_SHARE * 2 * upper


def is_small_share(text: str, page_words: int) -> bool:
    """True when a result holds too little of the page: a wrong, small block won."""
    return text_words(text) < SMALL_SHARE * page_words


def retry_when_small(text: str, runs: PageRuns) -> str:
    """Ask trafilatura again when fast mode kept a small share of the page.

    Full mode compares its pick with readability and jusText, which finds
    bodies fast mode misses (table, <font> and <br> layouts, odd markup).
    When that is still small, recall mode keeps bodies trafilatura files
    as page chrome, e.g. a story inside an unclosed <header>.
    """
    if not could_be_small_share(text, runs.tree):
        return text
    page_words = unlinked_words(runs.tree)
    if not is_small_share(text, page_words):
        return text
    text = runs.text(fast=False) or text
    if is_small_share(text, page_words):
        recall = runs.text(favor_recall=True)
        if text_words(recall) > text_words(text):
            text = recall
    return text


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def is_blob(text: str) -> bool:
    """True when one line holds most of a long text: trafilatura fell back to the page's bare text."""
    lines = _lines(text)
    if not lines or max(map(len, lines)) < 0.5 * len(text):
        return False  # cheap bound: no line is long enough to hold most of the words
    words = text_words(text)
    return words >= BLOB_MIN_WORDS and max(_words(line) for line in lines) > BLOB_LINE_SHARE * words


def restructure_blob(text: str, runs: PageRuns) -> str:
    """Swap a one-line blob for full or recall mode's text when either kept the paragraphs.

    When its extraction fails, trafilatura returns the body's bare text as
    a single line: menus, captions and story run together and no line rule
    can separate them. Another mode often finds the structured body; the
    one with more lines wins, and only if it is not a blob itself.
    """
    if not is_blob(text):
        return text
    best = max((runs.text(fast=False), runs.text(favor_recall=True)), key=lambda t: len(_lines(t)))
    return best if len(_lines(best)) > 1 and not is_blob(best) else text


@lru_cache(maxsize=32)
def prose_share(text: str) -> float:
    """Share of words in sentence-length lines; low for menus and link lists (remembered per text)."""
    total = text_words(text)
    if not total:
        return 0.0
    prose = sum(n for n in (_words(line) for line in text.splitlines()) if n >= SENTENCE_LINE_WORDS)
    return prose / total


def page_prose_words(tree: HtmlElement) -> int:
    """Words in long paragraphs outside page chrome: what an article body holds."""
    total = 0
    for para in tree.xpath(_PROSE_XPATH):
        n = _words(para.text_content())
        if n >= PROSE_MIN_WORDS:
            total += n
    return total


def _shingles(text: str) -> set[tuple[str, ...]]:
    tokens = _WORD.findall(text.lower())
    return {tuple(tokens[i : i + 4]) for i in range(len(tokens) - 3)}


def covers(longer: str, shorter: str, share: float = 0.8) -> bool:
    """True when `longer` contains most of `shorter`: same story, more of it."""
    small = _shingles(shorter)
    return bool(small) and len(small & _shingles(longer)) >= share * len(small)


def _pick_by_shape(first: str, *others: str) -> str:
    """Among candidates, the one with the most words in sentence-shaped lines."""
    scored = [(prose_share(c) * text_words(c), -i, c) for i, c in enumerate((first, *others)) if prose_share(c) >= 0.5]
    return max(scored)[2] if scored else first


def main_text(tree: HtmlElement, url: str, meta: PageMeta) -> str:
    """The best article text found on the page ("" if none)."""
    runs = PageRuns(tree, url)
    text = restructure_blob(retry_when_small(runs.text(), runs), runs)
    if not text or is_flattened_table(text):
        text = story_cell(tree) or text
    if text and prose_share(text) < 0.5:
        # Menus or link lists won: ask again, stricter and with trafilatura's own fallbacks.
        text = _pick_by_shape(text, runs.text(favor_precision=True), runs.text(fast=False))
    else:
        words = text_words(text)
        if words < 0.6 * page_prose_words(tree):
            paragraphs = prose_paragraphs(tree, text)
            if _words(paragraphs) >= 1.3 * words and covers(paragraphs, text):
                text = paragraphs
    if dropped_inside_body(tree, text):
        text = merge_interior(text, runs.text(favor_recall=True))
    text = restore_headings(tree, text)
    return clean_text(text, meta)
