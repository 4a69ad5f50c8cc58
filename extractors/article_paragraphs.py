"""A second, structural candidate: the page's story paragraphs in order.

Some sites split one story into several containers around ads and
newsletter boxes; trafilatura then keeps only the first part. Collecting
every paragraph that sits beside long prose paragraphs recovers the rest
without pulling in menus, which rarely contain sentence-length `<p>`s.
"""
from __future__ import annotations

import re

from lxml.html import HtmlElement

from .article_words import words as _words

_CHROME = re.compile(r"comment|related|newsletter|promo|share|social|footer|sidebar|recirc|popular|trending|subscribe|caption|credit", re.I)
_PARAS = "//p[not(ancestor::nav or ancestor::footer or ancestor::aside or ancestor::header or ancestor::figure or ancestor::form)]"
_VISIBLE = ".//text()[not(ancestor::script or ancestor::style or ancestor::noscript)]"
LONG_PARAGRAPH_WORDS = 20
MAX_LINK_SHARE = 0.5  # a paragraph that is mostly links is a menu entry or a teaser


def _visible_text(node: HtmlElement) -> str:
    """Text a reader sees: inline <script> (ad and login widgets) is not prose."""
    return " ".join(" ".join(node.xpath(_VISIBLE)).split())


def _mostly_links(node: HtmlElement, text: str) -> bool:
    words = _words(text)
    linked = _words(" ".join(node.xpath(".//a//text()")))
    return words > 0 and linked >= MAX_LINK_SHARE * words


def _in_chrome(node: HtmlElement) -> bool:
    for anc in node.iterancestors():
        marker = f"{anc.get('class', '')} {anc.get('id', '')}"
        if marker.strip() and _CHROME.search(marker):
            return True
    return False


def _signature(node: HtmlElement) -> tuple[str, str]:
    return node.tag, " ".join(sorted((node.get("class") or "").split()))


def prose_paragraphs(tree: HtmlElement, found: str) -> str:
    """Paragraphs from containers shaped like the one holding `found`, in page order.

    Split bodies repeat the same container (tag and classes) between ads;
    teasers of other stories live in differently shaped containers, so
    matching the signature keeps the former and drops the latter.
    """
    paras = [(p, _visible_text(p)) for p in tree.xpath(_PARAS)]
    anchors = {
        _signature(p.getparent())
        for p, text in paras
        if _words(text) >= LONG_PARAGRAPH_WORDS and text[:80] in found
    }
    kept = [
        text for p, text in paras
        if text and p.getparent() is not None and _signature(p.getparent()) in anchors
        and not _in_chrome(p) and not _mostly_links(p, text)
    ]
    return "\n".join(dict.fromkeys(kept))
