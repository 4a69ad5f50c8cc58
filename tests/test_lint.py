"""Style linter: clean drafts pass, each broken rule is named (data-driven)."""
from __future__ import annotations

import pytest

from summarizer.lint import (
    STYLE_RULES,
    VIEW_PLACEHOLDER,
    canonical_tag,
    find_banned,
    lint,
    lint_digest,
    normalize_tags,
)
from summarizer.models import StoryDraft, SummarySentence


def awesome_draft(**changes) -> StoryDraft:
    data = dict(
        headline="Cloudflare: AI Efficiency Gains Lead to 1,100 Job Cuts",
        summary=[
            SummarySentence(text="Cloudflare announced layoffs of approximately 1,100 employees, about 20% of total staff, "
                                 "in its Q1 2026 earnings report, the first major layoff in its 16-year history.",
                            source_ids=["s1"]),
            SummarySentence(text="CEO Matthew Prince said AI-driven efficiency gains had made many support roles redundant.",
                            source_ids=["s1", "s2"]),
            SummarySentence(text="Quarterly revenue reached $639.8 million, up 34% year-over-year, an all-time high.",
                            source_ids=["s2"]),
        ],
        view="Awesome AI View: Cloudflare's case is the latest evidence for AI displacement: a tech company cutting a "
             "fifth of its workforce while revenue hits a record. The efficiency dividend goes straight to cost "
             "reduction, not to employees, and record revenue plus mass layoffs may become a template other boards copy.",
        tags=["Cloudflare", "Jobs", "AI Efficiency"],
        section=None,
    )
    data.update(changes)
    return StoryDraft(**data)


def digest_draft(**changes) -> StoryDraft:
    data = dict(
        headline="OpenAI disclosed accidental chain-of-thought grading and treated it as a monitorability risk",
        summary=[
            SummarySentence(text="OpenAI said chain-of-thought monitors are a key defense against AI agent misalignment.",
                            source_ids=["s1"]),
            SummarySentence(text="It found a limited amount of accidental CoT grading in less than 0.6% of GPT-5.4 Thinking "
                                 "samples, and said those cases did not appear to reduce monitorability.",
                            source_ids=["s2"]),
        ],
        view="Why it matters: This was an unusually direct admission that a training process can accidentally weaken "
             "a safety signal labs rely on later.",
        tags=["OpenAI", "AI Safety"],
        section="Safety work became unusually concrete",
    )
    data.update(changes)
    return StoryDraft(**data)


def rules_of(violations) -> list[str]:
    return [v.rule for v in violations]


def test_clean_drafts_pass():
    assert lint(awesome_draft(), "awesome-ai-daily") == []
    assert lint(digest_draft(), "ai-news-digest") == []


def _sentences(*texts, cite=True):
    return [SummarySentence(text=t, source_ids=["s1"] if cite else []) for t in texts]


LONG_WORDS = " ".join(["word"] * 140)

# (name, style, changes, expected rule)
FAILING = [
    ("no headline", "awesome-ai-daily", {"headline": " "}, "headline.missing"),
    ("headline period", "awesome-ai-daily", {"headline": "Cloudflare Cuts 1,100 Jobs After Record Quarter."}, "headline.period"),
    ("headline short", "awesome-ai-daily", {"headline": "Layoffs"}, "headline.length"),
    ("headline long", "ai-news-digest", {"headline": " ".join(["word"] * 30)}, "headline.length"),
    ("headline markdown", "awesome-ai-daily", {"headline": "**Cloudflare** Cuts 1,100 Jobs After a Record Quarter"}, "headline.markup"),
    ("headline html", "ai-news-digest", {"headline": "Cloudflare cuts <b>1,100</b> jobs after a record quarter"}, "headline.markup"),
    ("no summary", "awesome-ai-daily", {"summary": []}, "summary.missing"),
    ("summary too short", "awesome-ai-daily", {"summary": _sentences("Cloudflare cut jobs.", "Revenue rose.")}, "summary.length"),
    ("summary too long", "awesome-ai-daily", {"summary": _sentences(LONG_WORDS + ".", LONG_WORDS + ".")}, "summary.length"),
    ("one sentence only", "awesome-ai-daily",
     {"summary": _sentences("Cloudflare announced layoffs of approximately 1,100 employees, about 20% of total staff, in its Q1 2026 report.")},
     "summary.sentences"),
    ("three paragraphs", "awesome-ai-daily", {"summary": [
        SummarySentence(text="Cloudflare announced layoffs of approximately 1,100 employees in its first quarter report.", source_ids=["s1"], paragraph_break=True),
        SummarySentence(text="Chief executive Matthew Prince tied the cuts to efficiency gains from AI tools across support.", source_ids=["s1"], paragraph_break=True),
        SummarySentence(text="Quarterly revenue reached $639.8 million, up 34% year over year, an all-time high.", source_ids=["s1"]),
    ]}, "summary.paragraphs"),
    ("short paragraph", "awesome-ai-daily", {"summary": [
        SummarySentence(text="Cloudflare announced layoffs of approximately 1,100 employees, about 20% of total staff, in its Q1 2026 report.", source_ids=["s1"], paragraph_break=True),
        SummarySentence(text="Revenue rose.", source_ids=["s1"]),
    ]}, "summary.paragraph_length"),
    ("first person we", "awesome-ai-daily", {"summary": _sentences(
        "We think Cloudflare announced layoffs of approximately 1,100 employees in its Q1 2026 earnings report.",
        "Quarterly revenue reached $639.8 million, up 34% year over year.")}, "summary.first_person"),
    ("first person our", "ai-news-digest", {"summary": _sentences(
        "OpenAI said chain-of-thought monitors are a key defense, according to our reporting on the company.")}, "summary.first_person"),
    ("summary markdown link", "awesome-ai-daily", {"summary": _sentences(
        "Cloudflare announced layoffs of approximately 1,100 employees in its [Q1 report](https://example.com).",
        "Quarterly revenue reached $639.8 million, up 34% year over year.")}, "summary.markup"),
    ("missing citation", "awesome-ai-daily", {"summary": _sentences(
        "Cloudflare announced layoffs of approximately 1,100 employees in its Q1 2026 earnings report.",
        "Quarterly revenue reached $639.8 million, up 34% year over year.", cite=False)}, "summary.citation"),
    ("no view", "awesome-ai-daily", {"view": ""}, "view.missing"),
    ("view too short", "awesome-ai-daily", {"view": "Awesome AI View: Big news."}, "view.length"),
    ("banned phrase", "awesome-ai-daily", {"view": "Awesome AI View: This is a game-changer for the labor market, and the efficiency dividend "
                                                   "goes straight to margins rather than to employees across the industry."},
     "banned_phrase"),
    ("banned phrase any case, curly apostrophe", "ai-news-digest",
     {"summary": _sentences("It’s Worth Noting that OpenAI said chain-of-thought monitors are a key defense against misalignment.")},
     "banned_phrase"),
    ("banned phrase in headline", "awesome-ai-daily", {"headline": "How Cloudflare Will Revolutionize Support With AI Agents"}, "banned_phrase"),
    ("unknown tag", "awesome-ai-daily", {"tags": ["Cloudflare", "Blockchain Synergy"]}, "tags.unknown"),
    ("no tags", "awesome-ai-daily", {"tags": []}, "tags.count"),
    ("duplicate tag", "awesome-ai-daily", {"tags": ["Cloudflare", "cloudflare"]}, "tags.duplicate"),
    ("digest needs a section", "ai-news-digest", {"section": None}, "section.missing"),
    ("placeholder view", "awesome-ai-daily", {"view": f"Awesome AI View: {VIEW_PLACEHOLDER}"}, "view.placeholder"),
]


