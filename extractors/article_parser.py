"""Parse a decoded page the way trafilatura does, into a tree that is cheaper to walk.

trafilatura's own loader parses with lxml.html's parser, whose element
classes are chosen by a Python method each time lxml hands an element to
Python (a few million times a night, mostly inside trafilatura's own
passes over its copies of the tree). This parser has the same options and
gives every element the plain `HtmlElement` class, looked up inside lxml:
the tree, and so every extracted text, is the same; only the special
classes for form fields (which nothing here uses) are gone. The steps
below mirror `trafilatura.utils.load_html` for a decoded string and use
its own repair helpers.
"""
from __future__ import annotations

import logging

from lxml import etree
from lxml.html import HtmlComment, HtmlElement, HtmlEntity, HTMLParser, HtmlProcessingInstruction, fromstring
from trafilatura.utils import is_dubious_html, repair_faulty_html

log = logging.getLogger(__name__)

# The options of trafilatura's HTML_PARSER.
_PARSER = HTMLParser(collect_ids=False, default_doctype=False, encoding="utf-8", remove_comments=True, remove_pis=True)
_PARSER.set_element_class_lookup(
    etree.ElementDefaultClassLookup(element=HtmlElement, comment=HtmlComment, pi=HtmlProcessingInstruction, entity=HtmlEntity)
)


def _from_bytes(html: str) -> HtmlElement | None:
    try:
        return fromstring(html.encode("utf8", "surrogatepass"), parser=_PARSER)
    except Exception as exc:
        log.debug("lxml could not parse the page as bytes: %s", exc)
        return None


def load_html(html: str) -> HtmlElement | None:
    """The page's tree, or None when it is not HTML (trafilatura's rejection rule)."""
    beginning = html[:50].lower()
    dubious = is_dubious_html(beginning)
    html = repair_faulty_html(html, beginning)
    tree = None
    from_bytes = False
    try:
        tree = fromstring(html, parser=_PARSER)
    except ValueError:  # a Unicode string with an encoding declaration
        tree = _from_bytes(html)
        from_bytes = True
    except Exception as exc:
        log.debug("lxml could not parse the page: %s", exc)
    if (tree is None or len(tree) < 1) and not from_bytes:
        tree = _from_bytes(html)
    if tree is not None and dubious and len(tree) < 2:
        tree = None
    return tree
