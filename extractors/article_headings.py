"""Put back section headings that trafilatura dropped from inside the body.

trafilatura keeps a heading only when it sits in the container it chose;
on pages that wrap each heading in its own <div> (a "title-wrapper"), or
put spacer paragraphs around it, the sections' paragraphs survive but
their headings vanish. A heading is put back only right before the
paragraph that directly follows it on the page, and only when that
paragraph starts a line of the text (not the first): the heading then
opens one of the text's own sections, not a teaser or a sidebar.
"""
from __future__ import annotations

import re
from collections.abc import Iterator

from lxml.html import HtmlElement

_HEADINGS = ("h2", "h3", "h4", "h5", "h6")
HEADING_MAX_WORDS = 15
FOLLOWER_MIN_WORDS = 8  # the block after the heading must open with prose
MAX_WRAPPERS = 3  # containers a heading may sit in alone
MAX_SPACERS = 3  # empty elements between a heading and its paragraph
_PREFIX = 60
_SKIP = ("script", "style", "noscript", "template")
_VISIBLE = ".//text()[not(ancestor::script or ancestor::style or ancestor::noscript)]"
# Page chrome, and cards: a heading inside a link or a list item is another page's teaser.
_CHROME = ("header", "nav", "aside", "footer", "form", "a", "li")
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\xa0"), " ")
_KEY = re.compile(r"[\W_]+")


def _norm(text: str) -> str:
    if not text.isascii():  # the invisible characters are all non-ASCII; translate is the slow part
        text = text.translate(_INVISIBLE)
    return " ".join(text.split())


def _key(text: str) -> str:
    """Letters and digits only: "9 th Century" and "# 9th century" are the same heading."""
    return _KEY.sub("", text).lower()


def _visible(node: HtmlElement) -> str:
    return _norm(" ".join(node.xpath(_VISIBLE)))


def _outer_wrapper(node: HtmlElement) -> HtmlElement:
    """The outermost container holding only `node` (a "title-wrapper" <div>), or `node` itself."""
    for _ in range(MAX_WRAPPERS):
        parent = node.getparent()
        if parent is None or parent.tag in ("body", "html") or len(parent) != 1:
            break
        if (parent.text or "").strip() or (node.tail or "").strip():
            break
        node = parent
    return node


def _texts(node: HtmlElement) -> Iterator[str]:
    """Visible text pieces of `node` in order, lazily (a section's container can be the whole story)."""
    if not isinstance(node.tag, str) or node.tag in _SKIP:
        return
    if node.text:
        yield node.text
    for child in node:
        yield from _texts(child)
        if child.tail:
            yield child.tail


def _prefix(node: HtmlElement, size: int) -> str:
    """The first `size` characters of `node`'s visible text, whitespace collapsed."""
    parts: list[str] = []
    length = 0
    for piece in _texts(node):
        piece = _norm(piece)
        if piece:
            parts.append(piece)
            length += len(piece) + 1
            if length > size:
                break
    return " ".join(parts)[:size]


def _follower(heading: HtmlElement) -> str:
    """Opening prose of the block right after `heading` (past its wrapper and spacers), or ""."""
    near = _outer_wrapper(heading).getnext()
    for _ in range(MAX_SPACERS):
        if near is None or (isinstance(near.tag, str) and near.tag not in _SKIP and _prefix(near, 1)):
            break
        near = near.getnext()
    if near is None or not isinstance(near.tag, str) or near.tag in _HEADINGS or near.tag in _SKIP:
        return ""
    first = next((p for p in near.iter("p", "li")), near) if near.tag not in ("p", "li") else near
    opening = _visible(first)
    if len(opening.split()) < FOLLOWER_MIN_WORDS or _prefix(near, _PREFIX) != opening[:_PREFIX]:
        return ""
    return opening


def _bare(key: str) -> str:
    """A heading key without a leading number: "1cherryservers" and "cherryservers" match."""
    return key.lstrip("0123456789") or key


class _TextIndex:
    """The text's lines, with the lookups built only once a candidate heading needs them."""

    def __init__(self, text: str) -> None:
        self.lines = text.split("\n")
        self.verbatim = {" ".join(line.split()) for line in self.lines}
        self._keys: set[str] | None = None
        self._starts: dict[str, int] | None = None

    def holds(self, title: str) -> bool:
        if title in self.verbatim:
            return True
        if self._keys is None:
            # only lines short enough to be a heading (give or take a number) can match one
            short = (line for line in self.lines if len(line.split()) <= HEADING_MAX_WORDS + 2)
            self._keys = {_bare(_key(line)) for line in short}
        return _bare(_key(title)) in self._keys

    def line_starting(self, opening: str) -> int | None:
        if self._starts is None:
            self._starts = {}
            for i, line in enumerate(self.lines):
                key = _norm(line[: 4 * _PREFIX]).lstrip("- ")[:_PREFIX]
                if len(key) >= 20:
                    self._starts.setdefault(key, i)
        return self._starts.get(opening[:_PREFIX])


def restore_headings(tree: HtmlElement, text: str) -> str:
    """`text` with each dropped heading inserted before the line its section starts with."""
    index = _TextIndex(text)
    insert: dict[int, str] = {}
    for heading in tree.iter(*_HEADINGS):
        if " ".join(heading.text_content().split()) in index.verbatim:
            continue  # the common case, without the visible-text query
        if next(heading.iterancestors(*_CHROME), None) is not None:
            continue
        title = _visible(heading)
        if not title or len(title.split()) > HEADING_MAX_WORDS or index.holds(title):
            continue
        follower = _follower(heading)
        at = index.line_starting(follower) if follower else None
        if at and at not in insert:  # never before the first line: that is the page's header
            insert[at] = title
    if not insert:
        return text
    out: list[str] = []
    for i, line in enumerate(index.lines):
        if i in insert:
            out.append(insert[i])
        out.append(line)
    return "\n".join(out)
