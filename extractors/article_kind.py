"""Decide what a page turned out to be: article, paywalled, empty or listing.

The caller falls back to the feed summary for anything but "article", so
the rules lean towards "article" whenever a real body of text was found:
a subscriber page that still ships its full text is an article to us.
"""
from __future__ import annotations

import re
from typing import Literal

from lxml.html import HtmlElement

from .article_words import text_words, words
from .metadata import ARTICLE_TYPES, LISTING_TYPES, WEAK_LISTING_TYPES, PageMeta

PageKind = Literal["article", "paywalled", "empty", "not_article"]

# Words shown in place of the body when the reader lacks a subscription.
_PAYWALL_TEXT = re.compile(
    r"(subscribe|subscription|subscribers?|sign in|log in|register)\b[^.\n]{0,80}\b"
    r"(to (continue|keep) reading|to read (the|this) (full|whole|rest)|to unlock|for full access|only)"
    r"|(this|the) (article|story|content) is (for|available to|reserved for|exclusive to) (paid |premium )?subscribers"
    r"|already a subscriber\?|you have reached your (free )?(article )?limit"
    r"|continue reading (with|by) (a |an )?subscri",
    re.I,
)
_PAYWALL_CLASS = '//*[contains(translate(@class,"PAYWL","paywl"),"paywall") or contains(@class,"piano-") or contains(@class,"subscriber-only") or contains(@class,"premium-content") or @id="paywall"]'
# A real article body: a few hundred words in sentences.
ARTICLE_MIN_WORDS = 150
LISTING_LINK_DENSITY = 0.5


def link_density(tree: HtmlElement) -> float:
    """Share of visible body text that sits inside links."""
    body = tree.find(".//body")
    root = body if body is not None else tree
    total = words(" ".join(root.xpath(".//text()[not(ancestor::script) and not(ancestor::style)]")))
    if total == 0:
        return 0.0
    linked = words(" ".join(root.xpath(".//a//text()")))
    return linked / total


def is_paywalled(tree: HtmlElement, meta: PageMeta, text: str) -> bool:
    """True when the publisher withholds the body from us."""
    if text_words(text or "") >= 2 * ARTICLE_MIN_WORDS:
        return False  # the full text is there anyway
    if meta.accessible_for_free is False:
        return True
    if tree.xpath(_PAYWALL_CLASS):
        return True
    page_text = " ".join(tree.xpath("//body//text()[not(ancestor::script) and not(ancestor::style)]"))
    return bool(_PAYWALL_TEXT.search(page_text))


def is_listing(tree: HtmlElement, meta: PageMeta, text: str, url: str) -> bool:
    """True for index, tag, search and home pages: many links, no story."""
    if meta.ld_types & ARTICLE_TYPES or meta.og_type == "article":
        return False
    words = text_words(text or "")
    if meta.ld_types & LISTING_TYPES and words < 3 * ARTICLE_MIN_WORDS:
        return True
    if words >= ARTICLE_MIN_WORDS:
        return False
    # Short text: a listing if the page is mostly links or says it is a site front.
    return meta.og_type == "website" or bool(meta.ld_types & WEAK_LISTING_TYPES) or link_density(tree) >= LISTING_LINK_DENSITY


def classify(tree: HtmlElement, meta: PageMeta, text: str, url: str) -> PageKind:
    """The page kind for an extracted text and its page."""
    if is_paywalled(tree, meta, text):
        return "paywalled"
    if not text.strip():
        return "empty"
    if is_listing(tree, meta, text, url):
        return "not_article"
    return "article"
