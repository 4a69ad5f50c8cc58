"""Ranking: outlets first, then engagement, recency, source weights; novelty penalty; reasons."""
from __future__ import annotations

import numpy as np

import math
from datetime import datetime, timedelta, timezone

import pytest

from summarizer.ranking import RankItem, RankWeights, StoryCandidate, rank

NOW = datetime(2026, 11, 19, 6, 0, tzinfo=timezone.utc)


def art(outlet: str, hours_ago: float | None = 10, weight: float = 1.0) -> RankItem:
    when = None if hours_ago is None else NOW - timedelta(hours=hours_ago)
    return RankItem(source=outlet, outlet=outlet, kind="article", published_at=when, weight=weight)


def post(outlet: str, hours_ago: float = 10, **engagement: int) -> RankItem:
    return RankItem(source=outlet, outlet=outlet, kind="post", published_at=NOW - timedelta(hours=hours_ago),
                    engagement=dict(engagement))


def story(key: str, items: list[RankItem], title: str = "", text: str = "") -> StoryCandidate:
    return StoryCandidate(key=key, title=title or f"Story {key}", text=text or f"Text of story {key}.", items=items)


# (name, better story items, worse story items)
ORDER_CASES = [
    ("more outlets beat one outlet", [art("A"), art("B"), art("C")], [art("A")]),
    ("outlets beat a viral post", [art("A"), art("B"), art("C"), art("D")], [art("A"), post("HN", points=900)]),
    ("same outlet twice counts once", [art("A"), art("B")], [art("A"), art("A"), art("A")]),
    ("engagement breaks outlet ties", [art("A"), post("HN", points=400)], [art("A"), post("HN", points=4)]),
    ("recent beats old", [art("A", hours_ago=1)], [art("A", hours_ago=40)]),
    ("dated beats undated", [art("A", hours_ago=5)], [art("A", hours_ago=None)]),
    ("heavier source wins", [art("Wire", weight=2.0)], [art("Blog", weight=0.5)]),
]


@pytest.mark.parametrize("better,worse", [c[1:] for c in ORDER_CASES], ids=[c[0] for c in ORDER_CASES])
def test_order(better: list[RankItem], worse: list[RankItem]) -> None:
    ranked = rank([story("worse", worse), story("better", better)], now=NOW)
    assert [r.candidate.key for r in ranked] == ["better", "worse"]
    assert ranked[0].score > ranked[1].score


def test_score_follows_the_documented_formula() -> None:
    items = [art("A", hours_ago=12), art("B", hours_ago=30, weight=2.0), post("HN", hours_ago=20, points=99, comments=0)]
    w = RankWeights()
    expected = w.outlets * math.log2(1 + 4.0) + w.engagement * math.log10(1 + 99) + w.recency * 0.5
    (r,) = rank([story("s", items)], now=NOW)
    assert r.score == pytest.approx(expected)


def test_engagement_is_log_scaled() -> None:
    base = rank([story("a", [post("X", likes=10)])], now=NOW)[0].score
    ten_x = rank([story("a", [post("X", likes=100)])], now=NOW)[0].score
    hundred_x = rank([story("a", [post("X", likes=1000)])], now=NOW)[0].score
    assert ten_x - base == pytest.approx(hundred_x - ten_x, rel=0.05)


def test_reasons_say_why() -> None:
    items = [art("Circuit Ledger", 3), art("Tensor Tribune", 5), art("Bitstream Herald", 4),
             art("Fernhill Review", 6), post("Hacker News", 4, points=412, comments=80)]
    (r,) = rank([story("s", items)], now=NOW)
    assert "5 outlets" in r.reasons
    assert "412 points on Hacker News" in r.reasons
    assert "published 3 h before cutoff" in r.reasons
    (single,) = rank([story("t", [art("A", None)])], now=NOW)
    assert single.reasons == ["1 outlet", "no publication dates"]


ATLAS = ("Meridian AI launches Atlas-3 with a one million token context window and lower prices "
         "for developers; the model scores 71.4% on CodeTrail.")
KESTREL = "Kestrel Cloud raises $640 million Series D led by Northgate Capital for GPU data centres."


def test_novelty_penalises_what_was_covered_recently() -> None:
    candidates = [story("atlas", [art("A"), art("B")], "Atlas-3 launch", ATLAS),
                  story("kestrel", [art("A"), art("B")], "Kestrel raises", KESTREL)]
    fresh = rank(candidates, now=NOW)
    assert fresh[0].score == pytest.approx(fresh[1].score)
    ranked = rank(candidates, now=NOW, recent_texts=["Atlas-3 launch\n" + ATLAS, "Unrelated garden news."])
    assert [r.candidate.key for r in ranked] == ["kestrel", "atlas"]
    assert ranked[1].score < 0.5 * ranked[0].score
    assert any(x.startswith("similar to a story from the last days (novelty 0.") for x in ranked[1].reasons)
    assert not any("similar" in x for x in ranked[0].reasons)


def test_deterministic_tiebreak_by_key_and_empty_input() -> None:
    same = [art("A")]
    ranked = rank([story("b", same), story("c", same), story("a", same)], now=NOW)
    assert [r.candidate.key for r in ranked] == ["a", "b", "c"]
    assert rank([], now=NOW) == []


