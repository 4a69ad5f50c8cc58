"""The extractive drafter and the tag line against the house samples: written-looking summaries
(no datelines, fragments, dangling pronouns or repeats), handles intact, a bounded tag line."""
from __future__ import annotations

from summarizer.extractive import _clean_title, draft_extractive, guess_tags, same_fact, strip_dateline
from summarizer.lint import word_count
from summarizer.models import SourceDoc, StoryInput
from summarizer.render import Digest, DigestStory, all_tags, render_markdown

WIRE = SourceDoc(
    id="w1", title="Solvane revenue jumps on accelerator demand", outlet="Bitstream Herald", url="https://example.com/w1",
    text=("SAN JOSE, Calif. (Wirepoint) — Solvane Semiconductor on Wednesday reported third-quarter revenue of $3.8 billion, "
          "up 62% from a year earlier, as demand for its data-center accelerator chips continued to outstrip supply.\n"
          "It also raised its forecast.\n"
          "The company said its next accelerator, the S9, will ship to cloud customers in the first quarter of next year.\n"
          "Chief executive Mara Voss told analysts that supply of advanced packaging remains the main constraint on growth.\n"
          "Copyright 2026 Bitstream Herald. All rights reserved. Licensing and reprints: contact our copyright desk."),
)
ECHO = SourceDoc(
    id="w2", title="Solvane beats estimates", outlet="Harbor City Chronicle", url="https://example.com/w2",
    text=("Revenue at Solvane rose 62% to $3.8 billion in the third quarter, the chipmaker said on Wednesday.\n"
          "Shares rose 9% in extended trading after the results, which beat analyst estimates of $3.5 billion."),
)


def test_datelines_and_agency_tags_are_dropped() -> None:
    assert strip_dateline("SAN JOSE, Calif. (Wirepoint) — Solvane reported revenue.") == "Solvane reported revenue."
    assert strip_dateline("(Wirepoint) — Solvane reported revenue.") == "Solvane reported revenue."
    assert strip_dateline("LONDON (Reuters) - The UK said so.") == "The UK said so."
    assert strip_dateline("OpenAI - the lab - said so.") == "OpenAI - the lab - said so."


def test_an_extractive_summary_reads_as_written() -> None:
    draft = draft_extractive(StoryInput(story_id=1, day="2026-11-18", sources=[WIRE, ECHO]), "awesome-ai-daily")
    texts = [s.text for s in draft.summary]
    alone = draft_extractive(StoryInput(story_id=1, day="2026-11-18", sources=[WIRE]), "awesome-ai-daily")
    assert alone.summary[0].text.startswith("Solvane Semiconductor on Wednesday")  # no dateline, no "(Wirepoint) —"
    assert not any("Wirepoint" in t or t.startswith(("It ", "This ", "They ")) for t in texts), texts
    assert not any(same_fact(a, b) for i, a in enumerate(texts) for b in texts[i + 1:]), texts  # no repeats
    both = " ".join(texts)
    assert ("Revenue at Solvane rose 62%" in both) != ("reported third-quarter revenue of $3.8 billion" in both)  # said once
    assert word_count(" ".join(texts)) <= 120
    assert "Legal" not in draft.tags  # the copyright line tags nothing


def test_copyright_boilerplate_gives_no_legal_tag() -> None:
    assert "Legal" not in guess_tags([WIRE])
    lawsuit = SourceDoc(id="x", title="Authors sue lab over copyright", outlet="Wire", url=None,
                        text="A group of authors sued the lab in federal court, saying it copied their books.")
    assert "Legal" in guess_tags([lawsuit])


def test_handles_keep_their_underscores() -> None:
    post = SourceDoc(id="p", title="@jt_lin: Atlas-3 is out", outlet="Mastodon", url=None, text="", kind="post")
    assert _clean_title(post) == "@jt_lin: Atlas-3 is out"
    assert _clean_title(SourceDoc(id="q", title="_Emphasis_ in a title", outlet="W", url=None, text="")) == "Emphasis in a title"


