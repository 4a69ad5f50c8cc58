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

from lxml.html import HtmlElement

_HEADINGS = ("h2", "h3", "h4")
HEADING_MAX_WORDS = 15
FOLLOWER_MIN_WORDS = 8  # the block after the heading must open with prose
MAX_WRAPPERS = 3  # containers a heading may sit in alone
MAX_SPACERS = 3  # empty elements between a heading and its paragraph
_PREFIX = 60
_VISIBLE = ".//text()[not(ancestor::script or ancestor::style or ancestor::noscript)]"
# Page chrome, and cards: a heading inside a link or a list item is another page's teaser.
_CHROME = "ancestor::header or ancestor::nav or ancestor::aside or ancestor::footer or ancestor::form or ancestor::a or ancestor::li"
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\xa0"), " ")
_KEY = re.compile(r"[\W_]+")


def _norm(text: str) -> str:
    return " ".join(text.translate(_INVISIBLE).split())


def _key(text: str) -> str:
    """Letters and digits only: "9 th Century" and "# 9th century" are the same heading."""
    return _KEY.sub("", text).lower()


def _visible(node: HtmlElement) -> str:
    return _norm(" ".join(node.xpath(_VISIBLE)))


def _outer_wrapper(node: HtmlElement) -> HtmlElement:
    for _ in range(MAX_WRAPPERS):
        parent = node.getparent()
        if parent is None or parent.tag in ("body", "html") or len(parent) != 1:
            break
        if (parent.text or "").strip() or (node.tail or "").strip():
            break
        node = parent
    return node


def _follower(heading: HtmlElement) -> str:
    """Opening prose of the block right after `heading` (past its wrapper and spacers), or ""."""
    near = _outer_wrapper(heading).getnext()
    for _ in range(MAX_SPACERS):
        if near is None or (isinstance(near.tag, str) and _visible(near)):
            break
        near = near.getnext()
    if near is None or not isinstance(near.tag, str) or near.tag in _HEADINGS:
        return ""
    text = _visible(near)
    first = next((p for p in near.iter("p", "li")), near) if near.tag not in ("p", "li") else near
    opening = _visible(first)
    if len(opening.split()) < FOLLOWER_MIN_WORDS or not text.startswith(opening[:_PREFIX]):
        return ""
    return opening


def _is_present(key: str, lines: set[str]) -> bool:
    """The heading is a line of the text already, give or take a number or a marker ("1.", "#")."""
    return any(line == key or (line.endswith(key) or line.startswith(key)) and len(line) - len(key) <= 4 for line in lines)


def restore_headings(tree: HtmlElement, text: str) -> str:
    """`text` with each dropped heading inserted before the line its section starts with."""
    lines = text.split("\n")
    starts: dict[str, int] = {}
    for i, line in enumerate(lines):
        key = _norm(line).lstrip("- ")[:_PREFIX]
        if len(key) >= 20:
            starts.setdefault(key, i)
    present = {_key(line) for line in lines}
    insert: dict[int, str] = {}
    for heading in tree.iter(*_HEADINGS):
        if heading.xpath(_CHROME):
            continue
        title = _visible(heading)
        if not title or len(title.split()) > HEADING_MAX_WORDS or _is_present(_key(title), present):
            continue
        follower = _follower(heading)
        at = starts.get(follower[:_PREFIX]) if follower else None
        if at and at not in insert:  # never before the first line: that is the page's header
            insert[at] = title
    if not insert:
        return text
    out = []
    for i, line in enumerate(lines):
        if i in insert:
            out.append(insert[i])
        out.append(line)
    return "\n".join(out)
