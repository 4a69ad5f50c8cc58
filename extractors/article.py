"""Public entry point: the main text and metadata of one article page.

`extract_article` never raises on bad input: it returns None only when
there is no page at all, and otherwise labels what it found through
`page_kind` so the caller can fall back to the feed summary.
"""
from __future__ import annotations

import logging
import re

from lxml.html import HtmlElement, document_fromstring

from .article_parser import load_html

from .article_kind import classify
from .article_text import main_text
from .encoding import decode_html
from .metadata import extract_metadata, guess_date
from .models import ExtractedArticle

log = logging.getLogger(__name__)

_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.I)
_MAX_BYTES = 20_000_000  # larger bodies are not articles; parsing them only costs time
# Markup that only HTML pages carry: enough to parse a page whose head is broken.
_HTML_TAG = re.compile(r"<(body|p|div|br|table|td|font|article|h[1-6])\b", re.I)


def _parse_lenient(html: str) -> HtmlElement | None:
    """Parse with lxml alone when trafilatura's loader rejects the page.

    trafilatura drops a document whose first 50 characters lack "html" and
    whose tree is small, e.g. one that opens with a truncated
    `<!DOCTYPE htm` and has no <html> or <head>; the body is still there.
    """
    if not _HTML_TAG.search(html):
        return None
    try:
        return document_fromstring(html)
    except Exception:
        log.debug("unparseable page", exc_info=True)
        return None


def _adopt_trailing_roots(tree: HtmlElement) -> None:
    """Move content parsed after a premature `</html>` back into the body.

    Some templates close `</body></html>` after the site header and go on
    with the whole article. Browsers render that text inside the body;
    lxml starts a second `<html>` root beside the first, which trafilatura
    and our own checks never look at, so the page seemed to hold only its
    menus.
    """
    body = tree.find("body")
    if body is None:
        return
    for extra in list(tree.itersiblings()):
        if not isinstance(extra.tag, str):
            continue
        holder = extra.find("body") if extra.tag == "html" else None
        for child in list(holder if holder is not None else extra):
            if child.tag != "head":
                body.append(child)


def _parse(html: str | bytes) -> HtmlElement | None:
    """Decode and parse; None when the input holds no HTML document."""
    if isinstance(html, bytes):
        if b"\x00" in html[:1024] and not html.startswith((b"\xff\xfe", b"\xfe\xff")):
            return None  # binary (image, PDF, archive) rather than markup
        html = decode_html(html[:_MAX_BYTES])
    if not isinstance(html, str) or not html or html.isspace():
        return None
    html = _XML_DECL.sub("", html, count=1)
    if "<" not in html:
        return None
    try:
        tree = load_html(html)
    except Exception:
        log.debug("unparseable page", exc_info=True)
        tree = None
    if tree is None or not len(tree):
        tree = _parse_lenient(html)
    if tree is not None:
        _adopt_trailing_roots(tree)
    return tree if tree is not None and len(tree) else None


def extract_article(html: str | bytes, url: str) -> ExtractedArticle | None:
    """Extract text and metadata from one fetched page.

    Returns None only for input that is not an HTML document at all
    (empty, binary); pages without a usable body come back with
    `page_kind` "empty", "paywalled" or "not_article".
    """
    try:
        tree = _parse(html)
        if tree is None:
            return None
        meta = extract_metadata(tree, url)
        text = main_text(tree, url, meta)
        kind = classify(tree, meta, text, url)
        published = meta.published_at or guess_date(tree, url)
    except Exception:  # a single odd page must not break a nightly batch
        log.warning("article extraction failed for %s", url, exc_info=True)
        return None
    return ExtractedArticle(
        text=text,
        title=meta.title,
        author=meta.author,
        published_at=published,
        site_name=meta.site_name,
        language=meta.language,
        canonical_url=meta.canonical_url,
        image=meta.image,
        page_kind=kind,
    )