def test_the_tag_line_is_one_line_of_names_first() -> None:
    stories = [
        DigestStory(number=1, headline="A", summary_paragraphs=["x"], tags=["Models", "Anthropic", "Claude", "AI Safety"]),
        DigestStory(number=2, headline="B", summary_paragraphs=["x"], tags=["Funding", "xAI", "Anthropic", "Nvidia", "Cloud"]),
        DigestStory(number=3, headline="C", summary_paragraphs=["x"], tags=["Hardware", "Nvidia", "Policy", "Legal", "Cloudflare"]),
        DigestStory(number=4, headline="D", summary_paragraphs=["x"], tags=["Enterprise", "Pricing", "Benchmarks", "Coding"]),
    ]
    line = all_tags(stories)
    assert len(line) == 6
    assert line[:2] == ["Anthropic", "Nvidia"]  # in two stories each
    assert {"Claude", "xAI", "Cloudflare"} <= set(line)
    md = render_markdown(Digest(day="2026-11-18", title=None, intro=None, stories=stories), "awesome-ai-daily")
    assert md.splitlines()[2].count(" · ") == 5


def test_replies_to_other_people_are_not_collected_as_stories() -> None:
    """The recorded answers hold a reply to @carol on each network: conversation, not news; self-threads stay."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    import test_social as social

    for network in ("bluesky", "mastodon", "x"):
        case = social._case(network)
        parse = getattr(social._module(network), f"parse_{network}")
        items, _ = parse(social._payload(network, case), social._spec(case))
        texts = [it.text for it in items]
        assert items and not any("Thanks Carol" in t for t in texts), (network, texts)
    raw = (social.FIXTURES / "mastodon" / "statuses.json")
    assert raw.exists() and "Thanks Carol" in raw.read_text(encoding="utf-8")  # the reply is in the answer


def test_a_pronoun_after_an_opening_phrase_is_not_a_lead_and_the_news_comes_first() -> None:
    post = SourceDoc(id="p1", title="Sparrow-2 Mini", outlet="Social", url=None, kind="post",
                     text="Released under Apache-2.0, it runs at about 40 tokens per second on a mid-range handset.")
    article = SourceDoc(id="a1", title="Arclight releases Sparrow-2 Mini", outlet="Wire", url=None, text=(
        "Arclight AI has released Sparrow-2 Mini, a 3-billion-parameter language model small enough to run entirely "
        "on a smartphone, with its weights available under the Apache-2.0 license.\n"
        "Arclight says the model generates about 40 tokens per second on a mid-range phone and needs about 2 GB of "
        "memory after 4-bit quantisation."))
    draft = draft_extractive(StoryInput(story_id=3, day="2026-11-19", sources=[post, article]), "awesome-ai-daily")
    texts = [s.text for s in draft.summary]
    assert texts[0].startswith("Arclight AI has released Sparrow-2 Mini"), texts
    assert not any(t.startswith("Released under Apache-2.0, it") for t in texts)


def test_the_lead_names_who_did_it() -> None:
    article = SourceDoc(id="b1", title="Brightmoor Analytics lays off 340", outlet="Wire", url=None, text=(
        "The data-analytics firm says it will put the savings into AI products.\n"
        "Brightmoor Analytics, a Columbus-based data-analytics company, is laying off 340 employees, about 9% of its "
        "staff, the company confirmed on Wednesday.\n"
        "The cuts follow the loss of a multi-year public-health data contract that accounted for roughly a fifth of "
        "Brightmoor's revenue, chief financial officer Leona Pruitt said."))
    draft = draft_extractive(StoryInput(story_id=7, day="2026-11-19", sources=[article]), "awesome-ai-daily")
    assert draft.summary[0].text.startswith("Brightmoor Analytics, a Columbus-based"), [s.text for s in draft.summary]
