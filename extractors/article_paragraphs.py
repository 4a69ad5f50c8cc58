"""A second, structural candidate: the page's story paragraphs in order.

Some sites split one story into several containers around ads and
newsletter boxes; trafilatura then keeps only the first part. Collecting
every paragraph that sits beside long prose paragraphs recovers the rest
without pulling in menus, which rarely contain sentence-length `<p>`s.
"""
from __future__ import annotations

import re

from lxml.html import HtmlElement

_WORD = re.compile(r"\w+")
_CHROME = re.compile(r"comment|related|newsletter|promo|share|social|footer|sidebar|recirc|popular|trending|subscribe|caption|credit", re.I)
_PARAS = "//p[not(ancestor::nav or ancestor::footer or ancestor::aside or ancestor::header or ancestor::figure or ancestor::form)]"
LONG_PARAGRAPH_WORDS = 20


def _in_chrome(node: HtmlElement) -> bool:
    for anc in node.iterancestors():
        marker = f"{anc.get('class', '')} {anc.get('id', '')}"
        if marker.strip() and _CHROME.search(marker):
            return True
    return False


def prose_paragraphs(tree: HtmlElement) -> str:
    """Paragraph texts whose container also holds long prose, in page order."""
    paras = [(p, " ".join(p.text_content().split())) for p in tree.xpath(_PARAS)]
    long_parents = {id(p.getparent()) for p, text in paras if len(_WORD.findall(text)) >= LONG_PARAGRAPH_WORDS}
    kept = [text for p, text in paras if text and id(p.getparent()) in long_parents and not _in_chrome(p)]
    return "\n".join(dict.fromkeys(kept))
