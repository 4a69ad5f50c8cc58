"""Extractive drafter: verbatim, cited sentences that pass grounding and lint (except the view)."""
from __future__ import annotations

import pytest

from summarizer.extractive import draft_extractive, split_sentences
from summarizer.grounding import check_grounding
from summarizer.lint import VIEW_PLACEHOLDER, canonical_tag, lint
from summarizer.models import PreviousStory, SourceDoc, StoryInput

SOURCES = [
    SourceDoc(id="n1", title="Halcyon AI launches Lumen-4, betting on million-token context and lower prices",
              outlet="Circuit Ledger", url="https://example.com/1",
              text="Halcyon AI on Wednesday released Lumen-4, the third generation of its flagship language model, and "
                   "cut prices in the process. The San Francisco-based lab said the model can take in up to one million "
                   "tokens of context, roughly eight times more than Lumen-3.\n\n"
                   "Developers will pay $2 per million input tokens and $8 per million output tokens, Halcyon said, "
                   "down from $3 and $12 for Lumen-3. Subscribe to our newsletter for more. "
                   "We have not yet been able to reproduce the benchmark figures independently."),
    SourceDoc(id="n2", title="Lumen-4 arrives: Halcyon's new model reads a million tokens and tops CodeTrail",
              outlet="Tensor Tribune", url="https://example.com/2",
              text="Halcyon AI has released Lumen-4, a closed-weights language model with a one-million-token context "
                   "window that the company says is built for long, multi-step agentic work. On CodeTrail, a benchmark "
                   "of multi-file programming tasks, Lumen-4 scored 71.4%, compared with 58.9% for Lumen-3. "
                   "Chief scientist Tomasz Wrede said most of the gains came from training on long tasks end to end."),
    SourceDoc(id="n3", title="What Lumen-4 means for enterprise AI budgets", outlet="Fernhill", url="https://example.com/3",
              text="Halcyon AI's new Lumen-4 model went on sale on Wednesday at a lower price than the model it "
                   "replaces, an unusual move for a flagship launch. Enterprise buyers said the price cut matters more "
                   "than the benchmark gains. Halcyon AI released Lumen-4 on Wednesday."),
]
STORY = StoryInput(story_id=7, day="2026-11-19", sources=SOURCES)
STYLES = ["awesome-ai-daily", "ai-news-digest"]


@pytest.mark.parametrize("style", STYLES)
def test_sentences_are_verbatim_cited_and_distinct(style):
    draft = draft_extractive(STORY, style)
    texts = {d.id: f"{d.title}\n{d.text}" for d in SOURCES}
    assert 2 <= len(draft.summary) <= 4
    for s in draft.summary:
        assert len(s.source_ids) == 1 and s.text in texts[s.source_ids[0]]
    assert len({s.text for s in draft.summary}) == len(draft.summary)
    joined = " ".join(s.text for s in draft.summary)
    assert "Subscribe" not in joined and "We have not" not in joined  # boilerplate and first person skipped


@pytest.mark.parametrize("style", STYLES)
def test_passes_grounding_and_lint_except_the_view(style):
    draft = draft_extractive(STORY, style)
    assert check_grounding(draft, SOURCES) == []
    assert [v.rule for v in lint(draft, style)] == ["view.placeholder"]
    assert VIEW_PLACEHOLDER in draft.view
    assert draft.headline in {d.title for d in SOURCES}
    assert draft.tags and all(canonical_tag(t) == t for t in draft.tags)


def test_deterministic_and_order_independent_of_runs():
    assert draft_extractive(STORY, "awesome-ai-daily") == draft_extractive(STORY, "awesome-ai-daily")


def test_digest_style_gets_a_section_and_awesome_does_not():
    assert draft_extractive(STORY, "ai-news-digest").section
    assert draft_extractive(STORY, "awesome-ai-daily").section is None


def test_update_prefers_what_is_new():
    before = draft_extractive(STORY, "awesome-ai-daily")
    prev = PreviousStory(day="2026-11-18", headline="Halcyon launches Lumen-4", summary=before.summary[0].text)
    after = draft_extractive(StoryInput(story_id=7, day="2026-11-19", sources=SOURCES, previous=prev), "awesome-ai-daily")
    assert after.summary[0].text != before.summary[0].text


def test_post_only_story_still_drafts():
    post = SourceDoc(id="p1", title="Lantern is open source now", outlet="@lumenlabs", kind="post",
                     text="Lantern, our evaluation harness, is now open source. It runs retrieval suites.")
    draft = draft_extractive(StoryInput(story_id=8, day="2026-11-19", sources=[post]), "awesome-ai-daily")
    assert draft.summary and all(s.source_ids == ["p1"] for s in draft.summary)
    assert check_grounding(draft, [post]) == []


def test_sentence_splitter_keeps_abbreviations():
    assert split_sentences("Mr. Smith met U.S. officials on Nov. 18. They agreed.") == [
        "Mr. Smith met U.S. officials on Nov. 18.", "They agreed."]
