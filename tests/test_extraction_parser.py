"""Our page loader builds the same tree as trafilatura's, for every kind of input it meets."""
from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree
from trafilatura.utils import load_html as trafilatura_load_html

from extractors.article_parser import load_html

PAGES = Path(__file__).parent / "fixtures" / "pages"

CASES = {
    "plain": "<html><head><title>T</title></head><body><p>One <b>two</b> three.</p></body></html>",
    "form fields": "<html><body><form><label for=q>Q</label><input name=q value=x><select><option>a</option></select>"
                   "<textarea>t</textarea></form><p>Story.</p></body></html>",
    "comments and PIs": "<html><body><!-- note --><?php echo 1; ?><p>Kept</p></body></html>",
    "encoding declaration": '<?xml version="1.0" encoding="utf-8"?><html><body><p>Declared</p></body></html>',
    "faulty doctype": '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0//EN" "x.dtd"/>\n<html><body><p>D</p></body></html>',
    "self-closing html": '<html lang="en"/>\n<body><p>S</p></body>',
    "control characters": "<html><body><p>a\x01b\x0bc</p></body></html>",
    "not html": "just some words without any markup at all",
    "fragment": "<p>only a paragraph</p>",
    "empty-ish": "   ",
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_tree_as_trafilatura(name: str) -> None:
    html = CASES[name]
    ours, theirs = load_html(html), trafilatura_load_html(html)
    assert (ours is None) == (theirs is None)
    if ours is not None:
        assert etree.tostring(ours) == etree.tostring(theirs)


def test_same_tree_on_the_page_fixtures() -> None:
    pages = sorted(PAGES.glob("*.html"))
    assert pages
    for page in pages:
        html = page.read_text(encoding="utf-8", errors="replace")
        ours, theirs = load_html(html), trafilatura_load_html(html)
        assert (ours is None) == (theirs is None), page.name
        if ours is not None:
            assert etree.tostring(ours) == etree.tostring(theirs), page.name
