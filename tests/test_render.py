"""Renderers: both house styles from the same stories; structure, footnotes and escaping."""
from __future__ import annotations

import re

from summarizer.models import SourceDoc, StoryDraft, SummarySentence
from summarizer.render import Digest, DigestStory, render_html, render_markdown, story_from_draft

S1 = SourceDoc(id="a1", title="Nvidia commits over $40B to AI equity bets", outlet="CNBC", url="https://example.com/nvidia")
S2 = SourceDoc(id="a2", title="Critics call Nvidia deals circular", outlet="Wire", url="https://example.com/circular")
P1 = SourceDoc(id="p1", title="We found accidental CoT grading", outlet="@OpenAI", kind="post",
               url="https://x.com/OpenAI/status/1")
EVIL = SourceDoc(id="e1", title="<script>alert(1)</script> Evil title", outlet="Bad", url="javascript:alert(1)")


def stories() -> list[DigestStory]:
    one = story_from_draft(StoryDraft(
        headline="Nvidia Commits Over $40B to AI Equity Investments in 2026",
        summary=[
            SummarySentence(text="According to CNBC, Nvidia has committed over $40 billion to AI equity investments.",
                            source_ids=["a1"], paragraph_break=True),
            SummarySentence(text="Critics call it circular investment.", source_ids=["a2"]),
            SummarySentence(text="Its largest single bet was $30 billion.", source_ids=["a1"]),
        ],
        view="Awesome AI View: Nvidia is moving from selling shovels to selling shovels and mining gold.",
        tags=["Nvidia", "Funding"], section="Money and deals"), [S1, S2], 1)
    two = story_from_draft(StoryDraft(
        headline="OpenAI disclosed accidental chain-of-thought grading",
        summary=[SummarySentence(text="OpenAI found accidental CoT grading in less than 0.6% of samples.", source_ids=["p1"]),
                 SummarySentence(text="The <script>alert('x')</script> payload stays text.", source_ids=["e1", "p1"])],
        view="Why it matters: A training process can weaken a safety signal.",
        tags=["OpenAI", "AI Safety", "nvidia"], section=None), [P1, EVIL], 2, update_of="Update on 2026-05-10")
    three = story_from_draft(StoryDraft(
        headline="Analysts see the Nvidia deals as a moat",
        summary=[SummarySentence(text="An analyst said the deals could build a competitive moat.", source_ids=["a1"])],
        view="Awesome AI View: The moat argument is strongest for Nvidia.", tags=["Nvidia"], section="Money and deals"),
        [S1], 3)
    return [one, two, three]


def digest() -> Digest:
    return Digest(day="2026-05-11", title="Money and monitors", intro="Two stories today.", stories=stories())


def test_awesome_markdown_structure():
    md = render_markdown(digest(), "awesome-ai-daily")
    lines = md.splitlines()
    assert lines[0] == "Awesome AI Daily | 2026-05-11"
    assert lines[2] == "Nvidia · OpenAI · Funding · AI Safety"  # names before topics, each once
    numbered = [l for l in lines if re.match(r"^\d+\. ", l)]
    assert numbered == ["1. Nvidia Commits Over $40B to AI Equity Investments in 2026",
                        "2. OpenAI disclosed accidental chain-of-thought grading",
                        "3. Analysts see the Nvidia deals as a moat"]
    views = [l for l in lines if l.startswith("Awesome AI View:")]
    assert len(views) == 3
    assert "Awesome AI View: A training process can weaken a safety signal." in views  # other style's opener replaced
    assert "Why it matters" not in md
    # paragraph_break splits the first summary into two paragraphs
    assert "According to CNBC, Nvidia has committed over $40 billion to AI equity investments.\n\nCritics call" in md
    assert "(Update on 2026-05-10)" in md
    assert "[^" not in md and "<script" not in md


def test_digest_markdown_structure_and_footnotes():
    md = render_markdown(digest(), "ai-news-digest")
    lines = md.splitlines()
    assert lines[0] == "# Money and monitors"
    assert lines[2] == "*By AI News Digest • May 11, 2026*"
    assert [l for l in lines if l.startswith("## ")] == ["## Money and deals", "## More stories"]
    assert len([l for l in lines if l.startswith("### ") and l != "### Sources"]) == 3
    assert md.count("*Why it matters:*") == 3 and "Awesome AI View" not in md
    body, _, sources = md.partition("\n---\n")
    assert "### Sources" in sources
    refs = set(re.findall(r"\[\^(\d+)\](?!:)", body))
    defs = re.findall(r"^\[\^(\d+)\]: (.*)$", sources, re.M)
    assert refs == {n for n, _ in defs}  # every marker resolves, every definition is used
    assert [int(n) for n, _ in defs] == list(range(1, len(defs) + 1))
    # a1 is cited in stories 1 and 3 and keeps number 1; markers sit before the final period
    assert "investments [^1]." in body and "competitive moat [^1]." in body
    assert "circular investment [^2]." in body
    assert dict(defs)["1"] == "[Nvidia commits over $40B to AI equity bets](https://example.com/nvidia)"
    assert "𝕏 post by @OpenAI](https://x.com/OpenAI/status/1)" in sources
    evil = [d for _, d in defs if "Evil" in d][0]
    assert "javascript:" not in evil and "<script" not in evil  # no unsafe link, no raw tag
    assert "<script" not in md


def test_html_escapes_untrusted_text_and_has_no_script():
    for style in ("awesome-ai-daily", "ai-news-digest"):
        html = render_html(digest(), style)
        assert "<script" not in html.lower()
        assert "&lt;script&gt;" in html
        assert "javascript:" not in html
        assert html.startswith("<!doctype html>")


def test_html_digest_footnotes_link_to_sources():
    html = render_html(digest(), "ai-news-digest")
    targets = set(re.findall(r'href="#fn-(\d+)"', html))
    anchors = set(re.findall(r'id="fn-(\d+)"', html))
    assert targets and targets == anchors
    assert "<h2>Money and deals</h2>" in html and "<h2>More stories</h2>" in html
    assert "<em>Why it matters:</em>" in html


def test_html_awesome_numbering_and_opener():
    html = render_html(digest(), "awesome-ai-daily")
    assert "Awesome AI Daily | 2026-05-11" in html
    assert "<h2>1. Nvidia Commits Over $40B to AI Equity Investments in 2026</h2>" in html
    assert html.count("<strong>Awesome AI View:</strong>") == 3


def test_pipeline_shaped_story_with_flat_sentences():
    """Stories built like the nightly flow builds them: paragraphs joined from flat sentences."""
    s = DigestStory(number=1, headline="H", summary_paragraphs=["One. Two.", "Three."], view="Why it matters: X.",
                    tags=[], sources=[S1, S2], citations=[["a1"], ["a2"], ["a1", "a2"]],
                    sentences=["One.", "Two.", "Three."], section="S", update_of=None)
    md = render_markdown(Digest(day="2026-05-11", title=None, intro=None, stories=[s]), "ai-news-digest")
    assert "One [^1]. Two [^2].\n\nThree [^1][^2]." in md
    assert md.startswith("# AI News Digest\n")


def test_edited_paragraphs_that_no_longer_match_sentences_keep_their_text():
    s = DigestStory(number=1, headline="H", summary_paragraphs=["Edited text entirely."], citations=[["a1"], ["a2"]],
                    sentences=["One.", "Two."], sources=[S1, S2])
    md = render_markdown(Digest(day="2026-05-11", title=None, intro=None, stories=[s]), "ai-news-digest")
    assert "Edited text entirely [^1][^2]." in md
    assert "[^1]: " in md and "[^2]: " in md
