"""The fallbacks behind trafilatura, each against small pages stating the result.

`tests/fixtures/paragraphs/<name>.html` is a page whose story is split
across containers; `<name>.json` gives the paragraph trafilatura found
(`found`) and what the paragraph fallback must and must not return.
Adding a case needs no new code.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from extractors.article import extract_article
from extractors.article_layout import is_flattened_table
from extractors.article_paragraphs import prose_paragraphs
from extractors.article_text import needs_full_mode
from lxml.html import document_fromstring

PARAGRAPHS = Path(__file__).parent / "fixtures" / "paragraphs"
PARAGRAPH_CASES = sorted(p.stem for p in PARAGRAPHS.glob("*.json"))


def test_paragraph_fixtures_present() -> None:
    assert PARAGRAPH_CASES


@pytest.mark.parametrize("name", PARAGRAPH_CASES)
def test_prose_paragraphs(name: str) -> None:
    spec = json.loads((PARAGRAPHS / f"{name}.json").read_text(encoding="utf-8"))
    tree = document_fromstring((PARAGRAPHS / f"{name}.html").read_bytes())
    text = prose_paragraphs(tree, spec["found"])
    for phrase in spec["must_contain"]:
        assert phrase in text, phrase
    for phrase in spec["must_not_contain"]:
        assert phrase not in text, phrase


def test_full_mode_only_when_fast_text_is_a_small_share() -> None:
    story = "<p>" + " ".join(["word"] * 300) + "</p>"
    tree = document_fromstring(f"<html><body><div>{story}</div></body></html>")
    assert needs_full_mode("", tree)
    assert needs_full_mode(" ".join(["word"] * 40), tree)
    assert not needs_full_mode(" ".join(["word"] * 280), tree)


@pytest.mark.parametrize(
    ("text", "flattened"),
    [("| Home News | Story text here |\n| a | b |", True), ("A paragraph.\n| a | b |\nAnother paragraph.", False), ("", False)],
)
def test_flattened_table(text: str, flattened: bool) -> None:
    assert is_flattened_table(text) is flattened


def test_truncated_doctype_without_head_is_still_parsed() -> None:
    body = "".join(f"<p>Sentence number {i} of a story long enough to count as an article body here.</p>" for i in range(12))
    art = extract_article(f"<!DOCTYPE htm<body><div>{body}</div></body>".encode(), "https://example.com/a")
    assert art is not None and "Sentence number 3" in art.text