@pytest.mark.parametrize("name,style,changes,rule", FAILING, ids=[f[0] for f in FAILING])
def test_failing_drafts_name_the_rule(name, style, changes, rule):
    base = awesome_draft if style == "awesome-ai-daily" else digest_draft
    violations = lint(base(**changes), style)
    assert rule in rules_of(violations), violations
    assert all(v.message for v in violations)


@pytest.mark.parametrize("style,view", [
    ("awesome-ai-daily", "Cloudflare's case is the latest evidence for AI displacement: a company cutting a "
                         "fifth of its workforce while revenue hits a record, which boards will notice and copy."),
    ("ai-news-digest", "Awesome AI View: This was an unusually direct admission that training can weaken a safety signal."),
])
def test_the_view_is_checked_without_its_label(style, view):
    """Editors write only the view; the renderer prints the style's label (and replaces another style's)."""
    base = awesome_draft if style == "awesome-ai-daily" else digest_draft
    assert not [v for v in lint(base(view=view), style) if v.rule.startswith("view")]


def test_placeholder_view_is_the_only_view_finding():
    violations = lint(awesome_draft(view=f"Awesome AI View: {VIEW_PLACEHOLDER}"), "awesome-ai-daily")
    assert rules_of(violations) == ["view.placeholder"]


def test_first_person_inside_a_quotation_and_us_the_country_are_fine():
    draft = awesome_draft(summary=_sentences(
        "“We are not going to pretend this is about the economy,” chief executive Matthew Prince wrote in a memo to staff.",
        "The US company reported quarterly revenue of $639.8 million, up 34% year over year."))
    assert "summary.first_person" not in rules_of(lint(draft, "awesome-ai-daily"))


def test_tags_match_ignoring_case_and_spelling():
    assert canonical_tag("ai safety") == "AI Safety"
    assert canonical_tag("open-source") == "Open Source"
    assert canonical_tag("NVIDIA") == "Nvidia"
    assert canonical_tag("Blockchain Synergy") is None
    assert normalize_tags(["openai", "OpenAI", "agents"]) == ["OpenAI", "Agents"]
    assert lint(awesome_draft(tags=["cloudflare", "jobs"]), "awesome-ai-daily") == []


def test_banned_phrases_come_from_the_data_file_and_respect_word_boundaries():
    assert find_banned("In Today's Fast-Paced World, labs ship weekly") != []
    assert find_banned("The delivery landscape architect") == []
    assert find_banned("We delve into it") == ["delve"]


def test_unknown_style_is_an_error():
    with pytest.raises(ValueError):
        lint(awesome_draft(), "tabloid")


def test_every_style_has_rules_for_every_limit():
    for rules in STYLE_RULES.values():
        for lo, hi in (rules.headline_words, rules.summary_words, rules.view_words, rules.paragraph_words):
            assert 0 < lo < hi


def test_lint_digest_finds_repeats():
    a, b = awesome_draft(), awesome_draft()
    rules = rules_of(lint_digest([a, b], "awesome-ai-daily"))
    assert "digest.duplicate_headline" in rules and "digest.duplicate_story" in rules
    assert rules_of(lint_digest([], "awesome-ai-daily")) == ["digest.empty"]
    other = digest_draft(summary=[SummarySentence(text="OpenAI said chain-of-thought monitors are a key defense.",
                                                  source_ids=["s7"])])
    assert lint_digest([awesome_draft(), other], "awesome-ai-daily") == []