def test_naive_dates_future_items_and_odd_engagement() -> None:
    items = [RankItem("A", "A", "article", datetime(2026, 11, 19, 8, 0), {"likes": -5, "unknown": 7}),
             RankItem("B", "", "post", NOW + timedelta(hours=2), {"likes": 3})]
    (r,) = rank([story("s", items, text="")], now=NOW, recent_texts=["", "..."])
    assert r.score > 0 and "published 0 h before cutoff" in r.reasons


def test_pipeline_can_attach_attributes() -> None:
    c = story("s", [art("A")])
    c._item_ids = [1, 2]  # type: ignore[attr-defined]
    assert rank([c], now=NOW)[0].candidate._item_ids == [1, 2]  # type: ignore[attr-defined]


def test_a_lone_short_post_without_an_article_ranks_below_a_single_outlet_story() -> None:
    now = datetime(2026, 11, 19, 6, tzinfo=timezone.utc)
    when = now - timedelta(hours=2)
    chatter = StoryCandidate(key="a", title="@jt congrats on the new job, well deserved!",
                             text="@jt congrats on the new job, well deserved!",
                             items=[RankItem("masto", "masto", "post", when, {"likes": 40})])
    news = StoryCandidate(key="b", title="Tidewell raises $85 million for warehouse robots",
                          text="Tidewell, a maker of warehouse robots, said on Tuesday it raised $85 million "
                               "in a Series B round to expand production of its picking arms in Ohio.",
                          items=[RankItem("feed", "feed", "article", when, {})])
    linked_post = StoryCandidate(key="c", title="Our new model is out",
                                 text="Our new model is out\n" + news.text,
                                 items=[RankItem("bsky", "bsky", "post", when, {"likes": 40})])
    ranked = rank([chatter, news, linked_post], now=now)
    assert [r.candidate.key for r in ranked][-1] == "a"
    assert any("short post" in reason for reason in ranked[-1].reasons)
    assert not any("short post" in reason for r in ranked[:-1] for reason in r.reasons)


def test_novelty_with_a_floor_keeps_every_value_at_or_above_it() -> None:
    """The blocked search (floor > 0) agrees with the dense one wherever the score looks."""
    from summarizer.ranking import novelty_similarities

    base = ["Meridian AI launches Atlas-3 with a one million token context window",
            "Kestrel Cloud raises $640 million for GPU data centres in Oslo",
            "Quillon cuts 1,200 jobs as AI agents take over customer support",
            "The botanical garden opens a glasshouse for tropical orchids"]
    texts = [b + " " + base[(k + 1) % 4].split(" ", 3)[-1] for k, b in enumerate(base)]
    texts += ["Cooking pasta with tomatoes and basil for the garden party", "Atlas-3 pasta"]
    recent = base + [b.upper() for b in base[:2]] + ["Atlas-3 context window, Meridian AI"]
    dense = novelty_similarities(texts, recent)
    for floor in (0.1, 0.3, 0.6, 0.8):
        blocked = novelty_similarities(texts, recent, floor=floor)
        assert np.allclose(blocked, np.where(dense >= floor, dense, 0.0), atol=1e-6)
    assert (dense > 0.8).any() and ((dense > 0.1) & (dense < 0.6)).any()


def test_question_threads_and_point_releases_rank_below_multi_outlet_news() -> None:
    """An "Ask HN" thread and a patch release with lots of engagement on one site are not the night's news."""
    news = story("news", [art("Wire"), art("Tribune", hours_ago=16)], title="Kestrel Cloud raises $640M")
    layoff = story("layoff", [art("Ledger", hours_ago=13)], title="Brightmoor lays off 340 after losing contract")
    ask = story("ask", [post("Hacker News", hours_ago=2, points=450, comments=300)],
                title="Ask HN: How are you evaluating long-context models?",
                text="We keep getting different answers from needle tests and real documents. What do you use, and how do "
                     "you score it when the answers are long and partly right?")
    release = story("release", [post("GitHub", hours_ago=1, likes=2000, reposts=300)], title="inferkit v0.6.3 released",
                    text="Fixes a tokenizer crash on empty prompts and a memory leak in the batch scheduler; no new "
                         "features, upgrade at your convenience, all changes are listed in the changelog below.")
    ranked = rank([ask, release, layoff, news], now=NOW)
    order = [r.candidate.key for r in ranked]
    assert order.index("news") < order.index("ask") and order.index("news") < order.index("release")
    assert order.index("layoff") < order.index("ask") and order.index("layoff") < order.index("release")
    reasons = {r.candidate.key: r.reasons for r in ranked}
    assert "a question thread, not news" in reasons["ask"]
    assert "a point release (v0.6.3)" in reasons["release"]
    assert not any("point release" in x or "question" in x for x in reasons["news"] + reasons["layoff"])


def test_releases_and_questions_covered_by_several_outlets_are_news() -> None:
    ranked = rank([story("r", [art("A"), art("B")], title="Python 3.13.1 fixes a security hole?")], now=NOW)
    assert not any("point release" in x or "question" in x for x in ranked[0].reasons)
