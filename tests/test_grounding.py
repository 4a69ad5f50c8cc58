"""Grounding checker: supported rephrasings pass, invented or changed facts are flagged with a reason."""
from __future__ import annotations

import pytest

from bench.grounding_eval import evaluate
from summarizer.grounding import check_grounding, extract_claims
from summarizer.models import SourceDoc, StoryDraft, SummarySentence

SOURCES = [
    SourceDoc(id="s1", title="Vantor commits over $40B to AI equity bets in 2026", outlet="Wire",
              text="Vantor has committed more than $40 billion to equity investments in AI companies in the first few "
                   "months of 2026, according to CNBC. Its largest single investment was $30 billion in Orbital AI. "
                   "Revenue rose 20% to $1,100 million. Chief executive Ada Lindqvist announced the plan on May 9, 2026. "
                   "The company said it cut 1,100 jobs, or 12 percent of staff."),
    SourceDoc(id="s2", title="Critics call Vantor deals circular", outlet="Daily",
              text="Wedbush analyst Matthew Bryson said the investments could help Vantor build a “competitive moat.” "
                   "Bryson said he expects a second round in September."),
]

# (sentence, cited ids, expected flagged claims — empty means supported)
CASES = [
    ("Vantor has put more than $40B into AI equity stakes in 2026, CNBC reports.", ["s1"], []),
    ("Vantor committed over 40 billion dollars to AI companies this year.", ["s1"], []),
    ("Its biggest check, $40,000,000,000 in total commitments, came early in 2026.", ["s1"], []),
    ("Revenue grew 20 percent to $1.1 billion.", ["s1"], []),
    ("It cut 1100 jobs, about 12% of its staff.", ["s1"], []),
    ("Ada Lindqvist announced the plan on 9 May 2026.", ["s1"], []),
    ("Analyst Matthew Bryson said the deals could build a “competitive moat.”", ["s2"], []),
    ("Vantor has committed more than $45 billion to AI companies.", ["s1"], ["$45 billion"]),
    ("Its largest single investment was $30 million in Orbital AI.", ["s1"], ["$30 million"]),
    ("Revenue rose 25% to $1,100 million.", ["s1"], ["25%"]),
    ("The company cut 1,300 jobs.", ["s1"], ["1,300"]),
    ("The company cut 1,100 jobs across 14 offices.", ["s1"], ["14"]),
    ("Chief executive Ada Brennan announced the plan.", ["s1"], ["Ada Brennan"]),
    ("Lindqvist announced the plan on May 12, 2026.", ["s1"], ["May 12, 2026"]),
    ("Bryson called the strategy “a house of cards.”", ["s2"], ["a house of cards."]),
    ("Its largest single investment, according to Goldman Sachs, was $30 billion.", ["s1"], ["Goldman Sachs"]),
    ("Wedbush analyst Matthew Bryson said the deals could help Vantor.", ["s1"], ["Wedbush", "Matthew Bryson"]),
]


@pytest.mark.parametrize("sentence,cites,expected", CASES, ids=[c[0][:40] for c in CASES])
def test_sentence_claims(sentence, cites, expected):
    draft = StoryDraft(headline="x", summary=[SummarySentence(text=sentence, source_ids=cites)])
    flags = check_grounding(draft, SOURCES)
    assert sorted(f.claim for f in flags) == sorted(expected), [f.reason for f in flags]
    assert all(f.sentence == 0 and f.reason for f in flags)


def test_fact_from_an_uncited_source_says_where_it_is():
    draft = StoryDraft(headline="x", summary=[SummarySentence(text="Matthew Bryson praised the plan.", source_ids=["s1"])])
    (flag,) = check_grounding(draft, SOURCES)
    assert "appears in Daily" in flag.reason and "does not cite" in flag.reason  # the outlet, as editors know it


def test_changed_amount_reason_names_what_the_source_says():
    draft = StoryDraft(headline="x", summary=[SummarySentence(text="Vantor put $30 million into Orbital AI.", source_ids=["s1"])])
    (flag,) = check_grounding(draft, SOURCES)
    assert "$30 billion" in flag.reason


def test_citations_must_belong_to_the_story():
    draft = StoryDraft(headline="x", summary=[
        SummarySentence(text="Vantor has committed more than $40 billion.", source_ids=["s9"]),
        SummarySentence(text="Vantor has committed more than $40 billion.", source_ids=[]),
        SummarySentence(text="Vantor has committed more than $40 billion.", source_ids=["s1"]),
    ])
    flags = check_grounding(draft, SOURCES)
    assert [(f.sentence, f.claim) for f in flags] == [(0, "s9"), (1, "Vantor has committed more than $40 billion.")]
    assert "not a source of this story" in flags[0].reason and "cites no source" in flags[1].reason
    # a document passed for lookup but outside the story's ids is foreign too
    limited = check_grounding(draft, SOURCES, story_source_ids={"s2"})
    assert any(f.sentence == 2 and f.claim == "s1" for f in limited)


def test_view_may_judge_but_not_add_facts():
    ok = StoryDraft(headline="x", summary=[], view="Awesome AI View: Vantor is buying loyalty with capital; the "
                                                     "circularity critics point to is real, and regulators should look.")
    assert check_grounding(ok, SOURCES) == []
    bad = StoryDraft(headline="x", summary=[], view="Why it matters: With $50 billion at stake, AMD will answer in kind.")
    flags = check_grounding(bad, SOURCES)
    assert {f.claim for f in flags} == {"$50 billion", "AMD"}
    assert all(f.sentence == -1 for f in flags)


@pytest.mark.parametrize("a,b", [
    ("$40 billion", "$40B"), ("$40 billion", "40 billion dollars"), ("$40 billion", "$40,000,000,000"),
    ("$40 billion", "$40bn"), ("20%", "20 percent"), ("20%", "20 per cent"),
])
def test_equivalent_spellings_have_one_value(a, b):
    (ca,), (cb,) = extract_claims(a), extract_claims(b)
    assert (ca.kind, ca.value) == (cb.kind, cb.value)


def test_precision_guards_capitals_that_are_not_names():
    kinds = {c.kind for c in extract_claims("The company said on Tuesday that May sales rose. Analysts agreed.")}
    assert "name" not in kinds


def test_labelled_set_precision_and_recall():
    ev = evaluate()
    assert len(ev.results) >= 60
    assert ev.numeric_recall == 1.0, [r.id for r in ev.errors()]
    assert ev.precision >= 0.95 and ev.recall >= 0.98, ev.summary()
    assert {r.field for r in ev.results} >= {"summary", "view", "headline", "tags"}
